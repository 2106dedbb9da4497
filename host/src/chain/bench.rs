//! `warden chain bench`: the runtime's throughput against the signature floor at several
//! validator-set sizes, the cost of recording a network's certificates, and the state-root
//! update cost per block at two state sizes.
//!
//! 1. Throughput, at each set size (16, 128, 504 and 1,024 validators by default). A block of
//!    double votes by `block_txs` different offenders is committed on a fresh chain (a copy of
//!    the size's post-genesis data directory, made before the clock starts), so that every
//!    size's transactions do the same work besides the set: the same offenders' worth of
//!    bans and correlated slashing. Before the clock, the fresh chain commits a warm-up block:
//!    the same double votes, each with a spoilt signature, from another reporter, all refused,
//!    so the module's state is still genesis's (checked) while the chain has run a block as a
//!    running chain has (its executor's code and instance slot touched, its database file
//!    grown, its caches filled); without it, every measured block would also pay what only the
//!    first block after opening a data directory pays. Three measurements take turns, one
//!    block each, on the same signed transactions:
//!    - the signature floor: native `verify_strict` of the transaction's three signatures (its
//!      envelope's and the two votes'), nothing else;
//!    - the wasm floor: the executor alone over an in-memory store;
//!    - the chain: envelopes submitted (strict decoding, chain id, `verify_strict` of the
//!      envelope, nonce, mempool), the block produced (execution over the block overlay) and
//!      committed to redb with the state tree, records and nonces, with an fsync.
//!
//!    Targets: the chain commits at least half the signature floor's rate at every size, and
//!    its rate at the largest size is within 20% of its rate at the smallest.
//! 2. Certificates. A network of 100 validators, each block's phase-1 and phase-2
//!    certificates (a quorum of signatures each) recorded in one transaction per block, the
//!    chain committing a block per transaction; reported as the share of one core that 10
//!    blocks per second take (target: under 10%).
//! 3. State root. A state of 1,000 and then 100,000 keys (in redb, with its tree in memory as
//!    the runtime keeps it); each block changes 100 keys (half new, half rewritten), and the
//!    time of the root update alone and of the update with the block's write transaction
//!    (state writes, commit, fsync) are measured per block.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use redb::{Database, ReadableDatabase, ReadableTable};

use warden_module::codec::{encode, BoundedVec};
use warden_module::crypto::{Ed25519Strict, Verifier};
use warden_module::evidence::Evidence;
use warden_module::msg::{Event, Msg};
use warden_module::wire::{CertificateKind, PublicKey, Signature};

use super::block::{TxRecord, TxStatus};
use super::envelope::Envelope;
use super::genesis::GenesisFile;
use super::root::{self, path_of, value_hash, MemoryNodes};
use super::store::STATE;
use super::Chain;
use crate::testkit::{key, public, TestNetwork, REPORTER_SEED};
use crate::wasm::{BlockContext, Executor, ExecutorConfig, MemoryStore};

/// Benchmark settings.
#[derive(Clone, Debug)]
pub struct ChainBenchOptions {
    /// Double-vote transactions to commit at each set size.
    pub txs: u32,
    /// Offenders per block, each block on a fresh chain (at most the smallest set).
    pub block_txs: u32,
    /// Validator-set sizes of the throughput rows.
    pub sizes: Vec<u32>,
    /// Blocks of the certificate row (0 skips it).
    pub certificate_blocks: u32,
    /// State sizes (keys) at which the state-root update is measured.
    pub root_sizes: Vec<u64>,
}

/// The set sizes the throughput rows run at.
pub const SET_SIZES: [u32; 4] = [16, 128, 504, 1_024];
/// The target: the chain's rate as a share of the signature floor's, at every size.
pub const RATE_TARGET: f64 = 0.50;
/// The target: the largest set's rate within this share of the smallest set's.
pub const FLATNESS_TARGET: f64 = 0.20;
/// Validators of the certificate row's network.
pub const CERTIFICATE_VALIDATORS: u32 = 100;
/// Blocks per second the certificate row's share of a core is stated at.
pub const CERTIFICATE_BLOCKS_PER_SECOND: f64 = 10.0;
/// The target: the share of one core that recording those certificates takes.
pub const CERTIFICATE_CORE_TARGET: f64 = 0.10;
const CHAIN_ID: u64 = 9;
const GENESIS_TIME: u64 = 1_700_000_000_000;
/// The state sizes the issue asks about.
pub const ROOT_SIZES: [u64; 2] = [1_000, 100_000];
const ROOT_BLOCK_KEYS: u64 = 100;
const ROOT_BLOCKS: u64 = 20;
/// Signatures a double-vote transaction carries: its envelope's and the two votes'.
const SIGNATURES_PER_TX: u32 = 3;
/// The height of the measured block: each fresh chain first commits a warm-up block.
const BLOCK_HEIGHT: u64 = 2;
/// The sender of the warm-up block's transactions.
const WARMUP_SEED: u64 = REPORTER_SEED + 1;

