//! Self-signature evaluation: which parts of a certificate are really bound to its primary key.
//!
//! rPGP's `verify_bindings()` is all-or-nothing and treats third-party certifications as
//! self-signatures, so instead every signature is checked on its own and only those made by
//! the primary key (and, for signing subkeys, carrying a valid back-signature) are kept.
//! What remains decides expiry, revocation and the right to sign.

use std::time::SystemTime;

use pgp::composed::{SignedKeyDetails, SignedPublicKey, SignedPublicSubKey};
use pgp::packet::{KeyFlags, Signature, SignatureType, SubpacketData};
use pgp::types::{Fingerprint, KeyDetails, KeyId, KeyVersion, SignedUser, Tag, Timestamp};

use crate::errors::SignError;
use crate::time;
use crate::verify::policy;

/// A primary key or subkey, with what its self-signatures say about it.
#[derive(Debug, Clone)]
pub(crate) struct Component {
    pub fingerprint: Fingerprint,
    pub fp_hex: String,
    pub key_id: KeyId,
    pub created: Timestamp,
    pub expires: Option<SystemTime>,
    pub revoked: bool,
    pub can_sign: bool,
    /// `None` for the primary key, else the index into the cleaned key's `public_subkeys`.
    pub subkey: Option<usize>,
}

/// A certificate reduced to its valid self-signatures, plus the facts derived from them.
#[derive(Debug, Clone)]
pub(crate) struct Evaluated {
    pub key: SignedPublicKey,
    pub primary: Component,
    pub subkeys: Vec<Component>,
    /// Non-revoked user IDs; the one marked primary first.
    pub user_ids: Vec<String>,
}

pub(crate) fn fp_hex(fp: &Fingerprint) -> String {
    format!("{fp:X}")
}

/// Hash and timestamp sanity shared by every self-signature we accept.
fn acceptable(sig: &Signature, key_created: Timestamp) -> bool {
    sig.hash_alg().is_some_and(policy::hash_accepted)
        && sig
            .created()
            .is_some_and(|c| c.as_secs() >= key_created.as_secs())
}

fn created_secs(sig: &Signature) -> u32 {
    sig.created().map(|c| c.as_secs()).unwrap_or(0)
}

/// Key flags from the hashed area, if that subpacket is present at all.
fn hashed_key_flags(sig: &Signature) -> Option<KeyFlags> {
    sig.config()?
        .hashed_subpackets()
        .find_map(|p| match &p.data {
            SubpacketData::KeyFlags(f) => Some(f.clone()),
            _ => None,
        })
}

fn newest(sigs: &[Signature]) -> Option<&Signature> {
    sigs.iter().max_by_key(|s| created_secs(s))
}

