//! Secret keys: generation (v4 EdDSA legacy, which GnuPG 2.2 understands) and signing.

use std::time::{Duration, SystemTime};

use pgp::composed::{
    ArmorOptions, Deserializable, DetachedSignature, KeyType, SecretKeyParamsBuilder,
    SignedSecretKey,
};
use pgp::crypto::hash::HashAlgorithm;
use pgp::packet::{SignatureConfig, SignatureType, Subpacket, SubpacketData};
use pgp::types::{KeyDetails, KeyVersion, Password, SigningKey, Tag};

use crate::errors::SignError;
use crate::keys::{armor_blocks, strip_bom, PublicKey, PRIVATE_BEGIN, PRIVATE_END};
use crate::validity::fp_hex;

/// Digest used for every signature this crate makes.
const SIGNING_HASH: HashAlgorithm = HashAlgorithm::Sha256;

/// An unprotected OpenPGP secret key (a transferable secret key).
#[derive(Clone)]
pub struct SecretKey {
    pub(crate) key: SignedSecretKey,
    public: PublicKey,
}

impl SecretKey {
    /// A new v4 EdDSA (legacy, curve 25519) key that can sign and certify, with one user ID,
    /// expiring `expires_in` after now (`None`: never).
    pub fn generate(user_id: &str, expires_in: Option<Duration>) -> Result<SecretKey, SignError> {
        let fail = |e: &dyn std::fmt::Display| SignError::Generate {
            detail: e.to_string(),
        };
        if user_id.trim().is_empty() || user_id.contains(['\n', '\r']) {
            return Err(fail(
                &"the user ID must be one non-empty line, like `Name <mail@example.org>`",
            ));
        }
        let period = match expires_in {
            None => None,
            Some(d) if d.as_secs() == 0 => {
                return Err(fail(&"the validity period must be at least one second"))
            }
            Some(d) => Some(pgp::types::Duration::try_from(d).map_err(|e| fail(&e))?),
        };
        let mut rng = rand::thread_rng();
        let params = SecretKeyParamsBuilder::default()
            .version(KeyVersion::V4)
            .key_type(KeyType::Ed25519Legacy)
            .can_certify(true)
            .can_sign(true)
            .primary_user_id(user_id.to_string())
            .passphrase(None)
            .build()
            .map_err(|e| fail(&e))?;
        let mut key = params.generate(&mut rng).map_err(|e| fail(&e))?;
        if let Some(period) = period {
            set_expiration(&mut key, period).map_err(|e| fail(&e))?;
        }
        Self::from_signed(key)
    }

    pub(crate) fn from_signed(key: SignedSecretKey) -> Result<SecretKey, SignError> {
        let public = PublicKey::from_signed(key.to_public_key())?;
        Ok(SecretKey { key, public })
    }

    /// Read an unprotected secret key: armored, or binary (`gpg --export-secret-keys`).
    pub fn from_armored(text: &str) -> Result<SecretKey, SignError> {
        Self::from_bytes(text.as_bytes())
    }

    /// Like [`SecretKey::from_armored`], for data that may be binary.
    pub fn from_bytes(bytes: &[u8]) -> Result<SecretKey, SignError> {
        let bytes = strip_bom(bytes);
        let mut keys: Vec<SignedSecretKey> = if bytes.first().is_some_and(|b| b & 0x80 != 0) {
            SignedSecretKey::from_bytes_many(bytes)
                .map_err(SignError::parse)?
                .collect::<Result<_, _>>()
                .map_err(SignError::parse)?
        } else {
            let text = std::str::from_utf8(bytes)
                .map_err(|_| SignError::parse("neither binary OpenPGP data nor ASCII armor"))?;
            let mut keys = Vec::new();
            for block in armor_blocks(text, PRIVATE_BEGIN, PRIVATE_END)? {
                let (iter, _) =
                    SignedSecretKey::from_armor_many(block.as_bytes()).map_err(SignError::parse)?;
                for key in iter {
                    keys.push(key.map_err(SignError::parse)?);
                }
            }
            keys
        };
        match keys.len() {
            0 => Err(SignError::parse("no OpenPGP secret key found")),
            1 => Self::from_signed(keys.remove(0)),
            count => Err(SignError::SeveralKeys { count }),
        }
    }

