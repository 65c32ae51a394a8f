//! Interoperability with real GnuPG (`gpg` 2.2): keys and signatures made by gpg are judged by
//! this crate, and signatures made by this crate are checked by gpg. Each test runs gpg in its
//! own temporary GNUPGHOME and stops that home's gpg-agent afterwards.

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

mod support;

use kimigayo_sign::{Keyring, PublicKey, SecretKey, SignError, VerifyError};
use support::{flip, ring, Gpg, DATA};

fn gpg_key_signatures_verify(algo: &str) {
    let gpg = Gpg::new();
    let fpr = gpg.gen_key("Test <t@example.org>", algo, "sign", "1y", &[]);
    let armored = gpg.export(&fpr);
    let key = PublicKey::from_armored_or_binary(&armored).unwrap();
    assert_eq!(key.fingerprint(), fpr);
    assert_eq!(key.user_ids(), vec!["Test <t@example.org>".to_string()]);
    let validity = key
        .expires()
        .unwrap()
        .duration_since(key.created())
        .unwrap();
    assert!(
        (360..=367).contains(&(validity.as_secs() / 86_400)),
        "{validity:?}"
    );
    let binary = gpg.ok(&["--export", &fpr]);
    assert_eq!(
        PublicKey::from_armored_or_binary(&binary)
            .unwrap()
            .fingerprint(),
        fpr
    );

    let ring = ring(&armored);
    for armor in [false, true] {
        let sig = gpg.sign(&fpr, armor, &[]);
        let v = ring.verify(DATA, &sig, SystemTime::now()).unwrap();
        assert_eq!(
            (v.fingerprint.as_str(), v.signing_key.as_str()),
            (fpr.as_str(), fpr.as_str())
        );
        assert_eq!(v.user_id.as_deref(), Some("Test <t@example.org>"));
    }
}

#[test]
fn gpg_ed25519_signatures_verify() {
    gpg_key_signatures_verify("ed25519");
}

#[test]
fn gpg_rsa3072_signatures_verify() {
    gpg_key_signatures_verify("rsa3072");
}

#[test]
fn crate_keys_and_signatures_satisfy_gpg() {
    let gpg = Gpg::new();
    let sk = SecretKey::generate(
        "Kimigayo Repo <repo@example.org>",
        Some(Duration::from_secs(86_400 * 30)),
    )
    .unwrap();
    gpg.import(sk.public().to_armored().as_bytes());
    let sig = sk.sign(DATA).unwrap();
    let (ok, status) = gpg.verify(DATA, sig.as_bytes());
    assert!(ok, "gpg rejected our signature:\n{status}");
    assert!(status.contains("[GNUPG:] GOODSIG "), "{status}");
    assert!(
        status.contains(&format!("[GNUPG:] VALIDSIG {}", sk.fingerprint())),
        "{status}"
    );
    assert!(
        status.contains(" 0 4 0 22 8 00 "),
        "v4, binary, EdDSA, SHA-256 expected:\n{status}"
    );

    // Changed data: both sides refuse.
    let changed = flip(DATA, 10);
    let (ok, status) = gpg.verify(&changed, sig.as_bytes());
    assert!(!ok && status.contains("BADSIG"), "{status}");
    let mut ring = Keyring::new();
    ring.add(sk.public(), "generated");
    assert_eq!(
        ring.verify(&changed, sig.as_bytes(), SystemTime::now())
            .unwrap_err(),
        VerifyError::BadSignature {
            key: sk.fingerprint()
        }
    );

    // Our secret key works inside GnuPG too, and gpg's signature with it verifies here.
    gpg.import(sk.to_armored().as_bytes());
    let by_gpg = gpg.sign(&sk.fingerprint(), false, &[]);
    ring.verify(DATA, &by_gpg, SystemTime::now()).unwrap();
}

#[test]
fn gpg_secret_key_export_signs_here() {
    let gpg = Gpg::new();
    let fpr = gpg.gen_key("Exported <e@example.org>", "ed25519", "sign", "1y", &[]);
    let armored = gpg.ok(&["--armor", "--export-secret-keys", &fpr]);
    let sk = SecretKey::from_armored(std::str::from_utf8(&armored).unwrap()).unwrap();
    assert_eq!(sk.fingerprint(), fpr);
    let binary = gpg.ok(&["--export-secret-keys", &fpr]);
    assert_eq!(SecretKey::from_bytes(&binary).unwrap().fingerprint(), fpr);
    let (ok, status) = gpg.verify(DATA, sk.sign(DATA).unwrap().as_bytes());
    assert!(ok && status.contains("GOODSIG"), "{status}");
}

