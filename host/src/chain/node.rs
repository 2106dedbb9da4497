//! The local node: an HTTP JSON API on loopback over one [`Chain`].
//!
//! | method and path | body | answer |
//! |---|---|---|
//! | `GET /status` | | chain id, head height, hash, time and state root, mempool size |
//! | `POST /tx` | `{"envelope": "<hex of a borsh Envelope>"}` | `{"hash": "<hex>"}` |
//! | `POST /query` | `{"query": "<hex of a borsh Query>"}` | `{"response": "<hex of a borsh QueryResponse>", "decoded": {...}, "fuel_used": n}` (see [`query_answer`]) |
//! | `GET /block/latest`, `GET /block/<height>` | | the header, its hash and the transaction hashes |
//! | `GET /tx/<hash>` | | the transaction's block, index, sender, nonce, status, fuel and events |
//! | `GET /nonce/<sender hex>` | | `{"next": n, "next_free": n}` |
//! | `POST /produce` | none | produces a block now; the header |
//! | `GET /events?from=H[&wait_ms=W][&limit=N]` | | the committed transactions and their events from height `H` on (see [`events_json`]); waits up to `W` ms (at most [`MAX_EVENTS_WAIT`]) for a block at `H` if there is none yet |
//!
//! Status codes: 200 success; 400 malformed JSON, hex or envelope, a bad signature or a foreign
//! chain; 404 unknown path, block or transaction; 405 wrong method; 409 a duplicate, a replayed
//! or a used nonce; 408 a request not received within [`REQUEST_TIMEOUT`]; 413 a body over
//! [`MAX_BODY_BYTES`]; 422 a query the module refused; 503 a full mempool; 500 a storage
//! failure. Errors are `{"error": "..."}`.
//!
//! HTTP is hyper's, through axum on a tokio runtime: every connection is its own task, and a
//! request's body is read there, under the request's time limit, before the request touches the
//! chain. So a slow or stuck client holds only its own connection: other clients are answered
//! and blocks are produced meanwhile. The chain itself is behind one lock, taken for the short
//! synchronous work of a request or a block, so requests never race a block commit.
//!
//! Relayers and indexers follow the chain with `GET /events`: a long poll from a height, which
//! answers as soon as a block at that height is committed (a watch channel carries the head's
//! height from every commit to the waiting requests), and whose `next` is the height to ask
//! from next.

use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::http::Method;
use axum::response::Response;
use serde_json::{json, Value};
use tokio::sync::watch;

use warden_module::msg::QueryResponse;
use warden_module::wire::PublicKey;

use super::block::{Block, TxRecord, TxStatus};
use super::envelope::{EnvelopeError, MAX_ENVELOPE_BYTES};
use super::mempool::MempoolError;
use super::{now_ms, Chain, SubmitError};
pub use crate::http::REQUEST_TIMEOUT;
use crate::http::{error, hex_field, read_body, read_json, respond, Reply, SHUTDOWN_GRACE};
use crate::wasm::CallError;

/// The largest request body: an envelope of the largest size in hex, inside JSON.
pub const MAX_BODY_BYTES: usize = 2 * MAX_ENVELOPE_BYTES + 1024;

/// The longest `GET /events` waits for a block, below [`REQUEST_TIMEOUT`].
pub const MAX_EVENTS_WAIT: Duration = Duration::from_secs(8);

/// The most blocks with transactions in one `GET /events` answer (and its default `limit`).
pub const MAX_EVENT_BLOCKS: usize = 100;

/// The most blocks one `GET /events` answer looks through, with transactions or without.
pub const MAX_EVENT_SCAN: u64 = 10_000;

/// The JSON form of a block.
pub fn block_json(block: &Block) -> Value {
    let h = &block.header;
    json!({
        "hash": hex::encode(h.hash()),
        "chain_id": h.chain_id,
        "height": h.height,
        "time": h.time,
        "parent_hash": hex::encode(h.parent_hash),
        "tx_root": hex::encode(h.tx_root),
        "results_root": hex::encode(h.results_root),
        "state_root": hex::encode(h.state_root),
        "txs": block.txs.iter().map(hex::encode).collect::<Vec<_>>(),
    })
}