    pub fn to_armored(&self) -> String {
        self.key
            .to_armored_string(ArmorOptions::default())
            .expect("serialising an in-memory secret key cannot fail")
    }

    pub fn public(&self) -> PublicKey {
        self.public.clone()
    }

    pub fn fingerprint(&self) -> String {
        self.public.fingerprint()
    }

    /// An armored, binary-mode detached signature over `data` (SHA-256, with issuer fingerprint
    /// and creation time). Like GnuPG, uses the newest usable signing subkey, else the primary.
    pub fn sign(&self, data: &[u8]) -> Result<String, SignError> {
        let now = SystemTime::now();
        let eval = &self.public.eval;
        let usable = |c: &&crate::validity::Component| {
            c.can_sign && !c.revoked && !matches!(c.expires, Some(e) if e <= now)
        };
        let cannot = |reason: &str| SignError::CannotSign {
            fingerprint: self.fingerprint(),
            reason: reason.to_string(),
        };
        if eval.primary.revoked {
            return Err(cannot("it has been revoked"));
        }
        if eval.primary.expires.is_some_and(|e| e <= now) {
            return Err(cannot(
                "it has expired; extend it with `gpg --quick-set-expire`",
            ));
        }
        let subkey = eval
            .subkeys
            .iter()
            .filter(usable)
            .filter_map(|c| {
                self.key
                    .secret_subkeys
                    .iter()
                    .find(|s| s.key.fingerprint() == c.fingerprint)
                    .filter(|s| !s.key.secret_params().is_encrypted())
                    .map(|s| (c.created.as_secs(), s))
            })
            .max_by_key(|(created, _)| *created);
        let signature = match subkey {
            Some((_, sub)) => detached(&sub.key, data),
            None if usable(&&eval.primary) => {
                if self.key.primary_key.secret_params().is_encrypted() {
                    return Err(SignError::ProtectedSecretKey {
                        fingerprint: self.fingerprint(),
                    });
                }
                detached(&self.key.primary_key, data)
            }
            None => return Err(cannot("neither it nor any subkey is allowed to sign")),
        }?;
        signature
            .to_armored_string(ArmorOptions::default())
            .map_err(|e| SignError::Sign {
                detail: e.to_string(),
            })
    }
}

fn detached(key: &impl SigningKey, data: &[u8]) -> Result<DetachedSignature, SignError> {
    DetachedSignature::sign_binary_data(
        rand::thread_rng(),
        key,
        &Password::empty(),
        SIGNING_HASH,
        data,
    )
    .map_err(|e| SignError::Sign {
        detail: e.to_string(),
    })
}

/// Re-make every user ID self-signature with a key expiration time subpacket added.
fn set_expiration(
    key: &mut SignedSecretKey,
    period: pgp::types::Duration,
) -> pgp::errors::Result<()> {
    let primary = &key.primary_key;
    for user in &mut key.details.users {
        let mut renewed = Vec::with_capacity(user.signatures.len());
        for old in &user.signatures {
            let Some(old_config) = old.config() else {
                continue;
            };
            let mut config = SignatureConfig::v4(
                SignatureType::CertPositive,
                primary.algorithm(),
                SIGNING_HASH,
            );
            config.hashed_subpackets = old_config
                .hashed_subpackets()
                .filter(|p| !matches!(p.data, SubpacketData::KeyExpirationTime(_)))
                .cloned()
                .collect();
            config
                .hashed_subpackets
                .push(Subpacket::regular(SubpacketData::KeyExpirationTime(
                    period,
                ))?);
            config.unhashed_subpackets = old_config.unhashed_subpackets().cloned().collect();
            renewed.push(config.sign_certification(
                primary,
                primary.public_key(),
                &Password::empty(),
                Tag::UserId,
                &user.id,
            )?);
        }
        user.signatures = renewed;
    }
    Ok(())
}

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretKey")
            .field("fingerprint", &fp_hex(&self.key.primary_key.fingerprint()))
            .finish_non_exhaustive()
    }
}
