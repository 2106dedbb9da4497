//! A seeded, single-threaded, discrete-event HotStuff-2 network simulator (BRIEF section 4).
//!
//! One `u64` seed fixes a whole run: link latencies, loss, duplication and jitter, every
//! adversary's choices, and so the order of every event. Replicas sign real ed25519 messages
//! with the module's wire types and take leaders from the module's [`LeaderSchedule`]; the
//! checker proves honest misbehaviour with the module's own [`Evidence::offence`].
//!
//! ## Code map
//! - [`world`]: the event loop, routing and the run report.
//! - [`network`]: latency, loss, duplication, reordering, partitions, crashes.
//! - [`replica`]: honest HotStuff-2 and its durable [`replica::SafetyStore`].
//! - [`adversary`]: Byzantine behaviours, composable per validator; Twins are scenario-level.
//! - [`checker`]: safety, honest-signing and liveness invariants.
//! - [`scenario`]: TOML scenario files and random soak scenarios.
//! - [`context`]: what replicas share: keys, schedule, the verification cache, headers.
//! - [`mod@bench`]: simulated views per second against the signing-and-verifying floor.
//!
//! Architecture invariant: a replica's safety state is written to its store before any
//! message it allows leaves, and the store survives crashes, so an honest replica never signs
//! two conflicting messages.
//!
//! Architecture invariant: the verification cache only changes speed: it answers each
//! `(signer, bytes, signature)` with what `verify_strict` answered the first time.
//!
//! [`LeaderSchedule`]: warden_module::schedule::LeaderSchedule
//! [`Evidence::offence`]: warden_module::evidence::Evidence::offence

pub mod adversary;
pub mod bench;
pub mod checker;
pub mod cli;
pub mod context;
pub mod hosts;
pub mod network;
pub mod replica;
pub mod rng;
pub mod scenario;
pub mod world;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use checker::Violation;

pub use scenario::Scenario;
pub use world::{run, RunReport};

/// `t` relative to `reference`, as "12.5 ms after" or "3.0 ms before".
fn relative_ms(t: u64, reference: u64) -> String {
    if t >= reference {
        format!("{:.1} ms after", (t - reference) as f64 / 1_000.0)
    } else {
        format!("{:.1} ms before", (reference - t) as f64 / 1_000.0)
    }
}

/// The command that replays a scenario file with a seed.
pub fn replay_command(path: &str, seed: u64) -> String {
    format!("warden sim run {path} --seed {seed}")
}

/// The command that replays one soak seed.
pub fn soak_replay_command(seed: u64, warden: bool) -> String {
    let flag = if warden { " --warden" } else { "" };
    format!("warden sim soak --seeds 1 --first {seed}{flag}")
}

