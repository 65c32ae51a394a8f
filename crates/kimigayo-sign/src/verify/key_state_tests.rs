//! Unit tests of key state: revocation, signing subkeys (binding, back-signature, expiry),
//! and third-party certifications that must not count as self-signatures.

use std::time::{Duration, SystemTime};

use pgp::composed::{
    DetachedSignature, KeyType, SecretKeyParamsBuilder, SignedSecretKey, SubkeyParamsBuilder,
};
use pgp::crypto::hash::HashAlgorithm;
use pgp::packet::{KeyFlags, SignatureConfig, SignatureType, Subpacket, SubpacketData};
use pgp::ser::Serialize;
use pgp::types::{KeyDetails, KeyVersion, Password, Tag, Timestamp};

use super::tests::{key, ring_of, DATA};
use crate::{PublicKey, SecretKey, SignError, VerifyError};

/// Primary key that may only certify, plus one signing subkey (with back-signature).
fn key_with_signing_subkey() -> SecretKey {
    let params = SecretKeyParamsBuilder::default()
        .version(KeyVersion::V4)
        .key_type(KeyType::Ed25519Legacy)
        .can_certify(true)
        .can_sign(false)
        .primary_user_id("Subkeys <sub@example.org>".into())
        .subkey(
            SubkeyParamsBuilder::default()
                .version(KeyVersion::V4)
                .key_type(KeyType::Ed25519Legacy)
                .can_sign(true)
                .build()
                .unwrap(),
        )
        .build()
        .unwrap();
    SecretKey::from_signed(params.generate(rand::thread_rng()).unwrap()).unwrap()
}

/// Replace the subkey's binding: signing flag, optional back-signature, optional expiry;
/// `revoke` adds a subkey revocation as well.
fn rebind(sk: &SecretKey, backsig: bool, expires_secs: Option<u32>, revoke: bool) -> SecretKey {
    let mut key = sk.key.clone();
    let primary = &key.primary_key;
    let sub = &mut key.secret_subkeys[0];
    let mut flags = KeyFlags::default();
    flags.set_sign(true);
    let mut hashed = vec![
        Subpacket::regular(SubpacketData::SignatureCreationTime(Timestamp::now())).unwrap(),
        Subpacket::regular(SubpacketData::IssuerFingerprint(primary.fingerprint())).unwrap(),
        Subpacket::regular(SubpacketData::KeyFlags(flags)).unwrap(),
    ];
    if let Some(secs) = expires_secs {
        let period = pgp::types::Duration::from_secs(secs);
        hashed.push(Subpacket::regular(SubpacketData::KeyExpirationTime(period)).unwrap());
    }
    if backsig {
        let back = sub
            .key
            .sign_primary_key_binding(rand::thread_rng(), primary.public_key(), &Password::empty())
            .unwrap();
        hashed.push(Subpacket::regular(SubpacketData::EmbeddedSignature(Box::new(back))).unwrap());
    }
    let mut types = vec![(SignatureType::SubkeyBinding, hashed)];
    if revoke {
        let created = Subpacket::regular(SubpacketData::SignatureCreationTime(Timestamp::now()));
        types.push((SignatureType::SubkeyRevocation, vec![created.unwrap()]));
    }
    sub.signatures = types
        .into_iter()
        .map(|(typ, hashed)| {
            let mut config = SignatureConfig::v4(typ, primary.algorithm(), HashAlgorithm::Sha256);
            config.hashed_subpackets = hashed;
            config
                .sign_subkey_binding(
                    primary,
                    primary.public_key(),
                    &Password::empty(),
                    sub.key.public_key(),
                )
                .unwrap()
        })
        .collect();
    SecretKey::from_signed(key).unwrap()
}

/// A detached signature made directly by the first secret subkey.
fn subkey_sign(sk: &SecretKey) -> Vec<u8> {
    let sub = &sk.key.secret_subkeys[0].key;
    DetachedSignature::sign_binary_data(
        rand::thread_rng(),
        sub,
        &Password::empty(),
        HashAlgorithm::Sha256,
        DATA,
    )
    .unwrap()
    .to_bytes()
    .unwrap()
}

fn subkey_fp(sk: &SecretKey) -> String {
    format!("{:X}", sk.key.secret_subkeys[0].key.fingerprint())
}

#[test]
fn sign_uses_the_signing_subkey() {
    let sk = key_with_signing_subkey();
    let public = sk.public();
    assert_eq!(public.signing_subkeys(), vec![subkey_fp(&sk)]);
    let sig = sk.sign(DATA).unwrap();
    let v = ring_of(&[&public])
        .verify(DATA, sig.as_bytes(), SystemTime::now())
        .unwrap();
    assert_eq!(v.fingerprint, sk.fingerprint());
    assert_eq!(v.signing_key, subkey_fp(&sk));
}

#[test]
fn subkey_without_back_signature_may_not_sign() {
    let sk = rebind(&key_with_signing_subkey(), false, None, false);
    assert!(sk.public().signing_subkeys().is_empty());
    assert!(matches!(sk.sign(DATA), Err(SignError::CannotSign { .. })));
    let err = ring_of(&[&sk.public()])
        .verify(DATA, &subkey_sign(&sk), SystemTime::now())
        .unwrap_err();
    assert_eq!(
        err,
        VerifyError::NotSigningCapable {
            key: subkey_fp(&sk)
        }
    );
    // With the back-signature the same subkey is fine.
    let sk = rebind(&sk, true, None, false);
    ring_of(&[&sk.public()])
        .verify(DATA, &subkey_sign(&sk), SystemTime::now())
        .unwrap();
}

