//! The [`EvidenceCollector`] (the relayer): a durable queue of module transactions proving or
//! witnessing misbehaviour, and the loop that submits them to the chain until they are included.
//!
//! - [`RelayQueue`] keeps one file per item in a directory (by convention
//!   `<data dir>/relay/`, see [`relay_dir`]). A push is durable before it returns (temporary
//!   file, fsync, rename, fsync of the directory). Each file starts with a header (magic,
//!   version, body length, SHA-256 of the body), so a truncated or corrupt file is moved to
//!   `corrupt/` at [`RelayQueue::open`] instead of being loaded.
//! - [`reverify`] checks an item natively with the module's own code before it is queued:
//!   refused evidence never reaches the queue.
//! - [`Submitter`] sends a payload and asks whether it was included: [`EmbeddedSubmitter`] over
//!   an embedded [`Chain`], [`HttpSubmitter`] over a node's HTTP API.
//! - [`EvidenceCollector::tick`] submits due items in batches, backs off exponentially on
//!   transient failures, and settles each item: included, already on chain (the module
//!   deduplicates offences, so resubmitting after a crash is harmless), refused (a copy is kept
//!   in `refused/`) or given up (kept in `failed/`). Time is always a parameter.

use std::collections::{BTreeMap, HashMap};
use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

use borsh::{BorshDeserialize, BorshSerialize};
use ed25519_dalek::SigningKey;
use serde_json::json;
use sha2::{Digest, Sha256};

use warden_module::crypto::Ed25519Strict;
use warden_module::error::Error;
use warden_module::evidence::witness_power;
use warden_module::msg::{Msg, Query, QueryResponse};
use warden_module::schedule::LeaderSchedule;
use warden_module::validators::ValidatorSet;

use crate::chain::block::TxStatus;
use crate::chain::client::Client;
use crate::chain::envelope::Envelope;
use crate::chain::{Chain, ChainError, SubmitError};
use crate::ft::config::RelayerConfig;

/// An item's id: SHA-256 of its payload.
pub type ItemId = [u8; 32];

/// The queue's directory inside a host data directory.
pub fn relay_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("relay")
}

const MAGIC: &[u8; 8] = b"WRDNRLAY";
const VERSION: u16 = 1;
const HEADER_LEN: usize = 8 + 2 + 4 + 32;
const ITEM_EXT: &str = "item";
const TMP_EXT: &str = "tmp";
/// Subdirectory for files that failed their checks at open.
pub const CORRUPT_DIR: &str = "corrupt";
/// Subdirectory for items the module refused on chain.
pub const REFUSED_DIR: &str = "refused";
/// Subdirectory for items given up after too many failed attempts.
pub const FAILED_DIR: &str = "failed";
/// The largest item body read back (a module transaction plus its label).
const MAX_BODY: usize = warden_module::msg::MAX_TX_BYTES + 4096;

/// Why the relayer refused or failed an operation.
#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    /// The module's own checks refuse the item: it is not queued.
    #[error("the module refuses it: {0:?} ({0})")]
    Refused(Error),
    /// Only evidence and accusations are relayed.
    #[error("only SubmitEvidence and SubmitAccusation are relayed")]
    NotRelayable,
    /// The queue holds `capacity` items already.
    #[error("the relay queue is full ({capacity} items wait)")]
    Full {
        /// The queue's capacity.
        capacity: usize,
    },
    /// The disk failed.
    #[error("relay queue i/o: {0}")]
    Io(#[from] std::io::Error),
}

/// One item waiting in the queue.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct QueuedItem {
    /// Order of arrival.
    pub seq: u64,
    /// When the misbehaviour was detected, in milliseconds.
    pub detected_at_ms: u64,
    /// A short description, e.g. "DoubleVote by 3 in view 12".
    pub label: String,
    /// The borsh-encoded [`Msg`].
    pub payload: Vec<u8>,
}

impl QueuedItem {
    /// The item's id.
    pub fn id(&self) -> ItemId {
        Self::id_of(&self.payload)
    }

    /// The id of an item with this payload.
    pub fn id_of(payload: &[u8]) -> ItemId {
        Sha256::digest(payload).into()
    }
}

/// A persistent queue of module transactions, one file per item.
#[derive(Debug)]
pub struct RelayQueue {
    dir: PathBuf,
    capacity: usize,
    items: BTreeMap<(u64, ItemId), QueuedItem>,
    index: HashMap<ItemId, u64>,
    next_seq: u64,
    warnings: Vec<String>,
}

impl RelayQueue {
    /// Opens (creating it if needed) the queue in `dir` and reloads its items in order of
    /// sequence number, then id. Files that fail their checks are moved to `corrupt/` and
    /// named in [`RelayQueue::warnings`]; leftover temporary files (never acknowledged) are
    /// deleted.
    pub fn open(dir: &Path, capacity: usize) -> anyhow::Result<Self> {
        fs::create_dir_all(dir)?;
        let mut queue = Self {
            dir: dir.to_path_buf(),
            capacity,
            items: BTreeMap::new(),
            index: HashMap::new(),
            next_seq: 0,
            warnings: Vec::new(),
        };
        let mut paths: Vec<PathBuf> = Vec::new();
        for entry in fs::read_dir(dir)? {
            let path = entry?.path();
            if path.is_file() {
                paths.push(path);
            }
        }
        paths.sort();
        for path in paths {
            match path.extension().and_then(|e| e.to_str()) {
                Some(ITEM_EXT) => match read_item(&path) {
                    Ok(item) if !queue.index.contains_key(&item.id()) => {
                        let id = item.id();
                        queue.next_seq = queue.next_seq.max(item.seq.saturating_add(1));
                        queue.index.insert(id, item.seq);
                        queue.items.insert((item.seq, id), item);
                    }
                    Ok(_) => queue.set_aside(&path, "a second file for one item")?,
                    Err(why) => queue.set_aside(&path, &why)?,
                },
                Some(TMP_EXT) => fs::remove_file(&path)?,
                _ => queue.set_aside(&path, "not a queue file")?,
            }
        }
        sync_dir(dir)?;
        Ok(queue)
    }

