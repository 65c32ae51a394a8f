//! OCI image layout (directory and `oci-archive` tar) and atomic file output.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::blobs::{self, Descriptor, Prepared};
use crate::{Built, Image, Kind, LayerEntry, OciError};

#[derive(Serialize)]
struct Index {
    #[serde(rename = "schemaVersion")]
    schema_version: u32,
    #[serde(rename = "mediaType")]
    media_type: &'static str,
    manifests: Vec<Descriptor>,
}

/// Check an `org.opencontainers.image.ref.name` value (OCI image-layout grammar, loosely).
fn validate_ref(tag: &str) -> Result<(), OciError> {
    let ok_char = |c: char| c.is_ascii_alphanumeric() || "-._:@+/".contains(c);
    let starts_ok = tag
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric());
    let ends_ok = tag
        .chars()
        .last()
        .is_some_and(|c| c.is_ascii_alphanumeric());
    if !starts_ok || !ends_ok || !tag.chars().all(ok_char) {
        return Err(OciError::Invalid(format!(
            "reference name {tag:?} must be non-empty, start and end alphanumeric and use only [A-Za-z0-9-._:@+/]"
        )));
    }
    Ok(())
}

/// Relative path → contents of every file in the layout (blobs deduplicated).
fn layout_files(p: &Prepared, tag: &str) -> Result<BTreeMap<String, Vec<u8>>, OciError> {
    validate_ref(tag)?;
    let index = Index {
        schema_version: 2,
        media_type: blobs::MT_INDEX,
        manifests: vec![Descriptor {
            media_type: blobs::MT_MANIFEST,
            digest: p.manifest_digest.clone(),
            size: p.manifest.len() as u64,
            annotations: BTreeMap::from([(
                "org.opencontainers.image.ref.name".to_string(),
                tag.to_string(),
            )]),
        }],
    };
    let blob = |d: &str| format!("blobs/sha256/{}", blobs::hex_of(d));
    let mut files = BTreeMap::new();
    files.insert(
        "oci-layout".to_string(),
        br#"{"imageLayoutVersion":"1.0.0"}"#.to_vec(),
    );
    files.insert("index.json".to_string(), serde_json::to_vec(&index)?);
    files.insert(blob(&p.manifest_digest), p.manifest.clone());
    files.insert(blob(&p.config_digest), p.config.clone());
    for (info, gz) in &p.layers {
        files.insert(blob(&info.digest), gz.clone());
    }
    Ok(files)
}

/// A tar of plain files (0644) and their parent directories (0755), owned by root.
pub(crate) fn archive_tar(
    files: BTreeMap<String, Vec<u8>>,
    mtime: u64,
) -> Result<Vec<u8>, OciError> {
    let entries: Vec<LayerEntry> = files
        .into_iter()
        .map(|(path, data)| LayerEntry {
            path,
            kind: Kind::File(data),
            mode: 0o644,
            uid: 0,
            gid: 0,
        })
        .collect();
    crate::tar::layer_tar(&entries, mtime)
}

fn parent_of(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Write `data` to `path` via a temp file in the same directory + fsync + rename.
pub(crate) fn write_file_atomic(path: &Path, data: &[u8]) -> Result<(), OciError> {
    let dir = parent_of(path);
    let mut tmp = tempfile::Builder::new()
        .prefix(".kimigayo-oci-")
        .tempfile_in(&dir)
        .map_err(OciError::io(&dir))?;
    let tpath = tmp.path().to_path_buf();
    tmp.write_all(data).map_err(OciError::io(&tpath))?;
    tmp.as_file()
        .set_permissions(fs::Permissions::from_mode(0o644))
        .map_err(OciError::io(&tpath))?;
    tmp.as_file().sync_all().map_err(OciError::io(&tpath))?;
    tmp.persist(path).map_err(|e| OciError::Io {
        path: path.to_path_buf(),
        source: e.error,
    })?;
    Ok(())
}

/// Build the layout in a sibling temp directory, then rename it into place.
/// An existing empty directory or an existing OCI layout at `dir` is replaced;
/// anything else is refused rather than clobbered.
fn write_dir_atomic(dir: &Path, files: &BTreeMap<String, Vec<u8>>) -> Result<(), OciError> {
    let parent = parent_of(dir);
    let tmp = tempfile::Builder::new()
        .prefix(".kimigayo-oci-")
        .tempdir_in(&parent)
        .map_err(OciError::io(&parent))?;
    for (rel, data) in files {
        let p = tmp.path().join(rel);
        let d = p.parent().expect("joined path has a parent");
        fs::create_dir_all(d).map_err(OciError::io(d))?;
        let mut f = fs::File::create(&p).map_err(OciError::io(&p))?;
        f.write_all(data).map_err(OciError::io(&p))?;
        f.sync_all().map_err(OciError::io(&p))?;
    }
    for d in [
        tmp.path().to_path_buf(),
        tmp.path().join("blobs"),
        tmp.path().join("blobs/sha256"),
    ] {
        fs::set_permissions(&d, fs::Permissions::from_mode(0o755)).map_err(OciError::io(&d))?;
    }
    let mut old: Option<tempfile::TempDir> = None;
    if let Ok(meta) = fs::symlink_metadata(dir) {
        let empty = meta.is_dir()
            && fs::read_dir(dir)
                .map_err(OciError::io(dir))?
                .next()
                .is_none();
        if empty {
            fs::remove_dir(dir).map_err(OciError::io(dir))?;
        } else if meta.is_dir() && dir.join("oci-layout").is_file() {
            // Move the old layout aside; it is deleted when `old` drops.
            let holder = tempfile::Builder::new()
                .prefix(".kimigayo-oci-old-")
                .tempdir_in(&parent)
                .map_err(OciError::io(&parent))?;
            fs::rename(dir, holder.path().join("x")).map_err(OciError::io(dir))?;
            old = Some(holder);
        } else {
            return Err(OciError::Invalid(format!(
                "{} exists and is not an empty directory or an OCI layout; refusing to replace it",
                dir.display()
            )));
        }
    }
    let tpath = tmp.keep();
    if let Err(e) = fs::rename(&tpath, dir) {
        let _ = fs::remove_dir_all(&tpath);
        return Err(OciError::Io {
            path: dir.to_path_buf(),
            source: e,
        });
    }
    drop(old);
    Ok(())
}

/// See [`crate::write_oci_layout`].
pub(crate) fn write_oci_layout(img: &Image, dir: &Path, tag: &str) -> Result<Built, OciError> {
    let p = blobs::prepare(img)?;
    let files = layout_files(&p, tag)?;
    write_dir_atomic(dir, &files)?;
    Ok(p.built())
}

/// See [`crate::write_oci_archive`].
pub(crate) fn write_oci_archive(img: &Image, path: &Path, tag: &str) -> Result<Built, OciError> {
    let p = blobs::prepare(img)?;
    let files = layout_files(&p, tag)?;
    let tar = archive_tar(files, img.config.created)?;
    write_file_atomic(path, &tar)?;
    Ok(p.built())
}
