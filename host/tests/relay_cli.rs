//! `warden relay` as a process beside a `warden chain serve` process: evidence posted to the
//! relayer lands on chain once, signed by the relayer; bad requests are refused with a reason
//! while it keeps serving; a SIGKILL with evidence not yet submitted loses nothing.

mod support;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use support::{serve_chain, Proc, WAIT};
use warden_host::chain::client::Client;

use serde_json::{json, Value};

use warden_host::chain::genesis::GenesisFile;
use warden_host::chain::Chain;
use warden_host::testkit::TestNetwork;
use warden_module::msg::Msg;

fn temp_dir(label: &str) -> PathBuf {
    support::temp_dir(&format!("relay-{label}"))
}

fn relay(data: &Path, node: &str) -> Proc {
    Proc::start(
        &[
            "relay",
            "--node",
            node,
            "--data",
            data.to_str().expect("utf-8"),
            "--listen",
            "127.0.0.1:0",
            "--key-seed",
            "3000000",
        ],
        " from http://",
    )
}

fn evidence_body(msg: &Msg) -> Value {
    json!({ "msg": hex::encode(borsh::to_vec(msg).expect("encodes")) })
}

/// The `EvidenceAccepted` events on chain against `operator`, with their reporters.
fn accepted_against(node: &Client, operator: u32) -> Vec<String> {
    let events = node.events(0, Duration::ZERO).expect("the events");
    let mut reporters = Vec::new();
    for block in events["blocks"].as_array().expect("blocks") {
        for tx in block["txs"].as_array().expect("txs") {
            for event in tx["events"].as_array().expect("events") {
                let accepted = &event["EvidenceAccepted"];
                if accepted["offence"]["operator"].as_u64() == Some(u64::from(operator)) {
                    reporters.push(accepted["reporter"].to_string());
                }
            }
        }
    }
    reporters
}

