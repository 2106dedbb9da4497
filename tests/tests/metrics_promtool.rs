//! Every metrics endpoint's exposition passes `promtool check metrics` (Prometheus's own parser
//! and linter): the simulator's and the chain node's, scraped over HTTP, and a registry holding
//! every kind of value and label the registry accepts.
//!
//! `promtool` comes from Debian's `prometheus` package, which `.ci/run` installs. Without it
//! these tests fail under CI (`CI` set) and say they skipped elsewhere.

mod chain_support;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chain_support::*;
use warden_host::chain::client::Client;
use warden_host::chain::node::Node;
use warden_host::ft::metrics::{Metrics, MetricsServer};
use warden_host::ft::FaultToleranceConfig;

/// Checks `exposition` with `promtool check metrics`; panics with its findings if it refuses.
fn promtool_accepts(what: &str, exposition: &str) {
    let child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(child) => child,
        Err(e) if std::env::var_os("CI").is_none() => {
            eprintln!(
                "SKIPPED: {what} not checked: promtool does not run ({e}); .ci/run installs \
                 Debian's `prometheus` package, install it to run this check"
            );
            return;
        }
        Err(e) => panic!("promtool does not run ({e}); .ci/run installs it"),
    };
    child
        .stdin
        .take()
        .expect("promtool's stdin")
        .write_all(exposition.as_bytes())
        .expect("writing to promtool");
    let out = child.wait_with_output().expect("promtool ends");
    assert!(
        out.status.success(),
        "promtool refuses {what} ({}):\n{}{}\n--- the exposition:\n{exposition}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
}

/// `GET /metrics` from `addr`: the status line and the body.
fn scrape(addr: SocketAddr) -> (String, String) {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(10)).expect("connects");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("a read timeout");
    stream
        .set_write_timeout(Some(Duration::from_secs(10)))
        .expect("a write timeout");
    stream
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .expect("sends the request");
    let mut reply = String::new();
    stream.read_to_string(&mut reply).expect("reads the reply");
    let (head, body) = reply.split_once("\r\n\r\n").expect("a head and a body");
    let status = head.lines().next().unwrap_or_default().to_string();
    (status, body.to_string())
}

fn serve(metrics: &Arc<Mutex<Metrics>>) -> MetricsServer {
    MetricsServer::serve("127.0.0.1:0".parse().expect("an address"), metrics.clone())
        .expect("the metrics endpoint binds")
}

#[test]
fn the_simulators_metrics_endpoint_passes_promtool() {
    let metrics = Arc::new(Mutex::new(Metrics::new()));
    let server = serve(&metrics);
    let mut scenario = warden_host::simulate::default_scenario();
    scenario.duration_us = 3_000_000;
    let report = warden_host::simulate::simulate_with_metrics(
        &scenario,
        &FaultToleranceConfig::default(),
        None,
        "warden simulate".into(),
        &mut |_, _| {},
        Some(metrics.clone()),
    );
    assert!(report.chain_height > 0, "the run produced blocks");
    let (status, body) = scrape(server.addr());
    assert!(status.contains(" 200 "), "{status}");
    for name in [
        "warden_chain_height",
        "warden_evidence_included_total",
        "warden_health_status",
    ] {
        assert!(
            body.contains(&format!("# TYPE {name} ")),
            "{name} in:\n{body}"
        );
    }
    assert!(
        body.contains("# TYPE warden_evidence_included_total counter"),
        "{body}"
    );
    for validator in 0..scenario.validators {
        let series = format!("warden_validator_power{{validator=\"{validator}\"}} ");
        assert!(body.contains(&series), "{series} in:\n{body}");
    }
    promtool_accepts("the simulator's metrics", &body);
}

#[test]
fn the_chain_nodes_metrics_endpoint_passes_promtool() {
    let dir = TempDir::new("metrics");
    let metrics = Arc::new(Mutex::new(Metrics::new()));
    let server = serve(&metrics);
    let node = Node::bind(
        chain(dir.path(), &genesis()),
        "127.0.0.1:0".parse().expect("an address"),
    )
    .expect("the node binds")
    .with_metrics(metrics.clone());
    let addr = node.addr();
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    let running = std::thread::spawn(move || node.run(None, flag).map(|_| ()));
    let reply = Client::new(addr).get("/status").expect("the node answers");
    assert_eq!(reply.status, 200);
    let (status, body) = scrape(server.addr());
    stop.store(true, Ordering::SeqCst);
    running
        .join()
        .expect("the node thread ends")
        .expect("the node ends cleanly");
    assert!(status.contains(" 200 "), "{status}");
    assert!(
        body.contains("# TYPE warden_chain_requests_total counter"),
        "{body}"
    );
    promtool_accepts("the chain node's metrics", &body);
}

