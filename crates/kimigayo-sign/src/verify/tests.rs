//! Unit tests of the verification policy with keys and signatures made in-process.
//! (Interoperability with GnuPG is tested in `tests/gnupg_interop.rs`.)

use std::time::{Duration, SystemTime};

use pgp::composed::{
    Deserializable, DetachedSignature, KeyType, SecretKeyParamsBuilder, SignedSecretKey,
    SubpacketConfig,
};
use pgp::crypto::hash::HashAlgorithm;
use pgp::packet::{Subpacket, SubpacketData};
use pgp::ser::Serialize;
use pgp::types::{KeyDetails, Password, Timestamp};

use crate::{Keyring, PublicKey, SecretKey, SignError, VerifyError};

pub(super) const DATA: &[u8] = b"kimigayo package payload\n";

pub(super) fn ring_of(keys: &[&PublicKey]) -> Keyring {
    let mut ring = Keyring::new();
    for k in keys {
        ring.add((*k).clone(), "test");
    }
    ring
}

pub(super) fn key() -> SecretKey {
    SecretKey::generate("Kimigayo Test <test@example.org>", None).unwrap()
}

/// A detached signature by the primary key of `sk`, with full control of hash and subpackets.
pub(super) fn raw_sign(
    sk: &SignedSecretKey,
    hash: HashAlgorithm,
    created: Timestamp,
    text: bool,
) -> Vec<u8> {
    let hashed = vec![
        Subpacket::regular(SubpacketData::IssuerFingerprint(sk.fingerprint())).unwrap(),
        Subpacket::regular(SubpacketData::SignatureCreationTime(created)).unwrap(),
    ];
    let config = SubpacketConfig::UserDefined {
        hashed,
        unhashed: vec![],
    };
    let rng = rand::thread_rng();
    let pw = Password::empty();
    let sig = if text {
        DetachedSignature::sign_text_data_with_subpackets(
            rng,
            &sk.primary_key,
            &pw,
            hash,
            DATA,
            config,
        )
    } else {
        DetachedSignature::sign_binary_data_with_subpackets(
            rng,
            &sk.primary_key,
            &pw,
            hash,
            DATA,
            config,
        )
    };
    sig.unwrap().to_bytes().unwrap()
}

#[test]
fn round_trip_armored_and_binary() {
    let sk = key();
    assert_eq!(sk.fingerprint().len(), 40);
    assert!(sk
        .fingerprint()
        .chars()
        .all(|c| c.is_ascii_digit() || c.is_ascii_uppercase()));
    let sig = sk.sign(DATA).unwrap();
    assert!(sig.starts_with("-----BEGIN PGP SIGNATURE-----"));

    let ring = ring_of(&[&sk.public()]);
    let v = ring
        .verify(DATA, sig.as_bytes(), SystemTime::now())
        .unwrap();
    assert_eq!(v.fingerprint, sk.fingerprint());
    assert_eq!(v.signing_key, sk.fingerprint());
    assert_eq!(
        v.user_id.as_deref(),
        Some("Kimigayo Test <test@example.org>")
    );

    // Armor survives CRLF line ends and a byte-order mark (files edited on other systems).
    let crlf = format!("\u{feff}{}", sig.replace('\n', "\r\n"));
    ring.verify(DATA, crlf.as_bytes(), SystemTime::now())
        .unwrap();
    let key_crlf = format!("\u{feff}{}", sk.public().to_armored().replace('\n', "\r\n"));
    PublicKey::from_armored_or_binary(key_crlf.as_bytes()).unwrap();

    let binary = raw_sign(&sk.key, HashAlgorithm::Sha512, Timestamp::now(), false);
    ring.verify(DATA, &binary, SystemTime::now()).unwrap();

    let again = SecretKey::from_armored(&sk.to_armored()).unwrap();
    assert_eq!(again.fingerprint(), sk.fingerprint());
    let again = SecretKey::from_bytes(&sk.key.to_bytes().unwrap()).unwrap();
    assert_eq!(again.fingerprint(), sk.fingerprint());
    let public = PublicKey::from_armored_or_binary(sk.public().to_armored().as_bytes()).unwrap();
    assert_eq!(public.fingerprint(), sk.fingerprint());
    assert_eq!(
        public.user_ids(),
        vec!["Kimigayo Test <test@example.org>".to_string()]
    );
    assert_eq!(public.expires(), None);
    assert!(!public.is_revoked());
}

