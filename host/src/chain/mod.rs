//! Warden's embedded chain runtime: a small, real chain that runs the evidence module.
//!
//! - [`Chain`] holds the data directory: a redb database ([`store`]) with the module's state,
//!   blocks, transaction records and nonces, plus the compiled module cache; the state tree
//!   ([`root`]) lives in memory and is rebuilt from the state at start.
//!   [`Chain::produce_block`] executes the mempool's transactions one by one through the wasm
//!   executor, each over an overlay that is dropped on error, trap or fuel exhaustion, updates
//!   the state root, then commits the whole block (state, nonces, records, header, head) in one
//!   redb write transaction: a crash leaves either the whole block or none of it.
//! - Transactions are signed [`envelope::Envelope`]s; the sender becomes the module's caller.
//! - [`genesis`] reads the TOML genesis file; [`node`] serves the HTTP JSON API on loopback and
//!   [`client`] talks to it; [`mod@bench`] measures the runtime.

pub mod bench;
pub mod block;
pub mod cli;
pub mod client;
pub mod envelope;
pub mod genesis;
pub mod mempool;
pub mod node;
pub mod root;
pub mod rotation;
pub mod store;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use redb::{Database, ReadableDatabase, ReadableTable, ReadableTableMetadata};

use warden_module::wire::PublicKey;

use crate::wasm::{
    module_digest, BlockContext, CallOutcome, Executor, ExecutorConfig, Store, MODULE_WASM,
};
use block::{merkle_root, Block, Header, TxRecord, TxResult, TxStatus};
use envelope::{Envelope, EnvelopeError, StrongKeys};
use genesis::GenesisFile;
use mempool::{Mempool, MempoolError, Pending};
use root::{Hash, MemoryNodes};
use store::{BlockState, BLOCKS, META, NONCES, STATE, TXS};

/// The database file inside a data directory.
pub const DB_FILE: &str = "chain.redb";
/// The compiled-module cache inside a data directory.
pub const CACHE_DIR: &str = "cache";
/// A copy of the genesis file inside a data directory, for people to read.
pub const GENESIS_FILE: &str = "genesis.toml";

const META_GENESIS: &str = "genesis";
const META_HEAD: &str = "head";
/// The SHA-256 of the module the chain was initialised with: its state is in that module's
/// layout, so no other module may run over it.
const META_MODULE: &str = "module";

