//! Kconfig `.config` handling, free of I/O: parse a config, apply fragments and symbol
//! selections, render it back in the original order. Used for BusyBox applet selection
//! (adding or removing a component, property 10) and later for kernel fragments.

use std::collections::BTreeMap;

/// A symbol's value: `y`, `m`, not set, or a literal (`"string"`, `123`, `0x10`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Yes,
    Module,
    NotSet,
    Literal(String),
}

impl Value {
    fn render(&self, sym: &str) -> String {
        match self {
            Value::Yes => format!("{sym}=y"),
            Value::Module => format!("{sym}=m"),
            Value::NotSet => format!("# {sym} is not set"),
            Value::Literal(v) => format!("{sym}={v}"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KconfigError {
    #[error("line {line}: cannot parse `{text}` (expected CONFIG_X=value or `# CONFIG_X is not set`)")]
    Syntax { line: usize, text: String },
    #[error("unknown {what} `{name}`: {symbol} is not in the base configuration (check the spelling; `kimigayo applets` lists the known ones)")]
    Unknown { what: &'static str, name: String, symbol: String },
    #[error("applet `{name}` cannot be removed: {reason} (drop `-{name}` from --applets)")]
    Required { name: String, reason: String },
}

/// A parsed `.config`: lines kept for faithful rendering, symbols indexed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    lines: Vec<Line>,
    index: BTreeMap<String, usize>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Line {
    Other(String),
    Symbol(String, Value),
}

fn parse_line(raw: &str) -> Option<Option<(String, Value)>> {
    let t = raw.trim();
    if let Some(rest) = t.strip_prefix("# ") {
        if let Some(sym) = rest.strip_suffix(" is not set") {
            if sym.starts_with("CONFIG_") && !sym.contains(' ') {
                return Some(Some((sym.to_string(), Value::NotSet)));
            }
        }
        return Some(None);
    }
    if t.is_empty() || t.starts_with('#') {
        return Some(None);
    }
    let (sym, val) = t.split_once('=')?;
    if !sym.starts_with("CONFIG_") || sym.contains(char::is_whitespace) {
        return None;
    }
    let v = match val {
        "y" => Value::Yes,
        "m" => Value::Module,
        "n" => Value::NotSet,
        other => Value::Literal(other.to_string()),
    };
    Some(Some((sym.to_string(), v)))
}

impl Config {
    pub fn parse(text: &str) -> Result<Config, KconfigError> {
        let mut c = Config { lines: Vec::new(), index: BTreeMap::new() };
        for (i, raw) in text.lines().enumerate() {
            match parse_line(raw) {
                None => return Err(KconfigError::Syntax { line: i + 1, text: raw.to_string() }),
                Some(None) => c.lines.push(Line::Other(raw.to_string())),
                Some(Some((sym, v))) => c.set(&sym, v),
            }
        }
        Ok(c)
    }

    pub fn get(&self, sym: &str) -> Option<&Value> {
        self.index.get(sym).map(|&i| match &self.lines[i] {
            Line::Symbol(_, v) => v,
            Line::Other(_) => unreachable!("index points at symbols"),
        })
    }

    pub fn is_enabled(&self, sym: &str) -> bool {
        matches!(self.get(sym), Some(Value::Yes | Value::Module))
    }

    /// Set a symbol, in place if present, appended otherwise.
    pub fn set(&mut self, sym: &str, v: Value) {
        match self.index.get(sym) {
            Some(&i) => self.lines[i] = Line::Symbol(sym.to_string(), v),
            None => {
                self.index.insert(sym.to_string(), self.lines.len());
                self.lines.push(Line::Symbol(sym.to_string(), v));
            }
        }
    }

    /// Apply a fragment (same syntax); later settings win.
    pub fn merge(&mut self, fragment: &str) -> Result<(), KconfigError> {
        let f = Config::parse(fragment)?;
        for line in f.lines {
            if let Line::Symbol(s, v) = line {
                self.set(&s, v);
            }
        }
        Ok(())
    }

    pub fn symbols(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.lines.iter().filter_map(|l| match l {
            Line::Symbol(s, v) => Some((s.as_str(), v)),
            Line::Other(_) => None,
        })
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        for l in &self.lines {
            match l {
                Line::Other(t) => out.push_str(t),
                Line::Symbol(s, v) => out.push_str(&v.render(s)),
            }
            out.push('\n');
        }
        out
    }
}

/// The BusyBox Kconfig symbol of an applet (`nc` → `CONFIG_NC`, `run-parts` → `CONFIG_RUN_PARTS`).
pub fn applet_symbol(applet: &str) -> String {
    let mut s = String::from("CONFIG_");
    for c in applet.chars() {
        s.push(if c.is_ascii_alphanumeric() { c.to_ascii_uppercase() } else { '_' });
    }
    s
}

/// Enable `add` and disable `remove` applets in a BusyBox config. Unknown applets are an error
/// (a typo must not silently build a different image). `remove` wins over `add`.
pub fn select_applets(base: &Config, add: &[String], remove: &[String], required: &BTreeMap<String, String>) -> Result<Config, KconfigError> {
    if let Some((name, reason)) = remove.iter().find_map(|a| required.get_key_value(a)) {
        return Err(KconfigError::Required { name: name.clone(), reason: reason.clone() });
    }
    let mut c = base.clone();
    for (list, value) in [(add, Value::Yes), (remove, Value::NotSet)] {
        for a in list {
            let sym = applet_symbol(a);
            if c.get(&sym).is_none() {
                return Err(KconfigError::Unknown { what: "applet", name: a.clone(), symbol: sym });
            }
            c.set(&sym, value.clone());
        }
    }
    Ok(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = "#\n# Settings\nCONFIG_DESKTOP=y\n# CONFIG_NC is not set\nCONFIG_VI=y\nCONFIG_PREFIX=\"./_install\"\nCONFIG_RUN_PARTS=y\n";

    #[test]
    fn round_trip_is_exact() {
        assert_eq!(Config::parse(BASE).unwrap().render(), BASE);
    }

    #[test]
    fn select_adds_and_removes() {
        let c = select_applets(&Config::parse(BASE).unwrap(), &["nc".into()], &["vi".into(), "run-parts".into()], &BTreeMap::new()).unwrap();
        assert!(c.is_enabled("CONFIG_NC"));
        assert!(!c.is_enabled("CONFIG_VI") && !c.is_enabled("CONFIG_RUN_PARTS"));
        assert!(c.render().contains("# CONFIG_VI is not set"));
    }

    #[test]
    fn unknown_applet_is_named() {
        let e = select_applets(&Config::parse(BASE).unwrap(), &["vim".into()], &[], &BTreeMap::new()).unwrap_err();
        assert!(e.to_string().contains("`vim`") && e.to_string().contains("CONFIG_VIM"), "{e}");
    }

    #[test]
    fn required_applets_are_refused_with_the_reason() {
        let required = BTreeMap::from([("vi".to_string(), "the editor of last resort".to_string())]);
        let e = select_applets(&Config::parse(BASE).unwrap(), &[], &["run-parts".into(), "vi".into()], &required).unwrap_err();
        assert_eq!(e.to_string(), "applet `vi` cannot be removed: the editor of last resort (drop `-vi` from --applets)");
        // Adding it, or removing others, is fine.
        assert!(select_applets(&Config::parse(BASE).unwrap(), &["vi".into()], &["run-parts".into()], &required).is_ok());
    }

    #[test]
    fn syntax_errors_name_the_line() {
        let e = Config::parse("CONFIG_A=y\nrubbish here\n").unwrap_err();
        assert_eq!(e, KconfigError::Syntax { line: 2, text: "rubbish here".into() });
    }

    #[test]
    fn merge_overrides_and_appends() {
        let mut c = Config::parse(BASE).unwrap();
        c.merge("CONFIG_DESKTOP=n\nCONFIG_NEW=123\n").unwrap();
        assert_eq!(c.get("CONFIG_DESKTOP"), Some(&Value::NotSet));
        assert_eq!(c.get("CONFIG_NEW"), Some(&Value::Literal("123".into())));
    }
}
