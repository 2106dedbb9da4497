//! A small HTTP/1.1 client for the node's JSON API, over a plain [`TcpStream`].

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use serde_json::Value;

/// The largest response read.
pub const MAX_RESPONSE_BYTES: u64 = 16 << 20;

/// A client of one node.
#[derive(Clone, Copy, Debug)]
pub struct Client {
    addr: SocketAddr,
    timeout: Duration,
}

/// A response: status code and parsed JSON body (`Value::Null` if the body is not JSON).
#[derive(Clone, Debug)]
pub struct Reply {
    /// HTTP status.
    pub status: u16,
    /// The body.
    pub body: Value,
}

impl Reply {
    /// The body, or an error naming the status and the node's message.
    pub fn ok(self) -> anyhow::Result<Value> {
        if (200..300).contains(&self.status) {
            Ok(self.body)
        } else {
            let message = self
                .body
                .get("error")
                .and_then(Value::as_str)
                .map_or_else(|| self.body.to_string(), str::to_string);
            anyhow::bail!("the node answered {}: {message}", self.status)
        }
    }
}

impl Client {
    /// A client of the node at `addr`.
    pub fn new(addr: SocketAddr) -> Self {
        Self {
            addr,
            timeout: Duration::from_secs(60),
        }
    }

    /// The same client with another time limit on connecting, each write and each read.
    pub fn with_timeout(self, timeout: Duration) -> Self {
        Self { timeout, ..self }
    }

    /// `GET path`.
    pub fn get(&self, path: &str) -> anyhow::Result<Reply> {
        self.request("GET", path, None)
    }

    /// `POST path` with a JSON body.
    pub fn post(&self, path: &str, body: &Value) -> anyhow::Result<Reply> {
        self.request("POST", path, Some(body.to_string().as_bytes()))
    }

    /// `GET /events`: the committed transactions and events from height `from` on, waiting up
    /// to `wait` for a block there if the chain has not reached it (see
    /// [`super::node::events_json`]).
    pub fn events(&self, from: u64, wait: Duration) -> anyhow::Result<Value> {
        self.get(&format!("/events?from={from}&wait_ms={}", wait.as_millis()))?
            .ok()
    }

    /// Sends raw bytes as a request body (for tests of malformed input).
    pub fn post_raw(&self, path: &str, body: &[u8]) -> anyhow::Result<Reply> {
        self.request("POST", path, Some(body))
    }

    fn request(&self, method: &str, path: &str, body: Option<&[u8]>) -> anyhow::Result<Reply> {
        let mut stream = TcpStream::connect_timeout(&self.addr, self.timeout)
            .map_err(|e| anyhow::anyhow!("connecting to {}: {e}", self.addr))?;
        stream.set_read_timeout(Some(self.timeout))?;
        stream.set_write_timeout(Some(self.timeout))?;
        let body = body.unwrap_or(&[]);
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            self.addr,
            body.len()
        );
        stream.write_all(head.as_bytes())?;
        // The node may answer (413) and close before reading a large body: that is an answer.
        let _ = stream.write_all(body);
        let mut raw = Vec::new();
        stream
            .take(MAX_RESPONSE_BYTES)
            .read_to_end(&mut raw)
            .map_err(|e| anyhow::anyhow!("reading the answer: {e}"))?;
        parse(&raw)
    }
}

fn parse(raw: &[u8]) -> anyhow::Result<Reply> {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| anyhow::anyhow!("an answer without headers"))?;
    let head = std::str::from_utf8(&raw[..split])?;
    let status_line = head.lines().next().unwrap_or("");
    let status: u16 = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| anyhow::anyhow!("a malformed status line: {status_line:?}"))?;
    let chunked = head.lines().any(|l| {
        let l = l.to_ascii_lowercase();
        l.starts_with("transfer-encoding:") && l.contains("chunked")
    });
    let mut body = raw[split + 4..].to_vec();
    if chunked {
        body = dechunk(&body)?;
    }
    let body = serde_json::from_slice(&body).unwrap_or(Value::Null);
    Ok(Reply { status, body })
}

fn dechunk(mut data: &[u8]) -> anyhow::Result<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let line_end = data
            .windows(2)
            .position(|w| w == b"\r\n")
            .ok_or_else(|| anyhow::anyhow!("a malformed chunk"))?;
        let size_text = std::str::from_utf8(&data[..line_end])?;
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)?;
        data = &data[line_end + 2..];
        if size == 0 {
            return Ok(out);
        }
        anyhow::ensure!(data.len() >= size, "a truncated chunk");
        out.extend_from_slice(&data[..size]);
        data = data.get(size + 2..).unwrap_or(&[]);
    }
}