/// The JSON form of a status.
pub fn status_text(status: &TxStatus) -> String {
    match status {
        TxStatus::Ok => "ok".into(),
        TxStatus::Refused(e) => format!("{e:?}"),
        TxStatus::OutOfFuel => "out of fuel".into(),
        TxStatus::Trap(msg) => format!("trap: {msg}"),
    }
}

/// The JSON form of a transaction record.
pub fn tx_json(record: &TxRecord) -> Value {
    json!({
        "hash": hex::encode(record.hash),
        "height": record.height,
        "index": record.index,
        "sender": hex::encode(record.sender.0),
        "nonce": record.nonce,
        "status": status_text(&record.result.status),
        "code": record.result.status.code(),
        "fuel_used": record.result.fuel_used,
        "events": record
            .result
            .events
            .iter()
            .map(|e| serde_json::to_value(e).unwrap_or_else(|e| json!({ "undecodable": e.to_string() })))
            .collect::<Vec<_>>(),
    })
}

/// The committed transactions from height `from` on, with their events, as `GET /events` and
/// `warden chain events` give them: `{"from", "next", "head", "blocks": [{"height", "hash",
/// "time", "txs": [transaction records, as `GET /tx/<hash>`]}]}`. Only blocks with
/// transactions are listed, at most `limit` of them, from at most [`MAX_EVENT_SCAN`] blocks;
/// `next` is the first height not looked at, the `from` of the next call.
pub fn events_json(chain: &Chain, from: u64, limit: usize) -> anyhow::Result<Value> {
    let head = chain.head().height;
    let last = head.min(from.saturating_add(MAX_EVENT_SCAN - 1));
    let mut blocks = Vec::new();
    let mut next = from;
    while next <= last && blocks.len() < limit {
        let block = chain
            .block(next)?
            .ok_or_else(|| anyhow::anyhow!("no block at height {next}, below the head"))?;
        if !block.txs.is_empty() {
            let txs = block
                .txs
                .iter()
                .map(|hash| {
                    chain
                        .tx(hash)?
                        .map(|record| tx_json(&record))
                        .ok_or_else(|| anyhow::anyhow!("block {next} lists an unknown transaction"))
                })
                .collect::<anyhow::Result<Vec<_>>>()?;
            blocks.push(json!({
                "height": next,
                "hash": hex::encode(block.header.hash()),
                "time": block.header.time,
                "txs": txs,
            }));
        }
        next += 1;
    }
    Ok(json!({ "from": from, "next": next, "head": head, "blocks": blocks }))
}

/// The node: a bound listener and its chain.
pub struct Node {
    listener: TcpListener,
    core: Core,
    addr: SocketAddr,
}

/// What requests and block production share, behind one lock.
struct Core {
    chain: Chain,
    metrics: Option<crate::ft::metrics::SharedMetrics>,
    requests: u64,
    /// The head's height, sent on every commit to the requests waiting in `GET /events`.
    heads: watch::Sender<u64>,
}

type Shared = Arc<Mutex<Core>>;

fn lock(core: &Shared) -> MutexGuard<'_, Core> {
    // A panic while serving one request does not take the chain away from the others.
    core.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl std::fmt::Debug for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Node").field("addr", &self.addr).finish()
    }
}

impl Node {
    /// Binds `addr`, which must be a loopback address (port 0 picks a free port).
    pub fn bind(chain: Chain, addr: SocketAddr) -> anyhow::Result<Self> {
        anyhow::ensure!(
            addr.ip().is_loopback(),
            "the node listens on loopback only, not {addr}"
        );
        let listener =
            TcpListener::bind(addr).map_err(|e| anyhow::anyhow!("binding {addr}: {e}"))?;
        let addr = listener.local_addr()?;
        Ok(Self {
            listener,
            core: Core {
                heads: watch::Sender::new(chain.head().height),
                chain,
                metrics: None,
                requests: 0,
            },
            addr,
        })
    }

