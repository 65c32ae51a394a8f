//! Where repository files come from: a local folder, or HTTP(S) base URLs (mirrors, tried
//! in order). Every byte is verified by the caller; this layer bounds what a hostile or
//! broken mirror can do: an overall deadline per request, a size cap per file (a package's
//! size from the signed index, fixed caps for the index and its signature), redirects only
//! to the same host and never from https to http (other hosts only when configured), and
//! on any failure the next mirror.

use std::io::Read;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::PkgError;

/// Largest index accepted (it lists every package of a repository).
pub const INDEX_CAP: u64 = 64 << 20;
/// Largest detached signature accepted.
pub const SIGNATURE_CAP: u64 = 64 << 10;
/// Overall time one request may take, connection to last byte.
pub const DEFAULT_DEADLINE: Duration = Duration::from_secs(300);
const MAX_REDIRECTS: usize = 5;

#[derive(Debug, Clone)]
pub struct HttpSource {
    /// Mirrors of the same repository, tried in order.
    pub urls: Vec<String>,
    /// Hosts a redirect may lead to besides the mirror's own (`redirect-hosts=a,b`).
    pub redirect_hosts: Vec<String>,
    pub deadline: Duration,
}

/// What a root pins for one configured repository: the origin its index must name and the
/// keys (primary fingerprints) allowed to sign it. `origin=NAME keys=FPR,FPR` on its line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pin {
    pub origin: Option<String>,
    pub keys: Vec<String>,
}

impl Pin {
    pub fn parse(line: &str) -> Pin {
        let mut p = Pin::default();
        for w in line.split_whitespace().skip(1) {
            if let Some(o) = w.strip_prefix("origin=") {
                p.origin = Some(o.to_string());
            } else if let Some(k) = w.strip_prefix("keys=") {
                p.keys.extend(k.split(',').filter(|k| !k.is_empty()).map(str::to_string));
            }
        }
        p
    }
}

/// Parse the trusted-origins file: `NAME keys=FPR[,FPR…]` per line, `#` comments. Errors
/// name the line and say what is expected.
pub fn parse_origins(text: &str) -> Result<std::collections::BTreeMap<String, Vec<String>>, String> {
    let mut out = std::collections::BTreeMap::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut words = line.split_whitespace();
        let name = words.next().unwrap_or("");
        if !name.bytes().all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.')) {
            return Err(format!("line {}: `{name}` is not a repository origin (letters, digits, `-`, `_`, `.`); expected `NAME keys=FINGERPRINT[,…]`", n + 1));
        }
        let mut keys = Vec::new();
        for w in words {
            match w.strip_prefix("keys=") {
                Some(k) => keys.extend(k.split(',').filter(|k| !k.is_empty()).map(|k| k.to_ascii_uppercase())),
                None => return Err(format!("line {}: unknown setting `{w}`; expected `NAME keys=FINGERPRINT[,…]`", n + 1)),
            }
        }
        if keys.is_empty() || keys.iter().any(|k| k.len() < 16 || !k.bytes().all(|c| c.is_ascii_hexdigit())) {
            return Err(format!("line {}: origin `{name}` needs `keys=` with the hex fingerprints of the keys allowed to sign it", n + 1));
        }
        if out.insert(name.to_string(), keys).is_some() {
            return Err(format!("line {}: origin `{name}` is listed twice; keep one line per origin", n + 1));
        }
    }
    Ok(out)
}

#[derive(Debug, Clone)]
pub enum RepoSource {
    Local(PathBuf),
    Http(HttpSource),
}