/// Why a submitted transaction was refused.
#[derive(Debug, thiserror::Error)]
pub enum SubmitError {
    /// The envelope is malformed, foreign or badly signed.
    #[error(transparent)]
    Envelope(#[from] EnvelopeError),
    /// The mempool refused it (duplicate, used nonce, full).
    #[error(transparent)]
    Mempool(#[from] MempoolError),
    /// This exact transaction is already in a block.
    #[error("already committed")]
    AlreadyCommitted,
    /// The database failed.
    #[error("storage: {0}")]
    Storage(String),
}

fn storage<E: std::fmt::Display>(e: E) -> SubmitError {
    SubmitError::Storage(e.to_string())
}

/// The result of a chain operation.
pub type Result<T, E = ChainError> = std::result::Result<T, E>;

/// Why a chain operation failed.
#[derive(Debug, thiserror::Error)]
pub enum ChainError {
    /// `init` was given a directory that already holds a chain.
    #[error("{0} already holds a chain")]
    AlreadyExists(PathBuf),
    /// `open` was given a directory that holds no chain.
    #[error("{0} holds no chain (run `warden chain init` first)")]
    NoChain(PathBuf),
    /// Another process has the chain open.
    #[error(
        "{0} is open in another process (a running `warden chain serve`?): use --node to talk to it"
    )]
    InUse(PathBuf),
    /// The module refused the genesis.
    #[error("the module refused the genesis: {0}")]
    GenesisRefused(String),
    /// The directory's chain was initialised with another module than this binary carries.
    #[error(
        "{dir} was initialised with module {stored}, but this warden carries module {running}: \
         its state is in the other module's layout (start a new chain with `warden chain init`, \
         or run the warden that initialised it)"
    )]
    ModuleMismatch {
        /// The data directory.
        dir: PathBuf,
        /// The stored module's SHA-256 (hex), or "an unrecorded module".
        stored: String,
        /// This binary's module's SHA-256 (hex).
        running: String,
    },
    /// A transaction to sign and submit is too large for an envelope.
    #[error("the payload is too large for a transaction")]
    PayloadTooLarge,
    /// The stored data contradicts itself (a missing or mislabelled block or record, a state
    /// that does not match its root, an undecodable value).
    #[error("the chain's data is inconsistent: {0}")]
    Corrupt(String),
    /// The database or the file system failed.
    #[error("storage: {0}")]
    Storage(String),
    /// A submitted transaction was refused.
    #[error(transparent)]
    Submit(#[from] SubmitError),
    /// The executor or another part failed.
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

macro_rules! storage_errors {
    ($($t:ty),*) => {$(
        impl From<$t> for ChainError {
            fn from(e: $t) -> Self {
                ChainError::Storage(e.to_string())
            }
        }
    )*};
}
storage_errors!(
    redb::DatabaseError,
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError
);

impl From<std::io::Error> for ChainError {
    fn from(e: std::io::Error) -> Self {
        // Borsh reports undecodable stored values as I/O errors.
        ChainError::Corrupt(e.to_string())
    }
}

/// `Err(Corrupt(why))` unless `ok`.
fn consistent(ok: bool, why: impl FnOnce() -> String) -> Result<(), ChainError> {
    if ok {
        Ok(())
    } else {
        Err(ChainError::Corrupt(why()))
    }
}

fn missing(what: String) -> ChainError {
    ChainError::Corrupt(what)
}

/// A chain in a data directory.
pub struct Chain {
    dir: PathBuf,
    db: Database,
    exec: Executor,
    genesis: GenesisFile,
    head: Header,
    mempool: Mempool,
    /// The state tree's nodes, in memory: derived from the `state` table, rebuilt at start.
    tree: MemoryNodes,
    /// Sender keys already found strong.
    strong_senders: StrongKeys,
}

impl std::fmt::Debug for Chain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Chain")
            .field("dir", &self.dir)
            .field("head", &self.head)
            .field("mempool", &self.mempool.len())
            .finish()
    }
}

fn executor(dir: &Path, genesis: &GenesisFile) -> Result<Executor> {
    Executor::cached(
        ExecutorConfig {
            fuel_per_call: genesis.runtime.fuel_per_tx,
            fuel_per_signature: genesis.runtime.fuel_per_signature,
            ..ExecutorConfig::default()
        },
        &dir.join(CACHE_DIR),
    )
    .map_err(ChainError::from)
}

