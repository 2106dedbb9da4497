//! `warden node` and `warden testnet` as processes: a node's port refuses malformed, oversized
//! and unauthenticated frames with a logged reason and keeps serving; the default testnet
//! (five validators, one double voting, one honest validator SIGKILLed and restarted) passes
//! every verdict, in the text, JSON and HTML reports.

mod support;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;
use support::{serve_chain, Proc, WAIT};
use warden_host::chain::genesis::GenesisFile;
use warden_host::chain::Chain;
use warden_host::net::frame::{self, handshake, Frame, Identity};
use warden_host::testkit::{key, public, TestNetwork};

fn setup(label: &str) -> (PathBuf, Proc) {
    let dir = support::temp_dir(&format!("node-{label}"));
    let network = TestNetwork::new(7, 4);
    let genesis = GenesisFile::from_network(&network, 1_700_000_000_000);
    drop(Chain::init(&genesis, &dir.join("chain")).expect("the chain initialises"));
    let chain = serve_chain(&dir.join("chain"), "127.0.0.1:0");
    (dir, chain)
}

fn node(dir: &std::path::Path, chain: &Proc, operator: u32) -> Proc {
    let data = dir.join(format!("v{operator}"));
    Proc::start(
        &[
            "-v",
            "node",
            "--operator",
            &operator.to_string(),
            "--key-seed",
            &operator.to_string(),
            "--data",
            data.to_str().expect("utf-8"),
            "--listen",
            "127.0.0.1:0",
            "--chain",
            &chain.addr,
        ],
        "listening on tcp://",
    )
}

fn connect(addr: &str) -> TcpStream {
    let addr: SocketAddr = addr.parse().expect("an address");
    let stream = TcpStream::connect_timeout(&addr, WAIT).expect("connects");
    stream.set_read_timeout(Some(WAIT)).expect("a timeout");
    stream
}

/// Whether the node closed the connection (a read returns end of file or a reset).
fn closed(stream: &mut TcpStream) -> bool {
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => return true,
            Ok(_) => {} // its own Hello, sent before it read ours
        }
    }
}

fn wait_for_log(proc: &Proc, needle: &str, count: usize) {
    let deadline = Instant::now() + WAIT;
    while proc.log().matches(needle).count() < count {
        assert!(
            Instant::now() < deadline,
            "{count} x `{needle}` not logged within {WAIT:?}:\n{}",
            proc.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn key_of(op: u32) -> Option<warden_module::wire::PublicKey> {
    (op < 4).then(|| public(&key(u64::from(op))))
}

#[test]
fn a_node_refuses_malformed_oversized_and_unauthenticated_frames_and_keeps_serving() {
    let (dir, chain) = setup("refuses");
    let node = node(&dir, &chain, 0);

    // A length prefix over the bound: refused before the body is read.
    let mut s = connect(&node.addr);
    s.write_all(&u32::MAX.to_le_bytes()).expect("writes");
    assert!(closed(&mut s), "an oversized frame closes the connection");
    wait_for_log(&node, "refused a connection", 1);
    assert!(node.log().contains("over the bound"), "{}", node.log());

    // A body that is not a frame.
    let mut s = connect(&node.addr);
    s.write_all(&[3, 0, 0, 0, 0xEE, 0xEE, 0xEE])
        .expect("writes");
    assert!(closed(&mut s), "a malformed frame closes the connection");
    wait_for_log(&node, "malformed frame", 1);

    // A Hello from another chain, and one claiming operator 1 signed with operator 2's key.
    let k1 = key(1);
    let k2 = key(2);
    for (chain_id, signer) in [(8u64, &k1), (7, &k2)] {
        let mut s = connect(&node.addr);
        let me = Identity {
            chain_id,
            operator: 1,
            key: signer,
        };
        let _ = handshake(&mut s, &me, &key_of, Some(0));
        assert!(closed(&mut s), "an unauthenticated peer is disconnected");
    }
    wait_for_log(&node, "refused a connection", 4);
    assert!(
        node.log().contains("is on chain 8, not 7"),
        "{}",
        node.log()
    );
    assert!(
        node.log().contains("handshake signature does not verify"),
        "{}",
        node.log()
    );

    // A frame before any handshake.
    let mut s = connect(&node.addr);
    s.write_all(&frame::encode(&Frame::Ping)).expect("writes");
    assert!(
        closed(&mut s),
        "a frame before the handshake closes the connection"
    );
    wait_for_log(&node, "the first frame is not a Hello", 1);

    // And it keeps serving: operator 1 with its own key gets an authenticated link.
    let mut s = connect(&node.addr);
    let me = Identity {
        chain_id: 7,
        operator: 1,
        key: &k1,
    };
    assert_eq!(handshake(&mut s, &me, &key_of, Some(0)).expect("a link"), 0);
    wait_for_log(&node, "to operator 1 is up", 1);
}

#[test]
fn the_default_testnet_bans_the_double_voter_recovers_the_killed_validator_and_takes_the_configuration(
) {
    let dir = support::temp_dir("testnet-default");
    let json = dir.join("report.json");
    let data = dir.join("net");
    // A configuration the testnet hands on: its genesis takes the module settings from it.
    let config = dir.join("warden.toml");
    std::fs::write(&config, "[isolation]\nquarantine_duration_blocks = 150\n")
        .expect("the configuration");
    let started = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_warden"))
        .arg("--config")
        .arg(&config)
        .args(["testnet", "--data"])
        .arg(&data)
        .arg("--json")
        .arg(&json)
        .arg("--html")
        .arg(dir.join("report.html"))
        .output()
        .expect("warden testnet runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "warden testnet failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
    assert!(started.elapsed() < Duration::from_secs(90), "{stdout}");
    let genesis = std::fs::read_to_string(data.join("chain").join("genesis.toml"))
        .expect("the chain's genesis copy");
    assert!(
        genesis.contains("short_quarantine_blocks = 150"),
        "the configuration did not reach the genesis:\n{genesis}"
    );
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(&json).expect("the JSON report"))
            .expect("JSON");
    for verdict in [
        "safety",
        "liveness",
        "detected_and_isolated",
        "no_honest_accused",
        "recorded_once",
        "restarted_caught_up",
    ] {
        assert_eq!(report[verdict], Value::Bool(true), "{verdict}:\n{stdout}");
    }
    let operators = report["operators"].as_array().expect("operators");
    let offender = &operators[4];
    assert_eq!(offender["state"], "banned", "{stdout}");
    assert!(offender["offences"].as_u64() >= Some(1), "{stdout}");
    assert_eq!(offender["duplicates"], 0, "{stdout}");
    assert!(offender["isolated_from"].is_array(), "{stdout}");
    let restarted = &operators[1];
    assert!(
        restarted["committed_after_restart"].as_u64() > Some(0),
        "{stdout}"
    );
    for honest in &operators[..4] {
        assert_eq!(honest["offences"], 0, "{stdout}");
        assert_eq!(honest["state"], "active", "{stdout}");
    }
    assert!(report["conflicts"].as_array().is_some_and(Vec::is_empty));
    assert!(report["blocks"].as_u64() > Some(100), "{stdout}");
    assert!(stdout.contains("PASS"), "{stdout}");
    let html = std::fs::read_to_string(dir.join("report.html")).expect("the HTML report");
    for mark in [
        "<svg id=\"timeline\"",
        "class=\"commit\"",
        "class=\"offence\"",
        "class=\"perturbation\"",
        "class=\"epoch\"",
        ": PASS</h1>",
    ] {
        assert!(html.contains(mark), "{mark} in the HTML report");
    }
}