/// Waits until the relayer's status says `field` reached `at_least`.
fn wait_status(relay: &Proc, field: &str, at_least: u64) -> Value {
    let deadline = Instant::now() + WAIT;
    loop {
        let status = relay.client().get("/status").expect("an answer").body;
        if status[field].as_u64().unwrap_or(0) >= at_least {
            return status;
        }
        assert!(
            Instant::now() < deadline,
            "{field} did not reach {at_least} within {WAIT:?}: {status}\n{}",
            relay.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn setup(label: &str) -> (PathBuf, TestNetwork) {
    let dir = temp_dir(label);
    let network = TestNetwork::new(7, 7);
    let genesis = GenesisFile::from_network(&network, 1_700_000_000_000);
    drop(Chain::init(&genesis, &dir.join("chain")).expect("the chain initialises"));
    (dir, network)
}

#[test]
fn evidence_posted_to_the_relayer_lands_on_chain_once_signed_by_the_relayer() {
    let (dir, network) = setup("lands");
    let node = serve_chain(&dir.join("chain"), "127.0.0.1:0");
    let relay = relay(&dir.join("relay"), &node.addr);
    let msg = Msg::SubmitEvidence(network.double_vote(1, 5));
    let reply = relay
        .client()
        .post("/evidence", &evidence_body(&msg))
        .expect("an answer");
    assert_eq!(reply.status, 200, "{}\n{}", reply.body, relay.log());
    assert_eq!(reply.body["queued"], json!(true), "{}", reply.body);
    let status = wait_status(&relay, "included", 1);
    // Posting it again after its inclusion is harmless: the chain records the offence once.
    let again = relay
        .client()
        .post("/evidence", &evidence_body(&msg))
        .expect("an answer");
    assert_eq!(again.status, 200, "{}", again.body);
    wait_status(&relay, "already_on_chain", 1);
    let reporters = accepted_against(&node.client(), 1);
    let account = status["account"].as_str().expect("the relayer's account");
    assert_eq!(reporters.len(), 1, "{reporters:?}");
    assert!(reporters[0].contains(account), "{reporters:?} vs {account}");
    drop((relay, node));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_relayer_refuses_malformed_oversized_and_forged_requests_and_keeps_serving() {
    let (dir, network) = setup("refuses");
    let node = serve_chain(&dir.join("chain"), "127.0.0.1:0");
    let relay = relay(&dir.join("relay"), &node.addr);
    let client = relay.client();
    let mut forged = network.double_vote(2, 5);
    if let warden_module::evidence::Evidence::DoubleVote { first, .. } = &mut forged {
        first.signature.0[0] ^= 1;
    }
    let not_relayable = Msg::FinaliseSlashing { id: 0 };
    let cases: Vec<(&str, Vec<u8>, u16)> = vec![
        ("not JSON", b"{".to_vec(), 400),
        ("no msg field", b"{}".to_vec(), 400),
        ("msg not hex", br#"{"msg": "zz"}"#.to_vec(), 400),
        (
            "msg not a module message",
            br#"{"msg": "ff00"}"#.to_vec(),
            400,
        ),
        (
            "a message that is not evidence",
            evidence_body(&not_relayable).to_string().into_bytes(),
            400,
        ),
        (
            "a forged signature",
            evidence_body(&Msg::SubmitEvidence(forged))
                .to_string()
                .into_bytes(),
            422,
        ),
        (
            "a body over the limit",
            vec![b' '; warden_host::ft::relay_server::MAX_BODY_BYTES + 1],
            413,
        ),
    ];
    for (what, body, expected) in cases {
        let reply = client.post_raw("/evidence", &body).expect("an answer");
        assert_eq!(reply.status, expected, "{what}: {}", reply.body);
        assert!(reply.body["error"].is_string(), "{what}: {}", reply.body);
    }
    assert_eq!(client.get("/nowhere").expect("an answer").status, 404);
    assert_eq!(client.get("/evidence").expect("an answer").status, 405);
    let status = client.get("/status").expect("still serving");
    assert_eq!(status.status, 200, "{}", status.body);
    assert_eq!(status.body["inbox"], json!(0), "{}", status.body);
    assert_eq!(status.body["queued"], json!(0), "{}", status.body);
    let log = relay.log();
    assert!(
        log.contains("refused POST /evidence (422)") && log.contains("BadSignature"),
        "{log}"
    );
    drop((relay, node));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_sigkilled_relayer_loses_no_evidence_it_accepted() {
    let (dir, network) = setup("sigkill");
    let node = serve_chain(&dir.join("chain"), "127.0.0.1:0");
    let node_addr = node.addr.clone();
    let relay_data = dir.join("relay");
    let first = relay(&relay_data, &node_addr);
    // One accepted while the chain node is up: the relayer learns epoch 0's validator set.
    let warm = Msg::SubmitEvidence(network.double_vote(1, 5));
    let reply = first
        .client()
        .post("/evidence", &evidence_body(&warm))
        .expect("an answer");
    assert_eq!(reply.status, 200, "{}", reply.body);
    wait_status(&first, "included", 1);
    // The chain node goes away; the relayer still accepts evidence it can check, but cannot
    // submit it. Then the relayer is killed too.
    node.kill();
    let pending = Msg::SubmitEvidence(network.double_vote(2, 6));
    let reply = first
        .client()
        .post("/evidence", &evidence_body(&pending))
        .expect("an answer");
    assert_eq!(reply.status, 200, "{}\n{}", reply.body, first.log());
    first.kill();
    // Both come back on the same data: the evidence lands, once.
    let node = serve_chain(&dir.join("chain"), &node_addr);
    let second = relay(&relay_data, &node.addr);
    wait_status(&second, "included", 1);
    assert_eq!(accepted_against(&node.client(), 2).len(), 1);
    assert_eq!(accepted_against(&node.client(), 1).len(), 1);
    drop((second, node));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_host_without_a_chain_account_relays_evidence_through_the_relayer() {
    use warden_host::ft::manager::RelayLink;
    use warden_host::ft::{FaultToleranceConfig, FaultToleranceManager, WardenManager};
    let (dir, network) = setup("host");
    let node = serve_chain(&dir.join("chain"), "127.0.0.1:0");
    let relay = relay(&dir.join("relay"), &node.addr);
    let link = RelayLink::relayed(node.client(), network.chain_id, relay.client());
    let mut manager = WardenManager::open(
        FaultToleranceConfig::default(),
        &dir.join("host"),
        0,
        warden_host::testkit::key(0),
        link,
    )
    .expect("the manager opens over the node and the relayer");
    let evidence = network.double_vote(3, 9);
    let started = Instant::now();
    let receipt = manager
        .submit_evidence_for_slashing(&evidence, 0)
        .expect("re-verified and handed to the relayer");
    // The host's queue settles the item once the relayer reports it included on chain.
    let mut included = receipt.tick.included.len();
    while included == 0 {
        assert!(
            started.elapsed() < WAIT,
            "not included within {WAIT:?}\n{}",
            relay.log()
        );
        std::thread::sleep(Duration::from_millis(50));
        let now_us = started.elapsed().as_micros() as u64;
        included += manager.tick(now_us).included.len();
    }
    assert_eq!(manager.relayer().pending_len(), 0);
    let reporters = accepted_against(&node.client(), 3);
    let account = wait_status(&relay, "included", 1)["account"]
        .as_str()
        .expect("the relayer's account")
        .to_string();
    assert_eq!(reporters.len(), 1, "{reporters:?}");
    assert!(
        reporters[0].contains(&account),
        "{reporters:?} vs {account}"
    );
    drop((relay, node));
    let _ = std::fs::remove_dir_all(&dir);
}
