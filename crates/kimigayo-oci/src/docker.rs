//! `docker save` style archive (manifest.json + config + uncompressed layer tars).

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;

use crate::blobs::{self, hex_of};
use crate::layout::{archive_tar, write_file_atomic};
use crate::{Built, Image, OciError};

#[derive(Serialize)]
struct Entry<'a> {
    #[serde(rename = "Config")]
    config: String,
    #[serde(rename = "RepoTags")]
    repo_tags: [&'a str; 1],
    #[serde(rename = "Layers")]
    layers: Vec<String>,
}

/// `name:tag` with a lowercase repository name and a Docker-valid tag.
fn validate_repo_tag(s: &str) -> Result<(), OciError> {
    let bad = |why: &str| Err(OciError::Invalid(format!("repo tag {s:?}: {why}")));
    let slash = s.rfind('/').map_or(0, |i| i + 1);
    let Some(colon) = s[slash..].rfind(':').map(|i| i + slash) else {
        return bad("needs an explicit tag, e.g. \"kimigayo-os:latest\"");
    };
    let (name, tag) = (&s[..colon], &s[colon + 1..]);
    let tag_ok = tag.len() <= 128
        && tag.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_')
        && tag
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c));
    if !tag_ok {
        return bad("tag must match [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}");
    }
    let name_ok = name.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-/:".contains(c))
        && !name.split('/').any(str::is_empty);
    if !name_ok {
        return bad("repository name must be lowercase [a-z0-9._-] components separated by '/'");
    }
    Ok(())
}

/// See [`crate::write_docker_archive`].
pub(crate) fn write_docker_archive(
    img: &Image,
    path: &Path,
    repo_tag: &str,
) -> Result<Built, OciError> {
    validate_repo_tag(repo_tag)?;
    let p = blobs::prepare(img)?;
    let mut files: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    let config_name = format!("{}.json", hex_of(&p.config_digest));
    files.insert(config_name.clone(), p.config.clone());
    let mut layers = Vec::new();
    for ((info, _), tar) in p.layers.iter().zip(&img.layers) {
        let name = format!("{}/layer.tar", hex_of(&info.diff_id));
        files.insert(name.clone(), tar.clone());
        layers.push(name);
    }
    let manifest = [Entry {
        config: config_name,
        repo_tags: [repo_tag],
        layers,
    }];
    files.insert("manifest.json".to_string(), serde_json::to_vec(&manifest)?);
    let tar = archive_tar(files, img.config.created)?;
    write_file_atomic(path, &tar)?;
    Ok(p.built())
}

#[cfg(test)]
mod tests {
    use super::validate_repo_tag;

    #[test]
    fn repo_tags() {
        for ok in [
            "kimigayo-os:latest",
            "localhost/kimigayo-os:1.0",
            "reg.example:5000/a/b:v1_2.3",
        ] {
            assert!(validate_repo_tag(ok).is_ok(), "{ok}");
        }
        for bad in [
            "kimigayo-os",
            "Kimigayo:latest",
            "a:",
            ":latest",
            "a//b:x",
            "a:-x",
            "localhost:5000/a",
        ] {
            assert!(validate_repo_tag(bad).is_err(), "{bad}");
        }
    }
}