    /// Exports the chain's height, mempool and request count into `metrics` as it serves.
    pub fn with_metrics(mut self, metrics: crate::ft::metrics::SharedMetrics) -> Self {
        self.core.metrics = Some(metrics);
        self
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Serves until `stop` is set. With `interval`, a block is produced whenever transactions
    /// wait and the interval has passed since the last block; without, only on `POST /produce`.
    /// Returns the chain once every connection has ended (a request in flight gets at most
    /// [`REQUEST_TIMEOUT`]).
    pub fn run(self, interval: Option<Duration>, stop: Arc<AtomicBool>) -> anyhow::Result<Chain> {
        let Node { listener, core, .. } = self;
        let core: Shared = Arc::new(Mutex::new(core));
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()?;
        let producer = {
            let (core, stop) = (core.clone(), stop.clone());
            std::thread::spawn(move || produce_blocks(&core, interval, &stop))
        };
        let served = runtime.block_on(serve(listener, core.clone(), stop.clone()));
        // Whatever ended the serving ends the production too.
        stop.store(true, Ordering::SeqCst);
        let produced = producer
            .join()
            .map_err(|_| anyhow::anyhow!("the block producer panicked"))?;
        runtime.shutdown_timeout(SHUTDOWN_GRACE);
        served?;
        produced?;
        let core = Arc::try_unwrap(core)
            .map_err(|_| anyhow::anyhow!("the node's state is still shared"))?
            .into_inner()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        Ok(core.chain)
    }
}

/// Produces a block whenever transactions wait and `interval` has passed, and exports the
/// metrics, until `stop` is set.
fn produce_blocks(
    core: &Shared,
    interval: Option<Duration>,
    stop: &AtomicBool,
) -> anyhow::Result<()> {
    let mut last_block = Instant::now();
    while !stop.load(Ordering::SeqCst) {
        let wait = interval.map_or(Duration::from_millis(100), |i| {
            i.saturating_sub(last_block.elapsed())
                .clamp(Duration::from_millis(1), Duration::from_millis(100))
        });
        std::thread::sleep(wait);
        let mut core = lock(core);
        if let Some(i) = interval {
            if last_block.elapsed() >= i {
                if core.chain.mempool_len() > 0 {
                    if let Err(e) = core.produce() {
                        stop.store(true, Ordering::SeqCst);
                        return Err(e);
                    }
                }
                last_block = Instant::now();
            }
        }
        core.export();
    }
    Ok(())
}

async fn serve(listener: TcpListener, core: Shared, stop: Arc<AtomicBool>) -> anyhow::Result<()> {
    let app = axum::Router::new().fallback(handle).with_state(core);
    crate::http::serve(listener, app, stop).await
}

/// One request: its body read here, in its own task, then its work done under the lock on a
/// blocking thread.
async fn handle(State(core): State<Shared>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let reply = match read_body(&parts.headers, body, MAX_BODY_BYTES).await {
        Ok(_) if parts.method == Method::GET && parts.uri.path() == "/events" => {
            match EventsRequest::parse(parts.uri.query().unwrap_or("")) {
                Ok(request) => events(&core, request).await,
                Err(message) => error(400, message),
            }
        }
        Ok(body) => locked(&core, move |core| {
            core.route(&parts.method, parts.uri.path(), &body)
        })
        .await
        .unwrap_or_else(|reply| reply),
        Err(reply) => reply,
    };
    respond(reply)
}

/// Runs `work` on the chain under the lock, on a blocking thread, and exports the metrics after
/// it.
async fn locked<T: Send + 'static>(
    core: &Shared,
    work: impl FnOnce(&mut Core) -> T + Send + 'static,
) -> Result<T, Reply> {
    let core = core.clone();
    tokio::task::spawn_blocking(move || {
        let mut core = lock(&core);
        let result = work(&mut core);
        core.export();
        result
    })
    .await
    .map_err(|e| error(500, format!("the request failed: {e}")))
}

/// The parameters of `GET /events`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct EventsRequest {
    from: u64,
    wait: Duration,
    limit: usize,
}

impl EventsRequest {
    /// Parses `from=H&wait_ms=W&limit=N` (`from` required, each at most once, decimal).
    fn parse(query: &str) -> Result<Self, String> {
        let (mut from, mut wait, mut limit) = (None, None, None);
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair
                .split_once('=')
                .ok_or_else(|| format!("{pair:?} is not key=value"))?;
            let number = value
                .parse::<u64>()
                .map_err(|_| format!("{key}={value:?}: not a decimal number"))?;
            let slot = match key {
                "from" => &mut from,
                "wait_ms" => &mut wait,
                "limit" => &mut limit,
                _ => return Err(format!("unknown parameter {key:?} (from, wait_ms, limit)")),
            };
            if slot.replace(number).is_some() {
                return Err(format!("{key} given twice"));
            }
        }
        let from = from.ok_or("give from=HEIGHT, the first height to list")?;
        let wait = Duration::from_millis(wait.unwrap_or(0));
        if wait > MAX_EVENTS_WAIT {
            return Err(format!(
                "wait_ms over the limit of {}",
                MAX_EVENTS_WAIT.as_millis()
            ));
        }
        let limit = match limit {
            None => MAX_EVENT_BLOCKS,
            Some(n @ 1..) if n <= MAX_EVENT_BLOCKS as u64 => n as usize,
            Some(_) => return Err(format!("limit is 1 to {MAX_EVENT_BLOCKS}")),
        };
        Ok(Self { from, wait, limit })
    }
}

