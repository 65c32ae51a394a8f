//! Content-addressed blobs: gzip or zstd layers, image config and manifest JSON.

use std::collections::BTreeMap;
use std::io::Write;

use flate2::GzBuilder;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::{Built, Compression, Image, ImageConfig, LayerInfo, OciError};

pub(crate) const MT_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub(crate) const MT_INDEX: &str = "application/vnd.oci.image.index.v1+json";
const MT_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
const MT_LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
const MT_LAYER_ZSTD: &str = "application/vnd.oci.image.layer.v1.tar+zstd";
/// Fixed gzip level: changing it changes every layer digest.
const GZIP_LEVEL: u32 = 6;
/// Fixed zstd level (and the zstd library version, pinned in Cargo.lock): changing either
/// may change every zstd layer digest.
const ZSTD_LEVEL: i32 = 19;
/// GOARCH names accepted in `ImageConfig::architecture`.
const ARCHES: &[&str] = &[
    "amd64", "arm64", "arm", "386", "riscv64", "ppc64le", "s390x", "loong64",
];

pub(crate) fn sha256(data: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(data)))
}

/// Hex part of a `sha256:` digest.
pub(crate) fn hex_of(digest: &str) -> &str {
    digest.strip_prefix("sha256:").unwrap_or(digest)
}

/// Deterministic gzip: fixed level, header mtime 0, no file name, OS byte fixed by flate2.
pub(crate) fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = GzBuilder::new()
        .mtime(0)
        .write(Vec::new(), flate2::Compression::new(GZIP_LEVEL));
    enc.write_all(data).expect("writing to a Vec cannot fail");
    enc.finish().expect("writing to a Vec cannot fail")
}

/// Deterministic zstd: one frame, fixed level, single-threaded (the output of a given
/// libzstd version depends only on the input and these parameters), content size and
/// checksum recorded, no dictionary.
pub(crate) fn zstd(data: &[u8]) -> Vec<u8> {
    let mut c = zstd::bulk::Compressor::new(ZSTD_LEVEL).expect("zstd level 19 is valid");
    c.include_checksum(true).expect("zstd parameter");
    c.include_contentsize(true).expect("zstd parameter");
    c.include_dictid(false).expect("zstd parameter");
    c.compress(data).expect("compressing into a growable buffer cannot fail")
}

fn compress(data: &[u8], how: Compression) -> Vec<u8> {
    match how {
        Compression::Gzip => gzip(data),
        Compression::Zstd => zstd(data),
    }
}

fn layer_media_type(how: Compression) -> &'static str {
    match how {
        Compression::Gzip => MT_LAYER_GZIP,
        Compression::Zstd => MT_LAYER_ZSTD,
    }
}

/// RFC 3339 UTC timestamp (`YYYY-MM-DDTHH:MM:SSZ`) for seconds since the epoch.
pub(crate) fn rfc3339(secs: u64) -> Result<String, OciError> {
    if secs > 253_402_300_799 {
        return Err(OciError::Invalid(format!(
            "timestamp {secs} is after year 9999"
        )));
    }
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Days-to-civil conversion (proleptic Gregorian calendar).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    Ok(format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    ))
}

#[derive(Serialize)]
pub(crate) struct Descriptor {
    #[serde(rename = "mediaType")]
    pub media_type: &'static str,
    pub digest: String,
    pub size: u64,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

#[derive(Serialize)]
struct Manifest<'a> {
    #[serde(rename = "schemaVersion")]
    schema_version: u32,
    #[serde(rename = "mediaType")]
    media_type: &'static str,
    config: Descriptor,
    layers: Vec<Descriptor>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    annotations: &'a BTreeMap<String, String>,
}

#[derive(Serialize)]
struct Config<'a> {
    created: String,
    architecture: &'a str,
    os: &'a str,
    config: RunConfig<'a>,
    rootfs: RootFs,
    history: Vec<History>,
}

#[derive(Serialize)]
struct RunConfig<'a> {
    #[serde(rename = "User", skip_serializing_if = "str::is_empty")]
    user: &'a str,
    #[serde(rename = "Env", skip_serializing_if = "<[String]>::is_empty")]
    env: &'a [String],
    #[serde(rename = "Entrypoint", skip_serializing_if = "<[String]>::is_empty")]
    entrypoint: &'a [String],
    #[serde(rename = "Cmd", skip_serializing_if = "<[String]>::is_empty")]
    cmd: &'a [String],
    #[serde(rename = "WorkingDir", skip_serializing_if = "str::is_empty")]
    working_dir: &'a str,
    #[serde(rename = "Labels", skip_serializing_if = "BTreeMap::is_empty")]
    labels: &'a BTreeMap<String, String>,
}

#[derive(Serialize)]
struct RootFs {
    #[serde(rename = "type")]
    typ: &'static str,
    diff_ids: Vec<String>,
}

#[derive(Serialize)]
struct History {
    created: String,
    created_by: String,
}

/// All blobs of one image, in memory, plus their digests.
pub(crate) struct Prepared {
    /// (info, compressed bytes) per layer, in image order.
    pub layers: Vec<(LayerInfo, Vec<u8>)>,
    pub config: Vec<u8>,
    pub config_digest: String,
    pub manifest: Vec<u8>,
    pub manifest_digest: String,
}

impl Prepared {
    pub fn built(&self) -> Built {
        Built {
            manifest_digest: self.manifest_digest.clone(),
            config_digest: self.config_digest.clone(),
            layers: self.layers.iter().map(|(i, _)| i.clone()).collect(),
        }
    }
}