/// The time of block `height`.
fn block_time(height: u64) -> u64 {
    GENESIS_TIME + 1_000 * height
}

fn rate(n: u64, d: Duration) -> f64 {
    let s = d.as_secs_f64();
    if s > 0.0 {
        n as f64 / s
    } else {
        0.0
    }
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort_unstable();
    v.get(v.len() / 2).copied().unwrap_or_default()
}

fn verdict(pass: bool) -> &'static str {
    if pass {
        "PASS"
    } else {
        "MISS"
    }
}

/// Runs one block's worth of `payloads` through the executor alone, over `state`.
fn floor_block(
    exec: &Executor,
    state: &mut MemoryStore,
    payloads: &[Vec<u8>],
    height: u64,
) -> anyhow::Result<Duration> {
    let sender = Some(public(&key(REPORTER_SEED)));
    let ctx = BlockContext {
        height,
        time: block_time(height),
    };
    let start = Instant::now();
    let outcomes: Vec<_> = payloads
        .iter()
        .map(|payload| exec.execute(state, ctx, sender, payload))
        .collect();
    let elapsed = start.elapsed();
    for (i, outcome) in outcomes.iter().enumerate() {
        anyhow::ensure!(
            outcome.is_ok()
                && outcome
                    .events
                    .iter()
                    .any(|e| matches!(e, Event::EvidenceAccepted { .. })),
            "floor transaction {i} of block {height} refused: {:?}",
            outcome.result
        );
    }
    Ok(elapsed)
}

/// The records of block `height`'s transactions.
fn chain_records(chain: &Chain, height: u64) -> anyhow::Result<Vec<TxRecord>> {
    let block = chain
        .block(height)?
        .ok_or_else(|| anyhow::anyhow!("block {height} missing"))?;
    block
        .txs
        .iter()
        .map(|hash| {
            chain
                .tx(hash)?
                .ok_or_else(|| anyhow::anyhow!("no record of a committed transaction"))
        })
        .collect()
}

/// The records of block `height`'s transactions, each of which must have succeeded.
fn succeeded(chain: &Chain, height: u64) -> anyhow::Result<Vec<TxRecord>> {
    let records = chain_records(chain, height)?;
    for record in &records {
        anyhow::ensure!(
            record.result.status == TxStatus::Ok,
            "a transaction of block {height} failed: {:?}",
            record.result.status
        );
    }
    Ok(records)
}

/// Copies a data directory (files and one level of subdirectories, as a chain writes them).
fn copy_dir(from: &Path, to: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), &target)?;
        }
    }
    Ok(())
}

/// One signature a transaction carries, as the signature floor checks it.
type SignatureCheck = (PublicKey, Vec<u8>, Signature);

/// One set size of the throughput rows: its post-genesis chain and state, and its block.
struct SizeRun {
    validators: u32,
    template: PathBuf,
    genesis_state: MemoryStore,
    payloads: Vec<Vec<u8>>,
    envelopes: Vec<Vec<u8>>,
    /// The warm-up block: the block's double votes, each spoilt, which the module refuses.
    warmup: Vec<Vec<u8>>,
    /// The state root after genesis, which the warm-up block keeps.
    genesis_root: root::Hash,
    signatures: Vec<SignatureCheck>,
    chain: Duration,
    /// The part of `chain` spent submitting.
    submit: Duration,
    floor: Duration,
    signature_floor: Duration,
    txs: u64,
    /// Fuel the chain's transactions burnt (deterministic, unlike the times).
    fuel: u64,
}