/// `GET /events`: the answer at once if the chain has reached `from`, or once a commit reaches
/// it, or, when the wait is over, an empty one.
async fn events(core: &Shared, request: EventsRequest) -> Reply {
    let deadline = tokio::time::Instant::now() + request.wait;
    let mut first = true;
    loop {
        // The receiver is taken under the same lock as the answer, so no commit falls between.
        let answered = locked(core, move |core| {
            if first {
                core.requests += 1;
            }
            let heads = core.heads.subscribe();
            let head = core.chain.head().height;
            let answer = match events_json(&core.chain, request.from, request.limit) {
                Ok(value) => (200, value),
                Err(e) => error(500, format!("{e:#}")),
            };
            (answer, head, heads)
        })
        .await;
        let (answer, head, mut heads) = match answered {
            Ok(answered) => answered,
            Err(reply) => return reply,
        };
        if head >= request.from || tokio::time::Instant::now() >= deadline {
            return answer;
        }
        // Woken by the commit that reaches `from`, or by the deadline: either way the next
        // round answers. A closed channel (the node is stopping) answers now.
        let waited = tokio::time::timeout_at(deadline, heads.wait_for(|&h| h >= request.from));
        if let Ok(Err(_closed)) = waited.await {
            return answer;
        }
        first = false;
    }
}

impl Core {
    /// Produces a block now and tells the waiting `GET /events` requests.
    fn produce(&mut self) -> anyhow::Result<super::block::Header> {
        let header = self.chain.produce_block(now_ms())?;
        self.heads.send_replace(header.height);
        Ok(header)
    }

    fn export(&self) {
        let Some(shared) = &self.metrics else {
            return;
        };
        let mut m = match shared.lock() {
            Ok(m) => m,
            Err(poisoned) => poisoned.into_inner(),
        };
        let head = self.chain.head();
        let _ = m.gauge(
            "warden_chain_height",
            "Height of the chain's head.",
            &[],
            head.height as f64,
        );
        let _ = m.gauge(
            "warden_chain_head_time_seconds",
            "Time of the head block.",
            &[],
            head.time as f64 / 1e3,
        );
        let _ = m.gauge(
            "warden_chain_mempool",
            "Transactions waiting.",
            &[],
            self.chain.mempool_len() as f64,
        );
        let _ = m.counter(
            "warden_chain_requests_total",
            "HTTP requests served.",
            &[],
            self.requests as f64,
        );
    }

    fn route(&mut self, method: &Method, url: &str, body: &[u8]) -> Reply {
        self.requests += 1;
        let path: Vec<&str> = url.split('/').filter(|s| !s.is_empty()).collect();
        let result = match (path.as_slice(), method) {
            (["status"], &Method::GET) => Ok(self.status()),
            (["tx"], &Method::POST) => self.submit(body),
            (["query"], &Method::POST) => self.query(body),
            (["produce"], &Method::POST) => match self.produce() {
                Ok(header) => self.block(header.height),
                Err(e) => Err(error(500, format!("{e:#}"))),
            },
            (["block", "latest"], &Method::GET) => self.block(self.chain.head().height),
            (["block", height], &Method::GET) => match height.parse::<u64>() {
                Ok(h) => self.block(h),
                Err(_) => Err(error(400, "a height is a decimal number")),
            },
            (["tx", hash], &Method::GET) => self.tx(hash),
            (["nonce", sender], &Method::GET) => self.nonce(sender),
            (["status" | "tx" | "query" | "produce" | "block" | "nonce" | "events", ..], _) => {
                Err(error(405, format!("{method} not allowed on {url}")))
            }
            _ => Err(error(404, format!("no such path: {url}"))),
        };
        match result {
            Ok(reply) | Err(reply) => reply,
        }
    }

