//! The Kimigayo package format (spec: `docs/package-format.md`).
//!
//! A package is a deterministic `tar.gz` of an install tree plus a JSON metadata file in the
//! design's data model. This crate owns writing both (bit-identical for identical trees),
//! publishing them into a local repository folder without ever exposing a half-written file,
//! and comparing two archives down to the first differing file and byte.

pub mod archive;
pub mod compare;
pub mod metadata;
pub mod repo;
pub mod validate;

pub use archive::{write_archive, ArchiveError, ArchiveStats};
pub use compare::{compare_archives, Difference};
pub use metadata::{BuildInfo, Checksum, GroupDecl, PackageMeta, PatchRecord, PathDecl, SourceRecord, UserDecl};
pub use repo::{publish, Repository};

use sha2::{Digest, Sha256};

/// Hex SHA-256 of bytes.
pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// Hex SHA-256 of a file, streamed.
pub fn sha256_file(path: &std::path::Path) -> std::io::Result<String> {
    let mut f = std::fs::File::open(path)?;
    let mut h = Sha256::new();
    std::io::copy(&mut f, &mut h)?;
    Ok(hex::encode(h.finalize()))
}