    fn set_aside(&mut self, path: &Path, why: &str) -> anyhow::Result<()> {
        let to = move_into(path, &self.dir.join(CORRUPT_DIR))?;
        self.warnings.push(format!(
            "{} set aside as {}: {why}",
            path.display(),
            to.display()
        ));
        Ok(())
    }

    /// Queues `payload`; durable before it returns. Returns `false` when an item with the
    /// same payload already waits.
    pub fn push(
        &mut self,
        payload: &[u8],
        label: &str,
        detected_at_ms: u64,
    ) -> Result<bool, RelayError> {
        let id = QueuedItem::id_of(payload);
        if self.index.contains_key(&id) {
            return Ok(false);
        }
        if self.items.len() >= self.capacity {
            return Err(RelayError::Full {
                capacity: self.capacity,
            });
        }
        let item = QueuedItem {
            seq: self.next_seq,
            detected_at_ms,
            label: label.to_string(),
            payload: payload.to_vec(),
        };
        let body = borsh::to_vec(&item)?;
        let len = u32::try_from(body.len()).map_err(|_| std::io::Error::other("item too large"))?;
        let mut bytes = Vec::with_capacity(HEADER_LEN + body.len());
        bytes.extend_from_slice(MAGIC);
        bytes.extend_from_slice(&VERSION.to_le_bytes());
        bytes.extend_from_slice(&len.to_le_bytes());
        bytes.extend_from_slice(&Sha256::digest(&body));
        bytes.extend_from_slice(&body);
        let tmp = self.dir.join(format!("{}.{TMP_EXT}", hex::encode(id)));
        let mut file = File::create(&tmp)?;
        file.write_all(&bytes)?;
        file.sync_all()?;
        drop(file);
        fs::rename(&tmp, self.path(&id))?;
        sync_dir(&self.dir)?;
        self.next_seq += 1;
        self.index.insert(id, item.seq);
        self.items.insert((item.seq, id), item);
        Ok(true)
    }

    /// Deletes an item (after its inclusion was confirmed). Returns it if it was waiting.
    pub fn remove(&mut self, id: &ItemId) -> Result<Option<QueuedItem>, RelayError> {
        if !self.contains(id) {
            return Ok(None);
        }
        fs::remove_file(self.path(id))?;
        sync_dir(&self.dir)?;
        Ok(self.take(id))
    }

    /// Moves an item out of the queue into the subdirectory `sub` (kept for the operator).
    pub fn move_to(&mut self, id: &ItemId, sub: &str) -> Result<Option<QueuedItem>, RelayError> {
        if !self.contains(id) {
            return Ok(None);
        }
        move_into(&self.path(id), &self.dir.join(sub))?;
        Ok(self.take(id))
    }

    fn take(&mut self, id: &ItemId) -> Option<QueuedItem> {
        let seq = self.index.remove(id)?;
        self.items.remove(&(seq, *id))
    }

    fn path(&self, id: &ItemId) -> PathBuf {
        self.dir.join(format!("{}.{ITEM_EXT}", hex::encode(id)))
    }

    /// Whether an item waits.
    pub fn contains(&self, id: &ItemId) -> bool {
        self.index.contains_key(id)
    }

    /// An item by id.
    pub fn get(&self, id: &ItemId) -> Option<&QueuedItem> {
        let seq = self.index.get(id)?;
        self.items.get(&(*seq, *id))
    }

    /// Items waiting, in order.
    pub fn iter(&self) -> impl Iterator<Item = &QueuedItem> {
        self.items.values()
    }

    /// Items in order, each with its id (kept beside it, not hashed again).
    pub fn entries(&self) -> impl Iterator<Item = (ItemId, &QueuedItem)> {
        self.items.iter().map(|((_, id), item)| (*id, item))
    }