    fn status(&self) -> Reply {
        let head = self.chain.head();
        (
            200,
            json!({
                "chain_id": self.chain.chain_id(),
                "height": head.height,
                "hash": hex::encode(head.hash()),
                "time": head.time,
                "state_root": hex::encode(head.state_root),
                "mempool": self.chain.mempool_len(),
            }),
        )
    }

    fn submit(&mut self, body: &[u8]) -> Result<Reply, Reply> {
        let body = read_json(body)?;
        let bytes = hex_field(&body, "envelope")?;
        match self.chain.submit(&bytes) {
            Ok(hash) => Ok((200, json!({ "hash": hex::encode(hash) }))),
            Err(e) => {
                let status = match &e {
                    SubmitError::Envelope(EnvelopeError::TooLarge { .. }) => 413,
                    SubmitError::Envelope(_) => 400,
                    SubmitError::AlreadyCommitted
                    | SubmitError::Mempool(
                        MempoolError::Duplicate
                        | MempoolError::NonceUsed { .. }
                        | MempoolError::NonceTaken,
                    ) => 409,
                    SubmitError::Mempool(MempoolError::NonceTooFarAhead { .. }) => 400,
                    SubmitError::Mempool(MempoolError::Full { .. }) => 503,
                    SubmitError::Storage(_) => 500,
                };
                Err(error(status, e))
            }
        }
    }

    fn query(&mut self, body: &[u8]) -> Result<Reply, Reply> {
        let body = read_json(body)?;
        let bytes = hex_field(&body, "query")?;
        let outcome = self
            .chain
            .query(&bytes)
            .map_err(|e| error(500, format!("{e:#}")))?;
        match outcome.result {
            Ok(response) => Ok((200, query_answer(&response, outcome.fuel_used))),
            Err(CallError::Module(e)) => {
                Err((422, json!({ "error": format!("{e:?}"), "code": e.code() })))
            }
            Err(e) => Err(error(500, e)),
        }
    }

    fn block(&self, height: u64) -> Result<Reply, Reply> {
        match self.chain.block(height) {
            Ok(Some(block)) => Ok((200, block_json(&block))),
            Ok(None) => Err(error(404, format!("no block at height {height}"))),
            Err(e) => Err(error(500, format!("{e:#}"))),
        }
    }

    fn tx(&self, hash: &str) -> Result<Reply, Reply> {
        let bytes = hex::decode(hash).map_err(|e| error(400, format!("not hex: {e}")))?;
        let hash: [u8; 32] = bytes
            .try_into()
            .map_err(|_| error(400, "a transaction hash has 32 bytes"))?;
        match self.chain.tx(&hash) {
            Ok(Some(record)) => Ok((200, tx_json(&record))),
            Ok(None) => Err(error(404, "no such committed transaction")),
            Err(e) => Err(error(500, format!("{e:#}"))),
        }
    }

    fn nonce(&self, sender: &str) -> Result<Reply, Reply> {
        let bytes = hex::decode(sender).map_err(|e| error(400, format!("not hex: {e}")))?;
        let key: [u8; 32] = bytes
            .try_into()
            .map_err(|_| error(400, "a key has 32 bytes"))?;
        let key = PublicKey(key);
        let next = self
            .chain
            .next_nonce(&key)
            .map_err(|e| error(500, format!("{e:#}")))?;
        let free = self
            .chain
            .next_free_nonce(&key)
            .map_err(|e| error(500, format!("{e:#}")))?;
        Ok((200, json!({ "next": next, "next_free": free })))
    }
}
/// A query's answer as the node and `warden chain query` give it: the borsh `QueryResponse`
/// in hex (`response`), the same decoded into JSON with named fields (`decoded`: keys and hashes
/// in hex, enum values by name, as [`warden_module::json`] writes them), and the fuel it took.
pub fn query_answer(response: &[u8], fuel_used: u64) -> Value {
    let decoded = match borsh::from_slice::<QueryResponse>(response) {
        Ok(decoded) => serde_json::to_value(&decoded)
            .unwrap_or_else(|e| json!({ "undecodable": e.to_string() })),
        Err(e) => json!({ "undecodable": e.to_string() }),
    };
    json!({
        "response": hex::encode(response),
        "decoded": decoded,
        "fuel_used": fuel_used,
    })
}