pub(crate) fn evaluate(key: SignedPublicKey) -> Result<Evaluated, SignError> {
    let primary = key.primary_key;
    let fingerprint = primary.fingerprint();
    let invalid = |reason: &str| SignError::InvalidKey {
        fingerprint: fp_hex(&fingerprint),
        reason: reason.to_string(),
    };
    if !matches!(primary.version(), KeyVersion::V4 | KeyVersion::V6) {
        return Err(invalid(
            "it is an obsolete version 3 key: the publisher must create a new key",
        ));
    }
    let created = primary.created_at();

    let mut self_sigs: Vec<Signature> = Vec::new();
    let mut users = Vec::new();
    let mut uid_list: Vec<(bool, String)> = Vec::new();
    for user in key.details.users {
        let SignedUser { id, signatures } = user;
        let (mut certs, mut revs) = (Vec::new(), Vec::new());
        for sig in signatures {
            if !acceptable(&sig, created)
                || sig
                    .verify_certification(&primary, Tag::UserId, &id)
                    .is_err()
            {
                continue; // third-party certification, broken, or weak
            }
            match sig.typ() {
                Some(SignatureType::CertRevocation) => revs.push(sig),
                Some(_) if sig.is_certification() => certs.push(sig),
                _ => {}
            }
        }
        let Some(cert) = newest(&certs).cloned() else {
            continue;
        };
        let uid_revoked = revs.iter().any(|r| created_secs(r) >= created_secs(&cert));
        if !uid_revoked {
            let text = String::from_utf8_lossy(id.id()).into_owned();
            uid_list.push((cert.is_primary(), text));
            self_sigs.push(cert);
        }
        certs.extend(revs);
        users.push(SignedUser::new(id, certs));
    }

    let directs: Vec<Signature> = key
        .details
        .direct_signatures
        .into_iter()
        .filter(|s| {
            s.typ() == Some(SignatureType::Key)
                && acceptable(s, created)
                && s.verify_key(&primary).is_ok()
        })
        .collect();
    self_sigs.extend(directs.iter().cloned());

    // A revocation only takes trust away, so any hash that verifies is honoured.
    let revocations: Vec<Signature> = key
        .details
        .revocation_signatures
        .into_iter()
        .filter(|s| s.typ() == Some(SignatureType::KeyRevocation) && s.verify_key(&primary).is_ok())
        .collect();

    let Some(newest_self) = newest(&self_sigs) else {
        return Err(invalid(
            "it has no valid self-signature (its user IDs are unsigned, revoked, or signed only \
             with a weak hash such as SHA-1): refresh it with `gpg --quick-set-expire` and export it again",
        ));
    };
    let primary_component = Component {
        fp_hex: fp_hex(&fingerprint),
        fingerprint: fingerprint.clone(),
        key_id: primary.legacy_key_id(),
        created,
        expires: time::expiry(created, newest_self.key_expiration_time()),
        revoked: !revocations.is_empty(),
        can_sign: policy::signing_algorithm_accepted(primary.algorithm())
            && hashed_key_flags(newest_self).map_or(primary.algorithm().can_sign(), |f| f.sign()),
        subkey: None,
    };

    let mut subkeys = Vec::new();
    let mut components = Vec::new();
    for sub in key.public_subkeys {
        if let Some((kept, component)) = evaluate_subkey(&primary, sub, subkeys.len()) {
            subkeys.push(kept);
            components.push(component);
        }
    }

    uid_list.sort_by_key(|(is_primary, _)| !is_primary);
    let details = SignedKeyDetails::new(revocations, directs, users, Vec::new());
    Ok(Evaluated {
        key: SignedPublicKey::new(primary, details, subkeys),
        primary: primary_component,
        subkeys: components,
        user_ids: uid_list.into_iter().map(|(_, u)| u).collect(),
    })
}

/// Keep a subkey only if a valid binding signature from the primary exists.
fn evaluate_subkey(
    primary: &pgp::packet::PublicKey,
    sub: SignedPublicSubKey,
    index: usize,
) -> Option<(SignedPublicSubKey, Component)> {
    let created = sub.key.created_at();
    let (mut bindings, mut revs) = (Vec::new(), Vec::new());
    for sig in sub.signatures {
        match sig.typ() {
            Some(SignatureType::SubkeyBinding)
                if acceptable(&sig, created)
                    && sig.verify_subkey_binding(primary, &sub.key).is_ok() =>
            {
                bindings.push(sig)
            }
            Some(SignatureType::SubkeyRevocation)
                if sig.verify_subkey_binding(primary, &sub.key).is_ok() =>
            {
                revs.push(sig)
            }
            _ => {}
        }
    }
    let binding = newest(&bindings)?.clone();
    // A signing subkey must prove it agrees to be bound (embedded primary-key binding).
    let back_signed = binding.embedded_signature().is_some_and(|back| {
        back.hash_alg().is_some_and(policy::hash_accepted)
            && back.verify_primary_key_binding(&sub.key, primary).is_ok()
    });
    let can_sign = policy::signing_algorithm_accepted(sub.key.algorithm())
        && hashed_key_flags(&binding).is_some_and(|f| f.sign())
        && back_signed;
    let fingerprint = sub.key.fingerprint();
    let component = Component {
        fp_hex: fp_hex(&fingerprint),
        fingerprint,
        key_id: sub.key.legacy_key_id(),
        created,
        expires: time::expiry(created, binding.key_expiration_time()),
        revoked: !revs.is_empty(),
        can_sign,
        subkey: Some(index),
    };
    bindings.extend(revs);
    Some((SignedPublicSubKey::new(sub.key, bindings), component))
}