    /// Number of items waiting.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether no item waits.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Files set aside at open, one line each.
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// The queue's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

/// Reads and checks one item file; the error says why it is unusable.
fn read_item(path: &Path) -> Result<QueuedItem, String> {
    let bytes = fs::read(path).map_err(|e| format!("unreadable: {e}"))?;
    if bytes.len() < HEADER_LEN || &bytes[..8] != MAGIC {
        return Err("no header".into());
    }
    let version = u16::from_le_bytes([bytes[8], bytes[9]]);
    if version != VERSION {
        return Err(format!("unknown version {version}"));
    }
    let len = u32::from_le_bytes([bytes[10], bytes[11], bytes[12], bytes[13]]) as usize;
    let body = &bytes[HEADER_LEN..];
    if len > MAX_BODY || body.len() != len {
        return Err(format!("length {} instead of {len}", body.len()));
    }
    if Sha256::digest(body)[..] != bytes[14..HEADER_LEN] {
        return Err("checksum mismatch".into());
    }
    let item: QueuedItem = borsh::from_slice(body).map_err(|e| format!("undecodable: {e}"))?;
    let name = path.file_stem().and_then(|s| s.to_str()).unwrap_or("");
    if name != hex::encode(item.id()) {
        return Err("file name differs from the payload's id".into());
    }
    Ok(item)
}

/// Moves `path` into directory `to` (created if needed) under a name not yet taken there.
fn move_into(path: &Path, to: &Path) -> std::io::Result<PathBuf> {
    fs::create_dir_all(to)?;
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
    let name = name.unwrap_or_else(|| "item".into());
    let mut target = to.join(&name);
    let mut n = 1u32;
    while target.exists() {
        target = to.join(format!("{name}.{n}"));
        n += 1;
    }
    fs::rename(path, &target)?;
    sync_dir(to)?;
    if let Some(parent) = path.parent() {
        sync_dir(parent)?;
    }
    Ok(target)
}

/// Makes a directory's entries (creations, renames, deletions) durable.
fn sync_dir(dir: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    File::open(dir)?.sync_all()?;
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

// ----- Native re-verification ------------------------------------------------------------

/// What the relayer reads from the chain to re-verify an item.
pub trait ChainView {
    /// The chain id bound into signatures.
    fn chain_id(&self) -> u64;
    /// The validator set of a retained epoch. A view that cannot reach the chain answers
    /// `None` too, which refuses the item as [`Error::UnknownEpoch`]; detect again later.
    fn validator_set(&self, epoch: u64) -> Option<ValidatorSet>;
    /// The leader schedule of a retained epoch.
    fn schedule(&self, epoch: u64) -> Option<LeaderSchedule>;
}

fn set_of(view: &dyn ChainView, epoch: u64) -> Result<ValidatorSet, Error> {
    view.validator_set(epoch)
        .ok_or(Error::UnknownEpoch { epoch })
}

/// Checks `msg` with the module's own code, as the contract will: evidence with
/// [`Evidence::offence`](warden_module::evidence::Evidence::offence) then
/// [`Evidence::verify`](warden_module::evidence::Evidence::verify); an accusation with the
/// accused's membership and [`witness_power`] (the accused excluded, more than a third of the
/// power required); a batch of evidence piece by piece. On-chain state (duplicates, bans,
/// retention, the configured view-range limit) is left to the chain. Other messages are
/// refused with [`Error::Unauthorized`].
pub fn reverify(msg: &Msg, chain: &dyn ChainView) -> Result<(), Error> {
    let chain_id = chain.chain_id();
    match msg {
        Msg::SubmitEvidenceBatch(batch) => batch
            .iter()
            .try_for_each(|e| reverify(&Msg::SubmitEvidence(e.clone()), chain)),
        Msg::SubmitEvidence(evidence) => {
            let offence = evidence.offence()?;
            let set = set_of(chain, offence.epoch)?;
            let schedule = chain.schedule(offence.epoch).ok_or(Error::UnknownEpoch {
                epoch: offence.epoch,
            })?;
            let justify_set = evidence.justify_set(&set, |epoch| set_of(chain, epoch))?;
            evidence.verify(chain_id, &set, &schedule, &*justify_set, &Ed25519Strict)
        }
        Msg::SubmitAccusation(witnessed) => {
            let a = &witnessed.accusation;
            if a.last_view < a.first_view {
                return Err(Error::InvalidViewRange {
                    first: a.first_view,
                    last: a.last_view,
                });
            }
            let set = set_of(chain, a.epoch)?;
            if set.get(a.accused).is_none() {
                return Err(Error::UnknownValidator {
                    operator: a.accused,
                    epoch: a.epoch,
                });
            }
            let message = a.signing_bytes(chain_id);
            let required = set.one_third_plus();
            let signatures = &witnessed.witnesses;
            witness_power(
                &set,
                &message,
                signatures,
                Some(a.accused),
                required,
                &Ed25519Strict,
            )
            .map(|_| ())
        }
        _ => Err(Error::Unauthorized),
    }
}

/// A short description of a relayed message, e.g. "DoubleVote by 3 in view 12".
pub fn describe(msg: &Msg) -> String {
    match msg {
        Msg::SubmitEvidence(e) => match e.offence() {
            Ok(o) => format!("{:?} by {} in view {}", o.class, o.operator, o.view),
            Err(_) => "malformed evidence".into(),
        },
        Msg::SubmitAccusation(w) => {
            let a = &w.accusation;
            let (b, who, first, last) = (a.behaviour, a.accused, a.first_view, a.last_view);
            format!("{b:?} by {who} in views {first}..={last}")
        }
        Msg::SubmitEvidenceBatch(batch) => {
            let mut offenders: Vec<_> = batch
                .iter()
                .filter_map(|e| e.offence().ok().map(|o| o.operator))
                .collect();
            offenders.dedup();
            format!("{} pieces of evidence against {offenders:?}", batch.len())
        }
        _ => "not relayable".into(),
    }
}

fn decode_response(bytes: &[u8]) -> Option<QueryResponse> {
    borsh::from_slice(bytes).ok()
}

fn as_set(response: Option<QueryResponse>) -> Option<ValidatorSet> {
    match response? {
        QueryResponse::ValidatorSet(set) => Some(set),
        _ => None,
    }
}

fn as_schedule(response: Option<QueryResponse>) -> Option<LeaderSchedule> {
    match response? {
        QueryResponse::Schedule(schedule) => Some(schedule),
        _ => None,
    }
}

fn chain_query(chain: &Chain, query: &Query) -> Option<QueryResponse> {
    let outcome = chain.query(&borsh::to_vec(query).ok()?).ok()?;
    decode_response(&outcome.result.ok()?)
}

impl ChainView for Chain {
    fn chain_id(&self) -> u64 {
        Chain::chain_id(self)
    }

    fn validator_set(&self, epoch: u64) -> Option<ValidatorSet> {
        as_set(chain_query(self, &Query::ValidatorSet { epoch }))
    }

    fn schedule(&self, epoch: u64) -> Option<LeaderSchedule> {
        as_schedule(chain_query(self, &Query::Schedule { epoch }))
    }
}

/// A [`ChainView`] over a node's HTTP API (`POST /query`).
#[derive(Clone, Copy, Debug)]
pub struct HttpChainView {
    /// The node.
    pub client: Client,
    /// The chain's id.
    pub chain_id: u64,
}

impl HttpChainView {
    fn query(&self, query: &Query) -> Option<QueryResponse> {
        let body = json!({ "query": hex::encode(borsh::to_vec(query).ok()?) });
        let reply = self.client.post("/query", &body).ok()?.ok().ok()?;
        decode_response(&hex::decode(reply.get("response")?.as_str()?).ok()?)
    }
}

impl ChainView for HttpChainView {
    fn chain_id(&self) -> u64 {
        self.chain_id
    }

    fn validator_set(&self, epoch: u64) -> Option<ValidatorSet> {
        as_set(self.query(&Query::ValidatorSet { epoch }))
    }

    fn schedule(&self, epoch: u64) -> Option<LeaderSchedule> {
        as_schedule(self.query(&Query::Schedule { epoch }))
    }
}

// ----- Submission ------------------------------------------------------------------------

/// A submitted transaction.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TxRef {
    /// The transaction's hash.
    pub hash: [u8; 32],
}

/// Whether a submitted transaction is in a block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Inclusion {
    /// Not in a block (yet).
    Pending,
    /// In a block at `height`; `accepted` unless the module refused it with `error`.
    Included {
        /// The block.
        height: u64,
        /// Whether the module accepted it.
        accepted: bool,
        /// The module's error name (e.g. `"Duplicate"`), or why it failed otherwise.
        error: Option<String>,
    },
}

