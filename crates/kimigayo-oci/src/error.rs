//! Error type for the crate.

use std::path::PathBuf;

/// Everything that can go wrong while building or writing an image.
#[derive(Debug, thiserror::Error)]
pub enum OciError {
    /// A layer entry path is absolute, contains `..`, `.`, empty components or NUL.
    #[error("invalid layer path {path:?}: {reason}")]
    InvalidPath { path: String, reason: &'static str },
    /// The same path appears twice in one layer.
    #[error("duplicate layer entry {0:?}")]
    Duplicate(String),
    /// An entry needs a parent directory, but that parent is a file or symlink.
    #[error("layer entry {path:?} needs {parent:?} to be a directory, but it is not")]
    NotADirectory { path: String, parent: String },
    /// The image description itself is not acceptable (bad arch, tag, timestamp, ...).
    #[error("invalid image: {0}")]
    Invalid(String),
    /// Filesystem error while writing the output.
    #[error("I/O error on {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// JSON serialisation failed (should not happen).
    #[error("JSON serialisation failed: {0}")]
    Json(#[from] serde_json::Error),
}

impl OciError {
    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> OciError {
        let path = path.into();
        move |source| OciError::Io { path, source }
    }
}
