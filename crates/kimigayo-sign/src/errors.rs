//! Errors, worded for the person who has to fix the problem.
//!
//! Callers prefix these with the file or package concerned; the messages themselves say what
//! went wrong and what to do about it.

use std::path::PathBuf;
use std::time::SystemTime;

use crate::time::format_utc;

/// Where trusted keys live on an installed system (for messages).
pub(crate) const KEYS_DIR: &str = "/etc/kimigayo/keys";

/// Problems with keys: reading, generating, exporting, signing.
#[derive(Debug, thiserror::Error)]
pub enum SignError {
    /// The bytes are not a readable OpenPGP key.
    #[error("cannot read the OpenPGP key ({detail}): the data is damaged or not a key; export the key from GnuPG again (`gpg --armor --export FINGERPRINT`, or `--export-secret-keys` for a signing key)")]
    Parse { detail: String },

    /// Parsing worked but found no key.
    #[error("no OpenPGP public key found: the file must hold a key exported with `gpg --armor --export FINGERPRINT`")]
    NoKey,

    /// A single key was expected.
    #[error("found {count} OpenPGP keys where one was expected: put each key in its own file")]
    SeveralKeys { count: usize },

    /// Secret key material where only public keys belong.
    #[error("this is a SECRET key, which must never be placed among trusted keys: delete it and use the public part (`gpg --armor --export FINGERPRINT`)")]
    SecretKeyMaterial,

    /// The key has no usable self-signature, or uses parameters we refuse.
    #[error("key {fingerprint} cannot be used: {reason}")]
    InvalidKey { fingerprint: String, reason: String },

    /// The secret key is protected by a passphrase, which this crate does not handle.
    #[error("secret key {fingerprint} is protected by a passphrase, which is not supported: export an unprotected copy for the signing machine (`gpg --passwd` to an empty passphrase, then `gpg --armor --export-secret-keys`)")]
    ProtectedSecretKey { fingerprint: String },

    /// Signing was asked of a key that cannot sign now.
    #[error("secret key {fingerprint} cannot sign: {reason}")]
    CannotSign { fingerprint: String, reason: String },

    /// Key generation failed inside the OpenPGP library.
    #[error("could not generate a key: {detail}")]
    Generate { detail: String },

    /// Signing failed inside the OpenPGP library.
    #[error("could not sign: {detail}")]
    Sign { detail: String },

    /// A key file in a key directory was unreadable or bad.
    #[error("key file {}: {source}", path.display())]
    KeyFile {
        path: PathBuf,
        #[source]
        source: Box<SignError>,
    },

    /// I/O failure on a path.
    #[error("cannot read {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl SignError {
    pub(crate) fn parse(err: impl std::fmt::Display) -> Self {
        SignError::Parse {
            detail: plain_parse_error(&err.to_string(), "a key"),
        }
    }
}

/// rPGP's parser messages are written for developers (some embed byte dumps); say the gist.
pub(crate) fn plain_parse_error(raw: &str, expected: &str) -> String {
    if let Some(found) = raw.strip_prefix("unexpected block type: ") {
        return format!("it is a {found}, not {expected}");
    }
    if raw.contains("unexpected packet") {
        return format!("it holds OpenPGP data other than {expected}");
    }
    if raw.contains("armor header") {
        return "it has no OpenPGP armor header, so it is not OpenPGP data".into();
    }
    if raw.contains("armor") || raw.contains("base64") || raw.contains("checksum") {
        return "its ASCII armor is damaged or cut short".into();
    }
    if raw.contains("IO error") || raw.contains("not enough bytes") || raw.contains("packet header")
    {
        return "it is not OpenPGP data, or it is cut short".into();
    }
    // Keep the message, but never a debug dump.
    let gist = raw.split(" Error(").next().unwrap_or(raw);
    gist.chars().take(160).collect()
}

