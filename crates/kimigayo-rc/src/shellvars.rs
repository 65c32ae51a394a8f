//! Reading simple shell configuration files (`/etc/rc.conf`, `/etc/conf.d/*`) without a shell.
//!
//! Handles what those files hold in practice: comments, `KEY=value`, `KEY="value with spaces"`,
//! `KEY='x'`, `export KEY=...`, `$VAR`/`${VAR}`/`${VAR:-default}` of keys set earlier in the
//! same file, multi-line quoted values. Anything else (commands, `$(...)`, conditionals) is
//! skipped: the shell that runs the service reads the file for real.

use std::collections::BTreeMap;
use std::path::Path;

use crate::RcError;

/// Longest value kept. `a=$a$a` doubles a value per line: without a cap a 1 KB conf.d file
/// could ask PID 1 for exabytes (found by the `confd_vars` fuzz target). Longer values are
/// skipped like anything else only a shell can evaluate.
pub const MAX_VALUE: usize = 64 << 10;

/// Reads a conf file; a missing file is an empty map.
pub fn read_shell_vars(file: &Path) -> Result<BTreeMap<String, String>, RcError> {
    match std::fs::read(file) {
        Ok(b) => Ok(parse_shell_vars(&String::from_utf8_lossy(&b))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(BTreeMap::new()),
        Err(e) => Err(RcError::io(file, e)),
    }
}

/// The assignments in `text`, later ones winning. Never fails: what it cannot read it skips.
pub fn parse_shell_vars(text: &str) -> BTreeMap<String, String> {
    let mut p = Parser { c: text.chars().collect(), i: 0, vars: BTreeMap::new() };
    p.run();
    p.vars
}

struct Parser {
    c: Vec<char>,
    i: usize,
    vars: BTreeMap<String, String>,
}

impl Parser {
    fn peek(&self) -> Option<char> {
        self.c.get(self.i).copied()
    }
    fn at_word_end(&self) -> bool {
        matches!(self.peek(), None | Some(' ' | '\t' | '\n' | ';' | '&' | '|' | '\r' | '<' | '>' | '(' | ')'))
    }
    fn skip_blanks(&mut self) {
        while let Some(c) = self.peek() {
            if c == ' ' || c == '\t' || c == '\r' {
                self.i += 1;
            } else if c == '\\' && self.c.get(self.i + 1) == Some(&'\n') {
                self.i += 2;
            } else {
                break;
            }
        }
    }
    fn skip_line(&mut self) {
        while let Some(c) = self.peek() {
            self.i += 1;
            if c == '\n' {
                break;
            }
        }
    }

    fn run(&mut self) {
        while self.i < self.c.len() {
            self.skip_blanks();
            match self.peek() {
                None => break,
                Some('\n' | ';') => self.i += 1,
                Some('#') => self.skip_line(),
                _ => self.statement(),
            }
        }
    }

    /// `[export|readonly] NAME=value...` or something we skip to the end of the line.
    fn statement(&mut self) {
        let start = self.i;
        let name = self.name();
        let is_export = matches!(name.as_str(), "export" | "readonly") && matches!(self.peek(), Some(' ' | '\t'));
        if !is_export {
            self.i = start;
        }
        let mut any = false;
        loop {
            self.skip_blanks();
            if self.at_word_end() {
                break;
            }
            let wstart = self.i;
            let key = self.name();
            if key.is_empty() || self.peek() != Some('=') {
                if is_export && !key.is_empty() && self.at_word_end() {
                    continue; // `export KEY`
                }
                self.i = wstart;
                break;
            }
            self.i += 1;
            match self.value() {
                Some(v) => {
                    self.vars.insert(key, v);
                }
                None => {
                    self.skip_line();
                    return;
                }
            }
            any = true;
        }
        self.skip_blanks();
        if !any || !matches!(self.peek(), None | Some('\n' | ';' | '#')) {
            self.skip_line();
        }
    }

    fn name(&mut self) -> String {
        let mut s = String::new();
        while let Some(c) = self.peek() {
            let ok = c == '_' || c.is_ascii_alphabetic() || (!s.is_empty() && c.is_ascii_digit());
            if !ok {
                break;
            }
            s.push(c);
            self.i += 1;
        }
        s
    }

    /// One shell word after `=`; None when it uses something only a shell can evaluate.
    fn value(&mut self) -> Option<String> {
        let mut out = String::new();
        while !self.at_word_end() {
            let c = self.peek()?;
            self.i += 1;
            match c {
                '\'' => loop {
                    let c = self.peek()?;
                    self.i += 1;
                    if c == '\'' {
                        break;
                    }
                    out.push(c);
                },
                '"' => loop {
                    let c = self.peek()?;
                    self.i += 1;
                    match c {
                        '"' => break,
                        '\\' => match self.peek()? {
                            '\n' => self.i += 1,
                            e @ ('"' | '\\' | '$' | '`') => {
                                out.push(e);
                                self.i += 1;
                            }
                            _ => out.push('\\'),
                        },
                        '$' => out.push_str(&self.expand()?),
                        '`' => return None,
                        c => out.push(c),
                    }
                    if out.len() > MAX_VALUE {
                        return None;
                    }
                },
                '\\' => match self.peek() {
                    Some('\n') => self.i += 1,
                    Some(e) => {
                        out.push(e);
                        self.i += 1;
                    }
                    None => {}
                },
                '$' => out.push_str(&self.expand()?),
                '`' => return None,
                c => out.push(c),
            }
            if out.len() > MAX_VALUE {
                return None;
            }
        }
        Some(out)
    }

    /// After a `$`: `NAME`, `{NAME}`, `{NAME:-word}`, `{NAME-word}`; `$(` is refused.
    fn expand(&mut self) -> Option<String> {
        match self.peek() {
            Some('{') => {
                self.i += 1;
                let name = self.name();
                if name.is_empty() {
                    return None;
                }
                let val = self.vars.get(&name).cloned();
                match self.peek()? {
                    '}' => {
                        self.i += 1;
                        Some(val.unwrap_or_default())
                    }
                    ':' | '-' => {
                        let colon = self.peek() == Some(':');
                        if colon {
                            self.i += 1;
                        }
                        if self.peek()? != '-' {
                            return None;
                        }
                        self.i += 1;
                        let mut word = String::new();
                        loop {
                            let c = self.peek()?;
                            self.i += 1;
                            match c {
                                '}' => break,
                                '$' | '`' | '"' | '\'' | '\\' => return None,
                                c => word.push(c),
                            }
                        }
                        let use_default = match &val {
                            None => true,
                            Some(v) => colon && v.is_empty(),
                        };
                        Some(if use_default { word } else { val.unwrap_or_default() })
                    }
                    _ => None,
                }
            }
            Some(c) if c == '_' || c.is_ascii_alphabetic() => {
                let name = self.name();
                Some(self.vars.get(&name).cloned().unwrap_or_default())
            }
            Some('(') => None,
            _ => Some("$".into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Vec<(String, String)> {
        parse_shell_vars(s).into_iter().collect()
    }
    fn kv(v: &[(&str, &str)]) -> Vec<(String, String)> {
        v.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn forms() {
        let text = r#"
# comment
rc_parallel="YES"   # trailing comment
rc_logger=NO
export RC_X='single quoted $x'
readonly Y=1 Z=2
command_args="-f ${cfg:-/etc/x.conf} --name=\"a b\""
cfg=/etc/y
both="$cfg/sub" ; other=${cfg}x
multi="line1
line2"
if [ -x /bin/foo ]; then
  inside=1
fi
sub=$(hostname)
tick=`date`
joined="a"'b'c
esc=a\ b
"#;
        assert_eq!(
            p(text),
            kv(&[
                ("RC_X", "single quoted $x"),
                ("Y", "1"),
                ("Z", "2"),
                ("both", "/etc/y/sub"),
                ("cfg", "/etc/y"),
                ("command_args", "-f /etc/x.conf --name=\"a b\""),
                ("esc", "a b"),
                ("inside", "1"),
                ("joined", "abc"),
                ("multi", "line1\nline2"),
                ("other", "/etc/yx"),
                ("rc_logger", "NO"),
                ("rc_parallel", "YES"),
            ])
        );
    }

    #[test]
    fn garbage_never_panics() {
        for s in ["\"", "'", "a=\"", "a='", "${", "a=${", "a=${x:", "a=${x:-", "a=$", "export", "export ", "=x", "a=\\", "\\\n"] {
            let _ = parse_shell_vars(s);
        }
    }
}

#[cfg(test)]
mod expansion_bomb {
    /// The fuzz target's out-of-memory input, reduced: a value doubled on every line.
    #[test]
    fn a_doubling_value_is_capped_not_expanded_without_bound() {
        let mut text = String::from("a=xxxxxxxx\n");
        for _ in 0..64 {
            text.push_str("a=$a$a\n");
        }
        text.push_str("b=ok\n");
        let v = super::parse_shell_vars(&text);
        assert!(v.get("a").is_some_and(|a| a.len() <= super::MAX_VALUE));
        assert_eq!(v.get("b").map(String::as_str), Some("ok"), "lines after the bomb still parse");
    }
}
