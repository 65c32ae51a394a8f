//! The image assembler: an image spec (YAML) → packages resolved from a signed repository
//! and verified (SHA-256 + OpenPGP) → one root filesystem layer composed in memory
//! (ownership and modes from package declarations, accounts added, no files chowned on
//! disk, no root, no container engine) → an OCI image (layout, oci-archive, docker-archive)
//! carrying `/etc/kimigayo/build-info.json` and an SPDX 2.3 SBOM.

pub mod compose;
mod metadata;
pub mod signature;
pub mod spec;

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use kimigayo_sign::Keyring;
use serde::Serialize;

pub use compose::{compose, Composed};
pub use spec::ImageSpec;

#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    #[error("{0}")]
    Spec(String),
    #[error("{0}")]
    Resolve(String),
    #[error(transparent)]
    Package(#[from] kimigayo_pkg::PkgError),
    #[error(transparent)]
    Oci(#[from] kimigayo_oci::OciError),
    #[error("{0}")]
    Io(String),
}

#[derive(Debug, Clone, Serialize)]
pub struct PackageSize {
    pub name: String,
    pub version: String,
    pub archive: u64,
    pub installed: u64,
}

/// What `build` produced.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub image: String,
    pub manifest_digest: String,
    pub config_digest: String,
    /// Layer compression of the OCI layout/archive (`gzip` or `zstd`).
    pub compression: &'static str,
    pub compressed_size: u64,
    pub uncompressed_size: u64,
    pub packages: Vec<PackageSize>,
    pub oci_layout: PathBuf,
    pub oci_archive: PathBuf,
    pub docker_archive: PathBuf,
    pub sbom: PathBuf,
}

/// Build the image described by `spec` from `repo` into `out`.
pub fn build(spec: &ImageSpec, repo: &Path, keys: &Keyring, epoch: u64, out: &Path) -> Result<Report, ImageError> {
    let composed = compose(spec, repo, keys, epoch, SystemTime::now())?;
    let image = kimigayo_oci::Image {
        layers: vec![composed.layer.clone()],
        config: kimigayo_oci::ImageConfig {
            architecture: spec.oci_arch().into(),
            os: "linux".into(),
            created: epoch,
            entrypoint: spec.image.entrypoint.clone(),
            cmd: spec.image.cmd.clone(),
            env: spec.image.env.clone(),
            working_dir: spec.image.workdir.clone(),
            user: spec.image.user.clone(),
            labels: spec.image.labels.clone(),
            history_comment: format!("kimigayo image build: {}", composed.packages.iter().map(|p| format!("{}-{}", p.name, p.version)).collect::<Vec<_>>().join(" ")),
        },
        annotations: metadata::annotations(spec, epoch, &composed),
        compression: spec.image.compression.oci(),
    };
    std::fs::create_dir_all(out).map_err(|e| ImageError::Io(format!("creating {}: {e}", out.display())))?;
    let stem = format!("{}-{}", spec.image.name.replace('/', "_"), spec.system.architecture);
    let tag = format!("{}:{}", spec.image.name, spec.image.tag);
    let oci_layout = out.join(format!("{stem}.oci"));
    let oci_archive = out.join(format!("{stem}.oci.tar"));
    let docker_archive = out.join(format!("{stem}.docker.tar"));
    let sbom = out.join(format!("{stem}.spdx.json"));
    let built = kimigayo_oci::write_oci_layout(&image, &oci_layout, &tag)?;
    kimigayo_oci::write_oci_archive(&image, &oci_archive, &tag)?;
    kimigayo_oci::write_docker_archive(&image, &docker_archive, &tag)?;
    std::fs::write(&sbom, &composed.sbom).map_err(|e| ImageError::Io(format!("writing {}: {e}", sbom.display())))?;
    Ok(Report {
        image: tag,
        manifest_digest: built.manifest_digest,
        config_digest: built.config_digest,
        compression: spec.image.compression.oci().name(),
        compressed_size: built.layers.iter().map(|l| l.compressed_size).sum(),
        uncompressed_size: built.layers.iter().map(|l| l.uncompressed_size).sum(),
        packages: composed.packages.iter().map(|p| PackageSize { name: p.name.clone(), version: p.version.clone(), archive: p.size, installed: p.installed_size }).collect(),
        oci_layout,
        oci_archive,
        docker_archive,
        sbom,
    })
}