/// Why a submission or inclusion check failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SubmitFailure {
    /// Worth retrying later (network, full mempool, nonce race, server error).
    #[error("transient: {0}")]
    Transient(String),
    /// Retrying cannot help.
    #[error("permanent: {0}")]
    Permanent(String),
}

/// Sends payloads to a chain and checks their inclusion.
pub trait Submitter {
    /// Signs and submits one module transaction payload.
    fn submit(&mut self, payload: &[u8]) -> Result<TxRef, SubmitFailure>;
    /// Whether a submitted transaction was included, and how it fared.
    fn inclusion(&mut self, tx: &TxRef) -> Result<Inclusion, SubmitFailure>;
}

/// The name of the module error that means "this offence is already on chain".
fn is_duplicate(error: &str) -> bool {
    error == format!("{:?}", Error::Duplicate)
}

fn status_error(status: &TxStatus) -> Option<String> {
    match status {
        TxStatus::Ok => None,
        TxStatus::Refused(e) => Some(format!("{e:?}")),
        TxStatus::OutOfFuel => Some("out of fuel".into()),
        TxStatus::Trap(msg) => Some(format!("trap: {msg}")),
    }
}

/// Submits to an embedded [`Chain`].
#[derive(Debug)]
pub struct EmbeddedSubmitter<'a> {
    /// The chain.
    pub chain: &'a mut Chain,
    /// The sender's key (anyone may submit evidence).
    pub key: SigningKey,
}

impl Submitter for EmbeddedSubmitter<'_> {
    fn submit(&mut self, payload: &[u8]) -> Result<TxRef, SubmitFailure> {
        match self.chain.submit_signed(&self.key, payload.to_vec()) {
            Ok(hash) => Ok(TxRef { hash }),
            Err(e) => Err(match &e {
                ChainError::Submit(SubmitError::Envelope(_)) | ChainError::PayloadTooLarge => {
                    SubmitFailure::Permanent(e.to_string())
                }
                _ => SubmitFailure::Transient(format!("{e:#}")),
            }),
        }
    }

    fn inclusion(&mut self, tx: &TxRef) -> Result<Inclusion, SubmitFailure> {
        match self.chain.tx(&tx.hash) {
            Ok(None) => Ok(Inclusion::Pending),
            Ok(Some(record)) => Ok(Inclusion::Included {
                height: record.height,
                accepted: crate::chain::succeeded(&record.result.status),
                error: status_error(&record.result.status),
            }),
            Err(e) => Err(SubmitFailure::Transient(format!("{e:#}"))),
        }
    }
}

/// Submits to a node over HTTP (`GET /nonce`, `POST /tx`, `GET /tx`).
#[derive(Debug)]
pub struct HttpSubmitter {
    /// The node.
    pub client: Client,
    /// The sender's key.
    pub key: SigningKey,
    /// The chain's id.
    pub chain_id: u64,
}

/// Classifies an HTTP status: 5xx and 409 (a nonce race or a replay) are transient, other
/// 4xx permanent.
fn http_failure(status: u16, body: &serde_json::Value) -> SubmitFailure {
    let text = format!("the node answered {status}: {body}");
    if status >= 500 || status == 409 {
        SubmitFailure::Transient(text)
    } else {
        SubmitFailure::Permanent(text)
    }
}

fn transient(e: impl std::fmt::Display) -> SubmitFailure {
    SubmitFailure::Transient(e.to_string())
}

impl Submitter for HttpSubmitter {
    fn submit(&mut self, payload: &[u8]) -> Result<TxRef, SubmitFailure> {
        let sender = hex::encode(self.key.verifying_key().to_bytes());
        let reply = self
            .client
            .get(&format!("/nonce/{sender}"))
            .map_err(transient)?;
        if reply.status != 200 {
            return Err(http_failure(reply.status, &reply.body));
        }
        let nonce = reply.body.get("next_free").and_then(|v| v.as_u64());
        let nonce = nonce.ok_or_else(|| transient("no next_free in the nonce answer"))?;
        let envelope = Envelope::sign(self.chain_id, &self.key, nonce, payload.to_vec())
            .ok_or_else(|| SubmitFailure::Permanent("payload too large".into()))?;
        let body = json!({ "envelope": hex::encode(envelope.encode()) });
        let reply = self.client.post("/tx", &body).map_err(transient)?;
        if reply.status != 200 {
            return Err(http_failure(reply.status, &reply.body));
        }
        let hash = reply
            .body
            .get("hash")
            .and_then(|h| h.as_str())
            .unwrap_or("");
        let hash = hex::decode(hash)
            .ok()
            .and_then(|h| <[u8; 32]>::try_from(h).ok());
        let hash = hash.ok_or_else(|| transient("no hash in the answer"))?;
        Ok(TxRef { hash })
    }

