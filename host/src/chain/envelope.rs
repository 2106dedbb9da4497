//! Signed transaction envelopes.
//!
//! ```text
//! Envelope = borsh { chain_id: u64, sender: [u8; 32], nonce: u64,
//!                    payload: u32 length + bytes (at most MAX_TX_BYTES), signature: [u8; 64] }
//! signed bytes = "WARDEN-TX" || version: u8 = 1 || chain_id: u64 LE || sender (32 bytes)
//!                || nonce: u64 LE || SHA-256(payload)
//! transaction hash = SHA-256("WARDEN-TXID" || borsh(Envelope))
//! ```
//!
//! The payload is a borsh [`warden_module::msg::Msg`]; the runtime does not decode it, the
//! module does. Signatures are checked with `verify_strict`, and weak (small-order) sender keys
//! are refused.

use borsh::{BorshDeserialize, BorshSerialize};
use ed25519_dalek::{SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

use warden_module::codec::{decode, encode, BoundedBytes};
use warden_module::crypto::is_strong_key;
use warden_module::msg::MAX_TX_BYTES;
use warden_module::wire::{PublicKey, Signature};

use super::root::Hash;
use crate::keys::{self, KeyCache};

/// The domain tag of a transaction's signed bytes.
pub const TX_DOMAIN_TAG: &[u8; 9] = b"WARDEN-TX";
/// The version of the transaction signing format.
pub const TX_SIGNING_VERSION: u8 = 1;
/// The largest encoded envelope: the largest payload and the fixed fields.
pub const MAX_ENVELOPE_BYTES: usize = MAX_TX_BYTES + 8 + 32 + 8 + 4 + 64;

/// A signed transaction.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Envelope {
    /// The chain it is meant for.
    pub chain_id: u64,
    /// Its sender, who becomes the module's caller.
    pub sender: PublicKey,
    /// The sender's nonce: 0 for its first transaction, then one more each time.
    pub nonce: u64,
    /// A borsh `Msg`.
    pub payload: BoundedBytes<MAX_TX_BYTES>,
    /// The sender's signature over [`Envelope::signing_bytes`].
    pub signature: Signature,
}

/// Why an envelope is refused before it reaches the module.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EnvelopeError {
    /// Not a strict borsh envelope.
    #[error("malformed envelope")]
    Malformed,
    /// Over [`MAX_ENVELOPE_BYTES`].
    #[error("envelope of {size} bytes, over the limit of {limit}")]
    TooLarge {
        /// Its size.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// Signed for another chain.
    #[error("envelope for chain {found}, this chain is {expected}")]
    ForeignChain {
        /// This chain.
        expected: u64,
        /// The envelope's.
        found: u64,
    },
    /// An invalid or weak sender key.
    #[error("invalid or weak sender key")]
    WeakKey,
    /// The signature does not verify.
    #[error("bad signature")]
    BadSignature,
}

impl Envelope {
    /// The bytes the sender signs.
    pub fn signing_bytes(chain_id: u64, sender: &PublicKey, nonce: u64, payload: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(9 + 1 + 8 + 32 + 8 + 32);
        out.extend_from_slice(TX_DOMAIN_TAG);
        out.push(TX_SIGNING_VERSION);
        out.extend_from_slice(&chain_id.to_le_bytes());
        out.extend_from_slice(&sender.0);
        out.extend_from_slice(&nonce.to_le_bytes());
        out.extend_from_slice(&Sha256::digest(payload));
        out
    }

    /// Signs `payload` for `chain_id` with `key` at `nonce`. `None` if the payload is over
    /// [`MAX_TX_BYTES`].
    pub fn sign(chain_id: u64, key: &SigningKey, nonce: u64, payload: Vec<u8>) -> Option<Self> {
        use ed25519_dalek::Signer;
        let sender = PublicKey(key.verifying_key().to_bytes());
        let bytes = Self::signing_bytes(chain_id, &sender, nonce, &payload);
        let signature = Signature(key.sign(&bytes).to_bytes());
        Some(Self {
            chain_id,
            sender,
            nonce,
            payload: BoundedBytes::new(payload)?,
            signature,
        })
    }

    /// The encoded envelope.
    pub fn encode(&self) -> Vec<u8> {
        encode(self)
    }