#[test]
fn several_keys_in_one_file() {
    let (a, b) = (key(), key());
    let both = format!("{}\n{}", a.public().to_armored(), b.public().to_armored());
    let keys = PublicKey::all_from_armored_or_binary(both.as_bytes()).unwrap();
    assert_eq!(keys.len(), 2);
    assert!(matches!(
        PublicKey::from_armored_or_binary(both.as_bytes()),
        Err(SignError::SeveralKeys { count: 2 })
    ));
    assert!(matches!(
        PublicKey::from_armored_or_binary(a.to_armored().as_bytes()),
        Err(SignError::SecretKeyMaterial)
    ));
}

#[test]
fn tampering_is_detected() {
    let sk = key();
    let ring = ring_of(&[&sk.public()]);
    let sig = raw_sign(&sk.key, HashAlgorithm::Sha256, Timestamp::now(), false);
    let now = SystemTime::now();
    ring.verify(DATA, &sig, now).unwrap();

    let mut data = DATA.to_vec();
    data[3] ^= 1;
    let err = ring.verify(&data, &sig, now).unwrap_err();
    assert_eq!(
        err,
        VerifyError::BadSignature {
            key: sk.fingerprint()
        }
    );

    let mut last = sig.clone();
    *last.last_mut().unwrap() ^= 0x40;
    assert!(matches!(
        ring.verify(DATA, &last, now),
        Err(VerifyError::BadSignature { .. } | VerifyError::Malformed(_))
    ));
    for i in 0..sig.len() {
        let mut bad = sig.clone();
        bad[i] ^= 0x01;
        if ring.verify(DATA, &bad, now).is_ok() {
            // Only harmless re-encodings may pass (an MPI's bit count is not signed): the
            // parsed signature must be the very same one.
            let parsed = DetachedSignature::from_bytes(&bad[..]).unwrap();
            assert_eq!(parsed.to_bytes().unwrap(), sig, "flip at byte {i} accepted");
        }
    }
    for len in [0, 1, 5, sig.len() / 2, sig.len() - 1] {
        let err = ring.verify(DATA, &sig[..len], now).unwrap_err();
        assert!(
            matches!(err, VerifyError::Malformed(_)),
            "length {len}: {err:?}"
        );
    }
}

#[test]
fn unknown_key_names_the_issuer() {
    let (signer, other) = (key(), key());
    let ring = ring_of(&[&other.public()]);
    let sig = signer.sign(DATA).unwrap();
    let err = ring
        .verify(DATA, sig.as_bytes(), SystemTime::now())
        .unwrap_err();
    assert_eq!(
        err,
        VerifyError::UnknownKey {
            issuer: signer.fingerprint()
        }
    );
    let message = err.to_string();
    assert!(message.contains(&signer.fingerprint()) && message.contains("kpkg key import"));
    // With an empty keyring as well.
    assert!(matches!(
        Keyring::new().verify(DATA, sig.as_bytes(), SystemTime::now()),
        Err(VerifyError::UnknownKey { .. })
    ));
}

#[test]
fn weak_hash_and_text_mode_refused() {
    let sk = key();
    let ring = ring_of(&[&sk.public()]);
    let now = SystemTime::now();
    // rPGP refuses to make SHA-1 EdDSA signatures, so relabel a SHA-256 one: the hash check
    // must come before the mathematics. (GnuPG-made SHA-1 signatures: tests/gnupg_interop.rs.)
    let mut sha1 = raw_sign(&sk.key, HashAlgorithm::Sha256, Timestamp::now(), false);
    let at = sha1
        .windows(4)
        .position(|w| w == [4, 0, 22, 8])
        .expect("v4 EdDSA SHA-256 header");
    sha1[at + 3] = 2;
    assert_eq!(
        ring.verify(DATA, &sha1, now).unwrap_err(),
        VerifyError::WeakHash {
            hash: "SHA1".into()
        }
    );
    let text = raw_sign(&sk.key, HashAlgorithm::Sha256, Timestamp::now(), true);
    assert!(
        matches!(ring.verify(DATA, &text, now), Err(VerifyError::Malformed(m)) if m.contains("text-mode"))
    );
}

