//! `warden chain ...`: the command-line front of the runtime. `submit`, `query`, `block` and
//! `tx` talk to a running node (`--node ADDR`) or work directly on a data directory
//! (`--data DIR`, when no node holds it open); `events` lists committed transactions and their
//! events from a height, and follows a node's new blocks with `--follow`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, Subcommand};
use serde_json::{json, Value};

use warden_module::codec::encode;
use warden_module::msg::{Msg, Query};
use warden_module::wire::PublicKey;

use super::client::Client;
use super::envelope::Envelope;
use super::genesis::GenesisFile;
use super::node::{block_json, events_json, tx_json, Node, MAX_EVENTS_WAIT, MAX_EVENT_BLOCKS};
use super::{now_ms, Chain};
use crate::ft::config::FaultToleranceConfig;
use crate::testkit::{self, TestNetwork};
use crate::wasm::CallError;

/// Where a client command goes.
#[derive(Args, Debug, Clone)]
#[group(required = true, multiple = false)]
pub struct Target {
    /// A running node's address, such as 127.0.0.1:26657.
    #[arg(long)]
    pub node: Option<SocketAddr>,
    /// A data directory, used directly.
    #[arg(long)]
    pub data: Option<PathBuf>,
}

/// `warden chain` subcommands.
#[derive(Subcommand, Debug)]
pub enum ChainAction {
    /// Create a data directory from a genesis file.
    Init {
        /// The genesis TOML file.
        #[arg(long)]
        genesis: PathBuf,
        /// The data directory to create.
        #[arg(long)]
        data: PathBuf,
    },
    /// Write a genesis file for a test network with deterministic keys.
    Genesis {
        /// Chain id.
        #[arg(long, default_value_t = 7)]
        chain_id: u64,
        /// Validators (keys from seeds 0..N).
        #[arg(long, default_value_t = 7, value_parser = clap::value_parser!(u32).range(1..=1024))]
        validators: u32,
        /// Where to write it.
        #[arg(long)]
        out: PathBuf,
    },
    /// Serve the HTTP JSON API on loopback and produce blocks.
    Serve {
        /// The data directory.
        #[arg(long)]
        data: PathBuf,
        /// Loopback address to listen on.
        #[arg(long, default_value = "127.0.0.1:26657")]
        listen: SocketAddr,
        /// Milliseconds between blocks when transactions wait; 0 produces blocks only on
        /// `POST /produce`.
        #[arg(long, default_value_t = 1000)]
        block_interval_ms: u64,
        /// Serve Prometheus metrics here while the node runs (for example 127.0.0.1:9185).
        #[arg(long, value_name = "ADDR")]
        metrics_addr: Option<SocketAddr>,
    },
    /// Sign and submit a transaction.
    Submit {
        /// Node or data directory.
        #[command(flatten)]
        target: Target,
        /// The sender's 32-byte ed25519 secret key, in hex.
        #[arg(long, conflicts_with = "key_seed")]
        key: Option<String>,
        /// The sender's deterministic test key seed (see `testkit::key`).
        #[arg(long)]
        key_seed: Option<u64>,
        /// The payload: a borsh `Msg` in hex.
        #[arg(long, conflicts_with = "double_vote")]
        payload_hex: Option<String>,
        /// Build a double vote against OPERATOR in VIEW with the test network's keys
        /// (`--validators` of them), as `OPERATOR:VIEW`.
        #[arg(long)]
        double_vote: Option<String>,
        /// Validators of the test network for `--double-vote`.
        #[arg(long, default_value_t = 7)]
        validators: u32,
        /// The nonce (default: the sender's next free one).
        #[arg(long)]
        nonce: Option<u64>,
        /// Produce a block right after submitting.
        #[arg(long)]
        produce: bool,
    },
    /// Ask the module a query.
    Query {
        /// Node or data directory.
        #[command(flatten)]
        target: Target,
        /// The query.
        #[command(subcommand)]
        query: QueryCommand,
    },
    /// Print a block (the latest without a height).
    Block {
        /// Node or data directory.
        #[command(flatten)]
        target: Target,
        /// The height.
        height: Option<u64>,
    },
    /// Print a committed transaction's result.
    Tx {
        /// Node or data directory.
        #[command(flatten)]
        target: Target,
        /// The transaction hash in hex.
        hash: String,
    },
    /// Print the committed transactions and their events from a height on, one JSON object per
    /// block with transactions per line (as `GET /events` lists them). With `--follow`, keep
    /// printing blocks as they are committed (a long poll of the node) until interrupted.
    Events {
        /// Node or data directory.
        #[command(flatten)]
        target: Target,
        /// The first height.
        #[arg(long, default_value_t = 1)]
        from: u64,
        /// Keep following the node's new blocks (needs --node).
        #[arg(long)]
        follow: bool,
    },
    /// Produce blocks on a data directory, filling them with signed test transactions
    /// (certificate records and double votes of the test network); for load and crash tests.
    Fill {
        /// The data directory (its genesis must be a test network's).
        #[arg(long)]
        data: PathBuf,
        /// Blocks to produce.
        #[arg(long, default_value_t = 10)]
        blocks: u64,
        /// Transactions per block.
        #[arg(long, default_value_t = 4)]
        txs: u32,
    },
    /// Measure committed double votes per second against the signature floor at several set
    /// sizes, the cost of recording a 100-validator network's certificates, and the
    /// state-root update cost.
    Bench {
        /// Double-vote transactions to commit at each set size.
        #[arg(long, default_value_t = 320)]
        txs: u32,
        /// Offenders per block; each block runs on a fresh copy of the genesis chain (at most
        /// the smallest set size).
        #[arg(long, default_value_t = 16)]
        block_txs: u32,
        /// Validator-set sizes, comma-separated.
        #[arg(long, value_delimiter = ',', default_values_t = super::bench::SET_SIZES)]
        sizes: Vec<u32>,
        /// Blocks of the certificate row (0 skips it).
        #[arg(long, default_value_t = 100)]
        certificate_blocks: u32,
        /// State sizes (keys) of the state-root rows, comma-separated (0 skips them).
        #[arg(long, value_delimiter = ',', default_values_t = super::bench::ROOT_SIZES)]
        root_sizes: Vec<u64>,
    },
}

