//! Warden on a real network: `warden node` (one validator as an OS process, [`node`]) over
//! authenticated TCP links ([`link`], [`frame`]), and `warden testnet` ([`testnet`]), which
//! runs a chain node, validator processes and a relayer on loopback with real faults.

pub mod frame;
pub mod link;
pub mod node;
pub mod proxy;
pub mod testnet;

use std::collections::BTreeMap;
use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context as _;
use warden_module::msg::{Query, QueryResponse};
use warden_module::wire::OperatorId;

use crate::chain::client::Client;
use crate::ft::manager::{http_query, ChainLink, HttpLink, RelayLink};
use crate::ft::metrics::{Metrics, MetricsServer};
use crate::ft::{FaultToleranceConfig, WardenManager};
use crate::sim::adversary::{Adversary, Attack};
use crate::sim::context::Timing;
use node::{Node, NodeSpec};

/// How long each call to the chain node or the relayer may take.
pub const CHAIN_TIMEOUT: Duration = Duration::from_secs(2);

/// `warden node`'s arguments.
#[derive(clap::Args, Debug, Clone)]
#[command(group = clap::ArgGroup::new("validator_key").required(true).multiple(false))]
pub struct NodeOptions {
    /// This validator's operator id in the chain's validator set.
    #[arg(long)]
    pub operator: OperatorId,
    /// The node's data directory: its safety state (synced before every message it signs
    /// leaves), its commit log and its relay queue. Created if missing.
    #[arg(long)]
    pub data: PathBuf,
    /// A file holding the validator's 32-byte ed25519 secret key in hex.
    #[arg(long, group = "validator_key", value_name = "FILE")]
    pub key_file: Option<PathBuf>,
    /// A deterministic test key instead (see `testkit::key`; `warden chain genesis` gives
    /// operator i the key of seed i).
    #[arg(long, group = "validator_key")]
    pub key_seed: Option<u64>,
    /// Where to accept peers' links (port 0 picks a free one, printed at start).
    #[arg(long, default_value = "127.0.0.1:26660")]
    pub listen: SocketAddr,
    /// A peer: `OPERATOR=ADDR`, repeated for every other validator. This node dials the
    /// peers with higher operator ids; the others dial it.
    #[arg(long = "peer", value_name = "OPERATOR=ADDR", value_parser = parse_peer)]
    pub peers: Vec<(OperatorId, SocketAddr)>,
    /// The chain node (`warden chain serve`): epochs, validator sets and isolation come from it.
    #[arg(long, default_value = "127.0.0.1:26657")]
    pub chain: SocketAddr,
    /// Submit evidence through this relayer (`warden relay`) instead of signing transactions
    /// with the validator's key.
    #[arg(long, value_name = "ADDR")]
    pub relay: Option<SocketAddr>,
    /// The first view timer, in milliseconds (it doubles per failed view, up to 16 times).
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(10..=600_000))]
    pub view_timeout_ms: u64,
    /// A leader proposes no sooner than this after its previous proposal.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u64).range(0..=60_000))]
    pub block_interval_ms: u64,
    /// Serve Prometheus metrics here (for example 127.0.0.1:9186).
    #[arg(long, value_name = "ADDR")]
    pub metrics_addr: Option<SocketAddr>,
    /// Behave Byzantine, as one of the simulator's adversaries (for test networks), as JSON:
    /// for example '{"kind":"double_vote","phase":1}'. Repeat for several.
    #[arg(long = "byzantine", value_name = "JSON", value_parser = parse_attack)]
    pub byzantine: Vec<Attack>,
}

fn parse_peer(s: &str) -> Result<(OperatorId, SocketAddr), String> {
    let (op, addr) = s
        .split_once('=')
        .ok_or_else(|| format!("`{s}`: expected OPERATOR=ADDR"))?;
    let op = op
        .trim()
        .parse()
        .map_err(|e| format!("`{op}`: not an operator id: {e}"))?;
    let addr = addr
        .trim()
        .parse()
        .map_err(|e| format!("`{addr}`: not a socket address: {e}"))?;
    Ok((op, addr))
}