    /// Decodes strictly: trailing bytes, oversized length prefixes and inputs over
    /// [`MAX_ENVELOPE_BYTES`] are refused.
    pub fn decode(bytes: &[u8]) -> Result<Self, EnvelopeError> {
        if bytes.len() > MAX_ENVELOPE_BYTES {
            return Err(EnvelopeError::TooLarge {
                size: bytes.len(),
                limit: MAX_ENVELOPE_BYTES,
            });
        }
        decode(bytes, MAX_ENVELOPE_BYTES).map_err(|_| EnvelopeError::Malformed)
    }

    /// The transaction hash.
    pub fn hash(&self) -> Hash {
        tx_hash(&self.encode())
    }

    /// Checks the chain id, the sender key and the signature (not the nonce: that needs state).
    pub fn check(&self, chain_id: u64) -> Result<(), EnvelopeError> {
        self.check_with(chain_id, &mut StrongKeys::default())
    }

    /// [`Envelope::check`], with the sender keys already found strong remembered in `strong`.
    pub fn check_with(&self, chain_id: u64, strong: &mut StrongKeys) -> Result<(), EnvelopeError> {
        if self.chain_id != chain_id {
            return Err(EnvelopeError::ForeignChain {
                expected: chain_id,
                found: self.chain_id,
            });
        }
        let Some(sender) = strong.get(&self.sender) else {
            return Err(EnvelopeError::WeakKey);
        };
        let bytes = Self::signing_bytes(
            self.chain_id,
            &self.sender,
            self.nonce,
            self.payload.as_bytes(),
        );
        if !keys::strict(sender, &bytes, &self.signature) {
            return Err(EnvelopeError::BadSignature);
        }
        Ok(())
    }
}

/// Sender keys already found strong, decompressed, so that a sender's key is checked and
/// decompressed once rather than with every transaction (a key's subgroup check costs about as
/// much as a signature check, its decompression a tenth of one). The answer for a key never
/// changes, so remembering it changes no verdict. Bounded ([`KeyCache::CAPACITY`]): when full,
/// it starts over.
#[derive(Clone, Debug)]
pub struct StrongKeys(KeyCache);

impl Default for StrongKeys {
    fn default() -> Self {
        Self(KeyCache::accepting(is_strong_key))
    }
}

impl StrongKeys {
    /// Whether `key` is strong ([`is_strong_key`]).
    pub fn is_strong(&mut self, key: &PublicKey) -> bool {
        self.get(key).is_some()
    }

    /// `key` decompressed, if it is strong.
    fn get(&mut self, key: &PublicKey) -> Option<&VerifyingKey> {
        self.0.get(key)
    }
}

/// The hash of an encoded envelope.
pub fn tx_hash(encoded: &[u8]) -> Hash {
    let mut hasher = Sha256::new();
    hasher.update(b"WARDEN-TXID");
    hasher.update(encoded);
    hasher.finalize().into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::key;

    #[test]
    fn a_signed_envelope_checks_and_a_changed_one_does_not() {
        let envelope = Envelope::sign(7, &key(1), 0, vec![1, 2, 3]).expect("small");
        let decoded = Envelope::decode(&envelope.encode()).expect("decodes");
        assert_eq!(decoded, envelope);
        assert_eq!(decoded.check(7), Ok(()));
        assert_eq!(
            decoded.check(8),
            Err(EnvelopeError::ForeignChain {
                expected: 8,
                found: 7
            })
        );
        let mut bumped = envelope.clone();
        bumped.nonce = 1;
        assert_eq!(bumped.check(7), Err(EnvelopeError::BadSignature));
        let mut trailing = envelope.encode();
        trailing.push(0);
        assert_eq!(Envelope::decode(&trailing), Err(EnvelopeError::Malformed));
    }

    #[test]
    fn a_sender_key_with_a_torsion_component_or_a_second_encoding_is_weak() {
        use curve25519_dalek::constants::EIGHT_TORSION;
        use curve25519_dalek::edwards::CompressedEdwardsY;
        let envelope = Envelope::sign(7, &key(1), 0, vec![1, 2, 3]).expect("small");
        let point = CompressedEdwardsY(envelope.sender.0)
            .decompress()
            .expect("a point");
        let mut torsioned = envelope.clone();
        torsioned.sender = PublicKey((point + EIGHT_TORSION[2]).compress().0);
        assert_eq!(torsioned.check(7), Err(EnvelopeError::WeakKey));
        // y = 3 + p: the curve library reads it as the point of y = 3.
        let mut aliased = envelope;
        let mut alias = [0xffu8; 32];
        alias[0] = 0xf0;
        alias[31] = 0x7f;
        aliased.sender = PublicKey(alias);
        assert_eq!(aliased.check(7), Err(EnvelopeError::WeakKey));
    }
}