#[test]
fn clock_skew() {
    let sk = key();
    let ring = ring_of(&[&sk.public()]);
    let now = SystemTime::now();
    let ts = |ahead: u32| Timestamp::from_secs(Timestamp::now().as_secs() + ahead);
    ring.verify(
        DATA,
        &raw_sign(&sk.key, HashAlgorithm::Sha256, ts(60), false),
        now,
    )
    .unwrap();
    let err = ring
        .verify(
            DATA,
            &raw_sign(&sk.key, HashAlgorithm::Sha256, ts(3600), false),
            now,
        )
        .unwrap_err();
    assert!(matches!(err, VerifyError::FromFuture { .. }), "{err:?}");
}

#[test]
fn expiry_is_enforced() {
    let sk =
        SecretKey::generate("Short <short@example.org>", Some(Duration::from_secs(3600))).unwrap();
    let public = PublicKey::from_armored_or_binary(sk.public().to_armored().as_bytes()).unwrap();
    let expires = public.expires().expect("expiry recorded");
    assert_eq!(expires, public.created() + Duration::from_secs(3600));
    let ring = ring_of(&[&public]);
    let sig = sk.sign(DATA).unwrap();
    ring.verify(DATA, sig.as_bytes(), SystemTime::now())
        .unwrap();
    let later = SystemTime::now() + Duration::from_secs(7200);
    let err = ring.verify(DATA, sig.as_bytes(), later).unwrap_err();
    assert_eq!(
        err,
        VerifyError::ExpiredKey {
            key: sk.fingerprint(),
            expired: expires
        }
    );
    assert!(err.to_string().contains("expired on"));
}

#[test]
fn certify_only_key_may_not_sign() {
    let params = SecretKeyParamsBuilder::default()
        .key_type(KeyType::Ed25519Legacy)
        .can_certify(true)
        .can_sign(false)
        .primary_user_id("Certify only <c@example.org>".into())
        .build()
        .unwrap();
    let signed = params.generate(rand::thread_rng()).unwrap();
    let sk = SecretKey::from_signed(signed).unwrap();
    assert!(matches!(sk.sign(DATA), Err(SignError::CannotSign { .. })));
    let sig = raw_sign(&sk.key, HashAlgorithm::Sha256, Timestamp::now(), false);
    let err = ring_of(&[&sk.public()])
        .verify(DATA, &sig, SystemTime::now())
        .unwrap_err();
    assert_eq!(
        err,
        VerifyError::NotSigningCapable {
            key: sk.fingerprint()
        }
    );
}

#[test]
fn protected_secret_key_is_reported() {
    let params = SecretKeyParamsBuilder::default()
        .key_type(KeyType::Ed25519Legacy)
        .can_certify(true)
        .can_sign(true)
        .passphrase(Some("secret".into()))
        .primary_user_id("Locked <l@example.org>".into())
        .build()
        .unwrap();
    let sk = SecretKey::from_signed(params.generate(rand::thread_rng()).unwrap()).unwrap();
    assert!(matches!(
        sk.sign(DATA),
        Err(SignError::ProtectedSecretKey { .. })
    ));
}

#[test]
fn one_good_signature_among_several_is_enough() {
    let (trusted, stranger) = (key(), key());
    let mut both = raw_sign(
        &stranger.key,
        HashAlgorithm::Sha256,
        Timestamp::now(),
        false,
    );
    both.extend(raw_sign(
        &trusted.key,
        HashAlgorithm::Sha256,
        Timestamp::now(),
        false,
    ));
    let v = ring_of(&[&trusted.public()])
        .verify(DATA, &both, SystemTime::now())
        .unwrap();
    assert_eq!(v.fingerprint, trusted.fingerprint());
}
