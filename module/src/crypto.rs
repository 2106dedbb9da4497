//! Signature verification behind a trait, so each runtime can supply its cheapest strict
//! verifier (in wasm, ed25519-dalek's `verify_strict`; on CosmWasm, the VM's host function).

use ed25519_dalek::{Signature as DalekSignature, VerifyingKey};

use crate::wire::{PublicKey, Signature};

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

/// Whether `key` is a valid, non-weak (not small-order) ed25519 public key.
pub fn is_strong_key(key: &PublicKey) -> bool {
    VerifyingKey::from_bytes(&key.0).is_ok_and(|k| !k.is_weak())
}