#[test]
fn every_value_and_label_the_registry_accepts_passes_promtool() {
    let mut m = Metrics::new();
    let values = [
        0.0,
        -2.25,
        1e-9,
        3.5e12,
        f64::NAN,
        f64::INFINITY,
        f64::NEG_INFINITY,
    ];
    for (i, value) in values.into_iter().enumerate() {
        m.gauge(
            "warden_test_value",
            "Values of every kind, with \\ and a\nnewline in the help.",
            &[("case", &i.to_string()), ("text", "a\\b\"c\nd é")],
            value,
        )
        .expect("a gauge");
    }
    m.counter("warden_test_events_total", "A counter.", &[], 7.0)
        .expect("a counter");
    m.counter(
        "warden_test_forever_total",
        "An infinite counter.",
        &[],
        f64::INFINITY,
    )
    .expect("a counter");
    promtool_accepts("the registry's exposition", &m.render());
}

#[test]
fn a_validator_nodes_metrics_endpoint_passes_promtool() {
    use std::collections::BTreeMap;
    use warden_host::ft::manager::HttpLink;
    use warden_host::ft::WardenManager;
    use warden_host::net::link::{self, LinkConfig};
    use warden_host::net::node::{Node as ValidatorNode, NodeSpec};
    use warden_host::sim::context::Timing;
    use warden_testkit::key;

    let dir = TempDir::new("node-metrics");
    let chain_node = Node::bind(
        chain(&dir.path().join("chain"), &genesis()),
        "127.0.0.1:0".parse().expect("an address"),
    )
    .expect("the chain node binds");
    let chain_addr = chain_node.addr();
    let chain_stop = Arc::new(AtomicBool::new(false));
    let flag = chain_stop.clone();
    let chain_running = std::thread::spawn(move || chain_node.run(None, flag).map(|_| ()));

    let link = HttpLink::new(Client::new(chain_addr), CHAIN_ID, key(0));
    let data = dir.path().join("v0");
    let manager = WardenManager::open(FaultToleranceConfig::default(), &data, 0, key(0), link)
        .expect("the manager opens on the chain");
    let keys = manager
        .validator_set()
        .expect("a set")
        .validators
        .iter()
        .map(|v| (v.operator, v.key))
        .collect();
    let mut node = ValidatorNode::open(
        NodeSpec {
            data,
            operator: 0,
            key: key(0),
            timing: Timing {
                base_timeout_us: 200_000,
                max_backoff_exp: 2,
            },
            block_interval_us: 0,
            adversary: None,
        },
        manager,
    )
    .expect("the node opens");
    let links = link::start(
        LinkConfig {
            chain_id: CHAIN_ID,
            operator: 0,
            key: key(0),
            keys,
        },
        std::net::TcpListener::bind("127.0.0.1:0").expect("binds"),
        BTreeMap::new(),
    )
    .expect("the links start");
    let metrics = Arc::new(Mutex::new(Metrics::new()));
    let server = serve(&metrics);
    // The node alone (its peers are not running) times views out; a second is enough for its
    // first export.
    static STOP: AtomicBool = AtomicBool::new(false);
    let stopper = std::thread::spawn(|| {
        std::thread::sleep(Duration::from_millis(1_500));
        STOP.store(true, Ordering::SeqCst);
    });
    node.run(&links, &STOP, Some(&metrics))
        .expect("the node runs");
    stopper.join().expect("joins");
    let (status, body) = scrape(server.addr());
    chain_stop.store(true, Ordering::SeqCst);
    chain_running
        .join()
        .expect("the chain node thread ends")
        .expect("the chain node ends cleanly");
    assert!(status.contains(" 200 "), "{status}");
    for series in [
        "# TYPE warden_node_committed_blocks_total counter",
        "# TYPE warden_node_view gauge",
        "warden_node_links{operator=\"0\"} 0",
        "# TYPE warden_health_status gauge",
    ] {
        assert!(body.contains(series), "{series} in:\n{body}");
    }
    promtool_accepts("a validator node's metrics", &body);
}
