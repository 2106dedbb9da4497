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
//!
//! Status codes: 200 success; 400 malformed JSON, hex or envelope, a bad signature or a foreign
//! chain; 404 unknown path, block or transaction; 405 wrong method; 409 a duplicate, a replayed
//! or a used nonce; 411 a body without a length; 413 a body over [`MAX_BODY_BYTES`]; 422 a query
//! the module refused; 503 a full mempool; 500 a storage failure. Errors are `{"error": "..."}`.
//! One thread serves requests and produces blocks, so requests never race a block commit.

use std::io::Read;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tiny_http::{Header as HttpHeader, Method, Request, Response, Server};

use warden_module::msg::QueryResponse;
use warden_module::wire::PublicKey;

use super::block::{Block, TxRecord, TxStatus};
use super::envelope::{EnvelopeError, MAX_ENVELOPE_BYTES};
use super::mempool::MempoolError;
use super::{now_ms, Chain, SubmitError};
use crate::wasm::CallError;

/// The largest request body: an envelope of the largest size in hex, inside JSON.
pub const MAX_BODY_BYTES: usize = 2 * MAX_ENVELOPE_BYTES + 1024;

/// A response: status and JSON body.
type Reply = (u16, Value);

fn error(status: u16, message: impl std::fmt::Display) -> Reply {
    (status, json!({ "error": message.to_string() }))
}

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
        "events": record.result.events.iter().map(|e| format!("{e:?}")).collect::<Vec<_>>(),
    })
}

/// The node: a bound server and its chain.
pub struct Node {
    server: Server,
    chain: Chain,
    addr: SocketAddr,
    metrics: Option<crate::ft::metrics::SharedMetrics>,
    requests: u64,
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
        let server = Server::http(addr).map_err(|e| anyhow::anyhow!("binding {addr}: {e}"))?;
        let addr = server
            .server_addr()
            .to_ip()
            .ok_or_else(|| anyhow::anyhow!("the server has no IP address"))?;
        Ok(Self {
            server,
            chain,
            addr,
            metrics: None,
            requests: 0,
        })
    }

    /// Exports the chain's height, mempool and request count into `metrics` as it serves.
    pub fn with_metrics(mut self, metrics: crate::ft::metrics::SharedMetrics) -> Self {
        self.metrics = Some(metrics);
        self
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

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Serves until `stop` is set. With `interval`, a block is produced whenever transactions
    /// wait and the interval has passed since the last block; without, only on `POST /produce`.
    pub fn run(
        mut self,
        interval: Option<Duration>,
        stop: Arc<AtomicBool>,
    ) -> anyhow::Result<Chain> {
        let mut last_block = Instant::now();
        while !stop.load(Ordering::SeqCst) {
            let wait = match interval {
                Some(i) => i
                    .saturating_sub(last_block.elapsed())
                    .max(Duration::from_millis(1)),
                None => Duration::from_millis(100),
            };
            if let Some(request) = self
                .server
                .recv_timeout(wait.min(Duration::from_millis(100)))?
            {
                self.requests += 1;
                self.handle(request);
            }
            if let Some(i) = interval {
                if last_block.elapsed() >= i {
                    if self.chain.mempool_len() > 0 {
                        self.chain.produce_block(now_ms())?;
                    }
                    last_block = Instant::now();
                }
            }
            self.export();
        }
        Ok(self.chain)
    }

    fn handle(&mut self, mut request: Request) {
        let (status, body) = self.route(&mut request);
        let header = HttpHeader::from_bytes(&b"Content-Type"[..], &b"application/json"[..])
            .map(|h| vec![h])
            .unwrap_or_default();
        let mut response = Response::from_string(body.to_string()).with_status_code(status);
        for h in header {
            response = response.with_header(h);
        }
        // A client that went away is its own problem; the node keeps serving.
        let _ = request.respond(response);
    }

    fn read_json(request: &mut Request) -> Result<Value, Reply> {
        match request.body_length() {
            Some(len) if len > MAX_BODY_BYTES => {
                return Err(error(
                    413,
                    format!("body of {len} bytes, over the limit of {MAX_BODY_BYTES}"),
                ))
            }
            Some(_) => {}
            None => return Err(error(411, "a body needs a Content-Length")),
        }
        let mut body = Vec::new();
        request
            .as_reader()
            .take(MAX_BODY_BYTES as u64 + 1)
            .read_to_end(&mut body)
            .map_err(|e| error(400, format!("reading the body: {e}")))?;
        if body.len() > MAX_BODY_BYTES {
            return Err(error(413, "body over the limit"));
        }
        serde_json::from_slice(&body).map_err(|e| error(400, format!("malformed JSON: {e}")))
    }

    fn hex_field(body: &Value, field: &str) -> Result<Vec<u8>, Reply> {
        let text = body
            .get(field)
            .and_then(Value::as_str)
            .ok_or_else(|| error(400, format!("missing string field {field:?}")))?;
        hex::decode(text).map_err(|e| error(400, format!("{field}: not hex: {e}")))
    }

    fn route(&mut self, request: &mut Request) -> Reply {
        let method = request.method().clone();
        let url = request.url().to_string();
        let path: Vec<&str> = url
            .split('?')
            .next()
            .unwrap_or("")
            .split('/')
            .filter(|s| !s.is_empty())
            .collect();
        let result = match (path.as_slice(), &method) {
            (["status"], Method::Get) => Ok(self.status()),
            (["tx"], Method::Post) => self.submit(request),
            (["query"], Method::Post) => self.query(request),
            (["produce"], Method::Post) => match self.chain.produce_block(now_ms()) {
                Ok(header) => self.block(header.height),
                Err(e) => Err(error(500, format!("{e:#}"))),
            },
            (["block", "latest"], Method::Get) => self.block(self.chain.head().height),
            (["block", height], Method::Get) => match height.parse::<u64>() {
                Ok(h) => self.block(h),
                Err(_) => Err(error(400, "a height is a decimal number")),
            },
            (["tx", hash], Method::Get) => self.tx(hash),
            (["nonce", sender], Method::Get) => self.nonce(sender),
            (["status" | "tx" | "query" | "produce" | "block" | "nonce", ..], _) => {
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

    fn submit(&mut self, request: &mut Request) -> Result<Reply, Reply> {
        let body = Self::read_json(request)?;
        let bytes = Self::hex_field(&body, "envelope")?;
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

    fn query(&mut self, request: &mut Request) -> Result<Reply, Reply> {
        let body = Self::read_json(request)?;
        let bytes = Self::hex_field(&body, "query")?;
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