    fn inclusion(&mut self, tx: &TxRef) -> Result<Inclusion, SubmitFailure> {
        let reply = self
            .client
            .get(&format!("/tx/{}", hex::encode(tx.hash)))
            .map_err(transient)?;
        match reply.status {
            404 => Ok(Inclusion::Pending),
            200 => {
                let height = reply.body.get("height").and_then(|v| v.as_u64());
                let height = height.ok_or_else(|| transient("no height in the answer"))?;
                let status = reply.body.get("status").and_then(|v| v.as_str());
                let status = status.unwrap_or("unknown").to_string();
                let accepted = status == "ok";
                Ok(Inclusion::Included {
                    height,
                    accepted,
                    error: (!accepted).then_some(status),
                })
            }
            status => Err(http_failure(status, &reply.body)),
        }
    }
}

/// Hands payloads to a `warden relay` process (`POST /evidence`, `GET /evidence/<id>`, see
/// [`crate::ft::relay_server`]), which re-verifies, queues and submits them with its own key:
/// a host that relays this way holds no chain account. An item counts as included once the
/// relayer reports it included; an id the relayer no longer knows (it restarted) reads as
/// pending, so the item is posted again after the backoff, which is harmless.
#[derive(Clone, Copy, Debug)]
pub struct RelaySubmitter {
    /// The relayer.
    pub client: Client,
}

impl Submitter for RelaySubmitter {
    fn submit(&mut self, payload: &[u8]) -> Result<TxRef, SubmitFailure> {
        let body = json!({ "msg": hex::encode(payload) });
        let reply = self.client.post("/evidence", &body).map_err(transient)?;
        match reply.status {
            200 => Ok(TxRef {
                hash: QueuedItem::id_of(payload),
            }),
            // The relayer could not check it yet (its chain node is away, an epoch not yet
            // known) or its inbox is full: try again later.
            422 if reply.body.get("code").and_then(|c| c.as_u64())
                == Some(u64::from(Error::UnknownEpoch { epoch: 0 }.code())) =>
            {
                Err(transient(format!(
                    "the relayer answered 422: {}",
                    reply.body
                )))
            }
            status => Err(http_failure(status, &reply.body)),
        }
    }

    fn inclusion(&mut self, tx: &TxRef) -> Result<Inclusion, SubmitFailure> {
        let reply = self
            .client
            .get(&format!("/evidence/{}", hex::encode(tx.hash)))
            .map_err(transient)?;
        if reply.status == 404 {
            return Ok(Inclusion::Pending);
        }
        if reply.status != 200 {
            return Err(http_failure(reply.status, &reply.body));
        }
        let body = &reply.body;
        let error = body
            .get("error")
            .and_then(|e| e.as_str())
            .map(str::to_string);
        match body.get("state").and_then(|s| s.as_str()) {
            Some("waiting") => Ok(Inclusion::Pending),
            Some("included") => Ok(Inclusion::Included {
                height: body.get("height").and_then(|h| h.as_u64()).unwrap_or(0),
                accepted: body.get("accepted").and_then(|a| a.as_bool()) == Some(true),
                error,
            }),
            Some("given_up") => Err(transient(format!(
                "the relayer gave up: {}",
                error.unwrap_or_default()
            ))),
            _ => Err(transient(format!("an unknown answer: {body}"))),
        }
    }
}

// ----- The collector ---------------------------------------------------------------------

/// What [`EvidenceCollector::collect`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Collected {
    /// Verified and queued durably.
    Queued,
    /// The same payload already waits.
    Duplicate,
}

/// An item that left the queue.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settled {
    /// The item.
    pub id: ItemId,
    /// Its label.
    pub label: String,
    /// The block it was included in, if any.
    pub height: Option<u64>,
    /// Why it was refused or given up.
    pub reason: Option<String>,
}

/// What one [`EvidenceCollector::tick`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TickReport {
    /// Items submitted this tick.
    pub submitted: Vec<ItemId>,
    /// Included and accepted.
    pub included: Vec<Settled>,
    /// Refused as a duplicate: the offence is already on chain.
    pub already_on_chain: Vec<Settled>,
    /// Refused by the module for another reason (a copy is in `refused/`).
    pub refused: Vec<Settled>,
    /// Given up after too many failures (kept in `failed/`).
    pub given_up: Vec<Settled>,
    /// Transient failures this tick (each backs off).
    pub retried: usize,
    /// Disk failures while settling an item (it stays queued and is settled again later).
    pub errors: Vec<String>,
}

#[derive(Clone, Copy, Debug, Default)]
struct Flight {
    attempts: u32,
    next_attempt_ms: u64,
    submitted: Option<(TxRef, u64)>,
}

/// The relayer: re-verifies, queues durably, submits, and settles evidence.
#[doc(alias = "Relayer")]
#[derive(Debug)]
pub struct EvidenceCollector {
    queue: RelayQueue,
    cfg: RelayerConfig,
    flights: HashMap<ItemId, Flight>,
}

/// The relayer of the design.
pub type Relayer = EvidenceCollector;

impl EvidenceCollector {
    /// Opens the queue in `dir` (the relay directory itself, see [`relay_dir`]). Items
    /// submitted before a restart are submitted again: the module deduplicates offences.
    pub fn open(dir: &Path, cfg: RelayerConfig) -> anyhow::Result<Self> {
        Ok(Self {
            queue: RelayQueue::open(dir, cfg.queue_capacity)?,
            cfg,
            flights: HashMap::new(),
        })
    }