/// Why a signature was not accepted. Every case means: do not use the data.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// Not a signature, truncated, or a kind of signature we do not accept.
    #[error("the signature is unusable ({0}): it is damaged or not a detached OpenPGP signature; download it again, and if that does not help, report it to the publisher")]
    Malformed(String),

    /// No trusted key matches the signature's issuer.
    #[error("the signature was made by key {issuer}, which is not trusted: if you trust its publisher, import it into {KEYS_DIR} with `kpkg key import`")]
    UnknownKey { issuer: String },

    /// The mathematics failed: data or signature changed.
    #[error("the signature by key {key} does not match the data: the file or its signature was changed or damaged; do not use it, download both again")]
    BadSignature { key: String },

    /// The signing key (or its primary key) carries a valid revocation.
    #[error("key {key} has been revoked by its owner and is no longer trusted: install the publisher's new key with `kpkg key import` and remove the old one from {KEYS_DIR}")]
    RevokedKey { key: String },

    /// The signing key (or its primary key) has expired.
    #[error("key {key} expired on {}: import a refreshed copy of the key with `kpkg key import`, or check that the system clock is right", format_utc(*expired))]
    ExpiredKey { key: String, expired: SystemTime },

    /// The signature itself carries an expiration time that has passed.
    #[error("the signature expired on {}: download a freshly signed copy", format_utc(*expired))]
    ExpiredSignature { expired: SystemTime },

    /// A digest algorithm outside the accepted list.
    #[error("the signature uses the hash algorithm {hash}, which is too weak to trust (only SHA-256, SHA-384, SHA-512 and SHA3 are accepted): ask the publisher to sign again with SHA-256 or stronger")]
    WeakHash { hash: String },

    /// The key that signed is not allowed to sign (key flags, or unbound signing subkey).
    #[error("key {key} is not allowed to make signatures (its key flags forbid it): the publisher must sign with a signing-capable key")]
    NotSigningCapable { key: String },

    /// Creation time too far after `now`.
    #[error("the signature claims to be made on {}, in the future: check that the system clock is right (`date`)", format_utc(*created))]
    FromFuture { created: SystemTime },
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::UNIX_EPOCH;

    #[test]
    fn parser_noise_is_summarised() {
        let dump =
            "IO error: failed reading: armor footer Error(Error { input: [65, 67], code: Tag })";
        let plain = plain_parse_error(dump, "a signature");
        assert_eq!(plain, "its ASCII armor is damaged or cut short");
        assert_eq!(
            plain_parse_error("unexpected block type: PGP PUBLIC KEY BLOCK", "a signature"),
            "it is a PGP PUBLIC KEY BLOCK, not a signature"
        );
        let odd = plain_parse_error("something new Error(Error { input: [1] })", "a key");
        assert_eq!(odd, "something new");
    }

    #[test]
    fn every_verify_error_says_what_to_do() {
        let t = UNIX_EPOCH;
        let key = "0123456789ABCDEF0123456789ABCDEF01234567".to_string();
        let all = [
            VerifyError::Malformed("cut short".into()),
            VerifyError::UnknownKey {
                issuer: key.clone(),
            },
            VerifyError::BadSignature { key: key.clone() },
            VerifyError::RevokedKey { key: key.clone() },
            VerifyError::ExpiredKey {
                key: key.clone(),
                expired: t,
            },
            VerifyError::ExpiredSignature { expired: t },
            VerifyError::WeakHash {
                hash: "SHA1".into(),
            },
            VerifyError::NotSigningCapable { key: key.clone() },
            VerifyError::FromFuture { created: t },
        ];
        for err in all {
            let text = err.to_string();
            let (what, todo) = text.split_once(": ").expect("problem: remedy");
            assert!(!what.is_empty() && todo.len() > 15, "{text}");
            assert!(!text.contains("Error("), "{text}");
        }
        let unknown = VerifyError::UnknownKey {
            issuer: key.clone(),
        }
        .to_string();
        assert!(unknown.contains(&key) && unknown.contains("kpkg key import"));
        assert!(VerifyError::ExpiredKey { key, expired: t }
            .to_string()
            .contains("1970-01-01 00:00:00 UTC"));
    }
}
