//! The set of trusted keys, usually read from `<root>/etc/kimigayo/keys/`.

use std::path::Path;
use std::time::SystemTime;

use crate::errors::{SignError, VerifyError};
use crate::keys::PublicKey;
use crate::verify::{self, Verified};

/// File name endings read by [`Keyring::load_dir`] (case-insensitive).
pub const KEY_FILE_EXTENSIONS: [&str; 3] = ["asc", "gpg", "pgp"];

/// Trusted public keys, each remembered with the file (or other source) it came from.
#[derive(Debug, Clone, Default)]
pub struct Keyring {
    keys: Vec<PublicKey>,
    sources: Vec<String>,
}

impl Keyring {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn add(&mut self, key: PublicKey, source: impl Into<String>) {
        self.keys.push(key);
        self.sources.push(source.into());
    }

    /// Every `*.asc`, `*.gpg`, `*.pgp` file in `dir` (not hidden, not in subfolders), in name
    /// order. A file may hold several keys, armored or binary. A file that cannot be read or
    /// holds no key is an error naming it; a missing folder is an empty keyring.
    pub fn load_dir(dir: &Path) -> Result<Keyring, SignError> {
        let io_err = |source| SignError::Io {
            path: dir.to_path_buf(),
            source,
        };
        let entries = match std::fs::read_dir(dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Keyring::new()),
            Err(e) => return Err(io_err(e)),
        };
        let mut paths = Vec::new();
        for entry in entries {
            let path = entry.map_err(io_err)?.path();
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            let wanted = !name.starts_with('.')
                && path.extension().and_then(|e| e.to_str()).is_some_and(|e| {
                    KEY_FILE_EXTENSIONS
                        .iter()
                        .any(|x| x.eq_ignore_ascii_case(e))
                });
            // metadata() follows symlinks, so a link to a key file counts.
            if wanted && std::fs::metadata(&path).is_ok_and(|m| m.is_file()) {
                paths.push(path);
            }
        }
        paths.sort();

        let mut ring = Keyring::new();
        for path in paths {
            let in_file = |source: SignError| SignError::KeyFile {
                path: path.clone(),
                source: Box::new(source),
            };
            let bytes = std::fs::read(&path).map_err(|source| SignError::Io {
                path: path.clone(),
                source,
            })?;
            let keys = PublicKey::all_from_armored_or_binary(&bytes).map_err(in_file)?;
            if keys.is_empty() {
                return Err(in_file(SignError::NoKey));
            }
            for key in keys {
                ring.add(key, path.display().to_string());
            }
        }
        Ok(ring)
    }

    pub fn keys(&self) -> &[PublicKey] {
        &self.keys
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The keys of this keyring whose primary fingerprint is one of `fingerprints` (case and
    /// spaces ignored): the keys allowed to sign for one repository.
    pub fn restricted(&self, fingerprints: &[String]) -> Keyring {
        let norm = |s: &str| s.chars().filter(|c| !c.is_whitespace()).collect::<String>().to_ascii_uppercase();
        let wanted: Vec<String> = fingerprints.iter().map(|f| norm(f)).collect();
        let mut k = Keyring::new();
        for (key, src) in self.keys.iter().zip(&self.sources) {
            if wanted.contains(&norm(&key.fingerprint())) {
                k.add(key.clone(), src.clone());
            }
        }
        k
    }

    /// Where the key with this primary fingerprint came from (for messages).
    pub fn source_of(&self, fingerprint: &str) -> Option<&str> {
        self.keys
            .iter()
            .position(|k| k.fingerprint().eq_ignore_ascii_case(fingerprint))
            .map(|i| self.sources[i].as_str())
    }

    /// Verify an armored or binary detached signature over `data`, judged at time `now`.
    ///
    /// Besides the mathematics this enforces: a trusted issuer (primary key or signing-capable
    /// subkey bound to it), binary signature type, an accepted hash, no revocation, no expiry
    /// at `now`, and a creation time not more than five minutes after `now`. If the signature
    /// data holds several signatures, one acceptable signature is enough.
    pub fn verify(
        &self,
        data: &[u8],
        signature: &[u8],
        now: SystemTime,
    ) -> Result<Verified, VerifyError> {
        verify::verify(&self.keys, data, signature, now)
    }
}
