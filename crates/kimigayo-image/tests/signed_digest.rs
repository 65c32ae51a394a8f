//! Signed image digests: a good signature verifies (with our code and with GnuPG), and a
//! changed statement, a different image under the old statement, a truncated signature or
//! an untrusted key are refused with the reason named.

mod common;

use common::*;
use std::process::Command;
use std::time::SystemTime;

#[test]
fn image_digest_signature_verifies_and_every_tampering_is_refused() {
    let r = repo();
    let out = tempfile::tempdir().unwrap();
    let spec = spec(&["baselayout", "musl", "busybox"], "kimigayo-sig");
    let img = kimigayo_image::build(&spec, &r.path, &r.keys, r.epoch, out.path()).unwrap();
    let key = kimigayo_sign::SecretKey::generate("Image signer <sign@kimigayo.test>", None).unwrap();
    let (digest, sig) = kimigayo_image::signature::sign(&img.oci_archive, &img.manifest_digest, &img.image, &key).unwrap();
    assert_eq!(std::fs::read_to_string(&digest).unwrap(), format!("{}  kimigayo-sig:latest\n", img.manifest_digest));

    let mut keys = kimigayo_sign::Keyring::new();
    keys.add(key.public(), "test");
    let v = kimigayo_image::signature::verify(&img.oci_archive, &keys, SystemTime::now()).unwrap();
    assert_eq!(v.manifest_digest, img.manifest_digest);
    // The layout folder carries the same manifest.
    assert_eq!(kimigayo_image::signature::manifest_digest(&img.oci_layout).unwrap(), img.manifest_digest);

    // GnuPG accepts the signature too.
    let home = tempfile::tempdir().unwrap();
    std::fs::write(home.path().join("k.asc"), key.public().to_armored()).unwrap();
    let gpg = |args: &[&str]| Command::new("gpg").arg("--homedir").arg(home.path()).args(["--batch", "--status-fd", "1"]).args(args).output().unwrap();
    assert!(gpg(&["--import", home.path().join("k.asc").to_str().unwrap()]).status.success());
    let g = gpg(&["--verify", sig.to_str().unwrap(), digest.to_str().unwrap()]);
    assert!(String::from_utf8_lossy(&g.stdout).contains("GOODSIG"), "{}", String::from_utf8_lossy(&g.stderr));

    // An untrusted key.
    let other = kimigayo_sign::SecretKey::generate("Other <o@kimigayo.test>", None).unwrap();
    let mut wrong = kimigayo_sign::Keyring::new();
    wrong.add(other.public(), "other");
    let e = kimigayo_image::signature::verify(&img.oci_archive, &wrong, SystemTime::now()).unwrap_err().to_string();
    assert!(e.contains("does not verify"), "{e}");

    // A statement edited to name another digest.
    let good = std::fs::read(&digest).unwrap();
    std::fs::write(&digest, format!("sha256:{}  kimigayo-sig:latest\n", "0".repeat(64))).unwrap();
    let e = kimigayo_image::signature::verify(&img.oci_archive, &keys, SystemTime::now()).unwrap_err().to_string();
    assert!(e.contains("does not verify"), "{e}");
    std::fs::write(&digest, &good).unwrap();

    // A truncated signature.
    let sig_bytes = std::fs::read(&sig).unwrap();
    std::fs::write(&sig, &sig_bytes[..sig_bytes.len() / 2]).unwrap();
    assert!(kimigayo_image::signature::verify(&img.oci_archive, &keys, SystemTime::now()).is_err());
    std::fs::write(&sig, &sig_bytes).unwrap();

    // Another image put in place of the signed one keeps the old statement: refused.
    let mut spec2 = spec.clone();
    spec2.image.cmd = vec!["/bin/true".into()];
    let other_out = tempfile::tempdir().unwrap();
    let img2 = kimigayo_image::build(&spec2, &r.path, &r.keys, r.epoch, other_out.path()).unwrap();
    assert_ne!(img2.manifest_digest, img.manifest_digest);
    std::fs::copy(&img2.oci_archive, &img.oci_archive).unwrap();
    let e = kimigayo_image::signature::verify(&img.oci_archive, &keys, SystemTime::now()).unwrap_err().to_string();
    assert!(e.contains("not the image that was signed"), "{e}");

    // A corrupted manifest blob is caught by the digest recomputation.
    let layout = &img.oci_layout;
    let hex = img.manifest_digest.trim_start_matches("sha256:");
    let blob = layout.join("blobs/sha256").join(hex);
    let mut b = std::fs::read(&blob).unwrap();
    b[10] ^= 1;
    std::fs::write(&blob, b).unwrap();
    let e = kimigayo_image::signature::manifest_digest(layout).unwrap_err().to_string();
    assert!(e.contains("was modified"), "{e}");
}
