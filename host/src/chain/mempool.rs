//! The mempool: checked envelopes waiting for a block, bounded and deduplicated.
//!
//! Entries keep their arrival order, which is the order blocks take them in; two nodes fed the
//! same transactions in the same order build the same blocks.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use warden_module::wire::PublicKey;

use super::envelope::Envelope;
use super::root::Hash;

/// How far ahead of its committed nonce a sender may queue transactions.
pub const MAX_NONCE_AHEAD: u64 = 1_024;

/// A checked envelope and its hash.
#[derive(Clone, Debug)]
pub struct Pending {
    /// The transaction hash.
    pub hash: Hash,
    /// The envelope (chain id and signature already checked).
    pub envelope: Envelope,
}

/// Why the mempool refused an envelope.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum MempoolError {
    /// The same transaction is already waiting.
    #[error("already in the mempool")]
    Duplicate,
    /// The sender already used this nonce.
    #[error("nonce {nonce} already used (next is {next})")]
    NonceUsed {
        /// The envelope's.
        nonce: u64,
        /// The sender's next.
        next: u64,
    },
    /// The nonce is too far ahead of the sender's next one.
    #[error("nonce {nonce} too far ahead of the next ({next})")]
    NonceTooFarAhead {
        /// The envelope's.
        nonce: u64,
        /// The sender's next.
        next: u64,
    },
    /// Another waiting transaction has this sender and nonce.
    #[error("another transaction with this sender and nonce is waiting")]
    NonceTaken,
    /// The mempool is full.
    #[error("the mempool is full ({capacity} transactions)")]
    Full {
        /// Its capacity.
        capacity: usize,
    },
}

/// The mempool.
#[derive(Debug)]
pub struct Mempool {
    capacity: usize,
    queue: VecDeque<Pending>,
    hashes: BTreeSet<Hash>,
    slots: BTreeSet<(PublicKey, u64)>,
}

impl Mempool {
    /// An empty mempool holding at most `capacity` transactions.
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity: capacity.max(1),
            queue: VecDeque::new(),
            hashes: BTreeSet::new(),
            slots: BTreeSet::new(),
        }
    }

    /// Transactions waiting.
    pub fn len(&self) -> usize {
        self.queue.len()
    }

    /// Whether none are waiting.
    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    /// Whether `hash` is waiting.
    pub fn contains(&self, hash: &Hash) -> bool {
        self.hashes.contains(hash)
    }

    /// Whether a transaction from `sender` with `nonce` is waiting.
    pub fn has_slot(&self, sender: &PublicKey, nonce: u64) -> bool {
        self.slots.contains(&(*sender, nonce))
    }

    /// Admits a checked envelope whose sender's next committed nonce is `next`.
    pub fn insert(&mut self, pending: Pending, next: u64) -> Result<(), MempoolError> {
        let nonce = pending.envelope.nonce;
        if self.hashes.contains(&pending.hash) {
            return Err(MempoolError::Duplicate);
        }
        if nonce < next {
            return Err(MempoolError::NonceUsed { nonce, next });
        }
        if nonce - next >= MAX_NONCE_AHEAD {
            return Err(MempoolError::NonceTooFarAhead { nonce, next });
        }
        let slot = (pending.envelope.sender, nonce);
        if self.slots.contains(&slot) {
            return Err(MempoolError::NonceTaken);
        }
        if self.queue.len() >= self.capacity {
            return Err(MempoolError::Full {
                capacity: self.capacity,
            });
        }
        self.hashes.insert(pending.hash);
        self.slots.insert(slot);
        self.queue.push_back(pending);
        Ok(())
    }

    /// Takes up to `max` transactions for a block, in arrival order, each with the next nonce
    /// of its sender (`next` gives the committed one). Transactions whose nonce is already
    /// used are dropped; those whose turn has not come stay.
    pub fn take(&mut self, max: usize, next: impl Fn(&PublicKey) -> u64) -> Vec<Pending> {
        let mut expected: BTreeMap<PublicKey, u64> = BTreeMap::new();
        let mut taken = Vec::new();
        let mut kept = VecDeque::with_capacity(self.queue.len());
        // Repeat passes so that a sender's nonces arriving out of order still go in one block.
        let mut progress = true;
        let mut queue = std::mem::take(&mut self.queue);
        while progress && taken.len() < max {
            progress = false;
            for pending in queue.drain(..) {
                let sender = pending.envelope.sender;
                let want = *expected.entry(sender).or_insert_with(|| next(&sender));
                let nonce = pending.envelope.nonce;
                if taken.len() < max && nonce == want {
                    expected.insert(sender, want + 1);
                    self.forget(&pending);
                    taken.push(pending);
                    progress = true;
                } else if nonce < want {
                    self.forget(&pending);
                } else {
                    kept.push_back(pending);
                }
            }
            std::mem::swap(&mut queue, &mut kept);
        }
        queue.append(&mut kept);
        self.queue = queue;
        taken
    }

    fn forget(&mut self, pending: &Pending) {
        self.hashes.remove(&pending.hash);
        self.slots
            .remove(&(pending.envelope.sender, pending.envelope.nonce));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::key;

    fn pending(seed: u64, nonce: u64) -> Pending {
        let envelope = Envelope::sign(1, &key(seed), nonce, vec![nonce as u8]).expect("small");
        Pending {
            hash: envelope.hash(),
            envelope,
        }
    }

    #[test]
    fn the_mempool_is_bounded_and_deduplicated() {
        let mut pool = Mempool::new(2);
        pool.insert(pending(1, 0), 0).expect("first");
        assert_eq!(pool.insert(pending(1, 0), 0), Err(MempoolError::Duplicate));
        assert_eq!(
            pool.insert(pending(2, 0), 1),
            Err(MempoolError::NonceUsed { nonce: 0, next: 1 })
        );
        pool.insert(pending(1, 1), 0).expect("second");
        assert_eq!(
            pool.insert(pending(3, 0), 0),
            Err(MempoolError::Full { capacity: 2 })
        );
    }

    #[test]
    fn blocks_take_each_senders_nonces_in_order() {
        let mut pool = Mempool::new(10);
        pool.insert(pending(1, 1), 0).expect("ahead");
        pool.insert(pending(2, 0), 0).expect("other");
        pool.insert(pending(1, 0), 0).expect("next");
        pool.insert(pending(1, 3), 0).expect("gap");
        let taken: Vec<_> = pool
            .take(10, |_| 0)
            .into_iter()
            .map(|p| p.envelope.nonce)
            .collect();
        assert_eq!(taken, vec![0, 0, 1]);
        assert_eq!(pool.len(), 1, "the nonce after a gap waits");
    }
}
