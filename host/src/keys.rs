//! Decompressed ed25519 public keys, kept between the signatures that use them.
//!
//! `verify_strict` starts by decompressing the signer's key, a square root in the field that
//! costs about a tenth of the whole check. A chain checks the same few keys over and over (its
//! validators' votes, its reporters' envelopes), so the runtime's verifier keeps each key it has
//! decompressed. Decompression is a pure function of the key's 32 bytes, so a kept key gives
//! exactly the verdict of [`warden_module::crypto::Ed25519Strict`]; keys that do not decompress
//! are not kept and are refused as that verifier refuses them.
//!
//! Bounded: a cache holds at most [`KeyCache::CAPACITY`] keys and starts over when full, so a
//! stream of new keys costs what it costs without a cache and never grows memory.

use std::collections::HashMap;
use std::sync::Mutex;

use ed25519_dalek::{Signature as DalekSignature, VerifyingKey};

use warden_module::crypto::Verifier;
use warden_module::wire::{PublicKey, Signature};

/// Decompressed keys by their encoding: every key that decodes and that the cache's rule
/// accepts, the rule being fixed when the cache is made.
#[derive(Clone, Debug)]
pub struct KeyCache {
    accept: fn(&PublicKey) -> bool,
    keys: HashMap<PublicKey, VerifyingKey>,
}

impl Default for KeyCache {
    /// A cache of every key that decodes.
    fn default() -> Self {
        Self::accepting(|_| true)
    }
}

impl KeyCache {
    /// The most keys kept (about 1 MiB).
    pub const CAPACITY: usize = 4_096;

    /// A cache of the keys that decode and that `accept` holds for.
    pub fn accepting(accept: fn(&PublicKey) -> bool) -> Self {
        Self {
            accept,
            keys: HashMap::new(),
        }
    }

    /// The decompressed `key` if it decodes and the rule accepts it; kept only then, so a
    /// refusal is decided afresh each time (by the same pure functions).
    pub fn get(&mut self, key: &PublicKey) -> Option<&VerifyingKey> {
        if !self.keys.contains_key(key) {
            let decoded = VerifyingKey::from_bytes(&key.0).ok()?;
            if !(self.accept)(key) {
                return None;
            }
            if self.keys.len() >= Self::CAPACITY {
                self.keys.clear();
            }
            self.keys.insert(*key, decoded);
        }
        self.keys.get(key)
    }

    /// Keys kept.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether no key is kept.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

/// `verify_strict` under an already decompressed key.
pub fn strict(key: &VerifyingKey, message: &[u8], signature: &Signature) -> bool {
    key.verify_strict(message, &DalekSignature::from_bytes(&signature.0))
        .is_ok()
}

/// A [`KeyCache`] shared by the threads that verify through one [`Verifier`].
#[derive(Debug, Default)]
pub struct SharedKeyCache(Mutex<KeyCache>);

impl Verifier for SharedKeyCache {
    fn verify(&self, key: &PublicKey, message: &[u8], signature: &Signature) -> bool {
        let decoded = {
            // A panic while the lock was held leaves the map as consistent as ever.
            let mut cache = self.0.lock().unwrap_or_else(|e| e.into_inner());
            cache.get(key).copied()
        };
        // The check itself runs outside the lock.
        decoded.is_some_and(|key| strict(&key, message, signature))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::{Signer, SigningKey};
    use warden_module::crypto::Ed25519Strict;

    fn signed(seed: u8, message: &[u8]) -> (PublicKey, Signature) {
        let key = SigningKey::from_bytes(&[seed; 32]);
        (
            PublicKey(key.verifying_key().to_bytes()),
            Signature(key.sign(message).to_bytes()),
        )
    }

    #[test]
    fn a_kept_key_gives_the_verdicts_of_the_uncached_verifier() {
        let shared = SharedKeyCache::default();
        let (key, signature) = signed(1, b"vote");
        let mut bad = signature;
        bad.0[3] ^= 1;
        // The identity (y = 1) decodes but is small-order: verify_strict refuses it.
        let mut identity = [0u8; 32];
        identity[0] = 1;
        // y = 2 is not on the curve.
        let mut off_curve = [0u8; 32];
        off_curve[0] = 2;
        let cases = [
            (key, &b"vote"[..], signature),
            (key, &b"vote"[..], bad),
            (key, &b"other"[..], signature),
            (PublicKey(identity), &b"vote"[..], signature),
            (PublicKey(off_curve), &b"vote"[..], signature),
        ];
        // Twice: the second pass runs on kept keys.
        for _ in 0..2 {
            for (key, message, signature) in &cases {
                let expected = Ed25519Strict.verify(key, message, signature);
                assert_eq!(shared.verify(key, message, signature), expected);
            }
        }
        assert!(Ed25519Strict.verify(&key, b"vote", &signature));
    }

    #[test]
    fn a_key_that_does_not_decode_or_is_not_accepted_is_not_kept() {
        let mut cache = KeyCache::default();
        let mut off_curve = [0u8; 32];
        off_curve[0] = 2;
        assert!(cache.get(&PublicKey(off_curve)).is_none());
        let (key, _) = signed(2, b"");
        let mut refusing = KeyCache::accepting(|_| false);
        assert!(refusing.get(&key).is_none());
        assert!(refusing.is_empty());
        assert!(cache.is_empty());
        assert!(cache.get(&key).is_some());
        assert_eq!(cache.len(), 1);
    }

    #[test]
    fn a_full_cache_starts_over_rather_than_growing() {
        let mut cache = KeyCache::default();
        let key = |i: usize| {
            let mut seed = [0u8; 32];
            seed[..8].copy_from_slice(&(i as u64).to_le_bytes());
            PublicKey(SigningKey::from_bytes(&seed).verifying_key().to_bytes())
        };
        for i in 0..=KeyCache::CAPACITY {
            assert!(cache.get(&key(i)).is_some());
            assert!(cache.len() <= KeyCache::CAPACITY);
        }
        assert_eq!(cache.len(), 1);
    }
}
