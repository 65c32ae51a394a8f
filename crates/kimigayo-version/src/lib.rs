//! Package versions (`1.37.0`, `1.2.5_rc1`, with an optional `-rN` release) and the
//! dependency constraints recipes and packages declare (`musl>=1.2.5`, `busybox~1.37`).

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

/// A version as written by upstream plus the distribution release (`-rN`, default 0).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Version {
    pub upstream: String,
    pub release: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Token<'a> {
    Num(u64),
    Alpha(&'a str),
}

fn tokens(s: &str) -> Vec<Token<'_>> {
    let mut out = Vec::new();
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let start = i;
        if b[i].is_ascii_digit() {
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
            // Saturate absurdly long digit runs rather than fail: ordering stays total.
            out.push(Token::Num(s[start..i].parse().unwrap_or(u64::MAX)));
        } else if b[i].is_ascii_alphabetic() {
            while i < b.len() && b[i].is_ascii_alphabetic() {
                i += 1;
            }
            out.push(Token::Alpha(&s[start..i]));
        } else {
            i += 1; // separators (. _ + ~) only split tokens
        }
    }
    out
}

/// Whether a version string is acceptable: starts with a digit, only `[0-9A-Za-z._+~]`.
pub fn valid_upstream(s: &str) -> bool {
    s.as_bytes().first().is_some_and(|c| c.is_ascii_digit())
        && s.bytes().all(|c| c.is_ascii_alphanumeric() || b"._+~".contains(&c))
}

impl Version {
    pub fn new(upstream: impl Into<String>, release: Option<u32>) -> Self {
        Version { upstream: upstream.into(), release }
    }

    /// Compare upstream parts: numbers numerically; a letter suffix (`1.0a`) sorts after the
    /// bare number, but pre-release words (`_rc`, `_alpha`, `_beta`, `_pre`) sort before it.
    fn cmp_upstream(a: &str, b: &str) -> Ordering {
        let (ta, tb) = (tokens(a), tokens(b));
        let pre = |t: &Token| matches!(t, Token::Alpha(w) if ["alpha", "beta", "pre", "rc"].contains(w));
        for i in 0..ta.len().max(tb.len()) {
            match (ta.get(i), tb.get(i)) {
                (Some(x), Some(y)) => {
                    let o = match (x, y) {
                        (Token::Num(p), Token::Num(q)) => p.cmp(q),
                        (Token::Alpha(p), Token::Alpha(q)) => p.cmp(q),
                        (Token::Num(_), Token::Alpha(_)) => Ordering::Greater,
                        (Token::Alpha(_), Token::Num(_)) => Ordering::Less,
                    };
                    if o != Ordering::Equal {
                        return o;
                    }
                }
                (Some(x), None) => return if pre(x) { Ordering::Less } else { Ordering::Greater },
                (None, Some(y)) => return if pre(y) { Ordering::Greater } else { Ordering::Less },
                (None, None) => break,
            }
        }
        Ordering::Equal
    }
}

impl Ord for Version {
    fn cmp(&self, other: &Self) -> Ordering {
        Version::cmp_upstream(&self.upstream, &other.upstream)
            .then(self.release.unwrap_or(0).cmp(&other.release.unwrap_or(0)))
            .then_with(|| self.upstream.cmp(&other.upstream))
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.release {
            Some(r) => write!(f, "{}-r{}", self.upstream, r),
            None => f.write_str(&self.upstream),
        }
    }
}

impl FromStr for Version {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let (up, rel) = match s.rsplit_once("-r") {
            Some((u, r)) if !r.is_empty() && r.bytes().all(|c| c.is_ascii_digit()) => {
                (u, Some(r.parse::<u32>().map_err(|_| format!("release number in `{s}` is too large"))?))
            }
            _ => (s, None),
        };
        if !valid_upstream(up) {
            return Err(format!(
                "invalid version `{s}`: a version starts with a digit and uses only 0-9 A-Z a-z . _ + ~ (release as -rN)"
            ));
        }
        Ok(Version::new(up, rel))
    }
}

/// A comparison in a dependency constraint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Op {
    Eq,
    Ge,
    Le,
    Gt,
    Lt,
    /// `~1.37`: same leading components (1.37, 1.37.0, 1.37.9-r2 but not 1.38).
    Tilde,
}