/// A module query.
#[derive(Subcommand, Debug, Clone)]
pub enum QueryCommand {
    /// The module's status.
    Status,
    /// The configuration.
    Config,
    /// An operator's reputation.
    Reputation {
        /// The operator.
        operator: u32,
    },
    /// An operator's isolation state.
    Isolation {
        /// The operator.
        operator: u32,
    },
    /// Every member of the current set that is not active.
    Isolated,
    /// Banned operators, in the order of their bans.
    Banned {
        /// Index of the first.
        #[arg(default_value_t = 0)]
        start: u64,
        /// Most to return.
        #[arg(default_value_t = 100)]
        limit: u32,
    },
    /// Slashing proposals.
    Slashing {
        /// First id.
        #[arg(default_value_t = 0)]
        start: u64,
        /// Most to return.
        #[arg(default_value_t = 100)]
        limit: u32,
    },
    /// Effective power per operator.
    Power,
    /// The leader of a view.
    Leader {
        /// Epoch.
        epoch: u64,
        /// View.
        view: u64,
    },
    /// The leader schedule of an epoch.
    Schedule {
        /// Epoch.
        epoch: u64,
    },
    /// The validator set of an epoch.
    Set {
        /// Epoch.
        epoch: u64,
    },
}

impl QueryCommand {
    /// The module's query.
    pub fn query(&self) -> Query {
        match *self {
            QueryCommand::Status => Query::Status,
            QueryCommand::Config => Query::Config,
            QueryCommand::Reputation { operator } => Query::Reputation { operator },
            QueryCommand::Isolation { operator } => Query::Isolation { operator },
            QueryCommand::Isolated => Query::Isolated,
            QueryCommand::Banned { start, limit } => Query::Banned { start, limit },
            QueryCommand::Slashing { start, limit } => Query::SlashingProposals { start, limit },
            QueryCommand::Power => Query::EffectivePower,
            QueryCommand::Leader { epoch, view } => Query::Leader { epoch, view },
            QueryCommand::Schedule { epoch } => Query::Schedule { epoch },
            QueryCommand::Set { epoch } => Query::ValidatorSet { epoch },
        }
    }
}