impl RunReport {
    /// A human-readable summary; `replay` is the command that replays the run.
    pub fn summary(&self, replay: &str) -> String {
        let mut s = String::new();
        let verdict = if self.passed() { "PASS" } else { "FAIL" };
        let _ = writeln!(s, "scenario {} (seed {}): {verdict}", self.name, self.seed);
        let _ = writeln!(
            s,
            "  validators {} nodes {} faulty {:?} ({} f)",
            self.validators,
            self.nodes,
            self.faulty,
            if self.within_f { "within" } else { "more than" }
        );
        let _ = writeln!(
            s,
            "  simulated {} ms, {} events, {} deliveries, highest view {}, committed height {}",
            self.end_us / 1_000,
            self.events,
            self.delivered,
            self.max_view,
            self.height
        );
        let _ = writeln!(
            s,
            "  signatures: {} signed, {} verified, {} cache hits, {} certificate cache hits",
            self.crypto.signed,
            self.crypto.verified,
            self.crypto.signature_hits,
            self.crypto.certificate_hits
        );
        match self.liveness_from_us {
            Some(from) => {
                let _ = writeln!(
                    s,
                    "  liveness: checked from t={} ms, bound {} ms between honest commits plus {} ms per view led by a faulty or crashed validator",
                    from / 1_000,
                    self.liveness_bound_us / 1_000,
                    self.bad_view_us / 1_000
                );
            }
            None => {
                let _ = writeln!(s, "  liveness: not owed (faults above f or not requested)");
            }
        }
        if !self.offences.is_empty() {
            let list: Vec<String> = self
                .offences
                .iter()
                .map(|(class, count)| format!("{class:?} x{count}"))
                .collect();
            let _ = writeln!(
                s,
                "  provable offences by faulty validators: {}",
                list.join(", ")
            );
        }
        if self.violations.is_empty() {
            let _ = writeln!(s, "  invariants: all held");
        }
        let forks = self
            .violations
            .iter()
            .filter(|v| matches!(v, Violation::ConflictingCommit { .. }))
            .count();
        let mut shown_forks = 0;
        for v in &self.violations {
            if matches!(v, Violation::ConflictingCommit { .. }) {
                shown_forks += 1;
                if shown_forks > 3 {
                    continue;
                }
            }
            let _ = writeln!(s, "  violation: {v}");
        }
        if forks > 3 {
            let _ = writeln!(
                s,
                "  violation: ... and {} more conflicting commits",
                forks - 3
            );
        }
        if let Some(a) = &self.accountability {
            let _ = writeln!(
                s,
                "  accountability: {} of {} power banned on chain for Tier 1 offences ({}), {}; honest culprits {:?}",
                a.proven_power,
                a.total_power,
                a.culprits
                    .iter()
                    .map(|c| format!("v{c}"))
                    .collect::<Vec<_>>()
                    .join(", "),
                a.accountable_us.map_or("never more than a third".to_string(), |t| format!(
                    "more than a third at {} ms: {} the first conflicting commit, {} the last heal",
                    t / 1_000,
                    relative_ms(t, a.fork_us),
                    relative_ms(t, a.healed_us)
                )),
                a.honest
            );
        }
        if self.expect_violation {
            let _ = writeln!(
                s,
                "  expected: the checker catches a safety violation ({})",
                if self.safe() { "it did not" } else { "caught" }
            );
        }
        if self.height < self.min_height && !self.expect_violation {
            let _ = writeln!(
                s,
                "  expected committed height at least {}",
                self.min_height
            );
        }
        if let Some(w) = &self.warden {
            s.push_str(&w.summary());
            let r = &self.resumption;
            if r.bad_views > 0 {
                let _ = writeln!(
                    s,
                    "  bad-leader views {}, failed {}: next commit within {} ms (median {} ms), next certificate within {} ms; target {} ms",
                    r.bad_views,
                    r.failed_views,
                    r.max_gap_us / 1_000,
                    r.median_gap_us / 1_000,
                    r.max_cert_gap_us / 1_000,
                    r.target_us / 1_000
                );
            }
        }
        for (node, height, watermark) in &self.restored {
            let _ = writeln!(
                s,
                "  node {node} lost its disk: restored from {}, abstaining through view {watermark}",
                height.map_or("no checkpoint".to_string(), |h| format!("the checkpoint at height {h}"))
            );
        }
        if let Some(e) = &self.warden_error {
            let _ = writeln!(s, "  fault-tolerance layer failed: {e}");
        }
        let _ = writeln!(s, "  trace hash {:016x}", self.trace_hash);
        if !self.passed() {
            let _ = writeln!(s, "  replay: {replay}");
        }
        s
    }
}

/// The result of a soak.
#[derive(Clone, Debug, Default)]
pub struct SoakReport {
    /// Seeds run.
    pub runs: u64,
    /// Failing seeds, each with its summary.
    pub failures: Vec<(u64, String)>,
    /// Total committed height over all runs.
    pub height: u64,
    /// Runs with at least one faulty validator.
    pub with_faults: u64,
    /// Runs in which safety broke (coalition soaks).
    pub forks: u64,
    /// Of those, runs that ended with more than a third of the power proven guilty on chain.
    pub accountable: u64,
    /// Honest operators among the Tier 1 culprits, over all runs (must be zero).
    pub honest_culprits: u64,
    /// Honest operators accused by Tier 2, over all runs (no guarantee above f).
    pub honest_accused: u64,
    /// Per faulty behaviour (`twins`, or `none` for runs without a faulty validator): what
    /// the runs that had it showed. A run with several behaviours counts under each.
    pub by_behaviour: BTreeMap<&'static str, BehaviourTally>,
}

