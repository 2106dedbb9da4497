//! `warden bench`: the module's costs, measured in one run.
//!
//! Timed operations (wall clock, [`Instant`]):
//!
//! 1. native `verify_strict` (ed25519-dalek through [`Ed25519Strict`]);
//! 2. the native double-vote check a relayer runs: decode two signed votes from borsh, then
//!    [`Evidence::offence`] and [`Evidence::verify`] (two decodes, two signatures);
//! 3. the fixed cost of one wasm call: a fresh instance whose `warden_verify` refuses an empty
//!    input at once;
//! 4. one signature through the module's `warden_verify` export, with the runtime's `verify`
//!    import ([`MODULE_WASM`], what Warden's chain runs);
//! 5. the double vote as a full `SubmitEvidence` transaction through that module, a fresh
//!    instance per call, each against its own copy of the post-genesis state so that every
//!    iteration is accepted (copying the state is not timed);
//! 6. and 7. the same two with the module that verifies inside ([`MODULE_WASM_IN_WASM_VERIFY`],
//!    ed25519-dalek's `verify_strict` compiled to wasm, for runtimes without the import).
//!
//! Operations 1 to 5 run round-robin, one iteration of each in turn, so that a machine shared
//! with other work slows them alike and their ratios stay meaningful; 6 and 7 then do the same
//! between themselves (their long curve arithmetic would otherwise evict the caches of the
//! others between iterations). Then the targets: the
//! transaction with the runtime's verifier at most 1.3 times the native double-vote check, and
//! with the in-wasm verifier at most 1.25 times two in-wasm `verify_strict` calls; the
//! transaction against the signature floor (two native `verify_strict`); the fuel of every
//! evidence kind with either build; and the modules' sizes. Misses are reported, never raised
//! as errors.

use std::fmt::Write as _;
use std::hint::black_box;
use std::time::{Duration, Instant};

use warden_module::codec::{decode, encode, BoundedBytes, BoundedVec};
use warden_module::crypto::{Ed25519Strict, Verifier};
use warden_module::evidence::{Behaviour, Evidence};
use warden_module::msg::{Event, Msg, MAX_TX_BYTES};
use warden_module::wire::{CertificateKind, SignedMessage};

use crate::testkit::TestNetwork;
use crate::wasm::{
    BlockContext, CallOutcome, Executor, ExecutorConfig, MemoryStore, MODULE_WASM,
    MODULE_WASM_IN_WASM_VERIFY,
};

/// Benchmark settings.
#[derive(Clone, Copy, Debug)]
pub struct BenchOptions {
    /// Iterations per measurement.
    pub iterations: u32,
}

/// The largest module the chain accepts, in bytes.
pub const MODULE_SIZE_LIMIT: usize = 200 * 1024;
/// The most a double-vote transaction through the module with the runtime's verifier may cost,
/// in units of the native double-vote check.
pub const NATIVE_RATIO_TARGET: f64 = 1.3;
/// The most a double-vote transaction through the in-wasm-verify module may cost, in units of
/// two in-wasm `verify_strict` calls.
pub const RATIO_TARGET: f64 = 1.25;

const CHAIN_ID: u64 = 7;
const VALIDATORS: u32 = 7;
const OFFENDER: u32 = 1;
const VIEW: u64 = 5;

const ROW_NATIVE_VERIFY: &str = "native verify_strict";
const ROW_NATIVE_CHECK: &str = "native double-vote check";
const ROW_WASM_EMPTY: &str = "wasm call overhead (fresh instance, empty input)";
const ROW_WASM_VERIFY: &str = "wasm verify, runtime verifier (fresh instance)";
const ROW_WASM_TX: &str = "wasm double-vote transaction, runtime verifier";
const ROW_INWASM_VERIFY: &str = "wasm verify_strict, in-wasm verifier";
const ROW_INWASM_TX: &str = "wasm double-vote transaction, in-wasm verifier";

const FUEL_DOUBLE_VOTE_1: &str = "DoubleVote (phase 1)";
const FUEL_DOUBLE_VOTE_2: &str = "DoubleVote (phase 2)";
const FUEL_DOUBLE_PROPOSAL: &str = "DoubleProposal";
const FUEL_LOCK_VOTE: &str = "LockViolation (vote)";
const FUEL_LOCK_TIMEOUT: &str = "LockViolation (timeout)";
const FUEL_WRONG_LEADER: &str = "InvalidProposal (WrongLeader)";
const FUEL_SHORT_CERT: &str = "InvalidProposal (ShortCertificate)";
const FUEL_ACCUSATION: &str = "Tier 2 accusation (3 witnesses)";
const FUEL_CERTIFICATE: &str = "Tier 3 certificate record (1 certificate)";

