//! Signature verification behind a trait, so each runtime can supply its cheapest strict
//! verifier (in wasm, ed25519-dalek's `verify_strict`; on CosmWasm, the VM's host function).

use curve25519_dalek::edwards::CompressedEdwardsY;
use ed25519_dalek::{Signature as DalekSignature, VerifyingKey};

use crate::wire::{PublicKey, Signature};

/// The largest input of the module's `warden_verify` export: borsh `(key, message, signature)`
/// with a message of at most 64 KiB.
pub const MAX_VERIFY_BYTES: usize = 70_000;

/// Verifies one ed25519 signature. Implementations must be strict (reject small-order keys
/// and non-canonical encodings, as `verify_strict` does) and must never batch: batch
/// verification is not consensus-safe.
pub trait Verifier {
    /// Whether `signature` is a valid strict signature of `message` under `key`.
    fn verify(&self, key: &PublicKey, message: &[u8], signature: &Signature) -> bool;
}

/// ed25519-dalek's `verify_strict`.
#[derive(Clone, Copy, Debug, Default)]
pub struct Ed25519Strict;

impl Verifier for Ed25519Strict {
    fn verify(&self, key: &PublicKey, message: &[u8], signature: &Signature) -> bool {
        let Ok(key) = VerifyingKey::from_bytes(&key.0) else {
            return false;
        };
        let signature = DalekSignature::from_bytes(&signature.0);
        key.verify_strict(message, &signature).is_ok()
    }
}

/// Whether `key` is a key the module accepts as an identity: the canonical encoding of a point
/// of the prime-order subgroup other than the identity. Refused: encodings that do not decode,
/// non-canonical encodings (a y coordinate of at least p, or a negative zero x), small-order
/// points and points with a torsion component. So one point has one encoding and one identity,
/// and every signature under an accepted key verifies the same way under `verify_strict` and
/// under the cofactored check that some runtimes use (ZIP-215).
pub fn is_strong_key(key: &PublicKey) -> bool {
    let Some(point) = CompressedEdwardsY(key.0).decompress() else {
        return false;
    };
    point.compress().0 == key.0 && !point.is_small_order() && point.is_torsion_free()
}

#[cfg(test)]
mod tests {
    use super::*;
    use curve25519_dalek::constants::{ED25519_BASEPOINT_POINT, EIGHT_TORSION};

    #[test]
    fn an_ordinary_key_is_strong() {
        let point = ED25519_BASEPOINT_POINT * curve25519_dalek::Scalar::from(12345u64);
        assert!(is_strong_key(&PublicKey(point.compress().0)));
    }

    #[test]
    fn non_canonical_encoding_of_a_point_is_refused() {
        // y = 3 encoded canonically, and as y + p (the curve library reduces it to 3).
        let mut canonical = [0u8; 32];
        canonical[0] = 0x03;
        let mut aliased = [0xffu8; 32];
        aliased[0] = 0xf0;
        aliased[31] = 0x7f;
        let a = CompressedEdwardsY(canonical).decompress();
        let b = CompressedEdwardsY(aliased).decompress();
        assert!(a.is_some() && a == b, "two encodings of one point");
        assert!(!is_strong_key(&PublicKey(aliased)));
    }

    #[test]
    fn key_with_torsion_component_is_refused() {
        let point = ED25519_BASEPOINT_POINT * curve25519_dalek::Scalar::from(12345u64);
        for torsion in EIGHT_TORSION.iter().skip(1) {
            let mixed = point + torsion;
            assert!(!is_strong_key(&PublicKey(mixed.compress().0)));
        }
    }

    #[test]
    fn small_order_keys_are_refused() {
        for torsion in EIGHT_TORSION.iter() {
            assert!(!is_strong_key(&PublicKey(torsion.compress().0)));
        }
    }
}