fn pretty(value: &Value) -> String {
    serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string())
}

/// Runs a `warden chain` subcommand and returns what to print; a genesis takes its module
/// settings from `cfg` ([`FaultToleranceConfig::module_config`]).
pub fn run(action: ChainAction, cfg: &FaultToleranceConfig) -> anyhow::Result<String> {
    match action {
        ChainAction::Init { genesis, data } => {
            let file = GenesisFile::read(&genesis)?;
            let chain = Chain::init(&file, &data)?;
            let head = chain.head();
            Ok(format!(
                "initialised chain {} in {}: genesis block {}, state root {}\n",
                chain.chain_id(),
                data.display(),
                hex::encode(head.hash()),
                hex::encode(head.state_root)
            ))
        }
        ChainAction::Genesis {
            chain_id,
            validators,
            out,
        } => {
            let mut file = GenesisFile::from_network(&TestNetwork::new(chain_id, validators), 0);
            let config = cfg.module_config();
            let settings = if config == warden_module::config::Config::default() {
                "every module setting at its default"
            } else {
                "module settings from the fault-tolerance configuration"
            };
            file.config = (&config).into();
            let text = format!(
                "# A test network of {validators} validators with deterministic keys (operator i has \
                 testkit key seed i, the\n# authority seed {}), {settings}. Written by\n# \
                 `warden chain genesis --chain-id {chain_id} --validators {validators} --out {}`.\n\n{}",
                testkit::AUTHORITY_SEED,
                out.display(),
                file.to_toml()?
            );
            std::fs::write(&out, text)
                .map_err(|e| anyhow::anyhow!("writing {}: {e}", out.display()))?;
            Ok(format!("wrote {}\n", out.display()))
        }
        ChainAction::Serve {
            data,
            listen,
            block_interval_ms,
            metrics_addr,
        } => {
            let chain = Chain::open(&data)?;
            let mut node = Node::bind(chain, listen)?;
            let _metrics = match metrics_addr {
                Some(addr) => {
                    let shared = std::sync::Arc::new(std::sync::Mutex::new(
                        crate::ft::metrics::Metrics::new(),
                    ));
                    let server = crate::ft::metrics::MetricsServer::serve(addr, shared.clone())?;
                    eprintln!("metrics at http://{}/metrics", server.addr());
                    node = node.with_metrics(shared);
                    Some(server)
                }
                None => None,
            };
            eprintln!("serving {} on http://{}", data.display(), node.addr());
            let interval =
                (block_interval_ms > 0).then(|| Duration::from_millis(block_interval_ms));
            node.run(interval, Arc::new(AtomicBool::new(false)))?;
            Ok(String::new())
        }
        ChainAction::Submit {
            target,
            key,
            key_seed,
            payload_hex,
            double_vote,
            validators,
            nonce,
            produce,
        } => submit(
            &target,
            &signing_key(key.as_deref(), key_seed)?,
            payload_hex.as_deref(),
            double_vote.as_deref(),
            validators,
            nonce,
            produce,
        ),
        ChainAction::Query { target, query } => {
            let bytes = encode(&query.query());
            let value = match (&target.node, &target.data) {
                (Some(addr), _) => Client::new(*addr)
                    .post("/query", &json!({ "query": hex::encode(&bytes) }))?
                    .ok()?,
                (None, Some(dir)) => {
                    let chain = Chain::open(dir)?;
                    let outcome = chain.query(&bytes)?;
                    match outcome.result {
                        Ok(response) => super::node::query_answer(&response, outcome.fuel_used),
                        Err(CallError::Module(e)) => anyhow::bail!("the module refused: {e:?}"),
                        Err(e) => anyhow::bail!("the query failed: {e}"),
                    }
                }
                (None, None) => anyhow::bail!("give --node or --data"),
            };
            Ok(format!("{}\n", pretty(&value)))
        }
        ChainAction::Block { target, height } => {
            let value = match (&target.node, &target.data) {
                (Some(addr), _) => {
                    let path = height
                        .map_or_else(|| "/block/latest".to_string(), |h| format!("/block/{h}"));
                    Client::new(*addr).get(&path)?.ok()?
                }
                (None, Some(dir)) => {
                    let chain = Chain::open(dir)?;
                    let height = height.unwrap_or(chain.head().height);
                    let block = chain
                        .block(height)?
                        .ok_or_else(|| anyhow::anyhow!("no block at height {height}"))?;
                    block_json(&block)
                }
                (None, None) => anyhow::bail!("give --node or --data"),
            };
            Ok(format!("{}\n", pretty(&value)))
        }
        ChainAction::Tx { target, hash } => {
            let value = match (&target.node, &target.data) {
                (Some(addr), _) => Client::new(*addr).get(&format!("/tx/{hash}"))?.ok()?,
                (None, Some(dir)) => {
                    let chain = Chain::open(dir)?;
                    let bytes: [u8; 32] = hex::decode(&hash)?
                        .try_into()
                        .map_err(|_| anyhow::anyhow!("a transaction hash has 32 bytes"))?;
                    let record = chain
                        .tx(&bytes)?
                        .ok_or_else(|| anyhow::anyhow!("no such committed transaction"))?;
                    tx_json(&record)
                }
                (None, None) => anyhow::bail!("give --node or --data"),
            };
            Ok(format!("{}\n", pretty(&value)))
        }
        ChainAction::Events {
            target,
            from,
            follow,
        } => {
            let mut out = std::io::stdout().lock();
            match (&target.node, &target.data) {
                (Some(addr), _) => {
                    let client = Client::new(*addr);
                    let wait = if follow {
                        MAX_EVENTS_WAIT
                    } else {
                        Duration::ZERO
                    };
                    print_events(from, follow, &mut out, |from| client.events(from, wait))?;
                }
                (None, Some(_)) if follow => anyhow::bail!("--follow needs --node"),
                (None, Some(dir)) => {
                    let chain = Chain::open(dir)?;
                    print_events(from, false, &mut out, |from| {
                        events_json(&chain, from, MAX_EVENT_BLOCKS)
                    })?;
                }
                (None, None) => anyhow::bail!("give --node or --data"),
            }
            Ok(String::new())
        }
        ChainAction::Fill { data, blocks, txs } => fill(&data, blocks, txs),
        ChainAction::Bench {
            txs,
            block_txs,
            sizes,
            certificate_blocks,
            root_sizes,
        } => super::bench::run(&super::bench::ChainBenchOptions {
            txs,
            block_txs,
            sizes,
            certificate_blocks,
            root_sizes: root_sizes.into_iter().filter(|&n| n > 0).collect(),
        }),
    }
}