/// A transaction whose fuel is reported: label, signatures it verifies, the message, and the
/// event that shows it was accepted.
type FuelCase = (&'static str, usize, Msg, fn(&Event) -> bool);

/// One timed iteration: prepares its input, times the operation alone, checks the result.
type Iteration<'a> = Box<dyn FnMut() -> anyhow::Result<Duration> + 'a>;

/// An operation under measurement and its wall-clock samples.
struct Row<'a> {
    label: &'static str,
    iteration: Iteration<'a>,
    durations: Vec<Duration>,
    fuel: Option<u64>,
}

impl<'a> Row<'a> {
    /// A row timing `op` on a fresh input from `setup`; neither `setup`, nor `check` on the
    /// result, nor dropping the result is timed.
    fn new<T, R>(
        label: &'static str,
        mut setup: impl FnMut() -> T + 'a,
        mut op: impl FnMut(T) -> R + 'a,
        mut check: impl FnMut(&R) -> anyhow::Result<()> + 'a,
    ) -> Self {
        let iteration = Box::new(move || {
            let input = setup();
            let start = Instant::now();
            let out = op(input);
            let elapsed = start.elapsed();
            check(&out)?;
            Ok(elapsed)
        });
        Self {
            label,
            iteration,
            durations: Vec::new(),
            fuel: None,
        }
    }

    fn median(&self) -> Duration {
        let mut sorted = self.durations.clone();
        sorted.sort_unstable();
        let n = sorted.len();
        if n == 0 {
            Duration::ZERO
        } else if n % 2 == 1 {
            sorted[n / 2]
        } else {
            (sorted[n / 2 - 1] + sorted[n / 2]) / 2
        }
    }

    fn mean(&self) -> Duration {
        let n = u32::try_from(self.durations.len())
            .unwrap_or(u32::MAX)
            .max(1);
        self.durations.iter().sum::<Duration>() / n
    }

    fn ops_per_second(&self) -> f64 {
        let mean = self.mean().as_secs_f64();
        if mean > 0.0 {
            1.0 / mean
        } else {
            0.0
        }
    }
}

/// Warm-up rounds before the timed ones.
fn warmup(iterations: u32) -> u32 {
    (iterations / 5).clamp(1, 50)
}

/// Runs every row round-robin: `warmup` untimed rounds, then `iterations` timed ones.
fn measure(rows: &mut [Row<'_>], warmup: u32, iterations: u32) -> anyhow::Result<()> {
    for _ in 0..warmup {
        for row in rows.iter_mut() {
            (row.iteration)()?;
        }
    }
    for row in rows.iter_mut() {
        row.durations = Vec::with_capacity(iterations as usize);
    }
    for _ in 0..iterations {
        for row in rows.iter_mut() {
            let elapsed = (row.iteration)()?;
            row.durations.push(elapsed);
        }
    }
    Ok(())
}

fn describe(outcome: &CallOutcome) -> String {
    match &outcome.result {
        Ok(_) => "ok".into(),
        Err(e) => e.to_string(),
    }
}

/// Checks that a transaction was accepted and emitted the event its kind promises.
fn accepted(what: &str, outcome: &CallOutcome, event: fn(&Event) -> bool) -> anyhow::Result<()> {
    anyhow::ensure!(outcome.is_ok(), "{what} refused: {}", describe(outcome));
    anyhow::ensure!(
        outcome.events.iter().any(event),
        "{what} emitted none of the expected events"
    );
    Ok(())
}

fn is_evidence_accepted(event: &Event) -> bool {
    matches!(event, Event::EvidenceAccepted { .. })
}

fn micros(d: Duration) -> String {
    format!("{:.1} µs", d.as_secs_f64() * 1e6)
}

/// `1234567` as `1,234,567`.
pub fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn verdict(pass: bool) -> &'static str {
    if pass {
        "PASS"
    } else {
        "MISS"
    }
}