fn validate(c: &ImageConfig, layers: usize) -> Result<(), OciError> {
    if !ARCHES.contains(&c.architecture.as_str()) {
        return Err(OciError::Invalid(format!(
            "architecture {:?} is not an OCI/GOARCH name (use e.g. \"amd64\" or \"arm64\", not \"x86_64\"/\"aarch64\")",
            c.architecture
        )));
    }
    if c.os.is_empty() {
        return Err(OciError::Invalid(
            "os must not be empty (use \"linux\")".into(),
        ));
    }
    if layers == 0 {
        return Err(OciError::Invalid(
            "an image needs at least one layer".into(),
        ));
    }
    if let Some(e) = c.env.iter().find(|e| !e.contains('=')) {
        return Err(OciError::Invalid(format!(
            "env entry {e:?} is not KEY=VALUE"
        )));
    }
    Ok(())
}

pub(crate) fn prepare(img: &Image) -> Result<Prepared, OciError> {
    let c = &img.config;
    validate(c, img.layers.len())?;
    let created = rfc3339(c.created)?;
    let layers: Vec<(LayerInfo, Vec<u8>)> = img
        .layers
        .iter()
        .map(|tar| {
            let gz = compress(tar, img.compression);
            let info = LayerInfo {
                digest: sha256(&gz),
                diff_id: sha256(tar),
                compressed_size: gz.len() as u64,
                uncompressed_size: tar.len() as u64,
            };
            (info, gz)
        })
        .collect();
    let config = Config {
        created: created.clone(),
        architecture: &c.architecture,
        os: &c.os,
        config: RunConfig {
            user: &c.user,
            env: &c.env,
            entrypoint: &c.entrypoint,
            cmd: &c.cmd,
            working_dir: &c.working_dir,
            labels: &c.labels,
        },
        rootfs: RootFs {
            typ: "layers",
            diff_ids: layers.iter().map(|(i, _)| i.diff_id.clone()).collect(),
        },
        history: layers
            .iter()
            .map(|_| History {
                created: created.clone(),
                created_by: c.history_comment.clone(),
            })
            .collect(),
    };
    let config = serde_json::to_vec(&config)?;
    let config_digest = sha256(&config);
    let manifest = Manifest {
        schema_version: 2,
        media_type: MT_MANIFEST,
        config: Descriptor {
            media_type: MT_CONFIG,
            digest: config_digest.clone(),
            size: config.len() as u64,
            annotations: BTreeMap::new(),
        },
        layers: layers
            .iter()
            .map(|(i, _)| Descriptor {
                media_type: layer_media_type(img.compression),
                digest: i.digest.clone(),
                size: i.compressed_size,
                annotations: BTreeMap::new(),
            })
            .collect(),
        annotations: &img.annotations,
    };
    let manifest = serde_json::to_vec(&manifest)?;
    let manifest_digest = sha256(&manifest);
    Ok(Prepared {
        layers,
        config,
        config_digest,
        manifest,
        manifest_digest,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_known_values() {
        assert_eq!(rfc3339(0).unwrap(), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400).unwrap(), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_700_000_000).unwrap(), "2023-11-14T22:13:20Z");
        assert_eq!(rfc3339(253_402_300_799).unwrap(), "9999-12-31T23:59:59Z");
        assert!(rfc3339(253_402_300_800).is_err());
    }

    #[test]
    fn gzip_is_deterministic_and_has_zero_mtime() {
        let a = gzip(b"hello world");
        assert_eq!(a, gzip(b"hello world"));
        assert_eq!(&a[4..8], &[0, 0, 0, 0]);
        assert_eq!(a[3] & 0x08, 0, "FNAME flag must be clear");
    }

    #[test]
    fn zstd_is_deterministic_one_checked_frame() {
        let data: Vec<u8> = (0..200_000u32).flat_map(|i| (i % 251).to_le_bytes()).collect();
        let a = zstd(&data);
        assert_eq!(a, zstd(&data));
        assert_eq!(&a[..4], &[0x28, 0xb5, 0x2f, 0xfd], "zstd frame magic");
        assert!(a.len() < data.len() / 10, "{} B", a.len());
        assert_eq!(zstd::bulk::decompress(&a, data.len()).unwrap(), data);
        // Frame header descriptor: checksum flag (bit 2) set, dictionary id (bits 0-1) absent.
        assert_eq!(a[4] & 0b111, 0b100, "descriptor {:08b}", a[4]);
    }

    #[test]
    fn zstd_layers_are_declared_as_zstd() {
        let tar = crate::layer_tar(&[crate::LayerEntry { path: "f".into(), kind: crate::Kind::File(b"x".to_vec()), mode: 0o644, uid: 0, gid: 0 }], 0).unwrap();
        let mut img = Image { layers: vec![tar], ..Image::default() };
        img.config.architecture = "amd64".into();
        img.config.os = "linux".into();
        let gz = prepare(&img).unwrap();
        img.compression = Compression::Zstd;
        let zs = prepare(&img).unwrap();
        assert_eq!(gz.layers[0].0.diff_id, zs.layers[0].0.diff_id, "same uncompressed layer");
        assert_ne!(gz.manifest_digest, zs.manifest_digest);
        let m: serde_json::Value = serde_json::from_slice(&zs.manifest).unwrap();
        assert_eq!(m["layers"][0]["mediaType"], MT_LAYER_ZSTD);
        let m: serde_json::Value = serde_json::from_slice(&gz.manifest).unwrap();
        assert_eq!(m["layers"][0]["mediaType"], MT_LAYER_GZIP);
    }
}