#[test]
fn tampering_fails_on_both_sides() {
    let gpg = Gpg::new();
    let fpr = gpg.gen_key("Tamper <t@example.org>", "ed25519", "sign", "1y", &[]);
    let ring = ring(&gpg.export(&fpr));
    let sig = gpg.sign(&fpr, false, &[]);
    let now = SystemTime::now();
    assert!(gpg.verify(DATA, &sig).0);

    let data = flip(DATA, 0);
    assert!(!gpg.verify(&data, &sig).0, "gpg accepted changed data");
    assert_eq!(
        ring.verify(&data, &sig, now).unwrap_err(),
        VerifyError::BadSignature { key: fpr.clone() }
    );

    let bad_sig = flip(&sig, sig.len() - 1);
    assert!(
        !gpg.verify(DATA, &bad_sig).0,
        "gpg accepted a changed signature"
    );
    let err = ring.verify(DATA, &bad_sig, now).unwrap_err();
    assert!(
        matches!(
            err,
            VerifyError::BadSignature { .. } | VerifyError::Malformed(_)
        ),
        "{err:?}"
    );

    let err = ring.verify(DATA, &sig[..sig.len() - 10], now).unwrap_err();
    assert!(matches!(err, VerifyError::Malformed(_)), "{err:?}");
    let armored = gpg.sign(&fpr, true, &[]);
    let err = ring
        .verify(DATA, &armored[..armored.len() / 2], now)
        .unwrap_err();
    assert!(matches!(err, VerifyError::Malformed(_)), "{err:?}");
}

#[test]
fn unknown_key_is_named() {
    let gpg = Gpg::new();
    let signer = gpg.gen_key("Signer <s@example.org>", "ed25519", "sign", "1y", &[]);
    let other = gpg.gen_key("Other <o@example.org>", "ed25519", "sign", "1y", &[]);
    let sig = gpg.sign(&signer, false, &[]);
    let err = ring(&gpg.export(&other))
        .verify(DATA, &sig, SystemTime::now())
        .unwrap_err();
    assert_eq!(
        err,
        VerifyError::UnknownKey {
            issuer: signer.clone()
        }
    );
    assert!(err.to_string().contains(&signer));
}

#[test]
fn expired_keys_are_refused() {
    let gpg = Gpg::new();
    // Made and used in 2020 with one day of validity: long expired now.
    let old = gpg.gen_key(
        "Old <old@example.org>",
        "ed25519",
        "sign",
        "1d",
        &["--faked-system-time", "20200101T000000"],
    );
    let sig = gpg.sign(&old, false, &["--faked-system-time", "20200101T120000"]);
    let (_, status) = gpg.verify(DATA, &sig);
    assert!(status.contains("EXPKEYSIG"), "{status}");
    let key = PublicKey::from_armored_or_binary(&gpg.export(&old)).unwrap();
    let expired = UNIX_EPOCH + Duration::from_secs(1_577_836_800 + 86_400);
    assert_eq!(key.expires(), Some(expired));
    let err = ring(&gpg.export(&old))
        .verify(DATA, &sig, SystemTime::now())
        .unwrap_err();
    assert_eq!(err, VerifyError::ExpiredKey { key: old, expired });

    // A current key judged at a time past its expiry.
    let fresh = gpg.gen_key("Fresh <f@example.org>", "ed25519", "sign", "1d", &[]);
    let sig = gpg.sign(&fresh, false, &[]);
    let ring = ring(&gpg.export(&fresh));
    ring.verify(DATA, &sig, SystemTime::now()).unwrap();
    let later = SystemTime::now() + Duration::from_secs(3 * 86_400);
    assert!(
        matches!(ring.verify(DATA, &sig, later), Err(VerifyError::ExpiredKey { key, .. }) if key == fresh)
    );
}

#[test]
fn revoked_key_is_refused() {
    let gpg = Gpg::new();
    let fpr = gpg.gen_key("Revoked <r@example.org>", "ed25519", "sign", "1y", &[]);
    let sig = gpg.sign(&fpr, false, &[]);
    // GnuPG stores a revocation certificate at key creation, with a ':' guarding the armor.
    let cert = std::fs::read_to_string(gpg.path(&format!("openpgp-revocs.d/{fpr}.rev"))).unwrap();
    gpg.import(cert.replace(":-----BEGIN", "-----BEGIN").as_bytes());
    let (_, status) = gpg.verify(DATA, &sig);
    assert!(status.contains("REVKEYSIG"), "{status}");
    let exported = gpg.export(&fpr);
    assert!(PublicKey::from_armored_or_binary(&exported)
        .unwrap()
        .is_revoked());
    let err = ring(&exported)
        .verify(DATA, &sig, SystemTime::now())
        .unwrap_err();
    assert_eq!(err, VerifyError::RevokedKey { key: fpr });
}