impl SizeRun {
    fn new(exec: &Executor, validators: u32, offenders: u32, dir: &Path) -> anyhow::Result<Self> {
        let net = TestNetwork::new(CHAIN_ID, validators);
        let file = GenesisFile::from_network(&net, GENESIS_TIME);
        let reporter = key(REPORTER_SEED);
        let sender = public(&reporter);
        let set = net.set();
        let mut payloads = Vec::new();
        let mut envelopes = Vec::new();
        let mut signatures = Vec::new();
        let mut warmup = Vec::new();
        for i in 0..offenders {
            let evidence = net.double_vote(i, 5 + u64::from(i));
            let Evidence::DoubleVote { first, second } = &evidence else {
                anyhow::bail!("the test network built no double vote");
            };
            let offender = set
                .get(i)
                .ok_or_else(|| anyhow::anyhow!("offender {i} is not in the set"))?
                .key;
            for vote in [first, second] {
                let bytes = vote.message.signing_bytes(CHAIN_ID, vote.epoch);
                signatures.push((offender, bytes, vote.signature));
            }
            let payload = encode(&Msg::SubmitEvidence(evidence.clone()));
            let envelope = Envelope::sign(CHAIN_ID, &reporter, u64::from(i), payload.clone())
                .ok_or_else(|| anyhow::anyhow!("payload over the limit"))?;
            signatures.push((
                sender,
                Envelope::signing_bytes(CHAIN_ID, &sender, u64::from(i), &payload),
                envelope.signature,
            ));
            payloads.push(payload);
            envelopes.push(envelope.encode());
            // Its warm-up twin: the same double vote with the second signature spoilt, from
            // another reporter; the module checks it up to that signature and refuses it.
            let mut spoilt = evidence;
            if let Evidence::DoubleVote { second, .. } = &mut spoilt {
                second.signature.0[0] ^= 1;
            }
            warmup.push(
                Envelope::sign(
                    CHAIN_ID,
                    &key(WARMUP_SEED),
                    u64::from(i),
                    encode(&Msg::SubmitEvidence(spoilt)),
                )
                .ok_or_else(|| anyhow::anyhow!("payload over the limit"))?
                .encode(),
            );
        }
        let template = dir.join(format!("genesis-{validators}"));
        let genesis_root = Chain::init(&file, &template)?.head().state_root;
        let mut genesis_state = MemoryStore::new();
        let init = exec.init(
            &mut genesis_state,
            BlockContext {
                height: 0,
                time: GENESIS_TIME,
            },
            &file.module_genesis()?,
        );
        anyhow::ensure!(init.is_ok(), "genesis refused: {:?}", init.result);
        Ok(Self {
            validators,
            template,
            genesis_state,
            payloads,
            envelopes,
            warmup,
            genesis_root,
            signatures,
            chain: Duration::ZERO,
            submit: Duration::ZERO,
            floor: Duration::ZERO,
            signature_floor: Duration::ZERO,
            txs: 0,
            fuel: 0,
        })
    }

    /// One block of each measurement, in an order that alternates with `round`.
    fn round(&mut self, exec: &Executor, round: u32, scratch: &Path) -> anyhow::Result<()> {
        let dir = scratch.join(format!("chain-{}-{round}", self.validators));
        copy_dir(&self.template, &dir)?;
        let mut chain = Chain::open(&dir)?;
        // Not timed: the warm-up block, refused whole, which leaves the module's state as
        // genesis left it.
        for envelope in &self.warmup {
            chain
                .submit(envelope)
                .map_err(|e| anyhow::anyhow!("submit the warm-up: {e}"))?;
        }
        let warmed = chain.produce_block(block_time(BLOCK_HEIGHT - 1))?;
        anyhow::ensure!(
            warmed.state_root == self.genesis_root,
            "the warm-up block changed the module's state"
        );
        for record in chain_records(&chain, warmed.height)? {
            anyhow::ensure!(
                matches!(record.result.status, TxStatus::Refused(_)),
                "a warm-up transaction was not refused: {:?}",
                record.result.status
            );
        }
        let mut floor_state = self.genesis_state.clone();
        let chain_first = round % 2 == 1;
        if !chain_first {
            self.floor += floor_block(exec, &mut floor_state, &self.payloads, BLOCK_HEIGHT)?;
        }
        let start = Instant::now();
        for envelope in &self.envelopes {
            chain
                .submit(envelope)
                .map_err(|e| anyhow::anyhow!("submit: {e}"))?;
        }
        let submitted = start.elapsed();
        let header = chain.produce_block(block_time(BLOCK_HEIGHT))?;
        self.chain += start.elapsed();
        self.submit += submitted;
        if chain_first {
            self.floor += floor_block(exec, &mut floor_state, &self.payloads, BLOCK_HEIGHT)?;
        }
        let start = Instant::now();
        for (key, message, signature) in &self.signatures {
            anyhow::ensure!(
                Ed25519Strict.verify(key, message, signature),
                "a signature of the block does not verify"
            );
        }
        self.signature_floor += start.elapsed();
        self.txs += self.payloads.len() as u64;

        // Not timed: every transaction succeeded, and the chain's state is the floor's.
        anyhow::ensure!(
            header.height == BLOCK_HEIGHT,
            "the measured block is at height {}",
            header.height
        );
        let records = succeeded(&chain, header.height)?;
        anyhow::ensure!(
            records.len() == self.payloads.len(),
            "the block holds {} of {} transactions",
            records.len(),
            self.payloads.len()
        );
        self.fuel += records.iter().map(|r| r.result.fuel_used).sum::<u64>();
        if round == 0 {
            let floor_root = root::root_of(
                floor_state
                    .iter()
                    .map(|(k, v)| (path_of(k), value_hash(v)))
                    .collect(),
            )?;
            anyhow::ensure!(
                floor_root == chain.head().state_root,
                "the chain and the floor ended in different states"
            );
        }
        drop(chain);
        std::fs::remove_dir_all(&dir)?;
        Ok(())
    }
}