impl Op {
    pub fn as_str(self) -> &'static str {
        match self {
            Op::Eq => "=",
            Op::Ge => ">=",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Lt => "<",
            Op::Tilde => "~",
        }
    }
}

/// `name`, or `name OP version`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Constraint {
    pub name: String,
    pub req: Option<(Op, Version)>,
}

/// Valid package name: lowercase letters, digits, `+ - . _`, starting with a letter or digit.
pub fn valid_name(s: &str) -> bool {
    s.as_bytes().first().is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && s.bytes().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || b"+-._".contains(&c))
}

impl Constraint {
    pub fn matches(&self, v: &Version) -> bool {
        let Some((op, want)) = &self.req else { return true };
        match op {
            Op::Eq => {
                // `=1.2.5` matches any release of 1.2.5; `=1.2.5-r1` only that release.
                if want.release.is_some() {
                    v == want
                } else {
                    Version::cmp_upstream(&v.upstream, &want.upstream) == Ordering::Equal
                }
            }
            Op::Ge => v >= want,
            Op::Le => {
                if want.release.is_some() {
                    v <= want
                } else {
                    Version::cmp_upstream(&v.upstream, &want.upstream) != Ordering::Greater
                }
            }
            Op::Gt => {
                if want.release.is_some() {
                    v > want
                } else {
                    Version::cmp_upstream(&v.upstream, &want.upstream) == Ordering::Greater
                }
            }
            Op::Lt => v < want,
            Op::Tilde => {
                let (w, h) = (tokens(&want.upstream), tokens(&v.upstream));
                h.len() >= w.len() && h[..w.len()] == w[..]
            }
        }
    }
}

impl fmt::Display for Constraint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.req {
            Some((op, v)) => write!(f, "{}{}{}", self.name, op.as_str(), v),
            None => f.write_str(&self.name),
        }
    }
}

impl FromStr for Constraint {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let s = s.trim();
        let pos = s.find(['=', '<', '>', '~']);
        let (name, req) = match pos {
            None => (s, None),
            Some(i) => {
                let rest = &s[i..];
                let (op, ver) = [(">=", Op::Ge), ("<=", Op::Le), ("=", Op::Eq), (">", Op::Gt), ("<", Op::Lt), ("~", Op::Tilde)]
                    .iter()
                    .find_map(|(p, op)| rest.strip_prefix(p).map(|v| (*op, v)))
                    .expect("find() matched one of the operator characters");
                let ver: Version = ver.trim().parse().map_err(|e| format!("in constraint `{s}`: {e}"))?;
                (s[..i].trim(), Some((op, ver)))
            }
        };
        if !valid_name(name) {
            return Err(format!(
                "invalid package name in constraint `{s}`: use lowercase letters, digits and + - . _ (e.g. `musl>=1.2.5`)"
            ));
        }
        Ok(Constraint { name: name.to_string(), req })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Version {
        s.parse().unwrap()
    }

    #[test]
    fn ordering_follows_numbers_not_text() {
        assert!(v("1.10") > v("1.9"));
        assert!(v("1.37.0") < v("1.37.1"));
        assert!(v("1.2.5-r2") > v("1.2.5-r1"));
        assert!(v("1.2.5_rc1") < v("1.2.5"));
        assert!(v("1.0a") > v("1.0"));
    }

    #[test]
    fn constraints_parse_and_match() {
        let c: Constraint = "musl>=1.2.5".parse().unwrap();
        assert!(c.matches(&v("1.2.5-r1")) && !c.matches(&v("1.2.4")));
        let c: Constraint = "busybox~1.37".parse().unwrap();
        assert!(c.matches(&v("1.37.0-r3")) && !c.matches(&v("1.38.0")));
        let c: Constraint = "musl=1.2.5".parse().unwrap();
        assert!(c.matches(&v("1.2.5-r7")));
        let c: Constraint = "musl<1.2.5".parse().unwrap();
        assert!(!c.matches(&v("1.2.5")));
        assert_eq!("a = 1.0".parse::<Constraint>().unwrap().to_string(), "a=1.0");
    }

    #[test]
    fn bad_constraints_say_why() {
        assert!("Musl>=1".parse::<Constraint>().unwrap_err().contains("lowercase"));
        assert!("musl>=x1".parse::<Constraint>().unwrap_err().contains("starts with a digit"));
    }
}