impl Chain {
    /// Creates a data directory from a genesis file: runs the module's initialisation and
    /// commits the genesis block (height 0). Refuses a directory that already holds a chain.
    pub fn init(genesis: &GenesisFile, dir: &Path) -> Result<Self> {
        let module_genesis = genesis.module_genesis()?;
        std::fs::create_dir_all(dir)
            .map_err(|e| ChainError::Storage(format!("creating {}: {e}", dir.display())))?;
        let db_path = dir.join(DB_FILE);
        if db_path.exists() {
            return Err(ChainError::AlreadyExists(dir.to_path_buf()));
        }
        let exec = executor(dir, genesis)?;
        let mut state = BlockState::default();
        let ctx = BlockContext {
            height: 0,
            time: genesis.time_ms,
        };
        let outcome = exec.init(&mut state, ctx, &module_genesis);
        if let Err(e) = &outcome.result {
            return Err(ChainError::GenesisRefused(e.to_string()));
        }
        let text = genesis.to_toml()?;
        let mut tree = MemoryNodes::new();
        let state_root = root::update(&mut tree, &tree_changes(&state.changes))?;
        let db = Database::create(&db_path)?;
        let txn = db.begin_write()?;
        {
            let mut table = txn.open_table(STATE)?;
            for (key, value) in &state.changes {
                if let Some(value) = value {
                    table.insert(key.as_slice(), value.as_slice())?;
                }
            }
        }
        let header = Header {
            chain_id: genesis.chain_id,
            height: 0,
            time: genesis.time_ms,
            parent_hash: [0; 32],
            tx_root: merkle_root(&[]),
            results_root: merkle_root(&[]),
            state_root,
        };
        {
            let mut blocks = txn.open_table(BLOCKS)?;
            let block = Block {
                header: header.clone(),
                txs: Vec::new(),
            };
            blocks.insert(0, borsh::to_vec(&block)?.as_slice())?;
            let mut meta = txn.open_table(META)?;
            meta.insert(META_GENESIS, text.as_bytes())?;
            meta.insert(META_HEAD, &0u64.to_le_bytes()[..])?;
            meta.insert(META_MODULE, &module_digest(MODULE_WASM)[..])?;
            txn.open_table(NONCES)?;
            txn.open_table(TXS)?;
        }
        txn.commit()?;
        std::fs::write(dir.join(GENESIS_FILE), text)
            .map_err(|e| ChainError::Storage(format!("writing the genesis copy: {e}")))?;
        let mempool = Mempool::new(genesis.runtime.mempool_capacity as usize);
        Ok(Self {
            dir: dir.to_path_buf(),
            db,
            exec,
            genesis: genesis.clone(),
            head: header,
            mempool,
            tree,
            strong_senders: StrongKeys::default(),
        })
    }

    /// Opens a data directory written by [`Chain::init`], resuming from its last block.
    pub fn open(dir: &Path) -> Result<Self> {
        let db_path = dir.join(DB_FILE);
        if !db_path.exists() {
            return Err(ChainError::NoChain(dir.to_path_buf()));
        }
        let db = Database::open(&db_path).map_err(|e| match e {
            redb::DatabaseError::DatabaseAlreadyOpen => ChainError::InUse(dir.to_path_buf()),
            e => ChainError::Storage(format!("opening {}: {e}", db_path.display())),
        })?;
        let (genesis, head) = {
            let txn = db.begin_read()?;
            let meta = txn.open_table(META)?;
            let text = meta
                .get(META_GENESIS)?
                .ok_or_else(|| missing("the database has no genesis".into()))?
                .value()
                .to_vec();
            let text = String::from_utf8(text)
                .map_err(|_| missing("the stored genesis is not UTF-8".into()))?;
            let genesis = GenesisFile::parse(&text)?;
            let running = module_digest(MODULE_WASM);
            let stored = meta.get(META_MODULE)?.map(|v| v.value().to_vec());
            if stored.as_deref() != Some(&running[..]) {
                return Err(ChainError::ModuleMismatch {
                    dir: dir.to_path_buf(),
                    stored: stored.map_or_else(|| "an unrecorded module".into(), hex::encode),
                    running: hex::encode(running),
                });
            }
            let head = read_u64(
                meta.get(META_HEAD)?
                    .ok_or_else(|| missing("the database has no head".into()))?
                    .value(),
            )?;
            let blocks = txn.open_table(BLOCKS)?;
            let block: Block = borsh::from_slice(
                blocks
                    .get(head)?
                    .ok_or_else(|| missing(format!("the head block {head} is missing")))?
                    .value(),
            )?;
            (genesis, block.header)
        };
        let tree = rebuild_tree(&db)?;
        consistent(tree_root(&tree) == head.state_root, || {
            format!(
                "the stored state does not match the state root of block {}",
                head.height
            )
        })?;
        let exec = executor(dir, &genesis)?;
        let mempool = Mempool::new(genesis.runtime.mempool_capacity as usize);
        Ok(Self {
            dir: dir.to_path_buf(),
            db,
            exec,
            genesis,
            head,
            mempool,
            tree,
            strong_senders: StrongKeys::default(),
        })
    }

    /// The data directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The chain id.
    pub fn chain_id(&self) -> u64 {
        self.genesis.chain_id
    }

