//! `warden relay`: the [`EvidenceCollector`] as its own process, so that a validator's host
//! needs no chain credentials. Hosts post evidence and accusations to it; it re-verifies each
//! with the module's own code ([`reverify`]) against the chain's validator sets, keeps it on
//! disk, and submits it to a chain node in batches with bounded retries, signing with its own
//! key (so the reporter reward is its own).
//!
//! | method and path | body | answer |
//! |---|---|---|
//! | `POST /evidence` | `{"msg": "<hex of a borsh Msg>", "label": "..."?}` (`SubmitEvidence` or `SubmitAccusation`) | `{"id": "<hex>", "label": "...", "queued": bool}` (`queued` is false for a payload that waits already) |
//! | `GET /evidence/<id>` | | `{"state": "waiting"}` while in the inbox or the queue; once settled `{"state": "included", "height", "accepted", "error"}` (`accepted` false with the module's error, e.g. `"Duplicate"` for an offence on chain already) or `{"state": "given_up", "error"}`; 404 for an id it does not know (for example one settled before a restart: post it again) |
//! | `GET /status` | | chain id, the relayer's account, items in the inbox and the queue, and what was settled since it started |
//!
//! Status codes: 200 accepted; 400 malformed JSON, hex or message; 404 unknown path; 405 wrong
//! method; 408 a request not received within [`REQUEST_TIMEOUT`]; 413 a body over
//! [`MAX_BODY_BYTES`]; 422 a message the module's checks refuse (`{"error", "code"}`, the module's
//! error and its code; an unreachable chain node refuses as an unknown epoch: post again later);
//! 503 a full inbox; 500 a disk failure. Every refusal is logged with its reason.
//!
//! Durability: a `200` is sent only after the item is in the inbox on disk (temporary file,
//! fsync, rename, fsync of the directory). The submitter thread moves items from the inbox into
//! the collector's queue, removing each from the inbox only once it is durable there, so a
//! `kill -9` at any point loses nothing; an item found in both after a restart is queued once
//! (the queue deduplicates payloads) and an offence submitted twice is recorded once (the module
//! deduplicates offences). Requests never wait for the chain node's submissions: those run on
//! the submitter thread, and a request takes only the inbox's lock.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::Method;
use axum::response::Response;
use ed25519_dalek::SigningKey;
use serde_json::{json, Value};

use warden_module::codec::decode;
use warden_module::msg::{Msg, MAX_TX_BYTES};
use warden_module::schedule::LeaderSchedule;
use warden_module::validators::ValidatorSet;

use super::config::RelayerConfig;
use super::relay::{
    describe, relay_dir, reverify, ChainView, Collected, EvidenceCollector, HttpChainView,
    HttpSubmitter, ItemId, RelayError, RelayQueue, Settled, TickReport,
};
use crate::chain::client::Client;
use crate::chain::now_ms;
pub use crate::http::REQUEST_TIMEOUT;
use crate::http::{error, hex_field, read_body, read_json, respond, Reply, SHUTDOWN_GRACE};

/// The largest request body: a module transaction of the largest size in hex, inside JSON.
pub const MAX_BODY_BYTES: usize = 2 * MAX_TX_BYTES + 1024;

/// The inbox's directory inside the relayer's data directory (the collector's queue is in
/// [`relay_dir`]).
pub const INBOX_DIR: &str = "inbox";

/// How often the submitter thread moves the inbox and advances the collector.
pub const TICK: Duration = Duration::from_millis(100);

/// The most items moved from the inbox into the queue per [`TICK`].
const MOVED_PER_TICK: usize = 256;

/// The time limit on each call to the chain node (connect, write, read).
pub const NODE_TIMEOUT: Duration = Duration::from_secs(5);

/// Validator sets and schedules kept from the chain node, per epoch (the lowest epoch goes
/// first).
const CACHED_EPOCHS: usize = 32;