#[test]
fn revoked_or_expired_subkey_is_refused() {
    let base = key_with_signing_subkey();
    let revoked = rebind(&base, true, None, true);
    let err = ring_of(&[&revoked.public()])
        .verify(DATA, &subkey_sign(&revoked), SystemTime::now())
        .unwrap_err();
    assert_eq!(
        err,
        VerifyError::RevokedKey {
            key: subkey_fp(&revoked)
        }
    );
    assert!(!revoked.public().is_revoked(), "only the subkey is revoked");

    let short = rebind(&base, true, Some(3600), false);
    let ring = ring_of(&[&short.public()]);
    let sig = subkey_sign(&short);
    ring.verify(DATA, &sig, SystemTime::now()).unwrap();
    let later = SystemTime::now() + Duration::from_secs(7200);
    let err = ring.verify(DATA, &sig, later).unwrap_err();
    assert!(
        matches!(err, VerifyError::ExpiredKey { ref key, .. } if *key == subkey_fp(&short)),
        "{err:?}"
    );
}

#[test]
fn third_party_certification_cannot_expire_or_restrict_a_key() {
    let (sk, stranger) = (key(), key());
    let mut cert = sk.key.to_public_key();
    let later = Timestamp::from_secs(Timestamp::now().as_secs() + 60);
    let mut config = SignatureConfig::v4(
        SignatureType::CertPositive,
        stranger.key.primary_key.algorithm(),
        HashAlgorithm::Sha256,
    );
    config.hashed_subpackets = vec![
        Subpacket::regular(SubpacketData::SignatureCreationTime(later)).unwrap(),
        Subpacket::regular(SubpacketData::IssuerFingerprint(stranger.key.fingerprint())).unwrap(),
        Subpacket::regular(SubpacketData::KeyExpirationTime(
            pgp::types::Duration::from_secs(1),
        ))
        .unwrap(),
        Subpacket::regular(SubpacketData::KeyFlags(KeyFlags::default())).unwrap(),
    ];
    let user = &mut cert.details.users[0];
    let hostile = config
        .sign_certification_third_party(
            &stranger.key.primary_key,
            &Password::empty(),
            sk.key.primary_key.public_key(),
            Tag::UserId,
            &user.id,
        )
        .unwrap();
    user.signatures.push(hostile);
    let public = PublicKey::from_armored_or_binary(&cert.to_bytes().unwrap()).unwrap();
    assert_eq!(public.expires(), None);
    let sig = sk.sign(DATA).unwrap();
    ring_of(&[&public])
        .verify(DATA, sig.as_bytes(), SystemTime::now())
        .unwrap();
}

#[test]
fn revocation_by_owner_counts_forged_one_does_not() {
    let (sk, stranger) = (key(), key());
    let revoke = |signer: &SignedSecretKey| {
        let mut config = SignatureConfig::v4(
            SignatureType::KeyRevocation,
            signer.primary_key.algorithm(),
            HashAlgorithm::Sha256,
        );
        config.hashed_subpackets = vec![
            Subpacket::regular(SubpacketData::IssuerFingerprint(signer.fingerprint())).unwrap(),
            Subpacket::regular(SubpacketData::SignatureCreationTime(Timestamp::now())).unwrap(),
        ];
        config
            .sign_key(
                &signer.primary_key,
                &Password::empty(),
                sk.key.primary_key.public_key(),
            )
            .unwrap()
    };
    let sig = sk.sign(DATA).unwrap();

    let mut forged = sk.key.to_public_key();
    forged
        .details
        .revocation_signatures
        .push(revoke(&stranger.key));
    let forged = PublicKey::from_armored_or_binary(&forged.to_bytes().unwrap()).unwrap();
    assert!(!forged.is_revoked());
    ring_of(&[&forged])
        .verify(DATA, sig.as_bytes(), SystemTime::now())
        .unwrap();

    let mut revoked = sk.key.to_public_key();
    revoked.details.revocation_signatures.push(revoke(&sk.key));
    let revoked = PublicKey::from_armored_or_binary(&revoked.to_bytes().unwrap()).unwrap();
    assert!(revoked.is_revoked());
    let err = ring_of(&[&revoked])
        .verify(DATA, sig.as_bytes(), SystemTime::now())
        .unwrap_err();
    assert_eq!(
        err,
        VerifyError::RevokedKey {
            key: sk.fingerprint()
        }
    );
}

#[test]
fn third_party_certification_is_ignored_not_fatal() {
    let (sk, friend) = (key(), key());
    let mut cert = sk.key.to_public_key();
    let user = &mut cert.details.users[0];
    let by_friend = user
        .id
        .sign_third_party(
            rand::thread_rng(),
            &friend.key.primary_key,
            &Password::empty(),
            sk.key.primary_key.public_key(),
            SignatureType::CertGeneric,
        )
        .unwrap();
    user.signatures.extend(by_friend.signatures);
    assert_eq!(cert.details.users[0].signatures.len(), 2);
    assert!(
        cert.verify_bindings().is_err(),
        "rPGP alone rejects this key"
    );

    let public = PublicKey::from_armored_or_binary(&cert.to_bytes().unwrap()).unwrap();
    assert_eq!(public.user_ids().len(), 1);
    let sig = sk.sign(DATA).unwrap();
    ring_of(&[&public])
        .verify(DATA, sig.as_bytes(), SystemTime::now())
        .unwrap();
}
