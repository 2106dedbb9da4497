//! `warden chain bench`: the runtime's throughput against the wasm floor, and the state-root
//! update cost per block at two state sizes.
//!
//! 1. Throughput. A test network with one validator per transaction (plus a few) so that
//!    every double vote names a different offender and is accepted. The same signed double-vote
//!    transactions run twice, in the same order:
//!    - the floor: the executor alone over an in-memory store (a fresh instance per
//!      transaction, the state carried from one transaction to the next), nothing else;
//!    - the chain: envelopes submitted (strict decoding, chain id, `verify_strict` of the
//!      envelope, nonce, mempool), blocks produced (execution over the block overlay) and each
//!      block committed to redb with the state tree, records and nonces, with an fsync per block.
//!
//!    The two take turns, one block each (the first of the pair alternating), so that the
//!    load of a shared machine falls on both alike. Target: the chain commits at least 80% of
//!    the floor's rate.
//! 2. State root. A state of 1,000 and then 100,000 keys (in redb, with its tree in memory as
//!    the runtime keeps it); each block changes 100 keys (half new, half rewritten), and the
//!    time of the root update alone and of the update with the block's write transaction
//!    (state writes, commit, fsync) are measured per block.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use redb::{Database, ReadableDatabase, ReadableTable};

use warden_module::codec::encode;
use warden_module::msg::{Event, Msg};

use super::block::TxStatus;
use super::envelope::Envelope;
use super::genesis::GenesisFile;
use super::root::{self, path_of, value_hash, MemoryNodes};
use super::store::STATE;
use super::Chain;
use crate::testkit::{key, TestNetwork, REPORTER_SEED};
use crate::wasm::{BlockContext, Executor, ExecutorConfig, MemoryStore};

/// Benchmark settings.
#[derive(Clone, Debug)]
pub struct ChainBenchOptions {
    /// Double-vote transactions to commit (at most 1,000: one offender each).
    pub txs: u32,
    /// Transactions per block.
    pub block_txs: u32,
    /// State sizes (keys) at which the state-root update is measured.
    pub root_sizes: Vec<u64>,
}

/// The target: the chain's rate as a share of the floor's.
pub const RATE_TARGET: f64 = 0.80;
const CHAIN_ID: u64 = 9;
const GENESIS_TIME: u64 = 1_700_000_000_000;
/// The state sizes the issue asks about.
pub const ROOT_SIZES: [u64; 2] = [1_000, 100_000];
const ROOT_BLOCK_KEYS: u64 = 100;
const ROOT_BLOCKS: u64 = 20;

fn rate(n: u32, d: Duration) -> f64 {
    let s = d.as_secs_f64();
    if s > 0.0 {
        f64::from(n) / s
    } else {
        0.0
    }
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort_unstable();
    v.get(v.len() / 2).copied().unwrap_or_default()
}