impl RepoSource {
    /// `/path`, `file:///path`, `https://host/path`, several URLs separated by `|`, optionally
    /// followed by ` redirect-hosts=cdn.example.org,…`.
    pub fn parse(s: &str) -> RepoSource {
        let s = s.trim();
        let location = s.split_whitespace().next().unwrap_or("");
        if let Some(p) = location.strip_prefix("file://") {
            return RepoSource::Local(PathBuf::from(p));
        }
        if s.starts_with("http://") || s.starts_with("https://") {
            let mut words = s.split_whitespace();
            let urls = words.next().unwrap_or("").split('|').map(|u| u.trim().trim_end_matches('/').to_string()).collect();
            let mut redirect_hosts = Vec::new();
            for w in words {
                if let Some(h) = w.strip_prefix("redirect-hosts=") {
                    redirect_hosts.extend(h.split(',').filter(|h| !h.is_empty()).map(|h| h.to_ascii_lowercase()));
                }
            }
            return RepoSource::Http(HttpSource { urls, redirect_hosts, deadline: DEFAULT_DEADLINE });
        }
        RepoSource::Local(PathBuf::from(location))
    }

    /// A stable name for replay-protection bookkeeping.
    pub fn id(&self) -> String {
        match self {
            RepoSource::Local(p) => p.display().to_string(),
            RepoSource::Http(h) => h.urls.first().cloned().unwrap_or_default(),
        }
    }

    /// Read `rel` (e.g. `index.json`, `x86_64/busybox-1.37.0-r1.x86_64.tar.gz`), at most `cap`
    /// bytes: more is an error (that mirror lies), not a truncation.
    pub fn get(&self, rel: &str, cap: u64) -> Result<Vec<u8>, PkgError> {
        self.get_checked(rel, cap, &|_| Ok(()))
    }

    /// [`get`](Self::get), accepting only bytes that pass `check` (hash and signature): a
    /// mirror serving something else is skipped for the next one. With every mirror failing
    /// the check, its error is returned.
    pub fn get_checked(&self, rel: &str, cap: u64, check: &dyn Fn(&[u8]) -> Result<(), PkgError>) -> Result<Vec<u8>, PkgError> {
        match self {
            RepoSource::Local(dir) => {
                let p = dir.join(rel);
                let f = std::fs::File::open(&p).map_err(|e| PkgError::Network(format!("cannot read {}: {e}", p.display())))?;
                let mut buf = Vec::new();
                f.take(cap + 1).read_to_end(&mut buf).map_err(|e| PkgError::Network(format!("cannot read {}: {e}", p.display())))?;
                if buf.len() as u64 > cap {
                    return Err(PkgError::Network(format!("{} is larger than the {cap} bytes expected of it", p.display())));
                }
                check(&buf)?;
                Ok(buf)
            }
            RepoSource::Http(h) => h.get(rel, cap, check),
        }
    }
}

fn host_of(u: &url::Url) -> String {
    u.host_str().unwrap_or("").to_ascii_lowercase()
}

/// May a redirect go from `from` to `to`? Never from https to http; to the same host, or to
/// one of `allowed`.
pub fn redirect_allowed(from: &url::Url, to: &url::Url, allowed: &[String]) -> Result<(), String> {
    match (from.scheme(), to.scheme()) {
        ("https", "https") | ("http", "http") | ("http", "https") => {}
        ("https", "http") => return Err(format!("redirect from https to http ({to}) refused: it would drop the transport security")),
        (_, s) => return Err(format!("redirect to a `{s}` URL ({to}) refused")),
    }
    let (a, b) = (host_of(from), host_of(to));
    if a != b && !allowed.contains(&b) {
        return Err(format!("redirect from {a} to another host ({b}) refused: add `redirect-hosts={b}` to the repository line if that host is a trusted mirror"));
    }
    Ok(())
}

impl HttpSource {
    fn get(&self, rel: &str, cap: u64, check: &dyn Fn(&[u8]) -> Result<(), PkgError>) -> Result<Vec<u8>, PkgError> {
        let mut errors = Vec::new();
        let mut refused = None;
        for base in &self.urls {
            let url = format!("{base}/{rel}");
            for attempt in 0..3u32 {
                if attempt > 0 {
                    std::thread::sleep(Duration::from_millis(200 << attempt));
                }
                match self.fetch(&url, cap) {
                    Ok(b) => match check(&b) {
                        Ok(()) => return Ok(b),
                        Err(e) => {
                            errors.push(format!("{url}: {e}"));
                            refused = Some(e);
                            break;
                        }
                    },
                    Err((msg, retry)) => {
                        errors.push(format!("{url}: {msg}"));
                        if !retry {
                            break; // this mirror answered, wrongly: go to the next one
                        }
                    }
                }
            }
        }
        if let (Some(e), 1) = (refused.take(), self.urls.len()) {
            return Err(e);
        }
        Err(PkgError::Network(format!("cannot fetch {rel} from any mirror (nothing was changed):\n  {}", errors.join("\n  "))))
    }