/// What the soak's runs with one behaviour showed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BehaviourTally {
    /// Runs.
    pub runs: u64,
    /// Failing runs.
    pub failures: u64,
    /// Honest validators accused or isolated on chain.
    pub false_accusations: u64,
    /// Provable offences owed on chain and missed ([`Violation::MissedOffence`]).
    pub missed_offences: u64,
    /// Runs whose commits stalled past the liveness bound after the faults healed.
    pub stalls: u64,
}

impl SoakReport {
    /// Adds `other`'s runs (a disjoint set of seeds) to this report.
    pub fn merge(&mut self, other: SoakReport) {
        self.runs += other.runs;
        self.failures.extend(other.failures);
        self.failures.sort_by_key(|(seed, _)| *seed);
        self.height += other.height;
        self.with_faults += other.with_faults;
        self.forks += other.forks;
        self.accountable += other.accountable;
        self.honest_culprits += other.honest_culprits;
        self.honest_accused += other.honest_accused;
        for (name, t) in other.by_behaviour {
            let mine = self.by_behaviour.entry(name).or_default();
            mine.runs += t.runs;
            mine.failures += t.failures;
            mine.false_accusations += t.false_accusations;
            mine.missed_offences += t.missed_offences;
            mine.stalls += t.stalls;
        }
    }

    /// The per-behaviour table of the soak, one line per behaviour.
    pub fn behaviour_table(&self) -> String {
        let mut s = format!(
            "  {:<38} {:>5} {:>8} {:>17} {:>15} {:>6}\n",
            "behaviour", "runs", "failures", "false accusations", "missed offences", "stalls"
        );
        for (name, t) in &self.by_behaviour {
            let _ = writeln!(
                s,
                "  {:<38} {:>5} {:>8} {:>17} {:>15} {:>6}",
                name, t.runs, t.failures, t.false_accusations, t.missed_offences, t.stalls
            );
        }
        s
    }
}

/// The names of the faulty behaviours of `scenario` (`none` when every validator is honest).
fn behaviours(scenario: &Scenario) -> BTreeSet<&'static str> {
    let mut names: BTreeSet<&'static str> = scenario
        .adversaries
        .iter()
        .flat_map(|a| a.behaviours.iter().map(adversary::Attack::name))
        .collect();
    if !scenario.twins.is_empty() {
        names.insert("twins");
    }
    if names.is_empty() {
        names.insert("none");
    }
    names
}

/// Which random scenarios a soak runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SoakKind {
    /// [`Scenario::random`]: up to f faulty validators; safety and liveness must hold.
    WithinF,
    /// [`Scenario::random_coalition`]: coalitions above f that fork the chain; every fork
    /// must end accountable.
    Coalitions,
}

/// Seeds per unit of work in [`soak_ranges`]: small enough to spread over the threads, large
/// enough that a range's progress is readable.
const SOAK_CHUNK: u64 = 50;

/// A soak of `kind` over `count` seeds from each of `firsts` (disjoint ranges), on `jobs`
/// threads, each running whole scenarios; `progress` is called after each run (from any
/// thread). Returns one report per range, in the order of `firsts`.
///
/// # Errors
/// Ranges that overlap, or `jobs` of zero.
pub fn soak_ranges(
    kind: SoakKind,
    firsts: &[u64],
    count: u64,
    warden: bool,
    cfg: &crate::ft::FaultToleranceConfig,
    jobs: usize,
    progress: &(dyn Fn(u64, &RunReport) + Sync),
) -> Result<Vec<SoakReport>, String> {
    if jobs == 0 {
        return Err("jobs must be at least 1".into());
    }
    let mut sorted: Vec<u64> = firsts.to_vec();
    sorted.sort_unstable();
    if let Some(w) = sorted
        .windows(2)
        .find(|w| w[0].saturating_add(count) > w[1])
    {
        return Err(format!(
            "the ranges from {} and {} overlap ({count} seeds each)",
            w[0], w[1]
        ));
    }
    let mut chunks = Vec::new();
    for (range, first) in firsts.iter().enumerate() {
        let mut at = 0;
        while at < count {
            let n = SOAK_CHUNK.min(count - at);
            chunks.push((range, first.saturating_add(at), n));
            at += n;
        }
    }
    let next = std::sync::atomic::AtomicUsize::new(0);
    let results = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..jobs.min(chunks.len().max(1)) {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some(&(range, first, n)) = chunks.get(i) else {
                    break;
                };
                let report = soak_kind(kind, first, n, warden, cfg, progress);
                results
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .push((range, report));
            });
        }
    });
    let mut reports: Vec<SoakReport> = firsts.iter().map(|_| SoakReport::default()).collect();
    for (range, report) in results
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
    {
        reports[range].merge(report);
    }
    Ok(reports)
}