/// Runs the benchmark and returns the report.
pub fn run(options: &ChainBenchOptions) -> anyhow::Result<String> {
    let mut out = String::new();
    let tmp = tempfile::Builder::new()
        .prefix("warden-chain-bench-")
        .tempdir()?;
    let exec = Executor::new(ExecutorConfig::default())?;

    // 1. Throughput.
    let mut sizes = options.sizes.clone();
    sizes.sort_unstable();
    sizes.dedup();
    sizes.retain(|&n| n > 0);
    anyhow::ensure!(!sizes.is_empty(), "no set size to run at");
    let smallest = sizes[0];
    let offenders = options.block_txs.clamp(1, smallest);
    let rounds = options.txs.max(1).div_ceil(offenders);
    eprintln!(
        "chain bench: genesis of {} sets ({} validators)",
        sizes.len(),
        sizes
            .iter()
            .map(|n| n.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    );
    let mut runs = sizes
        .iter()
        .map(|&n| SizeRun::new(&exec, n, offenders, tmp.path()))
        .collect::<anyhow::Result<Vec<_>>>()?;
    // Warm the executor's pool.
    floor_block(
        &exec,
        &mut runs[0].genesis_state.clone(),
        &runs[0].payloads,
        BLOCK_HEIGHT,
    )?;
    for round in 0..rounds {
        if round % 10 == 0 {
            eprintln!("chain bench: block {} of {rounds} at each size", round + 1);
        }
        for run in &mut runs {
            run.round(&exec, round, tmp.path())?;
        }
    }

    writeln!(out, "Warden chain benchmark")?;
    writeln!(
        out,
        "  {rounds} blocks per set size, each of {offenders} double votes by different offenders \
         on a fresh chain copied from the size's genesis, after an untimed warm-up block of the \
         same double votes spoilt and refused; {} CPU(s) available; wall clock",
        std::thread::available_parallelism().map_or(1, |n| n.get())
    )?;
    writeln!(
        out,
        "  signature floor: native verify_strict of each transaction's {SIGNATURES_PER_TX} \
         signatures (envelope, two votes); wasm floor: the executor over memory;"
    )?;
    writeln!(
        out,
        "  chain: envelope checks, execution, redb commit + fsync per block. The three take \
         turns, one block each."
    )?;
    writeln!(out)?;
    writeln!(
        out,
        "{:>10}  {:>15}  {:>12}  {:>12}  {:>16}  {:>22}  {:>11}",
        "validators",
        "signature floor",
        "wasm floor",
        "chain",
        "chain / sig floor",
        "chain per tx: submit+block",
        "fuel per tx"
    )?;
    let mut chain_rates = Vec::new();
    let mut all_pass = true;
    for run in &runs {
        let sig = rate(run.txs, run.signature_floor);
        let floor = rate(run.txs, run.floor);
        let chain = rate(run.txs, run.chain);
        let share = if sig > 0.0 { chain / sig } else { 0.0 };
        all_pass &= share >= RATE_TARGET;
        chain_rates.push(chain);
        let per_tx = |d: Duration| d.as_secs_f64() * 1e6 / run.txs.max(1) as f64;
        writeln!(
            out,
            "{:>10}  {:>10.1} tx/s  {:>7.1} tx/s  {:>7.1} tx/s  {:>10.1}% {}  {:>7.1} + {:>7.1} µs  {:>11}",
            run.validators,
            sig,
            floor,
            chain,
            share * 100.0,
            verdict(share >= RATE_TARGET),
            per_tx(run.submit),
            per_tx(run.chain - run.submit),
            run.fuel / run.txs.max(1),
        )?;
    }
    writeln!(
        out,
        "chain / signature floor at every size (target >= {:.0}%): {}",
        RATE_TARGET * 100.0,
        verdict(all_pass)
    )?;
    if let (Some(first), Some(last)) = (chain_rates.first(), chain_rates.last()) {
        let ratio = if *first > 0.0 { last / first } else { 0.0 };
        writeln!(
            out,
            "chain rate at {} validators / at {}: {ratio:.3} (target within {:.0}%): {}",
            runs[runs.len() - 1].validators,
            runs[0].validators,
            FLATNESS_TARGET * 100.0,
            verdict((1.0 - ratio).abs() <= FLATNESS_TARGET)
        )?;
    }
    drop(runs);
    writeln!(out)?;

    // 2. Certificates.
    if options.certificate_blocks > 0 {
        certificates(&mut out, options.certificate_blocks, tmp.path())?;
        writeln!(out)?;
    }

    // 3. State-root update cost.
    if options.root_sizes.is_empty() {
        return Ok(out);
    }
    writeln!(
        out,
        "state-root update per block ({ROOT_BLOCK_KEYS} keys changed: half new, half rewritten; median of {ROOT_BLOCKS} blocks)"
    )?;
    writeln!(
        out,
        "{:>12}  {:>14}  {:>12}  {:>28}  {:>20}",
        "keys", "root update", "per key", "root + write txn + commit", "root from scratch"
    )?;
    for &size in &options.root_sizes {
        let (update, total, scratch) = root_cost(&tmp.path().join(format!("root-{size}")), size)?;
        writeln!(
            out,
            "{:>12}  {:>11.1} µs  {:>9.2} µs  {:>25.1} µs  {:>17.1} µs",
            size,
            update.as_secs_f64() * 1e6,
            update.as_secs_f64() * 1e6 / ROOT_BLOCK_KEYS as f64,
            total.as_secs_f64() * 1e6,
            scratch.as_secs_f64() * 1e6
        )?;
    }
    Ok(out)
}

/// The certificate row: `blocks` blocks of a 100-validator network, each block's two
/// certificates recorded in one transaction, one chain block per transaction.
fn certificates(out: &mut String, blocks: u32, dir: &Path) -> anyhow::Result<()> {
    let net = TestNetwork::new(CHAIN_ID, CERTIFICATE_VALIDATORS);
    let file = GenesisFile::from_network(&net, GENESIS_TIME);
    let reporter = key(REPORTER_SEED);
    let signers = net.quorum_signers();
    let mut chain = Chain::init(&file, &dir.join("certificates"))?;
    let mut busy = Duration::ZERO;
    let mut fuel = 0u64;
    for b in 0..u64::from(blocks) {
        let view = 10 + b;
        let hash = [(b % 251) as u8 + 1; 32];
        let certs = vec![
            net.certificate(CertificateKind::Vote, view, hash, view - 1, &signers),
            net.certificate(CertificateKind::Vote2, view, hash, 0, &signers),
        ];
        let payload = encode(&Msg::RecordCertificates(
            BoundedVec::new(certs)
                .ok_or_else(|| anyhow::anyhow!("two certificates over the bound"))?,
        ));
        let envelope = Envelope::sign(CHAIN_ID, &reporter, b, payload)
            .ok_or_else(|| anyhow::anyhow!("payload over the limit"))?
            .encode();
        let start = Instant::now();
        chain
            .submit(&envelope)
            .map_err(|e| anyhow::anyhow!("submit: {e}"))?;
        let header = chain.produce_block(GENESIS_TIME + 1_000 * (b + 1))?;
        busy += start.elapsed();
        for record in succeeded(&chain, header.height)? {
            fuel += record.result.fuel_used;
        }
    }
    let per_block = busy / blocks.max(1);
    let share = per_block.as_secs_f64() * CERTIFICATE_BLOCKS_PER_SECOND;
    writeln!(
        out,
        "certificates: {CERTIFICATE_VALIDATORS} validators, each block's phase-1 and phase-2 \
         certificates ({} signatures each) in one transaction, {blocks} blocks",
        signers.len()
    )?;
    writeln!(
        out,
        "  {:.1} ms per block (envelope, {} signature checks, execution, commit + fsync), \
         {} fuel per block",
        per_block.as_secs_f64() * 1e3,
        2 * signers.len() + 1,
        fuel / u64::from(blocks.max(1))
    )?;
    writeln!(
        out,
        "  at {CERTIFICATE_BLOCKS_PER_SECOND:.0} blocks per second: {:.1}% of one core \
         (target < {:.0}%): {}",
        share * 100.0,
        CERTIFICATE_CORE_TARGET * 100.0,
        verdict(share < CERTIFICATE_CORE_TARGET)
    )?;
    Ok(())
}

/// Fills the state (redb) and the tree (memory) with `size` keys, then measures blocks of
/// changes: (tree update, whole write transaction with the update), medians, and the time of
/// one recomputation of the root from scratch over the final state, for contrast.
fn root_cost(dir: &std::path::Path, size: u64) -> anyhow::Result<(Duration, Duration, Duration)> {
    std::fs::create_dir_all(dir)?;
    let db = Database::create(dir.join("root.redb"))?;
    let mut tree = MemoryNodes::new();
    let entry = |i: u64, version: u64| -> (Vec<u8>, Vec<u8>) {
        (
            format!("key-{i}").into_bytes(),
            format!("value-{i}-{version}").into_bytes(),
        )
    };
    // Fill in batches of 10,000 keys.
    let mut i = 0;
    while i < size {
        let end = (i + 10_000).min(size);
        let txn = db.begin_write()?;
        {
            let mut state = txn.open_table(STATE)?;
            let mut changes = Vec::new();
            for k in i..end {
                let (key, value) = entry(k, 0);
                state.insert(key.as_slice(), value.as_slice())?;
                changes.push((path_of(&key), Some(value_hash(&value))));
            }
            changes.sort_unstable_by_key(|a| a.0);
            root::update(&mut tree, &changes)?;
        }
        txn.commit()?;
        i = end;
    }
    let mut updates = Vec::new();
    let mut totals = Vec::new();
    let mut next_new = size;
    for block in 0..ROOT_BLOCKS {
        let mut block_changes = Vec::new();
        for j in 0..ROOT_BLOCK_KEYS / 2 {
            block_changes.push(entry((block * 7919 + j * 104_729) % size, block + 1));
            block_changes.push(entry(next_new, 0));
            next_new += 1;
        }
        let start = Instant::now();
        let mut changes: Vec<_> = block_changes
            .iter()
            .map(|(key, value)| (path_of(key), Some(value_hash(value))))
            .collect();
        changes.sort_unstable_by_key(|a| a.0);
        changes.dedup_by(|a, b| a.0 == b.0);
        root::update(&mut tree, &changes)?;
        let update = start.elapsed();
        let txn = db.begin_write()?;
        {
            let mut state = txn.open_table(STATE)?;
            for (key, value) in &block_changes {
                state.insert(key.as_slice(), value.as_slice())?;
            }
        }
        txn.commit()?;
        totals.push(start.elapsed());
        updates.push(update);
    }
    let entries: Vec<_> = {
        let txn = db.begin_read()?;
        let state = txn.open_table(STATE)?;
        let mut entries = Vec::new();
        for entry in state.iter()? {
            let (key, value) = entry?;
            entries.push((path_of(key.value()), value_hash(value.value())));
        }
        entries
    };
    let start = Instant::now();
    let scratch = root::root_of(entries)?;
    let scratch_time = start.elapsed();
    anyhow::ensure!(
        scratch == root::root(&mut tree)?,
        "the incremental root differs from the root recomputed from scratch"
    );
    Ok((median(updates), median(totals), scratch_time))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_small_chain_bench_runs() {
        // Small enough for a debug test run; the release figures come from `warden chain bench`.
        let report = run(&ChainBenchOptions {
            txs: 4,
            block_txs: 2,
            sizes: vec![4, 8],
            certificate_blocks: 2,
            root_sizes: vec![1_000],
        })
        .expect("the benchmark runs");
        assert!(report.contains("chain / signature floor"), "{report}");
        assert!(report.contains("certificates: 100 validators"), "{report}");
        assert!(report.contains("1000"), "{report}");
    }
}