    /// The genesis file the chain started from.
    pub fn genesis(&self) -> &GenesisFile {
        &self.genesis
    }

    /// The last committed block's header.
    pub fn head(&self) -> &Header {
        &self.head
    }

    /// Transactions waiting in the mempool.
    pub fn mempool_len(&self) -> usize {
        self.mempool.len()
    }

    /// The next nonce `sender` must use (committed transactions only).
    pub fn next_nonce(&self, sender: &PublicKey) -> Result<u64> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(NONCES)?;
        Ok(table.get(&sender.0[..])?.map_or(0, |v| v.value()))
    }

    /// The next nonce `sender` may queue: after its committed and waiting transactions.
    pub fn next_free_nonce(&self, sender: &PublicKey) -> Result<u64> {
        let mut nonce = self.next_nonce(sender)?;
        while self.mempool.has_slot(sender, nonce) {
            nonce += 1;
        }
        Ok(nonce)
    }

    /// Checks an encoded envelope (size, strict decoding, chain id, signature, nonce, replay)
    /// and queues it. Returns its hash.
    pub fn submit(&mut self, bytes: &[u8]) -> Result<Hash, SubmitError> {
        let envelope = Envelope::decode(bytes)?;
        let chain_id = self.chain_id();
        envelope.check_with(chain_id, &mut self.strong_senders)?;
        let hash = envelope::tx_hash(bytes);
        let txn = self.db.begin_read().map_err(storage)?;
        if txn
            .open_table(TXS)
            .map_err(storage)?
            .get(&hash[..])
            .map_err(storage)?
            .is_some()
        {
            return Err(SubmitError::AlreadyCommitted);
        }
        let next = txn
            .open_table(NONCES)
            .map_err(storage)?
            .get(&envelope.sender.0[..])
            .map_err(storage)?
            .map_or(0, |v| v.value());
        self.mempool.insert(Pending { hash, envelope }, next)?;
        Ok(hash)
    }

    /// Executes the mempool's transactions (up to the block limit) at `time` (never before the
    /// parent's) and commits the block atomically. Produces an empty block when none wait.
    pub fn produce_block(&mut self, time: u64) -> Result<Header> {
        let height = self
            .head
            .height
            .checked_add(1)
            .ok_or_else(|| missing("the height overflows".into()))?;
        let time = time.max(self.head.time);
        let read = self.db.begin_read()?;
        let snapshot = Arc::new(read.open_table(STATE)?);
        let nonces = read.open_table(NONCES)?;
        let committed = |sender: &PublicKey| -> u64 {
            nonces
                .get(&sender.0[..])
                .ok()
                .flatten()
                .map_or(0, |v| v.value())
        };
        let pending = self
            .mempool
            .take(self.genesis.runtime.max_block_txs as usize, committed);
        let ctx = BlockContext { height, time };
        let mut state = BlockState::new(snapshot);
        let mut expected: std::collections::BTreeMap<PublicKey, u64> = Default::default();
        let mut records = Vec::with_capacity(pending.len());
        let mut new_nonces = Vec::new();
        for p in pending {
            let sender = p.envelope.sender;
            let next = match expected.get(&sender) {
                Some(n) => *n,
                None => nonces.get(&sender.0[..])?.map_or(0, |v| v.value()),
            };
            if p.envelope.nonce != next {
                // Not this sender's turn (the mempool orders them; this only guards).
                continue;
            }
            expected.insert(sender, next + 1);
            let outcome =
                self.exec
                    .execute(&mut state, ctx, Some(sender), p.envelope.payload.as_bytes());
            if let Some(e) = state.failed.get() {
                return Err(ChainError::Storage(format!(
                    "reading the state failed during block {height}: {e}"
                )));
            }
            let result = TxResult::from_outcome(outcome);
            let index = u32::try_from(records.len())
                .map_err(|_| missing("too many transactions in a block".into()))?;
            new_nonces.push((sender, next + 1));
            records.push(TxRecord {
                hash: p.hash,
                height,
                index,
                sender,
                nonce: p.envelope.nonce,
                result,
            });
        }
        drop(nonces);
        let changes = std::mem::take(&mut state.changes);
        drop(state);
        drop(read);
        // The tree is updated in memory first; if the block then fails to commit, it is
        // rebuilt from the committed state so that it never runs ahead of the database.
        let committed = root::update(&mut self.tree, &tree_changes(&changes))
            .map_err(ChainError::from)
            .and_then(|state_root| {
                self.commit_block(height, time, state_root, &changes, records, new_nonces)
            });
        match committed {
            Ok(header) => {
                self.head = header.clone();
                Ok(header)
            }
            Err(e) => {
                self.tree = rebuild_tree(&self.db)?;
                Err(e)
            }
        }
    }

    /// Writes a block (state changes, nonces, records, header, head) in one write transaction.
    fn commit_block(
        &self,
        height: u64,
        time: u64,
        state_root: Hash,
        changes: &std::collections::BTreeMap<Vec<u8>, Option<Vec<u8>>>,
        records: Vec<TxRecord>,
        new_nonces: Vec<(PublicKey, u64)>,
    ) -> Result<Header> {
        let tx_hashes: Vec<Hash> = records.iter().map(|r| r.hash).collect();
        let result_hashes: Vec<Hash> = records.iter().map(|r| r.result.hash()).collect();
        let txn = self.db.begin_write()?;
        {
            let mut table = txn.open_table(STATE)?;
            for (key, value) in changes {
                match value {
                    Some(value) => table.insert(key.as_slice(), value.as_slice())?,
                    None => table.remove(key.as_slice())?,
                };
            }
        }
        let header = Header {
            chain_id: self.chain_id(),
            height,
            time,
            parent_hash: self.head.hash(),
            tx_root: merkle_root(&tx_hashes),
            results_root: merkle_root(&result_hashes),
            state_root,
        };
        {
            let mut nonces = txn.open_table(NONCES)?;
            for (sender, next) in new_nonces {
                nonces.insert(&sender.0[..], next)?;
            }
            let mut txs = txn.open_table(TXS)?;
            for record in &records {
                txs.insert(&record.hash[..], borsh::to_vec(record)?.as_slice())?;
            }
            let mut blocks = txn.open_table(BLOCKS)?;
            let block = Block {
                header: header.clone(),
                txs: tx_hashes,
            };
            blocks.insert(height, borsh::to_vec(&block)?.as_slice())?;
            let mut meta = txn.open_table(META)?;
            meta.insert(META_HEAD, &height.to_le_bytes()[..])?;
        }
        txn.commit()?;
        Ok(header)
    }

    /// The block at `height`.
    pub fn block(&self, height: u64) -> Result<Option<Block>> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(BLOCKS)?;
        let Some(bytes) = table.get(height)? else {
            return Ok(None);
        };
        Ok(Some(borsh::from_slice(bytes.value())?))
    }

    /// A committed transaction's record.
    pub fn tx(&self, hash: &Hash) -> Result<Option<TxRecord>> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(TXS)?;
        let Some(bytes) = table.get(&hash[..])? else {
            return Ok(None);
        };
        Ok(Some(borsh::from_slice(bytes.value())?))
    }

    /// Answers a borsh `Query` against the last committed state.
    pub fn query(&self, query: &[u8]) -> Result<CallOutcome> {
        let txn = self.db.begin_read()?;
        let mut state = BlockState::new(Arc::new(txn.open_table(STATE)?));
        let ctx = BlockContext {
            height: self.head.height,
            time: self.head.time,
        };
        let outcome = self.exec.query(&mut state, ctx, query);
        if let Some(e) = state.failed.get() {
            return Err(ChainError::Storage(format!(
                "reading the state failed: {e}"
            )));
        }
        Ok(outcome)
    }

    /// A value of the module's state.
    pub fn state_value(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        let txn = self.db.begin_read()?;
        let state = BlockState::new(Arc::new(txn.open_table(STATE)?));
        let value = state.get(key);
        if let Some(e) = state.failed.get() {
            return Err(ChainError::Storage(format!(
                "reading the state failed: {e}"
            )));
        }
        Ok(value)
    }

    /// Number of entries in the module's state.
    pub fn state_len(&self) -> Result<u64> {
        let txn = self.db.begin_read()?;
        Ok(txn.open_table(STATE)?.len()?)
    }

    /// Checks the whole database: every block from genesis to the head is stored and chained
    /// by parent hash, nothing is stored past the head, every transaction of every block has
    /// its record and the block's roots match them, and the state root recomputed from
    /// scratch over the stored state equals the head's and the tree in memory's. Returns the
    /// number of blocks checked.
    pub fn verify_integrity(&self) -> Result<u64> {
        let txn = self.db.begin_read()?;
        let blocks = txn.open_table(BLOCKS)?;
        let txs = txn.open_table(TXS)?;
        let mut parent = [0u8; 32];
        let mut tx_count = 0u64;
        for height in 0..=self.head.height {
            let block: Block = borsh::from_slice(
                blocks
                    .get(height)?
                    .ok_or_else(|| missing(format!("block {height} is missing")))?
                    .value(),
            )?;
            consistent(block.header.height == height, || {
                format!("block {height} mislabelled")
            })?;
            consistent(block.header.parent_hash == parent, || {
                format!("block {height} does not chain to its parent")
            })?;
            let mut results = Vec::with_capacity(block.txs.len());
            for (i, hash) in block.txs.iter().enumerate() {
                let record: TxRecord = borsh::from_slice(
                    txs.get(&hash[..])?
                        .ok_or_else(|| missing(format!("block {height}: tx {i} has no record")))?
                        .value(),
                )?;
                consistent(
                    record.height == height && record.index as usize == i,
                    || format!("block {height}: tx {i} recorded elsewhere"),
                )?;
                results.push(record.result.hash());
            }
            tx_count += block.txs.len() as u64;
            consistent(merkle_root(&block.txs) == block.header.tx_root, || {
                format!("block {height}: tx root")
            })?;
            consistent(merkle_root(&results) == block.header.results_root, || {
                format!("block {height}: results root")
            })?;
            parent = block.header.hash();
        }
        consistent(blocks.get(self.head.height + 1)?.is_none(), || {
            "a block past the head is stored".into()
        })?;
        consistent(txs.len()? == tx_count, || {
            "transaction records outside blocks".into()
        })?;
        let state = txn.open_table(STATE)?;
        let mut entries = Vec::new();
        for entry in state.iter()? {
            let (key, value) = entry?;
            entries.push((root::path_of(key.value()), root::value_hash(value.value())));
        }
        let scratch = root::root_of(entries)?;
        consistent(scratch == self.head.state_root, || {
            "the state root recomputed from the state differs from the head's".into()
        })?;
        consistent(tree_root(&self.tree) == scratch, || {
            "the tree in memory differs from the state".into()
        })?;
        Ok(self.head.height + 1)
    }

    /// Signs and submits `payload` from `key` with its next free nonce.
    pub fn submit_signed(
        &mut self,
        key: &ed25519_dalek::SigningKey,
        payload: Vec<u8>,
    ) -> Result<Hash> {
        let sender = PublicKey(key.verifying_key().to_bytes());
        let nonce = self.next_free_nonce(&sender)?;
        let envelope = Envelope::sign(self.chain_id(), key, nonce, payload)
            .ok_or(ChainError::PayloadTooLarge)?;
        Ok(self.submit(&envelope.encode())?)
    }
}

