//! getopt_long-style parsing, as OpenRC's and Debian's tools do it: `-x VAL`, `-xVAL`, bundled
//! flags (`-Sbm`), `--long VAL`, `--long=VAL`, and `--` ending the options. Hand-written because
//! the applets must accept exactly these spellings from existing init scripts, in any order.

use std::ffi::OsString;

pub struct Opt {
    pub short: Option<char>,
    pub long: &'static str,
    pub takes_value: bool,
}

pub const fn flag(short: char, long: &'static str) -> Opt {
    Opt { short: Some(short), long, takes_value: false }
}
pub const fn value(short: char, long: &'static str) -> Opt {
    Opt { short: Some(short), long, takes_value: true }
}
pub const fn long_flag(long: &'static str) -> Opt {
    Opt { short: None, long, takes_value: false }
}
pub const fn long_value(long: &'static str) -> Opt {
    Opt { short: None, long, takes_value: true }
}

#[derive(Debug, PartialEq, Eq)]
pub enum Item {
    /// (long name, value)
    Opt(&'static str, Option<String>),
    Positional(String),
}

/// Parses options; everything after `--` is returned in the second vector. Positionals before
/// `--` are kept in order (`stop_at_positional` makes the first one end option parsing, like
/// supervise-daemon's `DAEMON -- ARGS` form does not need).
pub fn parse(args: &[OsString], opts: &[Opt]) -> Result<(Vec<Item>, Vec<String>), String> {
    let mut items = Vec::new();
    let mut rest = Vec::new();
    let mut i = 0;
    let args: Vec<String> = args.iter().map(|a| a.to_string_lossy().into_owned()).collect();
    while i < args.len() {
        let a = &args[i];
        i += 1;
        if a == "--" {
            rest.extend(args[i..].iter().cloned());
            break;
        }
        if let Some(long) = a.strip_prefix("--") {
            let (name, inline) = match long.split_once('=') {
                Some((n, v)) => (n, Some(v.to_string())),
                None => (long, None),
            };
            let opt = opts.iter().find(|o| o.long == name).ok_or_else(|| format!("unrecognized option '--{name}'"))?;
            let val = if opt.takes_value {
                match inline {
                    Some(v) => Some(v),
                    None => {
                        let v = args.get(i).cloned().ok_or_else(|| format!("option '--{name}' requires an argument"))?;
                        i += 1;
                        Some(v)
                    }
                }
            } else {
                if inline.is_some() {
                    return Err(format!("option '--{name}' doesn't allow an argument"));
                }
                None
            };
            items.push(Item::Opt(opt.long, val));
        } else if a.len() > 1 && a.starts_with('-') {
            let chars: Vec<char> = a[1..].chars().collect();
            let mut j = 0;
            while j < chars.len() {
                let c = chars[j];
                j += 1;
                let opt = opts.iter().find(|o| o.short == Some(c)).ok_or_else(|| format!("invalid option -- '{c}'"))?;
                if opt.takes_value {
                    let v = if j < chars.len() {
                        chars[j..].iter().collect()
                    } else {
                        let v = args.get(i).cloned().ok_or_else(|| format!("option requires an argument -- '{c}'"))?;
                        i += 1;
                        v
                    };
                    items.push(Item::Opt(opt.long, Some(v)));
                    break;
                }
                items.push(Item::Opt(opt.long, None));
            }
        } else {
            items.push(Item::Positional(a.clone()));
        }
    }
    Ok((items, rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    const OPTS: &[Opt] = &[flag('S', "start"), flag('b', "background"), value('p', "pidfile"), long_value("respawn-delay")];

    fn os(v: &[&str]) -> Vec<OsString> {
        v.iter().map(OsString::from).collect()
    }

    #[test]
    fn spellings() {
        let (items, rest) = parse(&os(&["-Sbp/run/x.pid", "--respawn-delay=2", "--pidfile", "/y", "cmd", "--", "-a", "b"]), OPTS).unwrap();
        assert_eq!(
            items,
            vec![
                Item::Opt("start", None),
                Item::Opt("background", None),
                Item::Opt("pidfile", Some("/run/x.pid".into())),
                Item::Opt("respawn-delay", Some("2".into())),
                Item::Opt("pidfile", Some("/y".into())),
                Item::Positional("cmd".into()),
            ]
        );
        assert_eq!(rest, vec!["-a", "b"]);
        assert!(parse(&os(&["--nope"]), OPTS).unwrap_err().contains("--nope"));
        assert!(parse(&os(&["-p"]), OPTS).is_err());
    }
}
