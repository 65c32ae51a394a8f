//! The installed database (`<root>/var/lib/kpkg/installed.json`): which packages are
//! installed, what the user asked for (the world), and which package owns which path with
//! its hash, mode and owner. Written only through a transaction's commit point.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub const STATE_DIR: &str = "var/lib/kpkg";
pub const DB_FILE: &str = "var/lib/kpkg/installed.json";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    File,
    Dir,
    Symlink,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileRecord {
    pub path: String,
    pub kind: Kind,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    /// SHA-256 for files, target for symlinks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstalledPackage {
    pub name: String,
    pub version: String,
    pub arch: String,
    pub sha256: String,
    pub files: Vec<FileRecord>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Database {
    pub format: u32,
    /// The transaction that wrote this database (empty before the first).
    pub txid: String,
    /// Constraints the user asked for (`kpkg add`), kept across runs.
    pub world: Vec<String>,
    pub packages: BTreeMap<String, InstalledPackage>,
    /// Highest repository index serial accepted per repository (replay protection).
    #[serde(default)]
    pub index_serials: BTreeMap<String, u64>,
    /// SHA-256 of the index accepted at that serial (an equal serial must be the same index).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub index_digests: BTreeMap<String, String>,
    /// The origin each repository's index named when first accepted (trust on first use
    /// when the repository line pins none).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub index_origins: BTreeMap<String, String>,
    /// Highest serial accepted per origin, wherever it was fetched from: an image records the
    /// index it was built from here, so the container's first `kpkg` run refuses older ones.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub origin_serials: BTreeMap<String, u64>,
    /// SHA-256 of the index accepted at that origin serial.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub origin_digests: BTreeMap<String, String>,
}

impl Database {
    pub fn parse(bytes: &[u8]) -> Result<Database, String> {
        serde_json::from_slice(bytes).map_err(|e| format!("the installed database is damaged ({e}); restore it from a backup"))
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut v = serde_json::to_vec_pretty(self).expect("database serialises");
        v.push(b'\n');
        v
    }

    /// Which package owns `path`.
    pub fn owner(&self, path: &str) -> Option<&str> {
        self.packages
            .values()
            .find(|p| p.files.iter().any(|f| f.path == path && f.kind != Kind::Dir))
            .map(|p| p.name.as_str())
    }
}