/// Runs one block's worth of `payloads` through the executor alone, over `state`.
fn floor_block(
    exec: &Executor,
    state: &mut MemoryStore,
    payloads: &[Vec<u8>],
    height: u64,
) -> anyhow::Result<Duration> {
    let sender = Some(crate::testkit::public(&key(REPORTER_SEED)));
    let ctx = BlockContext {
        height,
        time: GENESIS_TIME + 1_000 * height,
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

/// Runs the benchmark and returns the report.
pub fn run(options: &ChainBenchOptions) -> anyhow::Result<String> {
    let txs = options.txs.clamp(1, 1_000);
    let block_txs = options.block_txs.clamp(1, txs);
    let mut out = String::new();
    let tmp = tempfile::Builder::new()
        .prefix("warden-chain-bench-")
        .tempdir()?;

    // 1. Throughput.
    let validators = txs + 4;
    let net = TestNetwork::new(CHAIN_ID, validators);
    let file = GenesisFile::from_network(&net, GENESIS_TIME);
    let reporter = key(REPORTER_SEED);
    let payloads: Vec<Vec<u8>> = (0..txs)
        .map(|i| encode(&Msg::SubmitEvidence(net.double_vote(i, 5 + u64::from(i)))))
        .collect();
    let envelopes: Vec<Vec<u8>> = payloads
        .iter()
        .enumerate()
        .map(|(i, p)| {
            Envelope::sign(CHAIN_ID, &reporter, i as u64, p.clone())
                .map(|e| e.encode())
                .ok_or_else(|| anyhow::anyhow!("payload over the limit"))
        })
        .collect::<anyhow::Result<_>>()?;
    let exec = Executor::new(ExecutorConfig::default())?;
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
    // Warm up the executor's pool.
    floor_block(
        &exec,
        &mut genesis_state.clone(),
        &payloads[..payloads.len().min(5)],
        1,
    )?;

    // The floor and the chain take turns, one block each, the first alternating, so that the
    // load of a shared machine falls on both alike.
    let dir = tmp.path().join("throughput");
    let mut chain = Chain::init(&file, &dir)?;
    let mut floor_state = genesis_state.clone();
    let mut chain_time = Duration::ZERO;
    let mut floor_time = Duration::ZERO;
    let mut blocks = 0u32;
    for (chunk, block_payloads) in envelopes
        .chunks(block_txs as usize)
        .zip(payloads.chunks(block_txs as usize))
    {
        let height = chain.head().height + 1;
        let chain_first = blocks % 2 == 1;
        if !chain_first {
            floor_time += floor_block(&exec, &mut floor_state, block_payloads, height)?;
        }
        let start = Instant::now();
        for envelope in chunk {
            chain
                .submit(envelope)
                .map_err(|e| anyhow::anyhow!("submit: {e}"))?;
        }
        chain.produce_block(GENESIS_TIME + 1_000 * height)?;
        chain_time += start.elapsed();
        if chain_first {
            floor_time += floor_block(&exec, &mut floor_state, block_payloads, height)?;
        }
        blocks += 1;
    }
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
    for height in 1..=chain.head().height {
        let block = chain
            .block(height)?
            .ok_or_else(|| anyhow::anyhow!("block {height} missing"))?;
        for hash in &block.txs {
            let record = chain
                .tx(hash)?
                .ok_or_else(|| anyhow::anyhow!("no record of a committed transaction"))?;
            anyhow::ensure!(
                record.result.status == TxStatus::Ok,
                "a chain transaction failed: {:?}",
                record.result.status
            );
        }
    }
    let chain_rate = rate(txs, chain_time);
    let floor_rate = rate(txs, floor_time);
    let share = if floor_rate > 0.0 {
        chain_rate / floor_rate
    } else {
        0.0
    };
    writeln!(out, "Warden chain benchmark")?;
    writeln!(
        out,
        "  {txs} double-vote evidence transactions against {txs} different offenders \
         ({validators} validators), {block_txs} per block ({blocks} blocks)"
    )?;
    writeln!(
        out,
        "  {} CPU(s) available; wall clock",
        std::thread::available_parallelism().map_or(1, |n| n.get())
    )?;
    writeln!(out)?;
    writeln!(
        out,
        "wasm floor (executor over memory, same txs)    {:>9.1} tx/s  ({:.1} ms)",
        floor_rate,
        floor_time.as_secs_f64() * 1e3
    )?;
    writeln!(
        out,
        "chain, committed with persistence              {:>9.1} tx/s  ({:.1} ms, envelope checks, execution, redb commit + fsync per block)",
        chain_rate,
        chain_time.as_secs_f64() * 1e3
    )?;
    writeln!(
        out,
        "chain / floor: {:.1}% (target >= {:.0}%): {}",
        share * 100.0,
        RATE_TARGET * 100.0,
        if share >= RATE_TARGET { "PASS" } else { "MISS" }
    )?;
    writeln!(
        out,
        "state after the run: {} keys, root {}",
        chain.state_len()?,
        hex::encode(chain.head().state_root)
    )?;
    drop(chain);
    writeln!(out)?;

    // 2. State-root update cost.
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
            root_sizes: vec![1_000],
        })
        .expect("the benchmark runs");
        assert!(report.contains("chain / floor"), "{report}");
        assert!(report.contains("1000"), "{report}");
    }
}
