//! Public keys (OpenPGP certificates): reading armored or binary exports, and what they say.

use std::fmt;
use std::time::SystemTime;

use pgp::composed::{ArmorOptions, Deserializable, SignedPublicKey, SignedSecretKey};

use crate::errors::SignError;
use crate::validity::{self, Component, Evaluated};

const PUBLIC_BEGIN: &str = "-----BEGIN PGP PUBLIC KEY BLOCK-----";
const PUBLIC_END: &str = "-----END PGP PUBLIC KEY BLOCK-----";
pub(crate) const PRIVATE_BEGIN: &str = "-----BEGIN PGP PRIVATE KEY BLOCK-----";
pub(crate) const PRIVATE_END: &str = "-----END PGP PRIVATE KEY BLOCK-----";

/// A trusted public key, reduced to the self-signatures that verify.
#[derive(Clone)]
pub struct PublicKey {
    pub(crate) eval: Evaluated,
}

impl PublicKey {
    pub(crate) fn from_signed(key: SignedPublicKey) -> Result<PublicKey, SignError> {
        Ok(PublicKey {
            eval: validity::evaluate(key)?,
        })
    }

    /// Exactly one key, armored (`gpg --armor --export`) or binary (`gpg --export`).
    pub fn from_armored_or_binary(bytes: &[u8]) -> Result<PublicKey, SignError> {
        let mut keys = Self::all_from_armored_or_binary(bytes)?;
        match keys.len() {
            0 => Err(SignError::NoKey),
            1 => Ok(keys.remove(0)),
            count => Err(SignError::SeveralKeys { count }),
        }
    }

    /// Every key in a GnuPG export: several armor blocks, or one binary stream of keys.
    /// Returns an empty list if there is no key at all.
    pub fn all_from_armored_or_binary(bytes: &[u8]) -> Result<Vec<PublicKey>, SignError> {
        parse_certificates(bytes)?
            .into_iter()
            .map(PublicKey::from_signed)
            .collect()
    }

    /// The key as trusted: only self-signatures that verify are kept (third-party
    /// certifications, user attributes and unbound subkeys are left out).
    pub fn to_armored(&self) -> String {
        self.eval
            .key
            .to_armored_string(ArmorOptions::default())
            .expect("serialising an in-memory public key cannot fail")
    }

    /// Primary key fingerprint, uppercase hex (40 characters for v4 keys).
    pub fn fingerprint(&self) -> String {
        self.eval.primary.fp_hex.clone()
    }

    /// Fingerprints of subkeys that may make signatures (bound, flagged, back-signed).
    pub fn signing_subkeys(&self) -> Vec<String> {
        self.eval
            .subkeys
            .iter()
            .filter(|c| c.can_sign)
            .map(|c| c.fp_hex.clone())
            .collect()
    }

    /// Self-signed, non-revoked user IDs; the primary one first.
    pub fn user_ids(&self) -> Vec<String> {
        self.eval.user_ids.clone()
    }

    pub fn created(&self) -> SystemTime {
        crate::time::to_system(self.eval.primary.created)
    }

    /// When the primary key expires, from its newest self-signature (`None`: never).
    pub fn expires(&self) -> Option<SystemTime> {
        self.eval.primary.expires
    }

    /// Whether the primary key carries a valid revocation signature.
    pub fn is_revoked(&self) -> bool {
        self.eval.primary.revoked
    }

    /// Primary key followed by subkeys.
    pub(crate) fn components(&self) -> impl Iterator<Item = &Component> {
        std::iter::once(&self.eval.primary).chain(self.eval.subkeys.iter())
    }

    /// Check the mathematics of `sig` over `data` against one component of this key.
    pub(crate) fn verify_with(
        &self,
        component: &Component,
        sig: &pgp::packet::Signature,
        data: &[u8],
    ) -> bool {
        match component.subkey {
            None => sig.verify(&self.eval.key.primary_key, data).is_ok(),
            Some(i) => sig
                .verify(&self.eval.key.public_subkeys[i].key, data)
                .is_ok(),
        }
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PublicKey")
            .field("fingerprint", &self.eval.primary.fp_hex)
            .field("user_ids", &self.eval.user_ids)
            .finish_non_exhaustive()
    }
}