/// Runs [`Scenario::random`] for `count` seeds from `first` (with the fault-tolerance layer
/// when `warden`), calling `progress` after each.
pub fn soak(
    first: u64,
    count: u64,
    warden: bool,
    progress: impl FnMut(u64, &RunReport),
) -> SoakReport {
    soak_with(
        first,
        count,
        warden,
        &crate::ft::FaultToleranceConfig::default(),
        progress,
    )
}

/// [`soak`] with `cfg` for the hosts.
pub fn soak_with(
    first: u64,
    count: u64,
    warden: bool,
    cfg: &crate::ft::FaultToleranceConfig,
    progress: impl FnMut(u64, &RunReport),
) -> SoakReport {
    soak_kind(SoakKind::WithinF, first, count, warden, cfg, progress)
}

/// A soak of `kind` (coalition soaks always run the fault-tolerance layer).
pub fn soak_kind(
    kind: SoakKind,
    first: u64,
    count: u64,
    warden: bool,
    cfg: &crate::ft::FaultToleranceConfig,
    mut progress: impl FnMut(u64, &RunReport),
) -> SoakReport {
    let mut report = SoakReport::default();
    for seed in first..first.saturating_add(count) {
        let scenario = match kind {
            SoakKind::WithinF => {
                let mut s = Scenario::random(seed);
                if warden {
                    s.warden = Some(hosts::WardenSpec::default());
                }
                s
            }
            SoakKind::Coalitions => Scenario::random_coalition(seed),
        };
        let run = world::run_with(&scenario, cfg, None);
        report.runs += 1;
        report.height += run.height;
        if !run.faulty.is_empty() {
            report.with_faults += 1;
        }
        if let Some(a) = &run.accountability {
            report.forks += 1;
            report.accountable += u64::from(a.holds());
        }
        if let Some(w) = &run.warden {
            report.honest_culprits += w.honest_culprits.len() as u64;
            report.honest_accused += w
                .honest_isolated
                .iter()
                .filter(|op| !w.honest_culprits.contains(op))
                .count() as u64;
        }
        let missed = run
            .violations
            .iter()
            .filter(|v| matches!(v, Violation::MissedOffence { .. }))
            .count() as u64;
        let stalled = run
            .violations
            .iter()
            .any(|v| matches!(v, Violation::Liveness { .. }));
        let accused = run.warden.as_ref().map_or(0, |w| {
            let mut ops = w.honest_isolated.clone();
            ops.sort_unstable();
            ops.dedup();
            ops.len() as u64
        });
        for name in behaviours(&scenario) {
            let t = report.by_behaviour.entry(name).or_default();
            t.runs += 1;
            t.failures += u64::from(!run.passed());
            t.false_accusations += accused;
            t.missed_offences += missed;
            t.stalls += u64::from(stalled);
        }
        if !run.passed() {
            let replay = match kind {
                SoakKind::WithinF => soak_replay_command(seed, warden),
                SoakKind::Coalitions => {
                    format!("warden sim soak --coalitions --seeds 1 --first {seed}")
                }
            };
            report.failures.push((seed, run.summary(&replay)));
        }
        progress(seed, &run);
    }
    report
}
