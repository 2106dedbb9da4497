//! The database: redb tables and the block overlay the executor runs over.
//!
//! Tables (keys and values are bytes unless said otherwise):
//!
//! | table | key | value |
//! |---|---|---|
//! | `state` | module storage key | value |
//! | `nonces` | sender key (32 bytes) | next nonce, `u64` LE |
//! | `blocks` | height (`u64`) | borsh [`super::block::Block`] |
//! | `txs` | transaction hash (32 bytes) | borsh [`super::block::TxRecord`] |
//! | `meta` | name | `genesis` (the genesis file), `head` (height, `u64` LE) |
//!
//! A block's every write, in every table, goes through one write transaction. The state tree
//! is not stored: it is derived from the `state` table, kept in memory and rebuilt at start
//! (see [`super::root`]).

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, OnceLock};

use redb::{ReadOnlyTable, TableDefinition};

use crate::wasm::Store;

/// Module state.
pub const STATE: TableDefinition<&[u8], &[u8]> = TableDefinition::new("state");
/// Next nonce per sender.
pub const NONCES: TableDefinition<&[u8], u64> = TableDefinition::new("nonces");
/// Blocks by height.
pub const BLOCKS: TableDefinition<u64, &[u8]> = TableDefinition::new("blocks");
/// Transaction records by hash.
pub const TXS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("txs");
/// Chain metadata.
pub const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");

/// The most bytes of snapshot values a block keeps in its read cache.
pub const READ_CACHE_BYTES: usize = 64 << 20;

/// Snapshot values read so far in a block, and their total size.
#[derive(Default)]
struct ReadCache {
    values: HashMap<Vec<u8>, Option<Vec<u8>>>,
    bytes: usize,
}

/// The state a block's transactions run over: the last committed state (a read snapshot) and
/// the writes of the block's successful transactions so far. Values read from the snapshot are
/// cached for the rest of the block (up to [`READ_CACHE_BYTES`]): every transaction reads the
/// same configuration and validator set.
#[derive(Default)]
pub struct BlockState {
    snapshot: Option<Arc<ReadOnlyTable<&'static [u8], &'static [u8]>>>,
    cache: RefCell<ReadCache>,
    /// The block's writes so far (`None` removes).
    pub changes: BTreeMap<Vec<u8>, Option<Vec<u8>>>,
    /// A read of the snapshot failed: the block must not commit.
    pub failed: OnceLock<String>,
}

impl BlockState {
    /// An overlay over `snapshot`.
    pub fn new(snapshot: Arc<ReadOnlyTable<&'static [u8], &'static [u8]>>) -> Self {
        Self {
            snapshot: Some(snapshot),
            cache: RefCell::default(),
            changes: BTreeMap::new(),
            failed: OnceLock::new(),
        }
    }

    fn read(&self, key: &[u8]) -> Result<Option<Vec<u8>>, redb::StorageError> {
        match &self.snapshot {
            Some(table) => Ok(table.get(key)?.map(|v| v.value().to_vec())),
            None => Ok(None),
        }
    }
}

impl Store for BlockState {
    fn get(&self, key: &[u8]) -> Option<Vec<u8>> {
        if let Some(change) = self.changes.get(key) {
            return change.clone();
        }
        if let Some(value) = self.cache.borrow().values.get(key) {
            return value.clone();
        }
        match self.read(key) {
            Ok(value) => {
                let mut cache = self.cache.borrow_mut();
                let size = key.len() + value.as_ref().map_or(0, Vec::len);
                if cache.bytes + size <= READ_CACHE_BYTES {
                    cache.bytes += size;
                    cache.values.insert(key.to_vec(), value.clone());
                }
                value
            }
            Err(e) => {
                // `Store::get` cannot return an error: record it, and the block producer
                // refuses to commit a block whose reads failed.
                let _ = self.failed.set(e.to_string());
                None
            }
        }
    }

    fn apply(&mut self, changes: BTreeMap<Vec<u8>, Option<Vec<u8>>>) {
        self.changes.extend(changes);
    }
}
