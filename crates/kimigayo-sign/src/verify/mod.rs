//! Detached-signature verification: parse, find the issuer among trusted keys, check the
//! mathematics, then apply policy (rPGP's `verify` checks only the mathematics).

#[cfg(test)]
mod key_state_tests;
pub(crate) mod policy;
#[cfg(test)]
mod tests;

use std::time::SystemTime;

use pgp::composed::{Deserializable, DetachedSignature};
use pgp::packet::{Signature, SignatureType, SignatureVersion};

use crate::errors::{plain_parse_error, VerifyError};
use crate::keys::{strip_bom, PublicKey};
use crate::time::{expiry, to_system};
use crate::validity::{fp_hex, Component};

/// A signature that passed every check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// Fingerprint of the trusted primary key.
    pub fingerprint: String,
    /// Fingerprint of the key that made the signature: a subkey, or the primary key itself.
    pub signing_key: String,
    /// The primary user ID of the trusted key.
    pub user_id: Option<String>,
    /// When the signature says it was made.
    pub created: SystemTime,
}

pub(crate) fn verify(
    keys: &[PublicKey],
    data: &[u8],
    signature: &[u8],
    now: SystemTime,
) -> Result<Verified, VerifyError> {
    let signatures = parse(signature)?;
    let mut first_error: Option<VerifyError> = None;
    for sig in &signatures {
        match check(keys, sig, data, now) {
            Ok(v) => return Ok(v),
            // An untrusted co-signature says less than a real failure with a trusted key.
            Err(e) => match &first_error {
                None | Some(VerifyError::UnknownKey { .. }) => first_error = Some(e),
                Some(_) => {}
            },
        }
    }
    Err(first_error.unwrap_or_else(|| VerifyError::Malformed("no signature found".into())))
}

fn parse(bytes: &[u8]) -> Result<Vec<Signature>, VerifyError> {
    let bytes = strip_bom(bytes);
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(VerifyError::Malformed("the signature is empty".into()));
    }
    let malformed = |e: pgp::errors::Error| {
        VerifyError::Malformed(plain_parse_error(&e.to_string(), "a signature"))
    };
    let (iter, _headers) = DetachedSignature::from_reader_many(bytes).map_err(malformed)?;
    let sigs = iter
        .map(|r| r.map(|d| d.signature))
        .collect::<Result<Vec<_>, _>>()
        .map_err(malformed)?;
    if sigs.is_empty() {
        return Err(VerifyError::Malformed(
            "no complete signature packet (truncated?)".into(),
        ));
    }
    Ok(sigs)
}

fn check(
    keys: &[PublicKey],
    sig: &Signature,
    data: &[u8],
    now: SystemTime,
) -> Result<Verified, VerifyError> {
    let malformed = |m: &str| VerifyError::Malformed(m.to_string());
    if !matches!(sig.version(), SignatureVersion::V4 | SignatureVersion::V6)
        || sig.config().is_none()
    {
        return Err(malformed("obsolete or unknown signature version"));
    }
    match sig.typ() {
        Some(SignatureType::Binary) => {}
        Some(SignatureType::Text) => {
            return Err(malformed(
                "text-mode signature; packages and indexes must be signed in binary mode",
            ))
        }
        _ => return Err(malformed("this is not a signature over data")),
    }
    if let Some(what) = policy::unknown_critical(sig) {
        return Err(VerifyError::Malformed(what));
    }

    let candidates = candidates(keys, sig);
    let Some(&(_, first)) = candidates.first() else {
        return Err(VerifyError::UnknownKey {
            issuer: issuer_name(sig),
        });
    };
    let hash = sig
        .hash_alg()
        .ok_or_else(|| malformed("no hash algorithm"))?;
    if !policy::hash_accepted(hash) {
        return Err(VerifyError::WeakHash {
            hash: hash.to_string(),
        });
    }
    let created = sig
        .created()
        .ok_or_else(|| malformed("the signature has no creation time"))?;

    let Some(&(key, component)) = candidates
        .iter()
        .find(|(key, c)| key.verify_with(c, sig, data))
    else {
        return Err(VerifyError::BadSignature {
            key: first.fp_hex.clone(),
        });
    };

    let created_at = to_system(created);
    if created_at > now + policy::MAX_CLOCK_SKEW {
        return Err(VerifyError::FromFuture {
            created: created_at,
        });
    }
    if created.as_secs() < component.created.as_secs() {
        return Err(malformed(
            "the signature claims to be older than the key that made it",
        ));
    }
    let primary = &key.eval.primary;
    for c in [primary, component] {
        if c.revoked {
            return Err(VerifyError::RevokedKey {
                key: c.fp_hex.clone(),
            });
        }
    }
    for c in [primary, component] {
        if let Some(expired) = c.expires.filter(|e| *e <= now || *e <= created_at) {
            return Err(VerifyError::ExpiredKey {
                key: c.fp_hex.clone(),
                expired,
            });
        }
    }
    if let Some(expired) = expiry(created, sig.signature_expiration_time()).filter(|e| *e <= now) {
        return Err(VerifyError::ExpiredSignature { expired });
    }
    if !component.can_sign {
        return Err(VerifyError::NotSigningCapable {
            key: component.fp_hex.clone(),
        });
    }
    Ok(Verified {
        fingerprint: primary.fp_hex.clone(),
        signing_key: component.fp_hex.clone(),
        user_id: key.eval.user_ids.first().cloned(),
        created: created_at,
    })
}

/// Trusted components named by the signature's issuer fingerprint or key ID subpackets
/// (every component, if it names none).
fn candidates<'a>(keys: &'a [PublicKey], sig: &Signature) -> Vec<(&'a PublicKey, &'a Component)> {
    let fps = sig.issuer_fingerprint();
    let ids = sig.issuer_key_id();
    let anonymous = fps.is_empty() && ids.is_empty();
    keys.iter()
        .flat_map(|k| k.components().map(move |c| (k, c)))
        .filter(|(_, c)| {
            anonymous
                || fps.iter().any(|fp| **fp == c.fingerprint)
                || ids.iter().any(|id| **id == c.key_id)
        })
        .collect()
}

fn issuer_name(sig: &Signature) -> String {
    if let Some(fp) = sig.issuer_fingerprint().first() {
        fp_hex(fp)
    } else if let Some(id) = sig.issuer_key_id().first() {
        id.to_string().to_uppercase()
    } else {
        "(unnamed)".to_string()
    }
}