/// A [`ChainView`] that asks the chain node once per epoch: an epoch's validator set and
/// schedule do not change once the chain has them.
#[derive(Debug)]
struct CachedView {
    inner: HttpChainView,
    sets: Mutex<BTreeMap<u64, ValidatorSet>>,
    schedules: Mutex<BTreeMap<u64, LeaderSchedule>>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while serving one request does not take the state away from the others.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn cached<T: Clone>(
    cache: &Mutex<BTreeMap<u64, T>>,
    epoch: u64,
    fetch: impl FnOnce() -> Option<T>,
) -> Option<T> {
    if let Some(hit) = lock(cache).get(&epoch) {
        return Some(hit.clone());
    }
    // Not under the lock: the node may be slow.
    let fetched = fetch()?;
    let mut cache = lock(cache);
    cache.insert(epoch, fetched.clone());
    while cache.len() > CACHED_EPOCHS {
        cache.pop_first();
    }
    Some(fetched)
}

impl ChainView for CachedView {
    fn chain_id(&self) -> u64 {
        self.inner.chain_id
    }

    fn validator_set(&self, epoch: u64) -> Option<ValidatorSet> {
        cached(&self.sets, epoch, || self.inner.validator_set(epoch))
    }

    fn schedule(&self, epoch: u64) -> Option<LeaderSchedule> {
        cached(&self.schedules, epoch, || self.inner.schedule(epoch))
    }
}

/// What the relayer settled since it started, as `GET /status` reports it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RelayStats {
    /// Items in the collector's queue (submitted or waiting to be).
    pub queued: usize,
    /// Included and accepted.
    pub included: u64,
    /// Refused as duplicates: the offence was on chain already.
    pub already_on_chain: u64,
    /// Refused by the module on chain (kept in `refused/`).
    pub refused: u64,
    /// Given up after too many attempts (kept in `failed/`).
    pub given_up: u64,
    /// Transient failures, each retried after a backoff.
    pub retried: u64,
}

impl RelayStats {
    fn add(&mut self, report: &TickReport) {
        let n = |v: &[_]| v.len() as u64;
        self.included += n(&report.included);
        self.already_on_chain += n(&report.already_on_chain);
        self.refused += n(&report.refused);
        self.given_up += n(&report.given_up);
        self.retried += report.retried as u64;
    }
}

/// The most settled items `GET /evidence/<id>` remembers (the oldest is forgotten first).
pub const REMEMBERED_SETTLED: usize = 10_000;

/// How an item left the queue, as `GET /evidence/<id>` tells it.
#[derive(Clone, Debug)]
struct Settlement {
    height: Option<u64>,
    accepted: bool,
    error: Option<String>,
}

/// The items settled lately, and the ids in the collector's queue.
#[derive(Debug, Default)]
struct Ledger {
    settled: HashMap<ItemId, Settlement>,
    order: VecDeque<ItemId>,
    queued: HashSet<ItemId>,
}

impl Ledger {
    fn settle(&mut self, settled: &[Settled], accepted: bool) {
        for s in settled {
            let settlement = Settlement {
                height: s.height,
                accepted,
                error: s.reason.clone(),
            };
            if self.settled.insert(s.id, settlement).is_none() {
                self.order.push_back(s.id);
            }
            while self.order.len() > REMEMBERED_SETTLED {
                if let Some(old) = self.order.pop_front() {
                    self.settled.remove(&old);
                }
            }
        }
    }

    fn record(&mut self, report: &TickReport, queue: &RelayQueue) {
        self.settle(&report.included, true);
        self.settle(&report.already_on_chain, false);
        self.settle(&report.refused, false);
        self.settle(&report.given_up, false);
        self.queued = queue.iter().map(|item| item.id()).collect();
    }

