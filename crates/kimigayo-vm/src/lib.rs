//! Kimigayo VMs: the image spec's root filesystem (composed in memory by kimigayo-image,
//! every package verified) as a deterministic gzip-compressed newc cpio initramfs with
//! `/init` → `/sbin/init`, the kernel taken from the `linux` package of the repository, and
//! a QEMU runner that boots the pair and waits for a marker and a clean power-off.

pub mod cpio;
pub mod image;
pub mod qemu;

pub use image::{build, VmArtifacts};
pub use qemu::{boot, BootOptions, BootReport};

#[derive(Debug, thiserror::Error)]
pub enum VmError {
    #[error(transparent)]
    Image(#[from] kimigayo_image::ImageError),
    #[error("{0}")]
    Kernel(String),
    #[error("{context}: {source}")]
    Io { context: String, source: std::io::Error },
    #[error("{0}")]
    Boot(String),
}

pub(crate) fn io_ctx(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> VmError {
    let context = context.into();
    move |source| VmError::Io { context, source }
}