/// The root of a tree in memory.
fn tree_root(tree: &MemoryNodes) -> Hash {
    tree.get(&root::node_key(&root::EMPTY, 0))
        .map_or(root::EMPTY, |node| node.hash())
}

/// The state tree of the committed state, built from scratch.
fn rebuild_tree(db: &Database) -> Result<MemoryNodes> {
    let txn = db.begin_read()?;
    let state = txn.open_table(STATE)?;
    let mut changes = Vec::new();
    for entry in state.iter()? {
        let (key, value) = entry?;
        changes.push((
            root::path_of(key.value()),
            Some(root::value_hash(value.value())),
        ));
    }
    changes.sort_unstable_by_key(|a| a.0);
    let mut tree = MemoryNodes::new();
    root::update(&mut tree, &changes)?;
    Ok(tree)
}

/// A block's state changes as tree changes, sorted by path.
fn tree_changes(
    changes: &std::collections::BTreeMap<Vec<u8>, Option<Vec<u8>>>,
) -> Vec<(Hash, Option<Hash>)> {
    let mut out: Vec<_> = changes
        .iter()
        .map(|(key, value)| (root::path_of(key), value.as_deref().map(root::value_hash)))
        .collect();
    out.sort_unstable_by_key(|a| a.0);
    out
}