fn parse_attack(s: &str) -> Result<Attack, String> {
    serde_json::from_str(s).map_err(|e| format!("`{s}`: not a behaviour: {e}"))
}

static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    STOP.store(true, Ordering::Relaxed);
}

/// Sets the returned flag on SIGINT (Ctrl-C) and SIGTERM, so that a process stops cleanly
/// (and stops what it started).
pub fn stop_on_signals() -> &'static AtomicBool {
    // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
    unsafe {
        libc::signal(libc::SIGINT, on_signal as *const () as libc::sighandler_t);
        libc::signal(libc::SIGTERM, on_signal as *const () as libc::sighandler_t);
    }
    &STOP
}

/// Runs `warden node` until SIGINT or SIGTERM.
pub fn run_node(options: &NodeOptions, cfg: &FaultToleranceConfig) -> anyhow::Result<()> {
    let key =
        crate::chain::cli::key_from_file_or_seed(options.key_file.as_deref(), options.key_seed)?;
    let chain = Client::new(options.chain).with_timeout(CHAIN_TIMEOUT);
    let chain_id = match http_query(&chain, &Query::Status)
        .with_context(|| format!("asking the chain node at {} for its status", options.chain))?
    {
        QueryResponse::Status(s) => s.chain_id,
        other => anyhow::bail!("the chain node answered {other:?} to a status query"),
    };
    let spec = NodeSpec {
        data: options.data.clone(),
        operator: options.operator,
        key: key.clone(),
        timing: Timing {
            base_timeout_us: options.view_timeout_ms * 1_000,
            max_backoff_exp: 4,
        },
        block_interval_us: options.block_interval_ms * 1_000,
        adversary: (!options.byzantine.is_empty()).then(|| Adversary {
            behaviours: options.byzantine.clone(),
        }),
    };
    std::fs::create_dir_all(&options.data)
        .with_context(|| format!("creating {}", options.data.display()))?;
    match options.relay {
        Some(relay) => {
            let link = RelayLink::relayed(
                chain,
                chain_id,
                Client::new(relay).with_timeout(CHAIN_TIMEOUT),
            );
            serve(options, cfg, spec, key, link)
        }
        None => serve(
            options,
            cfg,
            spec,
            key.clone(),
            HttpLink::new(chain, chain_id, key),
        ),
    }
}

fn serve<L: ChainLink>(
    options: &NodeOptions,
    cfg: &FaultToleranceConfig,
    spec: NodeSpec,
    key: ed25519_dalek::SigningKey,
    link: L,
) -> anyhow::Result<()> {
    let operator = spec.operator;
    let manager = WardenManager::open(cfg.clone(), &options.data, operator, key.clone(), link)
        .context("opening the fault-tolerance manager on the chain")?;
    let set = manager
        .validator_set()
        .cloned()
        .context("the chain has no validator set")?;
    let mut node = Node::open(spec, manager)?;
    let listener =
        TcpListener::bind(options.listen).with_context(|| format!("binding {}", options.listen))?;
    let addr = listener.local_addr()?;
    let keys = set.validators.iter().map(|v| (v.operator, v.key)).collect();
    let dial: BTreeMap<_, _> = options.peers.iter().copied().collect();
    let links = link::start(
        link::LinkConfig {
            chain_id: node.chain_id(),
            operator,
            key,
            keys,
        },
        listener,
        dial,
    )?;
    let metrics = Arc::new(Mutex::new(Metrics::new()));
    let _server = match options.metrics_addr {
        Some(a) => {
            let server = MetricsServer::serve(a, metrics.clone())?;
            eprintln!("metrics at http://{}/metrics", server.addr());
            Some(server)
        }
        None => None,
    };
    eprintln!(
        "validator {operator} of chain {} in epoch {} listening on tcp://{addr} (data in {})",
        node.chain_id(),
        node.epoch(),
        options.data.display()
    );
    let stop = stop_on_signals();
    node.run(&links, stop, Some(&metrics))?;
    eprintln!(
        "validator {operator} stopped: {} blocks committed",
        node.stats().committed
    );
    Ok(())
}