    fn state(&self, id: &ItemId) -> Option<Value> {
        if self.queued.contains(id) {
            return Some(json!({ "state": "waiting" }));
        }
        let s = self.settled.get(id)?;
        Some(match s.height {
            Some(height) => json!({
                "state": "included",
                "height": height,
                "accepted": s.accepted,
                "error": s.error,
            }),
            None => json!({ "state": "given_up", "error": s.error }),
        })
    }
}

/// What the request handlers and the submitter thread share.
struct Shared {
    inbox: Mutex<RelayQueue>,
    stats: Mutex<RelayStats>,
    ledger: Mutex<Ledger>,
    view: CachedView,
    account: String,
}

type Handle = Arc<Shared>;

/// The relayer: a bound listener, its inbox and its collector.
pub struct RelayServer {
    listener: TcpListener,
    addr: SocketAddr,
    inbox: RelayQueue,
    collector: EvidenceCollector,
    submitter: HttpSubmitter,
    chain_id: u64,
}

impl std::fmt::Debug for RelayServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RelayServer")
            .field("addr", &self.addr)
            .field("chain_id", &self.chain_id)
            .finish()
    }
}

impl RelayServer {
    /// Opens the inbox and the queue in `data` (creating them if needed), asks the chain node at
    /// `node` for its chain id, and binds `addr`, which must be a loopback address (port 0 picks
    /// a free port). Items left by an earlier run are submitted again.
    pub fn bind(
        data: &Path,
        cfg: RelayerConfig,
        node: SocketAddr,
        key: SigningKey,
        addr: SocketAddr,
    ) -> anyhow::Result<Self> {
        anyhow::ensure!(
            addr.ip().is_loopback(),
            "the relayer listens on loopback only, not {addr}"
        );
        let client = Client::new(node).with_timeout(NODE_TIMEOUT);
        let status = client
            .get("/status")
            .and_then(|reply| reply.ok())
            .map_err(|e| {
                anyhow::anyhow!("asking the chain node at {node} for its status: {e:#}")
            })?;
        let chain_id = status
            .get("chain_id")
            .and_then(Value::as_u64)
            .ok_or_else(|| anyhow::anyhow!("the chain node at {node} names no chain_id"))?;
        let inbox = RelayQueue::open(&data.join(INBOX_DIR), cfg.queue_capacity)?;
        let collector = EvidenceCollector::open(&relay_dir(data), cfg)?;
        for warning in inbox.warnings().iter().chain(collector.queue().warnings()) {
            tracing::warn!("{warning}");
        }
        let listener =
            TcpListener::bind(addr).map_err(|e| anyhow::anyhow!("binding {addr}: {e}"))?;
        let addr = listener.local_addr()?;
        Ok(Self {
            listener,
            addr,
            inbox,
            collector,
            submitter: HttpSubmitter {
                client,
                key,
                chain_id,
            },
            chain_id,
        })
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The chain's id, as its node gave it.
    pub fn chain_id(&self) -> u64 {
        self.chain_id
    }

    /// Serves and submits until `stop` is set; returns once both have ended (a request in
    /// flight gets at most [`SHUTDOWN_GRACE`]). Nothing accepted is lost by stopping, or by a
    /// `kill -9`: the next run submits what is left.
    pub fn run(self, stop: Arc<AtomicBool>) -> anyhow::Result<()> {
        let RelayServer {
            listener,
            inbox,
            collector,
            submitter,
            chain_id,
            ..
        } = self;
        let shared: Handle = Arc::new(Shared {
            inbox: Mutex::new(inbox),
            stats: Mutex::new(RelayStats::default()),
            ledger: Mutex::default(),
            view: CachedView {
                inner: HttpChainView {
                    client: submitter.client,
                    chain_id,
                },
                sets: Mutex::default(),
                schedules: Mutex::default(),
            },
            account: hex::encode(submitter.key.verifying_key().to_bytes()),
        });
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()?;
        let worker = {
            let (shared, stop) = (shared.clone(), stop.clone());
            std::thread::spawn(move || submit_loop(&shared, collector, submitter, &stop))
        };
        let app = axum::Router::new().fallback(handle).with_state(shared);
        let served = runtime.block_on(crate::http::serve(listener, app, stop.clone()));
        stop.store(true, Ordering::SeqCst);
        let worked = worker
            .join()
            .map_err(|_| anyhow::anyhow!("the submitter thread panicked"));
        runtime.shutdown_timeout(SHUTDOWN_GRACE);
        served?;
        worked
    }
}

/// Moves the inbox into the collector and advances it, every [`TICK`], until `stop` is set.
fn submit_loop(
    shared: &Shared,
    mut collector: EvidenceCollector,
    mut submitter: HttpSubmitter,
    stop: &AtomicBool,
) {
    while !stop.load(Ordering::SeqCst) {
        // A bounded number per tick: the rest waits in the inbox, on disk and in order.
        let waiting: Vec<_> = lock(&shared.inbox)
            .iter()
            .take(MOVED_PER_TICK)
            .cloned()
            .collect();
        for item in waiting {
            let id = item.id();
            match collector.enqueue(&item.payload, &item.label, item.detected_at_ms) {
                Ok(Collected::Queued | Collected::Duplicate) => {
                    if let Err(e) = lock(&shared.inbox).remove(&id) {
                        tracing::warn!("{}: leaving the inbox: {e}", item.label);
                    }
                }
                // The queue is full: the rest waits in the inbox.
                Err(RelayError::Full { .. }) => break,
                Err(e) => {
                    tracing::warn!("{}: queueing: {e}", item.label);
                    break;
                }
            }
        }
        let report = collector.tick(now_ms(), &mut submitter);
        log_report(&report);
        lock(&shared.ledger).record(&report, collector.queue());
        let mut stats = lock(&shared.stats);
        stats.add(&report);
        stats.queued = collector.pending_len();
        drop(stats);
        std::thread::sleep(TICK);
    }
}

fn log_report(report: &TickReport) {
    for s in &report.included {
        tracing::info!("{} included at height {:?}", s.label, s.height);
    }
    for s in &report.already_on_chain {
        tracing::info!("{} was on chain already", s.label);
    }
    for s in &report.refused {
        tracing::warn!("{} refused on chain: {:?}", s.label, s.reason);
    }
    for s in &report.given_up {
        tracing::warn!("{} given up: {:?}", s.label, s.reason);
    }
    for e in &report.errors {
        tracing::warn!("{e}");
    }
}

async fn handle(State(shared): State<Handle>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let (method, path) = (parts.method, parts.uri.path().to_string());
    let reply = match read_body(&parts.headers, body, MAX_BODY_BYTES).await {
        Err(reply) => reply,
        Ok(body) => match (method.clone(), path.as_str()) {
            (Method::POST, "/evidence") => {
                let shared = shared.clone();
                tokio::task::spawn_blocking(move || accept(&shared, &body))
                    .await
                    .unwrap_or_else(|e| error(500, format!("the request failed: {e}")))
            }
            (Method::GET, "/status") => status(&shared),
            (Method::GET, p) if p.starts_with("/evidence/") => item_state(&shared, &p[10..]),
            (_, "/evidence" | "/status") => error(405, format!("{method} not allowed on {path}")),
            _ => error(404, format!("no such path: {path}")),
        },
    };
    if reply.0 != 200 {
        tracing::warn!("refused {method} {path} ({}): {}", reply.0, reply.1);
    }
    respond(reply)
}

/// `POST /evidence`: decode, re-verify, queue durably in the inbox.
fn accept(shared: &Shared, body: &[u8]) -> Reply {
    let accepted = (|| {
        let body = read_json(body)?;
        let bytes = hex_field(&body, "msg")?;
        let msg: Msg = decode(&bytes, MAX_TX_BYTES)
            .map_err(|e| error(400, format!("msg: not a module message: {e}")))?;
        if !matches!(msg, Msg::SubmitEvidence(_) | Msg::SubmitAccusation(_)) {
            return Err(error(400, RelayError::NotRelayable));
        }
        let label = match body.get("label") {
            None => describe(&msg),
            Some(Value::String(label)) if label.len() <= 200 => label.clone(),
            Some(_) => return Err(error(400, "label: a string of at most 200 bytes")),
        };
        reverify(&msg, &shared.view)
            .map_err(|e| (422, json!({ "error": format!("{e:?}"), "code": e.code() })))?;
        let queued = lock(&shared.inbox)
            .push(&bytes, &label, now_ms())
            .map_err(|e| match e {
                RelayError::Full { .. } => error(503, e),
                e => error(500, e),
            })?;
        let id = hex::encode(super::relay::QueuedItem::id_of(&bytes));
        tracing::info!("accepted {label} ({id})");
        Ok((200, json!({ "id": id, "label": label, "queued": queued })))
    })();
    accepted.unwrap_or_else(|reply| reply)
}

/// `GET /evidence/<id>`.
fn item_state(shared: &Shared, id: &str) -> Reply {
    let parsed = hex::decode(id).ok().and_then(|b| ItemId::try_from(b).ok());
    let Some(id) = parsed else {
        return error(400, "an item id is 32 bytes in hex");
    };
    if lock(&shared.inbox).contains(&id) {
        return (200, json!({ "state": "waiting" }));
    }
    match lock(&shared.ledger).state(&id) {
        Some(state) => (200, state),
        None => error(
            404,
            "no such item (settled long ago or before a restart: post it again)",
        ),
    }
}

fn status(shared: &Shared) -> Reply {
    let stats = lock(&shared.stats).clone();
    (
        200,
        json!({
            "chain_id": shared.view.inner.chain_id,
            "account": shared.account,
            "inbox": lock(&shared.inbox).len(),
            "queued": stats.queued,
            "included": stats.included,
            "already_on_chain": stats.already_on_chain,
            "refused": stats.refused,
            "given_up": stats.given_up,
            "retried": stats.retried,
        }),
    )
}

/// `warden relay`'s arguments.
#[derive(clap::Args, Debug, Clone)]
#[command(group = clap::ArgGroup::new("sender").required(true).multiple(false))]
pub struct Options {
    /// The chain node to submit to (a `warden chain serve` address).
    #[arg(long, default_value = "127.0.0.1:26657")]
    pub node: SocketAddr,
    /// The relayer's data directory: its inbox and queue (created if missing).
    #[arg(long)]
    pub data: std::path::PathBuf,
    /// Loopback address to accept evidence on (port 0 picks a free one, printed at start).
    #[arg(long, default_value = "127.0.0.1:26658")]
    pub listen: SocketAddr,
    /// A file holding the relayer's 32-byte ed25519 secret key in hex: the account that signs
    /// its transactions and earns the reporter reward.
    #[arg(long, group = "sender", value_name = "FILE")]
    pub key_file: Option<std::path::PathBuf>,
    /// A deterministic test key instead (see `testkit::key`), for local networks.
    #[arg(long, group = "sender")]
    pub key_seed: Option<u64>,
}

/// Runs `warden relay` until the process is stopped (nothing it accepted is lost by a stop).
/// Batching, retries and the queue's capacity come from the configuration's `[relayer]`.
pub fn run(options: &Options, cfg: &RelayerConfig) -> anyhow::Result<()> {
    let key =
        crate::chain::cli::key_from_file_or_seed(options.key_file.as_deref(), options.key_seed)?;
    let server = RelayServer::bind(
        &options.data,
        cfg.clone(),
        options.node,
        key,
        options.listen,
    )?;
    eprintln!(
        "relaying evidence to chain {} at http://{} from http://{} (data in {})",
        server.chain_id(),
        options.node,
        server.addr(),
        options.data.display()
    );
    server.run(Arc::new(AtomicBool::new(false)))
}