    /// One request with manual redirects. `Err((message, worth retrying))`.
    fn fetch(&self, start: &str, cap: u64) -> Result<Vec<u8>, (String, bool)> {
        let begun = Instant::now();
        let agent = ureq::AgentBuilder::new().timeout_connect(Duration::from_secs(10)).timeout(self.deadline).redirects(0).build();
        let mut url = url::Url::parse(start).map_err(|e| (format!("not a URL: {e}"), false))?;
        for _ in 0..=MAX_REDIRECTS {
            let left = self.deadline.checked_sub(begun.elapsed()).ok_or_else(|| (format!("no answer within {:?}", self.deadline), false))?;
            let resp = match agent.get(url.as_str()).timeout(left).call() {
                Ok(r) => r,
                Err(ureq::Error::Status(code, _)) => return Err((format!("HTTP {code}"), false)),
                Err(e) => return Err((e.to_string(), true)),
            };
            if (300..400).contains(&resp.status()) {
                let loc = resp.header("location").ok_or_else(|| (format!("HTTP {} without a Location", resp.status()), false))?;
                let next = url.join(loc).map_err(|e| (format!("bad redirect Location `{loc}`: {e}"), false))?;
                redirect_allowed(&url, &next, &self.redirect_hosts).map_err(|m| (m, false))?;
                url = next;
                continue;
            }
            if let Some(len) = resp.header("content-length").and_then(|l| l.parse::<u64>().ok()) {
                if len > cap {
                    return Err((format!("{len} bytes announced, but at most {cap} are expected (the signed index says so): refusing to download it"), false));
                }
            }
            let mut buf = Vec::new();
            resp.into_reader().take(cap + 1).read_to_end(&mut buf).map_err(|e| {
                let late = begun.elapsed() >= self.deadline;
                (if late { format!("not finished within {:?}: {e}", self.deadline) } else { e.to_string() }, !late)
            })?;
            if buf.len() as u64 > cap {
                return Err((format!("more than the {cap} bytes expected (the signed index says so): download stopped"), false));
            }
            return Ok(buf);
        }
        Err((format!("more than {MAX_REDIRECTS} redirects"), false))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirect_policy() {
        let u = |s: &str| url::Url::parse(s).unwrap();
        assert!(redirect_allowed(&u("https://repo.example/a"), &u("https://repo.example/b"), &[]).is_ok());
        assert!(redirect_allowed(&u("http://repo.example/a"), &u("https://repo.example/b"), &[]).is_ok());
        let e = redirect_allowed(&u("https://repo.example/a"), &u("http://repo.example/b"), &[]).unwrap_err();
        assert!(e.contains("https to http"), "{e}");
        let e = redirect_allowed(&u("https://repo.example/a"), &u("https://evil.example/b"), &[]).unwrap_err();
        assert!(e.contains("redirect-hosts=evil.example"), "{e}");
        assert!(redirect_allowed(&u("https://repo.example/a"), &u("https://cdn.example/b"), &["cdn.example".into()]).is_ok());
        assert!(redirect_allowed(&u("https://repo.example/a"), &u("file:///etc/shadow"), &[]).is_err());
    }

    #[test]
    fn repository_lines_parse() {
        match RepoSource::parse("https://a.example/r|https://b.example/r/ redirect-hosts=CDN.example,x") {
            RepoSource::Http(h) => {
                assert_eq!(h.urls, ["https://a.example/r", "https://b.example/r"]);
                assert_eq!(h.redirect_hosts, ["cdn.example", "x"]);
                assert_eq!(h.deadline, DEFAULT_DEADLINE);
            }
            other => panic!("{other:?}"),
        }
    }
}