    /// Re-verifies `msg` with the module's code against `view`, then queues it durably.
    /// Refused evidence is not queued.
    pub fn collect(
        &mut self,
        msg: &Msg,
        label: &str,
        now_ms: u64,
        view: &dyn ChainView,
    ) -> Result<Collected, RelayError> {
        if !matches!(msg, Msg::SubmitEvidence(_) | Msg::SubmitAccusation(_)) {
            return Err(RelayError::NotRelayable);
        }
        reverify(msg, view).map_err(RelayError::Refused)?;
        self.enqueue(&borsh::to_vec(msg)?, label, now_ms)
    }

    /// Queues, durably, a payload that was re-verified already (by [`collect`](Self::collect),
    /// or by a relayer process when it accepted the payload into its inbox).
    pub fn enqueue(
        &mut self,
        payload: &[u8],
        label: &str,
        detected_at_ms: u64,
    ) -> Result<Collected, RelayError> {
        if self.queue.push(payload, label, detected_at_ms)? {
            Ok(Collected::Queued)
        } else {
            Ok(Collected::Duplicate)
        }
    }

    /// The retry delay after `attempts` failures: `backoff_base_ms` doubled per earlier
    /// failure, capped at `backoff_max_ms`.
    pub fn backoff_ms(&self, attempts: u32) -> u64 {
        let factor = 1u64
            .checked_shl(attempts.saturating_sub(1))
            .unwrap_or(u64::MAX);
        self.cfg
            .backoff_base_ms
            .saturating_mul(factor)
            .min(self.cfg.backoff_max_ms)
    }

    /// Advances every due item: checks the inclusion of submitted ones, submits up to
    /// `batch_size` others, backs off on transient failures. A transaction still pending
    /// `backoff_max_ms` after its submission counts as a failed attempt and is resubmitted.
    pub fn tick(&mut self, now_ms: u64, submitter: &mut dyn Submitter) -> TickReport {
        let mut report = TickReport::default();
        // Only the items due are copied out; the rest wait for their backoff.
        let due: Vec<(ItemId, String, Vec<u8>)> = self
            .queue
            .entries()
            .filter(|(id, _)| self.flight(id).next_attempt_ms <= now_ms)
            .map(|(id, item)| (id, item.label.clone(), item.payload.clone()))
            .collect();
        let mut sent = 0;
        for (id, label, payload) in due {
            let mut flight = self.flight(&id);
            let settle = |height, reason| Settled {
                id,
                label: label.clone(),
                height,
                reason,
            };
            let failure = match flight.submitted {
                Some((tx, at)) => match submitter.inclusion(&tx) {
                    Ok(Inclusion::Included {
                        height,
                        accepted,
                        error,
                    }) => {
                        let error = error.unwrap_or_default();
                        let (list, sub) = if accepted {
                            (&mut report.included, None)
                        } else if is_duplicate(&error) {
                            (&mut report.already_on_chain, None)
                        } else {
                            (&mut report.refused, Some(REFUSED_DIR))
                        };
                        let reason = (!accepted).then_some(error);
                        let moved = match sub {
                            Some(sub) => self.queue.move_to(&id, sub),
                            None => self.queue.remove(&id),
                        };
                        self.flights.remove(&id);
                        match moved {
                            Ok(_) => list.push(settle(Some(height), reason)),
                            // The item stays queued; a later tick settles it again.
                            Err(e) => report.errors.push(format!("{label}: {e}")),
                        }
                        continue;
                    }
                    Ok(Inclusion::Pending)
                        if now_ms.saturating_sub(at) < self.cfg.backoff_max_ms =>
                    {
                        continue
                    }
                    Ok(Inclusion::Pending) => {
                        flight.submitted = None;
                        Some(SubmitFailure::Transient("not included in time".into()))
                    }
                    // The transaction may still be included: keep asking after the backoff.
                    Err(e) => Some(e),
                },
                None if sent >= self.cfg.batch_size => continue,
                None => {
                    sent += 1;
                    match submitter.submit(&payload) {
                        Ok(tx) => {
                            flight.submitted = Some((tx, now_ms));
                            report.submitted.push(id);
                            None
                        }
                        Err(e) => Some(e),
                    }
                }
            };
            if let Some(failure) = failure {
                flight.attempts = flight.attempts.saturating_add(1);
                let permanent = matches!(failure, SubmitFailure::Permanent(_));
                if permanent || flight.attempts >= self.cfg.max_attempts {
                    self.flights.remove(&id);
                    let reason = Some(failure.to_string());
                    match self.queue.move_to(&id, FAILED_DIR) {
                        Ok(_) => report.given_up.push(settle(None, reason)),
                        Err(e) => report.errors.push(format!("{label}: {e}")),
                    }
                    continue;
                }
                report.retried += 1;
                flight.next_attempt_ms = now_ms.saturating_add(self.backoff_ms(flight.attempts));
            }
            self.flights.insert(id, flight);
        }
        report
    }

    fn flight(&self, id: &ItemId) -> Flight {
        self.flights.get(id).copied().unwrap_or_default()
    }

    /// Number of items waiting.
    pub fn pending_len(&self) -> usize {
        self.queue.len()
    }

    /// Items waiting, in order.
    pub fn iter(&self) -> impl Iterator<Item = &QueuedItem> {
        self.queue.iter()
    }

