//! Source fetching. A recipe source is pinned by SHA-256; this crate finds bytes that match
//! the pin and keeps them in a cache addressed by that hash. Backends, in order:
//!
//! 1. the cache (`<cache>/sources/<sha256>/<file>`), re-hashed on every use;
//! 2. a mirror folder (`KIMIGAYO_SOURCE_MIRROR`), holding files by name or by hash;
//! 3. the Debian source archive through `apt-get source --download-only`, with a private
//!    apt configuration (its own sources list and state folder; the host's is untouched),
//!    the file also checked against the `.dsc`'s `Checksums-Sha256`;
//! 4. upstream URLs over HTTP(S), with retries.
//!
//! Bytes that do not match the pin are a hard error showing both hashes, never a fallback.

mod debian;
mod http;

use std::fs;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use kimigayo_recipe::Source;
use sha2::{Digest, Sha256};

#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("source `{name}` ({file}): SHA-256 mismatch from {origin}\n  expected {expected}\n  actual   {actual}\nThe bytes were discarded. If the recipe's pin is right, the origin served different bytes; never update the pin without checking the new file's provenance.")]
    Mismatch { name: String, file: String, origin: String, expected: String, actual: String },
    #[error("source `{name}` ({file}): not found in the cache{mirror} and every origin failed:\n{attempts}\nFix: restore network access to the listed origins, or put the file into a mirror folder and set KIMIGAYO_SOURCE_MIRROR.")]
    NotFound { name: String, file: String, mirror: String, attempts: String },
    #[error("{context}: {source}")]
    Io { context: String, source: io::Error },
    #[error("source `{name}`: {message}")]
    Origin { name: String, message: String },
}

pub(crate) fn io_ctx(context: impl Into<String>) -> impl FnOnce(io::Error) -> FetchError {
    let context = context.into();
    move |source| FetchError::Io { context, source }
}

/// Where a verified file came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    Cache,
    Mirror(PathBuf),
    Debian { suite: String },
    Url(String),
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Origin::Cache => f.write_str("cache"),
            Origin::Mirror(p) => write!(f, "mirror {}", p.display()),
            Origin::Debian { suite } => write!(f, "debian:{suite}"),
            Origin::Url(u) => f.write_str(u),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Fetcher {
    /// `<cache>/sources/...` and `<cache>/apt/...` live here.
    pub cache_dir: PathBuf,
    pub mirror: Option<PathBuf>,
    /// Only cache and mirror (no network).
    pub offline: bool,
}

/// Hash a reader, copying it to `out` on the way.
pub fn hash_copy(mut r: impl Read, mut out: impl Write) -> io::Result<String> {
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = r.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
        out.write_all(&buf[..n])?;
    }
    Ok(hex::encode(h.finalize()))
}

pub fn sha256_file(path: &Path) -> io::Result<String> {
    hash_copy(fs::File::open(path)?, io::sink())
}

impl Fetcher {
    pub fn new(cache_dir: impl Into<PathBuf>) -> Self {
        Fetcher { cache_dir: cache_dir.into(), mirror: std::env::var_os("KIMIGAYO_SOURCE_MIRROR").map(PathBuf::from), offline: false }
    }

    fn cached_path(&self, sha: &str, file: &str) -> PathBuf {
        self.cache_dir.join("sources").join(sha).join(file)
    }

    /// Return a verified local copy of `src` (a fetched source with `file` and `sha256`).
    pub fn fetch(&self, src: &Source) -> Result<(PathBuf, Origin), FetchError> {
        let file = src.file.as_deref().expect("fetch() is for pinned file sources; recipe validation guarantees file+sha256");
        let want = src.sha256.as_deref().expect("validated");
        let dest = self.cached_path(want, file);
        if dest.is_file() {
            let got = sha256_file(&dest).map_err(io_ctx(format!("reading cached {}", dest.display())))?;
            if got == want {
                return Ok((dest, Origin::Cache));
            }
            // A corrupted cache entry is not trusted and not fatal: drop it and refetch.
            let _ = fs::remove_file(&dest);
        }
        let mut attempts = Vec::new();
        if let Some(m) = &self.mirror {
            for cand in [m.join(file), m.join(want)] {
                if cand.is_file() {
                    let f = fs::File::open(&cand).map_err(io_ctx(format!("reading {}", cand.display())))?;
                    self.store(src, f, &Origin::Mirror(cand.clone()))?;
                    return Ok((dest, Origin::Mirror(cand)));
                }
            }
            attempts.push(format!("  mirror {}: no `{file}` or `{want}` there", m.display()));
        }
        if self.offline {
            attempts.push("  network origins skipped (offline)".to_string());
        } else {
            if let Some(d) = &src.debian {
                match debian::download(self, src, d, file) {
                    Ok((_tmp, path, suite)) => {
                        let f = fs::File::open(&path).map_err(io_ctx("reading apt download"))?;
                        self.store(src, f, &Origin::Debian { suite: suite.clone() })?;
                        return Ok((dest, Origin::Debian { suite }));
                    }
                    Err(FetchError::Origin { message, .. }) => attempts.push(format!("  debian {} {}: {message}", d.package, d.version)),
                    Err(e) => return Err(e),
                }
            }
            for url in &src.urls {
                match http::get(url) {
                    Ok(reader) => {
                        self.store(src, reader, &Origin::Url(url.clone()))?;
                        return Ok((dest, Origin::Url(url.clone())));
                    }
                    Err(message) => attempts.push(format!("  {url}: {message}")),
                }
            }
        }
        Err(FetchError::NotFound {
            name: src.name.clone(),
            file: file.to_string(),
            mirror: self.mirror.as_ref().map(|m| format!(" or mirror {}", m.display())).unwrap_or_default(),
            attempts: attempts.join("\n"),
        })
    }

    /// Stream bytes into the cache, verifying the pin before the file becomes visible.
    fn store(&self, src: &Source, reader: impl Read, origin: &Origin) -> Result<(), FetchError> {
        let file = src.file.as_deref().unwrap();
        let want = src.sha256.as_deref().unwrap();
        let dest = self.cached_path(want, file);
        let dir = dest.parent().unwrap();
        fs::create_dir_all(dir).map_err(io_ctx(format!("creating {}", dir.display())))?;
        let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(io_ctx(format!("creating a file in {}", dir.display())))?;
        let got = hash_copy(reader, &mut tmp).map_err(io_ctx(format!("downloading {file} from {origin}")))?;
        if got != want {
            return Err(FetchError::Mismatch {
                name: src.name.clone(),
                file: file.to_string(),
                origin: origin.to_string(),
                expected: want.to_string(),
                actual: got,
            });
        }
        tmp.persist(&dest).map_err(|e| FetchError::Io { context: format!("saving {}", dest.display()), source: e.error })?;
        Ok(())
    }
}

#[cfg(test)]
mod tests;
