//! Signed image digests. Beside each image the assembler writes `<stem>.digest` — one line,
//! `sha256:<manifest digest>  <name:tag>`, the form `sha256sum` users know — and
//! `<stem>.digest.asc`, an OpenPGP detached signature over that line. Anyone with the public
//! key checks it with `gpg --verify NAME.digest.asc NAME.digest` or `kimigayo image verify`,
//! which also recomputes the digest from the archive itself.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use kimigayo_sign::{Keyring, SecretKey};
use sha2::{Digest, Sha256};

use crate::ImageError;

/// The signed statement for an image.
pub fn statement(manifest_digest: &str, image: &str) -> String {
    format!("{manifest_digest}  {image}\n")
}

/// Paths of the digest statement and its signature for an image archive or layout.
pub fn digest_paths(image_path: &Path) -> (PathBuf, PathBuf) {
    let name = image_path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let stem = name.trim_end_matches(".tar").trim_end_matches(".oci").trim_end_matches(".docker");
    let dir = image_path.parent().unwrap_or(Path::new("."));
    (dir.join(format!("{stem}.digest")), dir.join(format!("{stem}.digest.asc")))
}

/// Write `<stem>.digest` and `<stem>.digest.asc` for `image_path`, signed with `key`.
pub fn sign(image_path: &Path, manifest_digest: &str, image: &str, key: &SecretKey) -> Result<(PathBuf, PathBuf), ImageError> {
    let (d, s) = digest_paths(image_path);
    let text = statement(manifest_digest, image);
    let sig = key.sign(text.as_bytes()).map_err(|e| ImageError::Io(format!("signing the digest of {}: {e}", image_path.display())))?;
    use std::io::Write;
    for (path, bytes) in [(&d, text.as_bytes()), (&s, sig.as_bytes())] {
        kimigayo_package::repo::write_atomic(path, |f| f.write_all(bytes)).map_err(|e| ImageError::Io(format!("writing {}: {e}", path.display())))?;
    }
    Ok((d, s))
}

/// What a successful verification established.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Verified {
    pub image: String,
    pub manifest_digest: String,
    pub signer: String,
    pub key_source: String,
}

/// The most `index.json` or the manifest blob may hold (the limit registries apply to
/// manifests): a tar member's size is the header's word, and a GNU sparse member can claim
/// gigabytes of holes in a few bytes of archive.
const MAX_MANIFEST_BYTES: u64 = 4 << 20;

/// At most [`MAX_MANIFEST_BYTES`] from `r`, or an error naming `what` if there is more.
fn read_capped(r: impl Read, what: &dyn std::fmt::Display) -> Result<Vec<u8>, ImageError> {
    let mut v = Vec::new();
    r.take(MAX_MANIFEST_BYTES + 1).read_to_end(&mut v).map_err(|e| ImageError::Io(format!("reading {what}: {e}")))?;
    if v.len() as u64 > MAX_MANIFEST_BYTES {
        return Err(ImageError::Io(format!("{what} is larger than {MAX_MANIFEST_BYTES} bytes: not an image this tool wrote")));
    }
    Ok(v)
}

/// The manifest digest of an OCI layout folder or oci-archive, after checking that the
/// manifest blob really hashes to the digest `index.json` names.
pub fn manifest_digest(image_path: &Path) -> Result<String, ImageError> {
    let read_member = |want: &str| -> Result<Option<Vec<u8>>, ImageError> {
        if image_path.is_dir() {
            let p = image_path.join(want);
            return match std::fs::File::open(&p) {
                Ok(f) => read_capped(f, &p.display()).map(Some),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(ImageError::Io(format!("reading {}/{want}: {e}", image_path.display()))),
            };
        }
        let f = std::fs::File::open(image_path).map_err(|e| ImageError::Io(format!("opening {}: {e}", image_path.display())))?;
        let mut ar = tar::Archive::new(f);
        let bad = |e: std::io::Error| ImageError::Io(format!("{}: not a readable tar archive: {e}", image_path.display()));
        for entry in ar.entries().map_err(bad)? {
            let entry = entry.map_err(bad)?;
            let path = entry.path().map_err(bad)?.to_string_lossy().trim_start_matches("./").to_string();
            if path == want {
                let what = format!("{}: {want}", image_path.display());
                if entry.size() > MAX_MANIFEST_BYTES {
                    return Err(ImageError::Io(format!("{what} claims {} bytes, more than {MAX_MANIFEST_BYTES}: not an image this tool wrote", entry.size())));
                }
                return read_capped(entry, &what).map(Some);
            }
        }
        Ok(None)
    };
    let fix = "rebuild it with `kimigayo image build` (or `make image`)";
    let index = read_member("index.json")?
        .ok_or_else(|| ImageError::Io(format!("{}: no index.json: not an OCI layout or oci-archive; {fix}", image_path.display())))?;
    let index: serde_json::Value =
        serde_json::from_slice(&index).map_err(|e| ImageError::Io(format!("{}: index.json is not JSON ({e}); {fix}", image_path.display())))?;
    let digest = index["manifests"][0]["digest"]
        .as_str()
        .ok_or_else(|| ImageError::Io(format!("{}: index.json names no manifest; {fix}", image_path.display())))?
        .to_string();
    let hex = digest.strip_prefix("sha256:").ok_or_else(|| ImageError::Io(format!("{}: manifest digest {digest} is not sha256", image_path.display())))?;
    let blob = read_member(&format!("blobs/sha256/{hex}"))?
        .ok_or_else(|| ImageError::Io(format!("{}: the manifest blob {digest} is missing; {fix}", image_path.display())))?;
    let actual = format!("sha256:{}", hex::encode(Sha256::digest(&blob)));
    if actual != digest {
        return Err(ImageError::Io(format!(
            "{}: the manifest blob hashes to {actual}, not {digest}: the archive was modified; {fix}",
            image_path.display()
        )));
    }
    Ok(digest)
}

/// Check `image_path` against its signed digest statement: the statement's signature must
/// verify with `keys`, and the archive's own manifest digest must be the one signed.
pub fn verify(image_path: &Path, keys: &Keyring, now: SystemTime) -> Result<Verified, ImageError> {
    let (d, s) = digest_paths(image_path);
    let text = std::fs::read(&d).map_err(|e| ImageError::Io(format!("reading {}: {e}; sign the image with `kimigayo image build`", d.display())))?;
    let sig = std::fs::read(&s).map_err(|e| ImageError::Io(format!("reading {}: {e}; sign the image with `kimigayo image build`", s.display())))?;
    let ok = keys
        .verify(&text, &sig, now)
        .map_err(|e| ImageError::Io(format!("{}: signature over {} does not verify: {e}", s.display(), d.display())))?;
    let line = String::from_utf8_lossy(&text);
    let mut parts = line.split_whitespace();
    let (signed, image) = match (parts.next(), parts.next()) {
        (Some(dg), Some(im)) if dg.starts_with("sha256:") => (dg.to_string(), im.to_string()),
        _ => return Err(ImageError::Io(format!("{}: expected `sha256:<hex>  <name:tag>`, found {line:?}", d.display()))),
    };
    let actual = manifest_digest(image_path)?;
    if actual != signed {
        return Err(ImageError::Io(format!(
            "{}: manifest digest {actual} is not the signed {signed} ({}): this is not the image that was signed",
            image_path.display(),
            d.display()
        )));
    }
    Ok(Verified { image, manifest_digest: actual, signer: ok.fingerprint.clone(), key_source: keys.source_of(&ok.fingerprint).unwrap_or("").to_string() })
}