    /// The queue (for its warnings and directory).
    pub fn queue(&self) -> &RelayQueue {
        &self.queue
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chain::genesis::GenesisFile;
    use crate::testkit::{key, TestNetwork};
    use warden_module::evidence::{Behaviour, Evidence};

    struct NetView(TestNetwork);

    impl ChainView for NetView {
        fn chain_id(&self) -> u64 {
            self.0.chain_id
        }
        fn validator_set(&self, epoch: u64) -> Option<ValidatorSet> {
            (epoch == self.0.epoch).then(|| self.0.set())
        }
        fn schedule(&self, epoch: u64) -> Option<LeaderSchedule> {
            (epoch == self.0.epoch).then(|| self.0.schedule())
        }
    }

    /// Answers each call from a script; `Pending` inclusion when the script is empty.
    #[derive(Default)]
    struct Mock {
        submits: Vec<Result<TxRef, SubmitFailure>>,
        inclusions: Vec<Result<Inclusion, SubmitFailure>>,
        submitted: usize,
    }

    impl Submitter for Mock {
        fn submit(&mut self, _payload: &[u8]) -> Result<TxRef, SubmitFailure> {
            self.submitted += 1;
            if self.submits.is_empty() {
                return Ok(TxRef { hash: [7; 32] });
            }
            self.submits.remove(0)
        }
        fn inclusion(&mut self, _tx: &TxRef) -> Result<Inclusion, SubmitFailure> {
            if self.inclusions.is_empty() {
                return Ok(Inclusion::Pending);
            }
            self.inclusions.remove(0)
        }
    }

    fn cfg() -> RelayerConfig {
        RelayerConfig {
            batch_size: 4,
            max_attempts: 4,
            backoff_base_ms: 100,
            backoff_max_ms: 1_000,
            queue_capacity: 8,
        }
    }

    fn net() -> NetView {
        NetView(TestNetwork::new(7, 4))
    }

    fn evidence(view: u64) -> Msg {
        Msg::SubmitEvidence(net().0.double_vote(1, view))
    }

    fn transient() -> Result<TxRef, SubmitFailure> {
        Err(SubmitFailure::Transient("down".into()))
    }

    #[test]
    fn a_pushed_item_survives_reopening() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut q = RelayQueue::open(dir.path(), 8).expect("open");
        assert!(q.push(b"second", "b", 5).expect("push"));
        assert!(q.push(b"first", "a", 6).expect("push"));
        drop(q);
        let q = RelayQueue::open(dir.path(), 8).expect("reopen");
        let items: Vec<_> = q
            .iter()
            .map(|i| (i.label.as_str(), i.seq, i.detected_at_ms))
            .collect();
        assert_eq!(items, [("b", 0, 5), ("a", 1, 6)]);
        assert!(q.warnings().is_empty());
    }

