//! Where repository files come from: a local folder, or HTTP(S) base URLs (mirrors, tried
//! in order) with bounded retries and backoff. Every byte is verified by the caller.

use std::io::Read;
use std::path::PathBuf;
use std::time::Duration;

use crate::PkgError;

#[derive(Debug, Clone)]
pub enum RepoSource {
    Local(PathBuf),
    /// Mirrors of the same repository, tried in order.
    Http(Vec<String>),
}

impl RepoSource {
    /// `/path`, `file:///path`, `https://host/path` or several URLs separated by `|`.
    pub fn parse(s: &str) -> RepoSource {
        let s = s.trim();
        if let Some(p) = s.strip_prefix("file://") {
            return RepoSource::Local(PathBuf::from(p));
        }
        if s.starts_with("http://") || s.starts_with("https://") {
            return RepoSource::Http(s.split('|').map(|u| u.trim().trim_end_matches('/').to_string()).collect());
        }
        RepoSource::Local(PathBuf::from(s))
    }

    /// A stable name for replay-protection bookkeeping.
    pub fn id(&self) -> String {
        match self {
            RepoSource::Local(p) => p.display().to_string(),
            RepoSource::Http(urls) => urls.first().cloned().unwrap_or_default(),
        }
    }

    /// Read `rel` (e.g. `index.json`, `x86_64/busybox-1.37.0-r1.x86_64.tar.gz`).
    pub fn get(&self, rel: &str) -> Result<Vec<u8>, PkgError> {
        match self {
            RepoSource::Local(dir) => {
                let p = dir.join(rel);
                std::fs::read(&p).map_err(|e| PkgError::Network(format!("cannot read {}: {e}", p.display())))
            }
            RepoSource::Http(urls) => {
                let agent = ureq::AgentBuilder::new()
                    .timeout_connect(Duration::from_secs(10))
                    .timeout_read(Duration::from_secs(60))
                    .build();
                let mut errors = Vec::new();
                for base in urls {
                    let url = format!("{base}/{rel}");
                    for attempt in 0..3u32 {
                        if attempt > 0 {
                            std::thread::sleep(Duration::from_millis(200 << attempt));
                        }
                        match agent.get(&url).call() {
                            Ok(resp) => {
                                let mut buf = Vec::new();
                                match resp.into_reader().take(1 << 30).read_to_end(&mut buf) {
                                    Ok(_) => return Ok(buf),
                                    Err(e) => errors.push(format!("{url}: {e}")),
                                }
                            }
                            Err(ureq::Error::Status(code, _)) => {
                                errors.push(format!("{url}: HTTP {code}"));
                                break;
                            }
                            Err(e) => errors.push(format!("{url}: {e}")),
                        }
                    }
                }
                Err(PkgError::Network(format!(
                    "cannot fetch {rel} from any mirror (nothing was changed):\n  {}",
                    errors.join("\n  ")
                )))
            }
        }
    }
}
