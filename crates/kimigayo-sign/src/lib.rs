//! OpenPGP for Kimigayo OS: signing keys, the keyring of trusted keys, and detached signatures
//! over packages and the repository index.
//!
//! This crate is the only place that touches OpenPGP (through rPGP). It owns the trust
//! decisions that rPGP leaves to its caller: which hashes are acceptable, which self-signatures
//! count, key expiry and revocation, signing-capable subkeys, and clock skew. Keys are v4
//! EdDSA-legacy (or RSA from GnuPG) and signatures binary-mode, so GnuPG 2.2 can check them.
//!
//! ```
//! # use kimigayo_sign::*;
//! let key = SecretKey::generate("Kimigayo packages <packages@example.org>", None)?;
//! let sig = key.sign(b"package bytes")?;
//! let mut ring = Keyring::new();
//! ring.add(key.public(), "generated");
//! let ok = ring.verify(b"package bytes", sig.as_bytes(), std::time::SystemTime::now()).unwrap();
//! assert_eq!(ok.fingerprint, key.fingerprint());
//! # Ok::<(), SignError>(())
//! ```

mod errors;
mod keyring;
mod keys;
mod secret;
mod time;
mod validity;
mod verify;

pub use errors::{SignError, VerifyError};
pub use keyring::{Keyring, KEY_FILE_EXTENSIONS};
pub use keys::PublicKey;
pub use secret::SecretKey;
pub use verify::Verified;