    #[test]
    fn a_corrupt_file_is_set_aside_not_loaded() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut q = RelayQueue::open(dir.path(), 8).expect("open");
        q.push(b"good", "good", 0).expect("push");
        q.push(b"bad", "bad", 0).expect("push");
        let bad = q.path(&Sha256::digest(b"bad").into());
        let bytes = fs::read(&bad).expect("read");
        fs::write(&bad, &bytes[..bytes.len() - 3]).expect("truncate");
        fs::write(dir.path().join("x.tmp"), b"half").expect("tmp");
        drop(q);
        let q = RelayQueue::open(dir.path(), 8).expect("reopen");
        assert_eq!(
            q.iter().map(|i| i.label.as_str()).collect::<Vec<_>>(),
            ["good"]
        );
        assert_eq!(q.warnings().len(), 1);
        assert_eq!(
            fs::read_dir(dir.path().join(CORRUPT_DIR))
                .expect("dir")
                .count(),
            1
        );
        assert!(!dir.path().join("x.tmp").exists());
    }

    #[test]
    fn duplicates_are_queued_once() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut c = EvidenceCollector::open(dir.path(), cfg()).expect("open");
        let msg = evidence(5);
        assert_eq!(
            c.collect(&msg, "x", 0, &net()).expect("collect"),
            Collected::Queued
        );
        assert_eq!(
            c.collect(&msg, "x", 1, &net()).expect("collect"),
            Collected::Duplicate
        );
        assert_eq!(c.pending_len(), 1);
    }

    #[test]
    fn a_full_queue_refuses_with_a_clear_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut q = RelayQueue::open(dir.path(), 2).expect("open");
        q.push(b"1", "1", 0).expect("push");
        q.push(b"2", "2", 0).expect("push");
        let err = q.push(b"3", "3", 0).expect_err("full");
        assert!(matches!(err, RelayError::Full { capacity: 2 }));
        assert!(err.to_string().contains("full"), "{err}");
        assert!(!q.push(b"1", "1", 0).expect("a duplicate is no new item"));
    }

    #[test]
    fn evidence_the_module_refuses_is_not_queued() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut c = EvidenceCollector::open(dir.path(), cfg()).expect("open");
        let Msg::SubmitEvidence(Evidence::DoubleVote { first, .. }) = evidence(5) else {
            unreachable!("a double vote")
        };
        let same = Msg::SubmitEvidence(Evidence::DoubleVote {
            first: first.clone(),
            second: first,
        });
        let err = c.collect(&same, "x", 0, &net()).expect_err("refused");
        assert!(
            matches!(err, RelayError::Refused(Error::NotConflicting)),
            "{err}"
        );
        let foreign = NetView(TestNetwork::new(8, 4));
        let err = c
            .collect(&evidence(5), "x", 0, &foreign)
            .expect_err("refused");
        assert!(
            matches!(err, RelayError::Refused(Error::BadSignature { .. })),
            "{err}"
        );
        let mut old = net();
        old.0.epoch = 2;
        let err = c.collect(&evidence(5), "x", 0, &old).expect_err("refused");
        assert!(matches!(
            err,
            RelayError::Refused(Error::UnknownEpoch { epoch: 1 })
        ));
        let err = c.collect(&Msg::FinaliseSlashing { id: 0 }, "x", 0, &net());
        assert!(matches!(err, Err(RelayError::NotRelayable)));
        assert_eq!(c.pending_len(), 0);
    }

    #[test]
    fn accusations_need_more_than_a_third_of_the_power_without_the_accused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut c = EvidenceCollector::open(dir.path(), cfg()).expect("open");
        let n = net();
        let weak = n.0.accusation(3, Behaviour::VoteWithholding, 4, 6, &[0, 3]);
        let err = c.collect(&Msg::SubmitAccusation(weak), "w", 0, &n);
        assert!(matches!(
            err,
            Err(RelayError::Refused(Error::InsufficientWitnesses { .. }))
        ));
        let strong = n.0.accusation(3, Behaviour::VoteWithholding, 4, 6, &[0, 1]);
        let msg = Msg::SubmitAccusation(strong);
        assert_eq!(describe(&msg), "VoteWithholding by 3 in views 4..=6");
        assert_eq!(
            c.collect(&msg, "s", 0, &n).expect("valid"),
            Collected::Queued
        );
    }

    #[test]
    fn transient_failures_back_off_exponentially_and_give_up_after_max_attempts() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut c = EvidenceCollector::open(dir.path(), cfg()).expect("open");
        c.collect(&evidence(5), "dv", 0, &net()).expect("collect");
        let mut mock = Mock {
            submits: vec![transient(), transient(), transient(), transient()],
            ..Mock::default()
        };
        // Failures at 0, 100, 300, 700: delays 100, 200, 400, then given up.
        let mut at = 0;
        for (attempt, delay) in [(1, 100), (2, 200), (3, 400)] {
            let r = c.tick(at, &mut mock);
            assert_eq!((r.retried, mock.submitted), (1, attempt));
            assert_eq!(c.tick(at + delay - 1, &mut mock), TickReport::default());
            at += delay;
        }
        let r = c.tick(at, &mut mock);
        assert_eq!(r.given_up.len(), 1);
        assert_eq!(r.given_up[0].label, "dv");
        assert_eq!(c.pending_len(), 0);
        assert_eq!(
            fs::read_dir(dir.path().join(FAILED_DIR))
                .expect("dir")
                .count(),
            1
        );
        assert_eq!(c.backoff_ms(10), 1_000, "capped");
    }

    #[test]
    fn an_included_item_leaves_the_queue() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut c = EvidenceCollector::open(dir.path(), cfg()).expect("open");
        c.collect(&evidence(5), "dv", 0, &net()).expect("collect");
        let mut mock = Mock::default();
        assert_eq!(c.tick(0, &mut mock).submitted.len(), 1);
        assert_eq!(c.tick(10, &mut mock), TickReport::default(), "pending");
        mock.inclusions.push(Ok(Inclusion::Included {
            height: 3,
            accepted: true,
            error: None,
        }));
        let r = c.tick(20, &mut mock);
        assert_eq!(r.included.len(), 1);
        assert_eq!(r.included[0].height, Some(3));
        assert_eq!(c.pending_len(), 0);
        assert_eq!(RelayQueue::open(dir.path(), 8).expect("reopen").len(), 0);
    }

    #[test]
    fn a_refused_item_is_kept_for_the_operator_and_batches_are_bounded() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut cfg = cfg();
        cfg.batch_size = 2;
        let mut c = EvidenceCollector::open(dir.path(), cfg).expect("open");
        for view in 5..8 {
            c.collect(&evidence(view), "dv", 0, &net())
                .expect("collect");
        }
        let mut mock = Mock::default();
        assert_eq!(c.tick(0, &mut mock).submitted.len(), 2);
        mock.inclusions.push(Ok(Inclusion::Included {
            height: 2,
            accepted: false,
            error: Some("AlreadyBanned { operator: 1 }".into()),
        }));
        let r = c.tick(1, &mut mock);
        assert_eq!((r.refused.len(), r.submitted.len()), (1, 1));
        assert_eq!(
            fs::read_dir(dir.path().join(REFUSED_DIR))
                .expect("dir")
                .count(),
            1
        );
        assert_eq!(c.pending_len(), 2);
    }

    #[test]
    fn evidence_is_included_once_and_a_resubmission_ends_as_already_on_chain() {
        let dir = tempfile::tempdir().expect("tempdir");
        let network = TestNetwork::new(7, 4);
        let genesis = GenesisFile::from_network(&network, 0);
        let mut chain = Chain::init(&genesis, &dir.path().join("chain")).expect("chain");
        let relay = relay_dir(dir.path());
        let mut c = EvidenceCollector::open(&relay, cfg()).expect("open");
        let msg = Msg::SubmitEvidence(network.double_vote(2, 9));
        assert_eq!(describe(&msg), "DoubleVote by 2 in view 9");
        assert_eq!(
            c.collect(&msg, &describe(&msg), 0, &chain).expect("valid"),
            Collected::Queued
        );
        let submit = |c: &mut EvidenceCollector, chain: &mut Chain, now| {
            c.tick(
                now,
                &mut EmbeddedSubmitter {
                    chain,
                    key: key(99),
                },
            )
        };
        assert_eq!(submit(&mut c, &mut chain, 0).submitted.len(), 1);
        chain.produce_block(1_000).expect("block");
        let r = submit(&mut c, &mut chain, 1);
        assert_eq!(r.included.len(), 1, "{r:?}");
        assert_eq!(r.included[0].height, Some(1));
        assert_eq!(c.pending_len(), 0);

        // Detected again (or replayed after a crash): queued, submitted, refused as duplicate.
        assert_eq!(
            c.collect(&msg, "again", 2, &chain).expect("valid"),
            Collected::Queued
        );
        drop(c);
        let mut c = EvidenceCollector::open(&relay, cfg()).expect("reopen");
        assert_eq!(submit(&mut c, &mut chain, 3).submitted.len(), 1);
        chain.produce_block(2_000).expect("block");
        let r = submit(&mut c, &mut chain, 4);
        assert_eq!(r.already_on_chain.len(), 1, "{r:?}");
        assert!(r.included.is_empty());
        assert_eq!(c.pending_len(), 0);
    }
}