fn read_u64(bytes: &[u8]) -> Result<u64> {
    let bytes: [u8; 8] = bytes
        .try_into()
        .map_err(|_| missing(format!("a stored integer of {} bytes", bytes.len())))?;
    Ok(u64::from_le_bytes(bytes))
}

/// The current wall-clock time in milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// Whether a status means the transaction changed the state.
pub fn succeeded(status: &TxStatus) -> bool {
    matches!(status, TxStatus::Ok)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::TestNetwork;

    #[test]
    fn opening_nothing_initialising_twice_and_opening_twice_are_named_errors() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let data = dir.path().join("data");
        assert!(matches!(Chain::open(&data), Err(ChainError::NoChain(d)) if d == data));
        let genesis = GenesisFile::from_network(&TestNetwork::new(7, 4), 0);
        let chain = Chain::init(&genesis, &data).expect("a new chain");
        assert!(matches!(
            Chain::init(&genesis, &data),
            Err(ChainError::AlreadyExists(d)) if d == data
        ));
        assert!(matches!(Chain::open(&data), Err(ChainError::InUse(d)) if d == data));
        drop(chain);
        let reopened = Chain::open(&data).expect("reopens once closed");
        assert_eq!(reopened.verify_integrity().expect("consistent"), 1);
    }

    #[test]
    fn a_genesis_the_module_refuses_is_genesis_refused() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let mut genesis = GenesisFile::from_network(&TestNetwork::new(7, 4), 0);
        genesis.config.retention_epochs = 0;
        let err = Chain::init(&genesis, dir.path()).expect_err("retention 0 is invalid");
        assert!(matches!(err, ChainError::GenesisRefused(_)), "{err}");
    }

    #[test]
    fn a_chain_initialised_with_another_module_is_module_mismatch() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let data = dir.path().join("data");
        let genesis = GenesisFile::from_network(&TestNetwork::new(7, 4), 0);
        drop(Chain::init(&genesis, &data).expect("a new chain"));
        let set_module = |digest: Option<&[u8]>| {
            let db = Database::open(data.join(DB_FILE)).expect("the database");
            let txn = db.begin_write().expect("a write transaction");
            {
                let mut meta = txn.open_table(META).expect("the meta table");
                match digest {
                    Some(digest) => meta.insert(META_MODULE, digest).expect("written"),
                    None => meta.remove(META_MODULE).expect("removed"),
                };
            }
            txn.commit().expect("committed");
        };
        set_module(Some(&[7; 32]));
        let err = Chain::open(&data).expect_err("another module's chain");
        assert!(
            matches!(&err, ChainError::ModuleMismatch { stored, running, .. }
                if *stored == hex::encode([7; 32]) && *running == hex::encode(module_digest(MODULE_WASM))),
            "{err}"
        );
        set_module(None);
        let err = Chain::open(&data).expect_err("a chain without a recorded module");
        assert!(
            matches!(&err, ChainError::ModuleMismatch { stored, .. } if stored == "an unrecorded module"),
            "{err}"
        );
        set_module(Some(&module_digest(MODULE_WASM)));
        Chain::open(&data).expect("this binary's module opens");
    }
}
