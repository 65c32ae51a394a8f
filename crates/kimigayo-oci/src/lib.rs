//! Deterministic OCI images from in-memory layers, without root or a container engine.
//!
//! [`layer_tar`] turns a list of [`LayerEntry`]s into a reproducible tar; an [`Image`]
//! (layers + [`ImageConfig`]) is written as an OCI image layout directory
//! ([`write_oci_layout`]), an `oci-archive` tar ([`write_oci_archive`]) or a
//! `docker save` style archive ([`write_docker_archive`]). Identical inputs give
//! byte-identical outputs; every write is atomic (temp file/dir + rename).

use std::collections::BTreeMap;
use std::path::Path;

mod blobs;
mod docker;
mod error;
mod layout;
mod tar;

pub use error::OciError;

/// What a layer entry is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Regular file with its contents.
    File(Vec<u8>),
    /// Directory.
    Dir,
    /// Symbolic link to the given target (stored verbatim).
    Symlink(String),
}

/// One filesystem entry of a layer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LayerEntry {
    /// Relative path, no leading slash, no `.`/`..` components.
    pub path: String,
    pub kind: Kind,
    /// Permission bits (`& 0o7777` is used, including setuid/setgid/sticky).
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
}

/// Deterministic uncompressed tar: entries sorted bytewise by path, missing parents
/// created implicitly (0755, root), `mtime` on every entry, uname/gname "root" for
/// id 0 and empty otherwise, ustar headers with PAX records for long names/links.
/// Absolute paths, `..`/`.`/empty components, duplicates and entries below a
/// non-directory are refused.
pub fn layer_tar(entries: &[LayerEntry], mtime: u64) -> Result<Vec<u8>, OciError> {
    tar::layer_tar(entries, mtime)
}

/// Image configuration (the parts of the OCI config a distro image needs).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ImageConfig {
    /// OCI/GOARCH name: "amd64", "arm64", ...
    pub architecture: String,
    /// "linux".
    pub os: String,
    /// SOURCE_DATE_EPOCH; used for `created` and every history entry.
    pub created: u64,
    pub entrypoint: Vec<String>,
    pub cmd: Vec<String>,
    /// `KEY=VALUE` strings.
    pub env: Vec<String>,
    pub working_dir: String,
    pub user: String,
    pub labels: BTreeMap<String, String>,
    /// `created_by` of each history entry.
    pub history_comment: String,
}

/// How layer blobs are compressed in the OCI layout and archive. (The docker archive
/// always stores uncompressed layers, as `docker save` does.)
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Compression {
    /// `tar+gzip`, level 6, mtime 0: what every runtime reads (the default).
    #[default]
    Gzip,
    /// `tar+zstd`, level 19, single-threaded, checksum and content size in the frame:
    /// smaller and faster to unpack; needs podman ≥ 4 / containerd ≥ 1.5 / Docker ≥ 23.
    Zstd,
}

impl Compression {
    /// The name used in image specs and reports (`gzip`, `zstd`).
    pub fn name(self) -> &'static str {
        match self {
            Compression::Gzip => "gzip",
            Compression::Zstd => "zstd",
        }
    }
}

/// An image: uncompressed layer tars (bottom first), config, manifest annotations.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Image {
    pub layers: Vec<Vec<u8>>,
    pub config: ImageConfig,
    /// Annotations on the manifest (e.g. `org.opencontainers.image.*`).
    pub annotations: BTreeMap<String, String>,
    /// Layer compression in the OCI layout/archive.
    pub compression: Compression,
}

/// Digests and sizes of one layer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LayerInfo {
    /// Digest of the compressed blob ("sha256:...").
    pub digest: String,
    /// Digest of the uncompressed tar ("sha256:...").
    pub diff_id: String,
    pub compressed_size: u64,
    pub uncompressed_size: u64,
}

/// What was written. The digests are those of the OCI manifest and config, whichever
/// output format was chosen (the docker archive stores the same config bytes).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Built {
    pub manifest_digest: String,
    pub config_digest: String,
    pub layers: Vec<LayerInfo>,
}

/// OCI image layout directory (`oci-layout`, `index.json` with
/// `org.opencontainers.image.ref.name` = `tag`, `blobs/sha256/...`).
/// `dir` may be absent, an empty directory or an existing OCI layout (replaced).
pub fn write_oci_layout(img: &Image, dir: &Path, tag: &str) -> Result<Built, OciError> {
    layout::write_oci_layout(img, dir, tag)
}

/// The same layout as a tar file (`podman load -i`, `skopeo copy oci-archive:FILE`).
pub fn write_oci_archive(img: &Image, path: &Path, tag: &str) -> Result<Built, OciError> {
    layout::write_oci_archive(img, path, tag)
}

/// `docker save` format: `manifest.json` with `RepoTags: [repo_tag]`, the config JSON
/// and uncompressed `<diff_id>/layer.tar` files, for `docker load` / `podman load`.
/// `repo_tag` must be `name:tag`.
pub fn write_docker_archive(img: &Image, path: &Path, repo_tag: &str) -> Result<Built, OciError> {
    docker::write_docker_archive(img, path, repo_tag)
}
