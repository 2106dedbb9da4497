//! The local node's HTTP JSON API: status codes for bad input, and it keeps serving.

mod chain_support;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

use serde_json::json;

use chain_support::*;
use warden_host::chain::client::Client;
use warden_host::chain::node::{Node, MAX_BODY_BYTES};
use warden_host::chain::Chain;
use warden_module::codec::encode;
use warden_module::msg::{Msg, Query};

struct Running {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<Result<Chain, String>>>,
}

impl Running {
    fn start(chain: Chain) -> Self {
        Self::start_with(chain, None)
    }

    fn start_with(chain: Chain, interval: Option<std::time::Duration>) -> Self {
        let node = Node::bind(chain, "127.0.0.1:0".parse().expect("an address")).expect("binds");
        let addr = node.addr();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let handle =
            std::thread::spawn(move || node.run(interval, flag).map_err(|e| format!("{e:#}")));
        Self {
            addr,
            stop,
            handle: Some(handle),
        }
    }

    fn stop(mut self) -> Chain {
        self.stop.store(true, Ordering::SeqCst);
        self.handle
            .take()
            .expect("running")
            .join()
            .expect("the node thread ends")
            .expect("the node ends cleanly")
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

/// Asks for transaction `hash` until it is committed, failing after `within`; its record.
fn committed(client: &Client, hash: &str, within: std::time::Duration) -> serde_json::Value {
    let deadline = std::time::Instant::now() + within;
    loop {
        let record = client.get(&format!("/tx/{hash}")).expect("an answer");
        if record.status == 200 {
            return record.body;
        }
        assert_eq!(record.status, 404, "{:?}", record.body);
        assert!(
            std::time::Instant::now() < deadline,
            "{hash} not committed within {within:?}"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// Submits a double vote by operator 1 and returns its hash.
fn submit_double_vote(client: &Client) -> String {
    let tx = envelope(&Msg::SubmitEvidence(network().double_vote(1, 5)), 0);
    let reply = client
        .post("/tx", &json!({ "envelope": hex::encode(&tx) }))
        .expect("an answer");
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    reply.body["hash"].as_str().expect("a hash").to_string()
}

fn alive(client: &Client) {
    let reply = client.get("/status").expect("the node answers");
    assert_eq!(reply.status, 200, "{:?}", reply.body);
}

#[test]
fn http_refuses_oversized_and_malformed_bodies_with_4xx_and_keeps_serving() {
    let dir = TempDir::new("http");
    let node = Running::start(chain(dir.path(), &genesis()));
    let client = Client::new(node.addr);
    alive(&client);

    let cases: Vec<(&str, Vec<u8>, u16)> = vec![
        ("not JSON", b"{{{ nope".to_vec(), 400),
        ("JSON without the field", br#"{"other": 1}"#.to_vec(), 400),
        (
            "a field that is not hex",
            br#"{"envelope": "zz"}"#.to_vec(),
            400,
        ),
        (
            "hex that is no envelope",
            br#"{"envelope": "00ff"}"#.to_vec(),
            400,
        ),
        ("an empty body", Vec::new(), 400),
        ("a body over the limit", vec![b' '; MAX_BODY_BYTES + 1], 413),
    ];
    for (what, body, status) in cases {
        let reply = client.post_raw("/tx", &body).expect("an answer");
        assert_eq!(reply.status, status, "{what}: {:?}", reply.body);
        assert!(
            reply.body.get("error").is_some(),
            "{what}: an error message"
        );
        alive(&client);
    }
    let reply = client.get("/no/such/path").expect("an answer");
    assert_eq!(reply.status, 404);
    let reply = client.get("/tx").expect("an answer");
    assert_eq!(reply.status, 405);
    let reply = client.get("/block/notanumber").expect("an answer");
    assert_eq!(reply.status, 400);
    let reply = client.get("/block/99").expect("an answer");
    assert_eq!(reply.status, 404);
    let reply = client
        .get(&format!("/tx/{}", "ab".repeat(32)))
        .expect("an answer");
    assert_eq!(reply.status, 404);
    let reply = client
        .post("/query", &json!({ "query": "ffff" }))
        .expect("an answer");
    assert_eq!(reply.status, 422, "the module refuses an undecodable query");
    alive(&client);

    // A valid transaction goes through, and its replay is a conflict.
    let tx = envelope(&Msg::SubmitEvidence(network().double_vote(1, 5)), 0);
    let reply = client
        .post("/tx", &json!({ "envelope": hex::encode(&tx) }))
        .expect("an answer");
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    let hash = reply.body["hash"].as_str().expect("a hash").to_string();
    let block = client.post("/produce", &json!({})).expect("an answer");
    assert_eq!(block.status, 200, "{:?}", block.body);
    assert_eq!(block.body["height"], 1);
    assert_eq!(block.body["txs"][0], hash.as_str());
    let record = client.get(&format!("/tx/{hash}")).expect("an answer");
    assert_eq!(record.status, 200);
    assert_eq!(record.body["status"], "ok");
    let replay = client
        .post("/tx", &json!({ "envelope": hex::encode(&tx) }))
        .expect("an answer");
    assert_eq!(replay.status, 409, "{:?}", replay.body);
    let foreign = envelope_from(
        warden_host::testkit::REPORTER_SEED,
        CHAIN_ID + 1,
        &Msg::FinaliseSlashing { id: 0 },
        1,
    );
    let reply = client
        .post("/tx", &json!({ "envelope": hex::encode(&foreign) }))
        .expect("an answer");
    assert_eq!(reply.status, 400, "{:?}", reply.body);
    let status = client
        .post(
            "/query",
            &json!({ "query": hex::encode(encode(&Query::Status)) }),
        )
        .expect("an answer");
    assert_eq!(status.status, 200);
    assert_eq!(
        status.body["decoded"]["Status"]["banned"], 1,
        "{}",
        status.body
    );
    let latest = client.get("/block/latest").expect("an answer");
    assert_eq!(latest.body["height"], 1);

    let chain = node.stop();
    assert_eq!(chain.head().height, 1);
    chain.verify_integrity().expect("consistent");
}

#[test]
fn the_node_listens_on_loopback_only() {
    let dir = TempDir::new("loopback");
    let chain = chain(dir.path(), &genesis());
    let err = Node::bind(chain, "0.0.0.0:0".parse().expect("an address")).expect_err("refused");
    assert!(err.to_string().contains("loopback"), "{err}");
}

#[test]
fn the_node_produces_blocks_on_an_interval_when_transactions_wait() {
    let dir = TempDir::new("interval");
    let node = Running::start_with(
        chain(dir.path(), &genesis()),
        Some(std::time::Duration::from_millis(50)),
    );
    let client = Client::new(node.addr);
    // No transactions: no blocks.
    std::thread::sleep(std::time::Duration::from_millis(200));
    assert_eq!(client.get("/status").expect("status").body["height"], 0);
    let hash = submit_double_vote(&client);
    let record = committed(&client, &hash, std::time::Duration::from_secs(30));
    assert_eq!(record["status"], "ok");
    assert_eq!(record["height"], 1);
    let chain = node.stop();
    assert_eq!(chain.head().height, 1);
}

#[test]
fn a_slow_client_stalls_neither_other_clients_nor_block_production() {
    use std::io::{Read, Write};
    use std::net::TcpStream;
    use std::time::{Duration, Instant};
    use warden_host::chain::node::REQUEST_TIMEOUT;

    let dir = TempDir::new("slow");
    let node = Running::start_with(
        chain(dir.path(), &genesis()),
        Some(Duration::from_millis(50)),
    );
    // One client sends a body far more slowly than it promised; another never finishes its
    // headers.
    let mut slow = TcpStream::connect(node.addr).expect("connects");
    slow.write_all(
        b"POST /tx HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"env",
    )
    .expect("the head and a little of the body");
    let mut stuck = TcpStream::connect(node.addr).expect("connects");
    stuck.write_all(b"GET /sta").expect("half a request line");
    let started = Instant::now();

    // Meanwhile the others are answered at once and transactions make it into blocks.
    let client = Client::new(node.addr);
    alive(&client);
    let hash = submit_double_vote(&client);
    committed(&client, &hash, REQUEST_TIMEOUT - started.elapsed());
    assert!(
        started.elapsed() < REQUEST_TIMEOUT,
        "the other client waited for the slow one"
    );

    // The slow client gets 408 once its time is up.
    slow.set_read_timeout(Some(REQUEST_TIMEOUT * 3))
        .expect("a read timeout");
    let mut answer = String::new();
    let _ = slow.read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer:?}");

    // And the node stops with the stuck client still connected.
    let chain = node.stop();
    assert_eq!(chain.head().height, 1);
    drop(stuck);
}

#[test]
fn an_events_long_poll_answers_at_the_commit_with_the_blocks_events() {
    use std::time::{Duration, Instant};
    use warden_host::chain::node::MAX_EVENTS_WAIT;

    let dir = TempDir::new("events");
    let node = Running::start_with(
        chain(dir.path(), &genesis()),
        Some(Duration::from_millis(50)),
    );
    let client = Client::new(node.addr);
    // Nothing committed yet: a poll without a wait answers at once, empty, from where it was.
    let empty = client.events(1, Duration::ZERO).expect("an answer");
    assert_eq!(empty["blocks"], json!([]), "{empty}");
    assert_eq!(empty["next"], 1, "{empty}");
    assert_eq!(empty["head"], 0, "{empty}");

    // A follower waits from height 1; the double vote committed meanwhile wakes it.
    let follower = std::thread::spawn(move || {
        let asked = Instant::now();
        let answer = client.events(1, MAX_EVENTS_WAIT).expect("an answer");
        (answer, asked.elapsed())
    });
    std::thread::sleep(Duration::from_millis(100));
    let hash = submit_double_vote(&client);
    let (answer, waited) = follower.join().expect("the follower ends");
    assert!(
        waited < MAX_EVENTS_WAIT,
        "answered at the deadline ({waited:?}), not at the commit: {answer}"
    );
    assert_eq!(answer["from"], 1, "{answer}");
    assert_eq!(answer["next"], 2, "{answer}");
    let blocks = answer["blocks"].as_array().expect("blocks");
    assert_eq!(blocks.len(), 1, "{answer}");
    assert_eq!(blocks[0]["height"], 1);
    let tx = &blocks[0]["txs"][0];
    assert_eq!(tx["hash"], hash.as_str(), "{answer}");
    assert_eq!(tx["status"], "ok", "{answer}");
    // The events have named fields, as the module's JSON writes them.
    let events = tx["events"].as_array().expect("events");
    let accepted = events
        .iter()
        .find_map(|e| e.get("EvidenceAccepted"))
        .unwrap_or_else(|| panic!("no EvidenceAccepted in {answer}"));
    assert!(accepted.is_object(), "{accepted}");
    assert!(
        events.iter().any(|e| e.get("Banned").is_some()),
        "a double voter is banned: {answer}"
    );
    // The same block, asked for again without waiting, and the page after it, empty at its
    // deadline.
    let again = client.events(1, Duration::ZERO).expect("an answer");
    assert_eq!(again["blocks"], answer["blocks"]);
    let after = client
        .events(2, Duration::from_millis(200))
        .expect("an answer");
    assert_eq!(after["blocks"], json!([]), "{after}");
    assert_eq!(after["next"], 2, "{after}");

    let chain = node.stop();
    assert_eq!(chain.head().height, 1);
}

#[test]
fn events_refuses_malformed_parameters_with_400() {
    let dir = TempDir::new("events-bad");
    let node = Running::start(chain(dir.path(), &genesis()));
    let client = Client::new(node.addr);
    for (query, why) in [
        ("", "from is required"),
        ("?wait_ms=10", "from is required"),
        ("?from=x", "from is a number"),
        ("?from=-1", "from is unsigned"),
        ("?from=1&from=2", "a parameter given twice"),
        ("?from=1&wait_ms=60000", "a wait over the limit"),
        ("?from=1&limit=0", "a limit of zero"),
        ("?from=1&limit=100000", "a limit over the most"),
        ("?from=1&since=3", "an unknown parameter"),
        ("?from", "a parameter without a value"),
    ] {
        let reply = client.get(&format!("/events{query}")).expect("an answer");
        assert_eq!(reply.status, 400, "{why}: {:?}", reply.body);
        assert!(reply.body.get("error").is_some(), "{why}: a message");
    }
    let reply = client.post("/events", &json!({})).expect("an answer");
    assert_eq!(reply.status, 405, "{:?}", reply.body);
    alive(&client);
    node.stop();
}
