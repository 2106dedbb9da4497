//! Blocks, transaction results and their hashes.
//!
//! ```text
//! block hash   = SHA-256("WARDEN-CHAIN-BLOCK" || borsh(Header))
//! tx root      = Merkle root of the block's transaction hashes
//! results root = Merkle root of TxResult::hash per transaction (status code, module error,
//!                fuel used and events)
//! Merkle root  = [0; 32] for none; leaves as given; a node is SHA-256(0x01 || left || right),
//!                an odd node out is carried up unchanged
//! ```

use borsh::{BorshDeserialize, BorshSerialize};
use sha2::{Digest, Sha256};

use warden_module::codec::encode;
use warden_module::msg::Event;
use warden_module::wire::PublicKey;

use super::root::Hash;
use crate::wasm::{CallError, CallOutcome};

/// A block header.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Header {
    /// The chain.
    pub chain_id: u64,
    /// Height; the genesis block is 0.
    pub height: u64,
    /// Time, milliseconds since the Unix epoch; never before the parent's.
    pub time: u64,
    /// The parent's hash (zeros for genesis).
    pub parent_hash: Hash,
    /// Merkle root of the transaction hashes.
    pub tx_root: Hash,
    /// Merkle root of the transaction results.
    pub results_root: Hash,
    /// The state root after the block.
    pub state_root: Hash,
}

impl Header {
    /// The block hash.
    pub fn hash(&self) -> Hash {
        let mut hasher = Sha256::new();
        hasher.update(b"WARDEN-CHAIN-BLOCK");
        hasher.update(encode(self));
        hasher.finalize().into()
    }
}

/// A stored block: its header and its transactions' hashes, in order.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Block {
    /// The header.
    pub header: Header,
    /// Transaction hashes, in execution order.
    pub txs: Vec<Hash>,
}

/// How a transaction ended.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub enum TxStatus {
    /// Executed; its writes are in the state.
    Ok,
    /// The module refused it with a named error; no state changed.
    Refused(warden_module::Error),
    /// It ran out of fuel; no state changed.
    OutOfFuel,
    /// It trapped; no state changed.
    Trap(String),
}

impl TxStatus {
    /// 0 for success, the module's error code, or 1000 (out of fuel) and 1001 (trap).
    pub fn code(&self) -> u32 {
        match self {
            TxStatus::Ok => 0,
            TxStatus::Refused(e) => e.code(),
            TxStatus::OutOfFuel => 1000,
            TxStatus::Trap(_) => 1001,
        }
    }
}

/// A transaction's result.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct TxResult {
    /// Success or why not.
    pub status: TxStatus,
    /// Fuel burnt.
    pub fuel_used: u64,
    /// Events (empty unless it succeeded).
    pub events: Vec<Event>,
}

impl TxResult {
    /// The result of a call.
    pub fn from_outcome(outcome: CallOutcome) -> Self {
        let status = match outcome.result {
            Ok(_) => TxStatus::Ok,
            Err(CallError::Module(e)) => TxStatus::Refused(e),
            Err(CallError::OutOfFuel) => TxStatus::OutOfFuel,
            Err(CallError::Trap(msg)) => TxStatus::Trap(msg),
        };
        Self {
            status,
            fuel_used: outcome.fuel_used,
            events: outcome.events,
        }
    }

    /// The leaf of the results root: `SHA-256("WARDEN-RESULT" || borsh((code, error,
    /// fuel_used, events)))` where `code` is [`TxStatus::code`] and `error` the module's error
    /// (`Option`). A trap's message is left out: it is wasmtime's text, useful to read but not
    /// something every node must agree on byte for byte.
    pub fn hash(&self) -> Hash {
        let error = match &self.status {
            TxStatus::Refused(e) => Some(*e),
            _ => None,
        };
        let mut hasher = Sha256::new();
        hasher.update(b"WARDEN-RESULT");
        hasher.update(encode(&(
            self.status.code(),
            error,
            self.fuel_used,
            &self.events,
        )));
        hasher.finalize().into()
    }
}

/// A stored transaction: where it landed, what it was and what it did.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct TxRecord {
    /// Its hash.
    pub hash: Hash,
    /// The block.
    pub height: u64,
    /// Its position in the block.
    pub index: u32,
    /// The sender.
    pub sender: PublicKey,
    /// The sender's nonce.
    pub nonce: u64,
    /// The result.
    pub result: TxResult,
}

/// The Merkle root of `leaves`.
pub fn merkle_root(leaves: &[Hash]) -> Hash {
    if leaves.is_empty() {
        return [0; 32];
    }
    let mut level: Vec<Hash> = leaves.to_vec();
    while level.len() > 1 {
        level = level
            .chunks(2)
            .map(|pair| match pair {
                [l, r] => {
                    let mut hasher = Sha256::new();
                    hasher.update([1u8]);
                    hasher.update(l);
                    hasher.update(r);
                    hasher.finalize().into()
                }
                _ => pair[0],
            })
            .collect();
    }
    level[0]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merkle_roots_of_small_lists() {
        assert_eq!(merkle_root(&[]), [0; 32]);
        assert_eq!(merkle_root(&[[5; 32]]), [5; 32]);
        assert_ne!(
            merkle_root(&[[1; 32], [2; 32]]),
            merkle_root(&[[2; 32], [1; 32]])
        );
    }
}