#[test]
fn sha1_signatures_are_weak() {
    let gpg = Gpg::new();
    let ed = gpg.gen_key("Ed <ed@example.org>", "ed25519", "sign", "1y", &[]);
    let rsa = gpg.gen_key("Rsa <rsa@example.org>", "rsa3072", "sign", "1y", &[]);
    let ring = ring(&[gpg.export(&ed), gpg.export(&rsa)].concat());
    assert_eq!(ring.len(), 2);
    for fpr in [&ed, &rsa] {
        let sig = gpg.sign(fpr, false, &["--digest-algo", "SHA1"]);
        assert!(
            gpg.verify(DATA, &sig).0,
            "gpg 2.2 itself still accepts SHA-1"
        );
        let err = ring.verify(DATA, &sig, SystemTime::now()).unwrap_err();
        assert_eq!(
            err,
            VerifyError::WeakHash {
                hash: "SHA1".into()
            }
        );
        let sig = gpg.sign(fpr, false, &["--digest-algo", "SHA512"]);
        ring.verify(DATA, &sig, SystemTime::now()).unwrap();
    }
}

#[test]
fn signing_subkey_of_trusted_primary() {
    let gpg = Gpg::new();
    let primary = gpg.gen_key("Sub <sub@example.org>", "ed25519", "cert", "1y", &[]);
    gpg.ok(&["--quick-add-key", &primary, "ed25519", "sign", "1y"]);
    gpg.ok(&["--quick-add-key", &primary, "cv25519", "encr", "1y"]);
    let (_, subs) = gpg.fingerprints(&primary);
    assert_eq!(subs.len(), 2);
    let key = PublicKey::from_armored_or_binary(&gpg.export(&primary)).unwrap();
    assert_eq!(key.signing_subkeys(), vec![subs[0].clone()]);

    let sig = gpg.sign(&primary, false, &[]);
    let v = ring(&gpg.export(&primary))
        .verify(DATA, &sig, SystemTime::now())
        .unwrap();
    assert_eq!(v.fingerprint, primary);
    assert_eq!(v.signing_key, subs[0]);
    assert_ne!(v.signing_key, v.fingerprint);
}

#[test]
fn third_party_certifications_do_not_break_keys() {
    let gpg = Gpg::new();
    let owner = gpg.gen_key("Owner <owner@example.org>", "ed25519", "sign", "1y", &[]);
    let friend = gpg.gen_key("Friend <friend@example.org>", "ed25519", "sign", "1y", &[]);
    gpg.ok(&["--local-user", &friend, "--quick-sign-key", &owner]);
    let exported = gpg.export(&owner);
    let export_file = gpg.path("owner.asc");
    std::fs::write(&export_file, &exported).unwrap();
    let packets = gpg.ok(&["--list-packets", export_file.to_str().unwrap()]);
    let friend_id = &friend[24..];
    assert!(
        String::from_utf8_lossy(&packets).contains(friend_id),
        "export lacks the certification"
    );
    let sig = gpg.sign(&owner, false, &[]);
    let v = ring(&exported)
        .verify(DATA, &sig, SystemTime::now())
        .unwrap();
    assert_eq!(v.fingerprint, owner);
}

#[test]
fn load_dir_reads_exports_and_names_bad_files() {
    let gpg = Gpg::new();
    let a = gpg.gen_key("A <a@example.org>", "ed25519", "sign", "1y", &[]);
    let b = gpg.gen_key("B <b@example.org>", "ed25519", "sign", "1y", &[]);
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, bytes: &[u8]| std::fs::write(dir.path().join(name), bytes).unwrap();
    write("both.asc", &gpg.ok(&["--armor", "--export", &a, &b]));
    write("b.gpg", &gpg.ok(&["--export", &b]));
    write("README", b"not a key, ignored by name");
    let ring = Keyring::load_dir(dir.path()).unwrap();
    let fprs: Vec<String> = ring.keys().iter().map(PublicKey::fingerprint).collect();
    assert_eq!(fprs.len(), 3, "{fprs:?}");
    assert!(fprs.contains(&a) && fprs.contains(&b));
    assert!(ring.source_of(&a).unwrap().ends_with("both.asc"));
    ring.verify(DATA, &gpg.sign(&a, false, &[]), SystemTime::now())
        .unwrap();

    write("broken.asc", b"-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nmQINBF garbage\n-----END PGP PUBLIC KEY BLOCK-----\n");
    let err = Keyring::load_dir(dir.path()).unwrap_err();
    assert!(
        matches!(&err, SignError::KeyFile { path, .. } if path.ends_with("broken.asc")),
        "{err:?}"
    );
    assert!(err.to_string().contains("broken.asc"), "{err}");

    std::fs::remove_file(dir.path().join("broken.asc")).unwrap();
    write("empty.pgp", b"");
    let err = Keyring::load_dir(dir.path()).unwrap_err();
    assert!(err.to_string().contains("empty.pgp"), "{err}");

    assert!(Keyring::load_dir(Path::new("/nonexistent/kimigayo/keys"))
        .unwrap()
        .is_empty());
}