/// An ed25519 secret key from 32 bytes in hex (surrounding whitespace allowed); errors name
/// `origin` (an argument or a file).
pub(crate) fn secret_key(text: &str, origin: &str) -> anyhow::Result<ed25519_dalek::SigningKey> {
    let bytes: [u8; 32] = hex::decode(text.trim())
        .map_err(|e| anyhow::anyhow!("{origin}: not hex: {e}"))?
        .try_into()
        .map_err(|_| anyhow::anyhow!("{origin}: a secret key has 32 bytes"))?;
    Ok(ed25519_dalek::SigningKey::from_bytes(&bytes))
}

/// The key of `--key-file FILE` (hex, as [`secret_key`] reads it) or of `--key-seed N` (a
/// deterministic test key), for the processes that sign (`warden relay`, `warden node`).
pub(crate) fn key_from_file_or_seed(
    file: Option<&std::path::Path>,
    seed: Option<u64>,
) -> anyhow::Result<ed25519_dalek::SigningKey> {
    match (file, seed) {
        (Some(path), _) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| anyhow::anyhow!("reading {}: {e}", path.display()))?;
            secret_key(&text, &path.display().to_string())
        }
        (None, Some(seed)) => Ok(testkit::key(seed)),
        (None, None) => anyhow::bail!("give --key-file or --key-seed"),
    }
}

