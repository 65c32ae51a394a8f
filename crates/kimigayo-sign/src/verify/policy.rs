//! What we accept, beyond the mathematics: hashes, algorithms, clocks, critical subpackets.

use std::time::Duration;

use pgp::crypto::hash::HashAlgorithm;
use pgp::crypto::public_key::PublicKeyAlgorithm;
use pgp::packet::{Signature, SubpacketData};

/// How far a signature's creation time may lie after "now" (clock skew between machines).
pub(crate) const MAX_CLOCK_SKEW: Duration = Duration::from_secs(5 * 60);

/// Digest algorithms accepted for data signatures and self-signatures: at least 256 bits from
/// the SHA-2 or SHA-3 families. SHA-1, MD5, RIPEMD-160 and SHA-224 are refused.
pub(crate) fn hash_accepted(hash: HashAlgorithm) -> bool {
    matches!(
        hash,
        HashAlgorithm::Sha256
            | HashAlgorithm::Sha384
            | HashAlgorithm::Sha512
            | HashAlgorithm::Sha3_256
            | HashAlgorithm::Sha3_512
    )
}

/// Public-key algorithms we let make signatures. DSA and Elgamal are refused (small, legacy
/// parameters); RSA key size is not checked here.
pub(crate) fn signing_algorithm_accepted(alg: PublicKeyAlgorithm) -> bool {
    matches!(
        alg,
        PublicKeyAlgorithm::RSA
            | PublicKeyAlgorithm::RSASign
            | PublicKeyAlgorithm::ECDSA
            | PublicKeyAlgorithm::EdDSALegacy
            | PublicKeyAlgorithm::Ed25519
            | PublicKeyAlgorithm::Ed448
    )
}

/// A hashed subpacket marked critical that we do not understand makes the signature invalid
/// (RFC 9580, section 5.2.3.7). Returns a description of the first such subpacket.
pub(crate) fn unknown_critical(sig: &Signature) -> Option<String> {
    let config = sig.config()?;
    config.hashed_subpackets().find_map(|p| {
        if !p.is_critical {
            return None;
        }
        match &p.data {
            SubpacketData::Experimental(t, _) | SubpacketData::Other(t, _) => {
                Some(format!("unknown critical subpacket type {t}"))
            }
            SubpacketData::Notation(n) => Some(format!(
                "critical notation {}",
                String::from_utf8_lossy(&n.name)
            )),
            _ => None,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_list() {
        for ok in [
            HashAlgorithm::Sha256,
            HashAlgorithm::Sha384,
            HashAlgorithm::Sha512,
        ] {
            assert!(hash_accepted(ok), "{ok}");
        }
        for weak in [
            HashAlgorithm::Md5,
            HashAlgorithm::Sha1,
            HashAlgorithm::Ripemd160,
            HashAlgorithm::Sha224,
            HashAlgorithm::None,
        ] {
            assert!(!hash_accepted(weak), "{weak}");
        }
    }

    #[test]
    fn algorithm_list() {
        assert!(signing_algorithm_accepted(PublicKeyAlgorithm::EdDSALegacy));
        assert!(signing_algorithm_accepted(PublicKeyAlgorithm::RSA));
        assert!(!signing_algorithm_accepted(PublicKeyAlgorithm::DSA));
        assert!(!signing_algorithm_accepted(PublicKeyAlgorithm::ECDH));
        assert!(!signing_algorithm_accepted(PublicKeyAlgorithm::RSAEncrypt));
    }
}
