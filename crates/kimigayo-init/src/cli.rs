//! A small argument parser shared by every applet.
//!
//! Hand-written on purpose: PID 1 must stay small and must never panic on odd argv, and clap
//! would roughly double the binary for eight tiny command lines.

use std::ffi::OsString;

/// One option an applet accepts.
#[derive(Debug, Clone, Copy)]
pub struct Opt {
    pub short: Option<char>,
    pub long: &'static str,
    pub takes_value: bool,
}

impl Opt {
    pub const fn flag(short: Option<char>, long: &'static str) -> Self {
        Opt { short, long, takes_value: false }
    }
    pub const fn value(short: Option<char>, long: &'static str) -> Self {
        Opt { short, long, takes_value: true }
    }
}

/// The result: options in order (by long name) and positional arguments.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Parsed {
    pub opts: Vec<(&'static str, Option<String>)>,
    pub args: Vec<String>,
}

impl Parsed {
    pub fn has(&self, long: &str) -> bool {
        self.opts.iter().any(|(l, _)| *l == long)
    }
    pub fn value(&self, long: &str) -> Option<&str> {
        self.opts.iter().rev().find(|(l, _)| *l == long).and_then(|(_, v)| v.as_deref())
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CliError {
    #[error("{applet}: unknown option `{option}'; see `{applet} --help'")]
    Unknown { applet: String, option: String },
    #[error("{applet}: option `{option}' needs a value; see `{applet} --help'")]
    MissingValue { applet: String, option: String },
    #[error("{applet}: option `{option}' takes no value")]
    UnexpectedValue { applet: String, option: String },
    #[error("{applet}: argument {index} is not valid UTF-8")]
    NotUtf8 { applet: String, index: usize },
}

/// Parses `args` (argv without argv[0]). With `stop_at_positional`, the first positional
/// argument and everything after it are returned untouched (used by `init -- CMD ARGS`).
pub fn parse(applet: &str, spec: &[Opt], args: &[OsString], stop_at_positional: bool) -> Result<Parsed, CliError> {
    let mut out = Parsed::default();
    let mut strs = Vec::with_capacity(args.len());
    for (index, a) in args.iter().enumerate() {
        match a.to_str() {
            Some(s) => strs.push(s.to_string()),
            None => return Err(CliError::NotUtf8 { applet: applet.into(), index: index + 1 }),
        }
    }
    let unknown = |o: &str| CliError::Unknown { applet: applet.into(), option: o.into() };
    let mut i = 0;
    while i < strs.len() {
        let a = &strs[i];
        i += 1;
        if a == "--" {
            out.args.extend(strs[i..].iter().cloned());
            break;
        }
        if let Some(body) = a.strip_prefix("--") {
            let (name, inline) = match body.split_once('=') {
                Some((n, v)) => (n, Some(v.to_string())),
                None => (body, None),
            };
            let opt = spec.iter().find(|o| o.long == name).ok_or_else(|| unknown(a))?;
            let value = if opt.takes_value {
                match inline {
                    Some(v) => Some(v),
                    None if i < strs.len() => {
                        i += 1;
                        Some(strs[i - 1].clone())
                    }
                    None => return Err(CliError::MissingValue { applet: applet.into(), option: a.clone() }),
                }
            } else if inline.is_some() {
                return Err(CliError::UnexpectedValue { applet: applet.into(), option: name.into() });
            } else {
                None
            };
            out.opts.push((opt.long, value));
            continue;
        }
        if a.len() > 1 && a.starts_with('-') {
            let chars: Vec<char> = a.chars().skip(1).collect();
            let mut k = 0;
            while k < chars.len() {
                let c = chars[k];
                k += 1;
                let opt = spec.iter().find(|o| o.short == Some(c)).ok_or_else(|| unknown(&format!("-{c}")))?;
                if opt.takes_value {
                    let rest: String = chars[k..].iter().collect();
                    let value = if !rest.is_empty() {
                        rest
                    } else if i < strs.len() {
                        i += 1;
                        strs[i - 1].clone()
                    } else {
                        return Err(CliError::MissingValue { applet: applet.into(), option: format!("-{c}") });
                    };
                    out.opts.push((opt.long, Some(value)));
                    break;
                }
                out.opts.push((opt.long, None));
            }
            continue;
        }
        out.args.push(a.clone());
        if stop_at_positional {
            out.args.extend(strs[i..].iter().cloned());
            break;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPEC: &[Opt] = &[Opt::flag(Some('a'), "all"), Opt::value(Some('t'), "timeout"), Opt::flag(None, "json")];

    fn os(v: &[&str]) -> Vec<OsString> {
        v.iter().map(OsString::from).collect()
    }

    #[test]
    fn mixes_short_long_and_positionals() {
        let p = parse("x", SPEC, &os(&["-a", "svc", "--timeout=3", "--json", "-t5", "start"]), false).unwrap();
        assert!(p.has("all") && p.has("json"));
        assert_eq!(p.value("timeout"), Some("5"));
        assert_eq!(p.args, vec!["svc", "start"]);
    }

    #[test]
    fn stops_at_command() {
        let p = parse("init", SPEC, &os(&["-a", "sh", "-c", "--json"]), true).unwrap();
        assert_eq!(p.args, vec!["sh", "-c", "--json"]);
        let p = parse("init", SPEC, &os(&["--", "-a"]), true).unwrap();
        assert_eq!(p.args, vec!["-a"]);
    }

    #[test]
    fn errors_name_the_option() {
        let e = parse("rc-status", SPEC, &os(&["--bogus"]), false).unwrap_err();
        assert_eq!(e.to_string(), "rc-status: unknown option `--bogus'; see `rc-status --help'");
        assert!(matches!(parse("x", SPEC, &os(&["-t"]), false), Err(CliError::MissingValue { .. })));
        assert!(matches!(parse("x", SPEC, &os(&["--json=1"]), false), Err(CliError::UnexpectedValue { .. })));
    }
}