fn signing_key(key: Option<&str>, seed: Option<u64>) -> anyhow::Result<ed25519_dalek::SigningKey> {
    match (key, seed) {
        (Some(hex_key), _) => secret_key(hex_key, "--key"),
        (None, Some(seed)) => Ok(testkit::key(seed)),
        (None, None) => anyhow::bail!("give --key or --key-seed"),
    }
}

fn submit(
    target: &Target,
    key: &ed25519_dalek::SigningKey,
    payload_hex: Option<&str>,
    double_vote: Option<&str>,
    validators: u32,
    nonce: Option<u64>,
    produce: bool,
) -> anyhow::Result<String> {
    let sender = PublicKey(key.verifying_key().to_bytes());
    let mut chain = match &target.data {
        Some(dir) if target.node.is_none() => Some(Chain::open(dir)?),
        _ => None,
    };
    let client = target.node.map(Client::new);
    let chain_id = match (&chain, &client) {
        (Some(chain), _) => chain.chain_id(),
        (None, Some(client)) => client
            .get("/status")?
            .ok()?
            .get("chain_id")
            .and_then(Value::as_u64)
            .ok_or_else(|| anyhow::anyhow!("the node's status has no chain id"))?,
        (None, None) => anyhow::bail!("give --node or --data"),
    };
    let payload = match (payload_hex, double_vote) {
        (Some(h), _) => hex::decode(h.trim()).map_err(|e| anyhow::anyhow!("--payload-hex: {e}"))?,
        (None, Some(spec)) => {
            let (operator, view) = spec
                .split_once(':')
                .ok_or_else(|| anyhow::anyhow!("--double-vote takes OPERATOR:VIEW"))?;
            let operator: u32 = operator.parse()?;
            let view: u64 = view.parse()?;
            anyhow::ensure!(operator < validators, "operator {operator} of {validators}");
            let net = TestNetwork::new(chain_id, validators);
            encode(&Msg::SubmitEvidence(net.double_vote(operator, view)))
        }
        (None, None) => anyhow::bail!("give --payload-hex or --double-vote"),
    };
    let nonce = match (nonce, &chain, &client) {
        (Some(n), _, _) => n,
        (None, Some(chain), _) => chain.next_free_nonce(&sender)?,
        (None, None, Some(client)) => client
            .get(&format!("/nonce/{}", hex::encode(sender.0)))?
            .ok()?
            .get("next_free")
            .and_then(Value::as_u64)
            .ok_or_else(|| anyhow::anyhow!("the node's nonce answer has no next_free"))?,
        (None, None, None) => anyhow::bail!("give --node or --data"),
    };
    let envelope = Envelope::sign(chain_id, key, nonce, payload)
        .ok_or_else(|| anyhow::anyhow!("the payload is over the size limit"))?;
    let bytes = envelope.encode();
    let mut out = String::new();
    if let Some(chain) = chain.as_mut() {
        let hash = chain.submit(&bytes)?;
        out.push_str(&format!(
            "submitted {} (nonce {nonce})\n",
            hex::encode(hash)
        ));
        if produce {
            let header = chain.produce_block(now_ms())?;
            out.push_str(&format!(
                "block {} {}\n",
                header.height,
                hex::encode(header.hash())
            ));
            if let Some(record) = chain.tx(&hash)? {
                out.push_str(&format!("{}\n", pretty(&tx_json(&record))));
            }
        }
    } else if let Some(client) = client {
        let reply = client
            .post("/tx", &json!({ "envelope": hex::encode(&bytes) }))?
            .ok()?;
        out.push_str(&format!(
            "submitted {} (nonce {nonce})\n",
            reply["hash"].as_str().unwrap_or_default()
        ));
        if produce {
            let block = client.post("/produce", &json!({}))?.ok()?;
            out.push_str(&format!("{}\n", pretty(&block)));
        }
    }
    Ok(out)
}