/// `tx / (2 × verify)`.
fn ratio(tx: f64, verify: f64) -> f64 {
    if verify > 0.0 {
        tx / (2.0 * verify)
    } else {
        f64::INFINITY
    }
}

/// Runs the benchmark and returns the report.
pub fn run(options: &BenchOptions) -> anyhow::Result<String> {
    let iterations = options.iterations.max(1);
    let exec = Executor::new(ExecutorConfig::default())?;
    let inwasm = Executor::from_wasm(MODULE_WASM_IN_WASM_VERIFY, ExecutorConfig::default())?;
    let net = TestNetwork::new(CHAIN_ID, VALIDATORS);
    let set = net.set();
    let schedule = net.schedule();
    let ctx = BlockContext {
        height: 1,
        time: 1_700_000_000_000,
    };
    let mut genesis_state = MemoryStore::new();
    let init = exec.init(&mut genesis_state, ctx, &net.genesis());
    anyhow::ensure!(init.is_ok(), "genesis refused: {}", describe(&init));
    let genesis_state = genesis_state;
    let tx_ctx = BlockContext { height: 2, ..ctx };
    let reporter = Some(net.reporter_key());

    // The double vote every timed row works on.
    let evidence = net.double_vote(OFFENDER, VIEW);
    let Evidence::DoubleVote { first, second } = &evidence else {
        anyhow::bail!("the test network built no double vote");
    };
    let first_bytes = encode(first);
    let second_bytes = encode(second);
    let key = set
        .get(first.signer)
        .ok_or_else(|| anyhow::anyhow!("the offender is not in the set"))?
        .key;
    let message = first.message.signing_bytes(net.chain_id, first.epoch);
    let signature = first.signature;
    let verify_input = encode(&(
        key,
        BoundedBytes::<65536>::new(message.clone())
            .ok_or_else(|| anyhow::anyhow!("signing bytes over 64 KiB"))?,
        signature,
    ));
    let tx = encode(&Msg::SubmitEvidence(evidence.clone()));

    let mut rows = vec![
        // 1. Native verify_strict.
        Row::new(
            ROW_NATIVE_VERIFY,
            || (),
            |()| Ed25519Strict.verify(black_box(&key), black_box(&message), black_box(&signature)),
            |ok| {
                anyhow::ensure!(*ok, "native verify_strict refused a valid signature");
                Ok(())
            },
        ),
        // 2. Native double-vote check: two decodes, the offence, two signatures.
        Row::new(
            ROW_NATIVE_CHECK,
            || (),
            |()| -> Result<_, warden_module::Error> {
                let first: SignedMessage = decode(black_box(&first_bytes), MAX_TX_BYTES)?;
                let second: SignedMessage = decode(black_box(&second_bytes), MAX_TX_BYTES)?;
                let evidence = Evidence::DoubleVote { first, second };
                let offence = evidence.offence()?;
                evidence.verify(net.chain_id, &set, &schedule, &set, &Ed25519Strict)?;
                Ok(offence)
            },
            |result| match result {
                Ok(offence) if offence.operator == OFFENDER => Ok(()),
                Ok(offence) => anyhow::bail!("native check named operator {}", offence.operator),
                Err(e) => anyhow::bail!("native double-vote check refused: {e}"),
            },
        ),
        // 3. The fixed cost of a wasm call: an input the module refuses before any work.
        Row::new(
            ROW_WASM_EMPTY,
            || (),
            |()| exec.verify(black_box(&[])),
            |outcome| {
                anyhow::ensure!(
                    outcome.module_error().is_some(),
                    "wasm verify_strict accepted an empty input: {}",
                    describe(outcome)
                );
                Ok(())
            },
        ),
        // 4. In-wasm verify_strict, a fresh instance per call.
        Row::new(
            ROW_WASM_VERIFY,
            || (),
            |()| exec.verify(black_box(&verify_input)),
            |outcome| {
                anyhow::ensure!(
                    outcome.is_ok(),
                    "wasm verify_strict refused a valid signature: {}",
                    describe(outcome)
                );
                Ok(())
            },
        ),
        // 5. The double vote as a transaction, a fresh instance and a fresh post-genesis
        //    state per call (the copy is not timed).
        Row::new(
            ROW_WASM_TX,
            || genesis_state.clone(),
            |mut state| {
                let outcome = exec.execute(&mut state, tx_ctx, reporter, black_box(&tx));
                (outcome, state)
            },
            |(outcome, _)| accepted("the double vote", outcome, is_evidence_accepted),
        ),
        // 6. verify_strict compiled into the module.
        Row::new(
            ROW_INWASM_VERIFY,
            || (),
            |()| inwasm.verify(black_box(&verify_input)),
            |outcome| {
                anyhow::ensure!(
                    outcome.is_ok(),
                    "in-wasm verify_strict refused a valid signature: {}",
                    describe(outcome)
                );
                Ok(())
            },
        ),
        // 7. The double vote through the module that verifies inside.
        Row::new(
            ROW_INWASM_TX,
            || genesis_state.clone(),
            |mut state| {
                let outcome = inwasm.execute(&mut state, tx_ctx, reporter, black_box(&tx));
                (outcome, state)
            },
            |(outcome, _)| accepted("the double vote", outcome, is_evidence_accepted),
        ),
    ];
    // The runtime-verifier rows and their native references take turns; the in-wasm rows,
    // whose long curve arithmetic would evict the others' caches between their iterations,
    // take turns with each other afterwards.
    let warmup = warmup(iterations);
    let (runtime_rows, inwasm_rows) = rows.split_at_mut(5);
    measure(runtime_rows, warmup, iterations)?;
    measure(inwasm_rows, warmup, iterations)?;
    let empty_fuel = exec.verify(&[]).fuel_used;
    let verify_fuel = exec.verify(&verify_input).fuel_used;
    let tx_fuel = exec
        .execute(&mut genesis_state.clone(), tx_ctx, reporter, &tx)
        .fuel_used;
    let inwasm_verify_fuel = inwasm.verify(&verify_input).fuel_used;
    let inwasm_tx_fuel = inwasm
        .execute(&mut genesis_state.clone(), tx_ctx, reporter, &tx)
        .fuel_used;
    rows[2].fuel = Some(empty_fuel);
    rows[3].fuel = Some(verify_fuel);
    rows[4].fuel = Some(tx_fuel);
    rows[5].fuel = Some(inwasm_verify_fuel);
    rows[6].fuel = Some(inwasm_tx_fuel);

    // Fuel per evidence kind, each against a fresh post-genesis state.
    let quorum = net.quorum_signers();
    let certificate = net.certificate(CertificateKind::Vote2, 12, [3; 32], 0, &quorum);
    let kinds: Vec<FuelCase> = vec![
        (
            FUEL_DOUBLE_VOTE_1,
            2,
            Msg::SubmitEvidence(net.double_vote(OFFENDER, VIEW)),
            is_evidence_accepted,
        ),
        (
            FUEL_DOUBLE_VOTE_2,
            2,
            Msg::SubmitEvidence(net.double_vote2(OFFENDER, VIEW)),
            is_evidence_accepted,
        ),
        (
            FUEL_DOUBLE_PROPOSAL,
            2,
            Msg::SubmitEvidence(net.double_proposal(net.leader(VIEW), VIEW)),
            is_evidence_accepted,
        ),
        (
            FUEL_LOCK_VOTE,
            2,
            Msg::SubmitEvidence(net.lock_violation_vote(2, 9)),
            is_evidence_accepted,
        ),
        (
            FUEL_LOCK_TIMEOUT,
            2,
            Msg::SubmitEvidence(net.lock_violation_timeout(2, 9)),
            is_evidence_accepted,
        ),
        (
            FUEL_WRONG_LEADER,
            1,
            Msg::SubmitEvidence(net.wrong_leader(3, VIEW)),
            is_evidence_accepted,
        ),
        (
            FUEL_SHORT_CERT,
            1,
            Msg::SubmitEvidence(net.short_certificate(4, VIEW)),
            is_evidence_accepted,
        ),
        (
            FUEL_ACCUSATION,
            3,
            Msg::SubmitAccusation(net.accusation(
                3,
                Behaviour::VoteWithholding,
                10,
                20,
                &[4, 5, 6],
            )),
            |e| matches!(e, Event::AccusationAccepted { .. }),
        ),
        (
            FUEL_CERTIFICATE,
            quorum.len(),
            Msg::RecordCertificates(
                BoundedVec::new(vec![certificate])
                    .ok_or_else(|| anyhow::anyhow!("one certificate over the bound"))?,
            ),
            |e| matches!(e, Event::CertificatesRecorded { .. }),
        ),
    ];
    let mut fuel_rows = Vec::with_capacity(kinds.len());
    for (label, signatures, msg, event) in kinds {
        let tx = encode(&msg);
        let mut fuel = [0u64; 2];
        for (i, executor) in [&exec, &inwasm].into_iter().enumerate() {
            let mut state = genesis_state.clone();
            let outcome = executor.execute(&mut state, tx_ctx, reporter, &tx);
            accepted(label, &outcome, event)?;
            fuel[i] = outcome.fuel_used;
        }
        fuel_rows.push((label, signatures, fuel));
    }

    // The report.
    let mut out = String::new();
    writeln!(out, "Warden module benchmark")?;
    writeln!(
        out,
        "  {iterations} timed iterations per row, after {warmup} warm-up; the first five rows run \
         round-robin, one iteration of each in turn, then the two in-wasm rows."
    )?;
    writeln!(
        out,
        "  Wall clock (std::time::Instant) on a machine that may be shared ({} CPU(s) available): \
         compare rows and ratios",
        std::thread::available_parallelism().map_or(1, |n| n.get())
    )?;
    writeln!(
        out,
        "  of one run, not absolute times across runs or machines. Native rows: this build of \
         ed25519-dalek on the host CPU."
    )?;
    writeln!(
        out,
        "  Wasm rows: the embedded modules under wasmtime (cranelift, fuel metering, pooling \
         allocator), a fresh instance"
    )?;
    writeln!(
        out,
        "  per call. Network: {VALIDATORS} validators of equal power, chain {CHAIN_ID}; each \
         transaction runs on its own copy"
    )?;
    writeln!(out, "  of the post-genesis state (the copy is not timed).")?;
    writeln!(out)?;
    let width = rows.iter().map(|r| r.label.len()).max().unwrap_or(0);
    writeln!(
        out,
        "{:<width$}  {:>11}  {:>11}  {:>8}  {:>10}",
        "operation", "median", "mean", "ops/s", "fuel"
    )?;
    for row in &rows {
        writeln!(
            out,
            "{:<width$}  {:>11}  {:>11}  {:>8.0}  {:>10}",
            row.label,
            micros(row.median()),
            micros(row.mean()),
            row.ops_per_second(),
            row.fuel.map_or_else(|| "-".into(), grouped),
        )?;
    }
    writeln!(out)?;

    let secs = |d: Duration| d.as_secs_f64();
    let (native_verify, native_check, empty) = (&rows[0], &rows[1], &rows[2]);
    let (transaction, inwasm_verify, inwasm_tx) = (&rows[4], &rows[5], &rows[6]);
    let over = |a: Duration, b: Duration| {
        if secs(b) > 0.0 {
            secs(a) / secs(b)
        } else {
            f64::INFINITY
        }
    };
    let by_median = over(transaction.median(), native_check.median());
    let by_mean = over(transaction.mean(), native_check.mean());
    writeln!(
        out,
        "ratio: wasm double-vote transaction (runtime verifier) / native double-vote check, \
         target <= {NATIVE_RATIO_TARGET}"
    )?;
    writeln!(
        out,
        "  by median  {} / {} = {by_median:.3}: {}",
        micros(transaction.median()),
        micros(native_check.median()),
        verdict(by_median <= NATIVE_RATIO_TARGET),
    )?;
    writeln!(
        out,
        "  by mean    {} / {} = {by_mean:.3}: {}",
        micros(transaction.mean()),
        micros(native_check.mean()),
        verdict(by_mean <= NATIVE_RATIO_TARGET),
    )?;
    writeln!(
        out,
        "  against the signature floor (2 x native verify_strict, {}): {:.3}; the fixed cost of \
         a call is {}",
        micros(native_verify.median()),
        ratio(secs(transaction.median()), secs(native_verify.median())),
        micros(empty.median()),
    )?;
    let inwasm_by_median = ratio(secs(inwasm_tx.median()), secs(inwasm_verify.median()));
    let inwasm_by_mean = ratio(secs(inwasm_tx.mean()), secs(inwasm_verify.mean()));
    writeln!(
        out,
        "ratio: wasm double-vote transaction (in-wasm verifier) / (2 x in-wasm verify_strict), \
         target <= {RATIO_TARGET}"
    )?;
    writeln!(
        out,
        "  by median  {} / (2 x {}) = {inwasm_by_median:.3}: {}",
        micros(inwasm_tx.median()),
        micros(inwasm_verify.median()),
        verdict(inwasm_by_median <= RATIO_TARGET),
    )?;
    writeln!(
        out,
        "  by mean    {} / (2 x {}) = {inwasm_by_mean:.3}: {}",
        micros(inwasm_tx.mean()),
        micros(inwasm_verify.mean()),
        verdict(inwasm_by_mean <= RATIO_TARGET),
    )?;
    writeln!(
        out,
        "  by fuel    {} / (2 x {}) = {:.3}",
        grouped(inwasm_tx_fuel),
        grouped(inwasm_verify_fuel),
        ratio(inwasm_tx_fuel as f64, inwasm_verify_fuel as f64),
    )?;
    writeln!(
        out,
        "module size (runtime verifier): {} bytes, limit {} bytes (200 KiB): {}",
        grouped(MODULE_WASM.len() as u64),
        grouped(MODULE_SIZE_LIMIT as u64),
        verdict(MODULE_WASM.len() <= MODULE_SIZE_LIMIT),
    )?;
    writeln!(
        out,
        "module size (in-wasm verifier): {} bytes",
        grouped(MODULE_WASM_IN_WASM_VERIFY.len() as u64),
    )?;
    writeln!(out)?;

    let title = "fuel per transaction (fresh post-genesis state)";
    let width = fuel_rows
        .iter()
        .map(|(label, ..)| label.len())
        .max()
        .unwrap_or(0)
        .max(title.len());
    writeln!(
        out,
        "{title:<width$}  {:>10}  {:>16}  {:>16}  {:>13}",
        "signatures", "runtime verifier", "in-wasm verifier", "x verify fuel"
    )?;
    for (label, signatures, [fuel, inwasm_fuel]) in &fuel_rows {
        writeln!(
            out,
            "{:<width$}  {:>10}  {:>16}  {:>16}  {:>13.2}",
            label,
            signatures,
            grouped(*fuel),
            grouped(*inwasm_fuel),
            *inwasm_fuel as f64 / inwasm_verify_fuel.max(1) as f64,
        )?;
    }
    writeln!(
        out,
        "(x verify fuel: the in-wasm column over one in-wasm verify_strict; the runtime's \
         verify import costs {} fuel plus {} per message byte)",
        grouped(crate::wasm::FUEL_PER_VERIFY),
        crate::wasm::FUEL_PER_VERIFY_BYTE,
    )?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_report_has_every_row() {
        let report = run(&BenchOptions { iterations: 2 }).expect("the benchmark runs");
        for label in [
            ROW_NATIVE_VERIFY,
            ROW_NATIVE_CHECK,
            ROW_WASM_EMPTY,
            ROW_WASM_VERIFY,
            ROW_WASM_TX,
            ROW_INWASM_VERIFY,
            ROW_INWASM_TX,
            FUEL_DOUBLE_VOTE_1,
            FUEL_DOUBLE_VOTE_2,
            FUEL_DOUBLE_PROPOSAL,
            FUEL_LOCK_VOTE,
            FUEL_LOCK_TIMEOUT,
            FUEL_WRONG_LEADER,
            FUEL_SHORT_CERT,
            FUEL_ACCUSATION,
            FUEL_CERTIFICATE,
            "ratio: wasm double-vote transaction (runtime verifier)",
            "ratio: wasm double-vote transaction (in-wasm verifier)",
            "module size (runtime verifier)",
        ] {
            assert!(report.contains(label), "no {label:?} in\n{report}");
        }
    }

    #[test]
    fn numbers_are_grouped() {
        assert_eq!(grouped(0), "0");
        assert_eq!(grouped(999), "999");
        assert_eq!(grouped(1_000), "1,000");
        assert_eq!(grouped(1_234_567), "1,234,567");
    }

    #[test]
    fn medians_and_means() {
        let mut row = Row::new("r", || (), |()| (), |()| Ok(()));
        row.durations = [3, 1, 2, 10]
            .into_iter()
            .map(Duration::from_micros)
            .collect();
        assert_eq!(
            row.median(),
            Duration::from_micros(2) + Duration::from_nanos(500)
        );
        assert_eq!(row.mean(), Duration::from_micros(4));
    }
}