fn is_binary(bytes: &[u8]) -> bool {
    bytes.first().is_some_and(|b| b & 0x80 != 0)
}

/// The armor blocks between `begin` and `end` lines, in order.
pub(crate) fn armor_blocks<'a>(
    text: &'a str,
    begin: &str,
    end: &str,
) -> Result<Vec<&'a str>, SignError> {
    let mut blocks = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find(begin) {
        let after = &rest[start..];
        let Some(stop) = after.find(end) else {
            return Err(SignError::parse(
                "the armored block has no END line; the file is truncated",
            ));
        };
        blocks.push(&after[..stop + end.len()]);
        rest = &after[stop + end.len()..];
    }
    Ok(blocks)
}

/// Text editors on other systems may prefix a UTF-8 byte-order mark.
pub(crate) fn strip_bom(bytes: &[u8]) -> &[u8] {
    bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes)
}

fn parse_certificates(bytes: &[u8]) -> Result<Vec<SignedPublicKey>, SignError> {
    let bytes = strip_bom(bytes);
    if is_binary(bytes) {
        let keys = SignedPublicKey::from_bytes_many(bytes)
            .map_err(SignError::parse)?
            .collect::<Result<Vec<_>, _>>()
            .map_err(SignError::parse)?;
        if keys.is_empty() && binary_holds_secret_key(bytes) {
            return Err(SignError::SecretKeyMaterial);
        }
        return Ok(keys);
    }
    let text = std::str::from_utf8(bytes)
        .map_err(|_| SignError::parse("neither binary OpenPGP data nor ASCII armor"))?;
    if text.contains(PRIVATE_BEGIN) {
        return Err(SignError::SecretKeyMaterial);
    }
    let mut keys = Vec::new();
    for block in armor_blocks(text, PUBLIC_BEGIN, PUBLIC_END)? {
        let (iter, _headers) =
            SignedPublicKey::from_armor_many(block.as_bytes()).map_err(SignError::parse)?;
        for key in iter {
            keys.push(key.map_err(SignError::parse)?);
        }
    }
    Ok(keys)
}

fn binary_holds_secret_key(bytes: &[u8]) -> bool {
    SignedSecretKey::from_bytes_many(bytes)
        .map(|mut it| matches!(it.next(), Some(Ok(_))))
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_armor_blocks() {
        let text =
            format!("junk\n{PUBLIC_BEGIN}\nA\n{PUBLIC_END}\n\n{PUBLIC_BEGIN}\nB\n{PUBLIC_END}\n");
        let blocks = armor_blocks(&text, PUBLIC_BEGIN, PUBLIC_END).unwrap();
        assert_eq!(blocks.len(), 2);
        assert!(blocks[0].contains("\nA\n") && blocks[1].contains("\nB\n"));
        let truncated = format!("{PUBLIC_BEGIN}\nA\n");
        assert!(armor_blocks(&truncated, PUBLIC_BEGIN, PUBLIC_END).is_err());
    }

    #[test]
    fn rejects_garbage_and_empty() {
        assert!(matches!(
            PublicKey::from_armored_or_binary(b"hello world\n"),
            Err(SignError::NoKey)
        ));
        assert!(matches!(
            PublicKey::from_armored_or_binary(b""),
            Err(SignError::NoKey)
        ));
        assert!(PublicKey::from_armored_or_binary(&[0x99, 0x01, 0x02]).is_err());
        let bad = format!("{PUBLIC_BEGIN}\n\nnot base64 at all !!!\n{PUBLIC_END}\n");
        assert!(matches!(
            PublicKey::from_armored_or_binary(bad.as_bytes()),
            Err(SignError::Parse { .. })
        ));
    }
}