/// The test network a data directory's genesis was made from (test keys by operator index).
fn network_of(chain: &Chain) -> anyhow::Result<TestNetwork> {
    let genesis = chain.genesis();
    let n = u32::try_from(genesis.validators.len())?;
    let net = TestNetwork::new(genesis.chain_id, n);
    let expected = GenesisFile::from_network(&net, genesis.time_ms);
    anyhow::ensure!(
        expected.validators == genesis.validators && expected.authority == genesis.authority,
        "the chain's genesis is not a test network's; `fill` signs with test keys"
    );
    Ok(net)
}

/// Writes the blocks of each page `page(from)` gives (an answer of `GET /events`), one JSON line
/// each, from `from` to the head, or on and on with `follow`.
fn print_events(
    mut from: u64,
    follow: bool,
    out: &mut impl std::io::Write,
    mut page: impl FnMut(u64) -> anyhow::Result<Value>,
) -> anyhow::Result<()> {
    loop {
        let answer = page(from)?;
        for block in answer["blocks"].as_array().into_iter().flatten() {
            writeln!(out, "{block}")?;
        }
        out.flush()?;
        let next = answer["next"]
            .as_u64()
            .ok_or_else(|| anyhow::anyhow!("an answer without `next`: {answer}"))?;
        let head = answer["head"].as_u64().unwrap_or(0);
        if !follow && next > head {
            return Ok(());
        }
        from = next;
    }
}

/// Produces `blocks` blocks of `txs` signed test transactions each: certificate records in
/// increasing views (they change the state), and every fourth transaction a double vote.
pub fn fill(dir: &Path, blocks: u64, txs: u32) -> anyhow::Result<String> {
    let mut chain = Chain::open(dir)?;
    let net = network_of(&chain)?;
    let reporter = testkit::key(testkit::REPORTER_SEED);
    let quorum = net.quorum_signers();
    let n = u32::try_from(net.keys.len())?;
    for _ in 0..blocks {
        let height = chain.head().height + 1;
        for i in 0..txs {
            let seq = height * u64::from(txs) + u64::from(i);
            let msg = if i % 4 == 3 {
                Msg::SubmitEvidence(net.double_vote(u32::try_from(seq % u64::from(n))?, seq))
            } else {
                let cert = net.certificate(
                    warden_module::wire::CertificateKind::Vote2,
                    seq + 10,
                    [(seq % 251) as u8; 32],
                    0,
                    &quorum,
                );
                Msg::RecordCertificates(
                    warden_module::codec::BoundedVec::new(vec![cert])
                        .ok_or_else(|| anyhow::anyhow!("one certificate over the bound"))?,
                )
            };
            chain.submit_signed(&reporter, encode(&msg))?;
        }
        let time = chain.head().time.max(now_ms());
        chain.produce_block(time)?;
    }
    let head = chain.head();
    Ok(format!(
        "height {} {} state root {}\n",
        head.height,
        hex::encode(head.hash()),
        hex::encode(head.state_root)
    ))
}
