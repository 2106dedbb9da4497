//! `warden simulate`: Warden's main job on its embedded defaults. A HotStuff-2 network of 16
//! validators, three of them Byzantine in different ways, a partition that heals; every honest
//! validator's host detects, the embedded chain records evidence, isolation and slashing
//! proposals, and the network recovers. The report sets the faults injected against what was
//! detected, with latencies, the on-chain outcome, recovery times and the safety and liveness
//! verdicts; as text, as JSON, or as a self-contained HTML page with an SVG timeline.

pub mod cli;
pub mod html;

use std::fmt::Write as _;
use std::path::Path;

use serde::Serialize;

use crate::ft::FaultToleranceConfig;
use crate::sim::adversary::Attack;
use crate::sim::checker::Violation;
use crate::sim::hosts::{
    EpochRecord, FaultTimeline, IsolationChange, OperatorOutcome, PartitionEpisode,
    SlashingOutcome, WardenSpec,
};
use crate::sim::network::{NetworkConfig, Partition};
use crate::sim::scenario::{AdversarySpec, Expect, Scenario};
use crate::sim::world::{run_full, Resumption, RunReport};

/// The default scenario: 16 validators; validator 13 double votes, 14 withholds its proposals,
/// 15 floods; validators 10 and 11 are cut off from 2 s to 3.5 s; 10 simulated seconds.
pub fn default_scenario() -> Scenario {
    Scenario {
        name: "default".into(),
        description: "16 validators: 13 double votes, 14 withholds proposals, 15 floods; 10 and 11 are partitioned from 2 s to 3.5 s".into(),
        seed: 2026,
        validators: 16,
        powers: Vec::new(),
        duration_us: 10_000_000,
        stop_at_view: None,
        base_timeout_us: 60_000,
        max_backoff_exp: 4,
        network: NetworkConfig {
            partitions: vec![Partition {
                start_us: 2_000_000,
                end_us: 3_500_000,
                groups: vec![
                    (0..16).filter(|v| *v != 10 && *v != 11).collect(),
                    vec![10, 11],
                ],
            }],
            ..NetworkConfig::default()
        },
        adversaries: vec![
            AdversarySpec {
                validator: 13,
                behaviours: vec![Attack::DoubleVote { phase: 1 }],
            },
            AdversarySpec {
                validator: 14,
                behaviours: vec![Attack::ProposalWithholding],
            },
            AdversarySpec {
                validator: 15,
                behaviours: vec![Attack::Flooding { per_view: 200 }],
            },
        ],
        twins: Vec::new(),
        crashes: Vec::new(),
        warden: Some(WardenSpec::default()),
        expect: Expect {
            min_height: 100,
            ..Expect::default()
        },
    }
}

/// One injected fault and what became of it.
#[derive(Clone, Debug, Serialize)]
pub struct FaultOutcome {
    /// The Byzantine validator.
    pub validator: u32,
    /// What it was told to do.
    pub injected: String,
    /// The offence classes the hosts detected (with their timelines).
    pub detected: Vec<FaultTimeline>,
}

/// The verdicts.
#[derive(Clone, Debug, Serialize)]
pub struct Verdicts {
    /// No two honest replicas committed different blocks, no honest replica signed conflicting
    /// messages.
    pub safety: bool,
    /// Commits kept coming within the bound once faults were within f and partitions healed.
    pub liveness: bool,
    /// No honest validator accused or isolated on chain.
    pub no_honest_accused: bool,
    /// Every injected fault was detected and isolated on chain.
    pub all_detected: bool,
    /// Everything above, and the scenario's own expectations.
    pub passed: bool,
    /// The broken invariants, if any.
    pub violations: Vec<String>,
}

/// The report of `warden simulate`.
#[derive(Clone, Debug, Serialize)]
pub struct SimulateReport {
    /// The scenario's name.
    pub scenario: String,
    /// What it does.
    pub description: String,
    /// The seed (replays the run).
    pub seed: u64,
    /// The command that replays it.
    pub replay: String,
    /// Validators.
    pub validators: usize,
    /// Simulated time, microseconds.
    pub simulated_us: u64,
    /// Views the network went through (all epochs).
    pub views: u64,
    /// The committed height.
    pub height: u64,
    /// Injected faults against detections.
    pub faults: Vec<FaultOutcome>,
    /// Detections of honest validators by single hosts that never gathered co-signers.
    pub unconfirmed_suspicions: Vec<FaultTimeline>,
    /// Each validator's standing on the chain at the end.
    pub operators: Vec<OperatorOutcome>,
    /// The chain's slashing proposals.
    pub slashing: Vec<SlashingOutcome>,
    /// Chain blocks produced.
    pub chain_height: u64,
    /// Epochs (the validator set each started with).
    pub epochs: Vec<EpochRecord>,
    /// Isolation changes the chain recorded.
    pub isolation: Vec<IsolationChange>,
    /// Splits the hosts' connectivity matrix showed, and their healing.
    pub partitions: Vec<PartitionEpisode>,
    /// Commits resuming after faulty or crashed leaders.
    pub resumption: Resumption,
    /// Emergency view changes started on stuck views.
    pub emergency_view_changes: u64,
    /// (time, height) of the network's commits, for the timeline.
    pub commits: Vec<(u64, u64)>,
    /// (time, view, leader) as views began, for the timeline.
    pub view_starts: Vec<(u64, u64, u32)>,
    /// The verdicts.
    pub verdicts: Verdicts,
    /// Why the fault-tolerance layer stopped, if it failed.
    pub error: Option<String>,
}

fn behaviour_name(b: &Attack) -> String {
    match b {
        Attack::DoubleVote { phase } => format!("double vote (phase {phase})"),
        Attack::DoubleProposal => "double proposal".into(),
        Attack::LockViolation => "lock violation".into(),
        Attack::InvalidProposal { invalid } => format!("invalid proposal ({invalid:?})"),
        Attack::ProposalWithholding => "proposal withholding".into(),
        Attack::VoteWithholding => "vote withholding".into(),
        Attack::Flooding { per_view } => format!("flooding ({per_view} per view)"),
        Attack::TimingManipulation { delay_us } => {
            format!("timing manipulation (+{} ms)", delay_us / 1_000)
        }
        Attack::SelectiveConnectivity { peers } => {
            format!("selective connectivity (only to {peers:?})")
        }
        Attack::Amnesia {
            remember_us,
            forget_us,
        } => format!(
            "amnesia (back to its {} ms lock at {} ms)",
            remember_us / 1_000,
            forget_us / 1_000
        ),
    }
}

/// Builds the report of a finished run.
pub fn report(scenario: &Scenario, run: &RunReport, replay: String) -> SimulateReport {
    let warden = run.warden.clone().unwrap_or_default();
    let faults: Vec<FaultOutcome> = scenario
        .adversaries
        .iter()
        .map(|a| FaultOutcome {
            validator: a.validator,
            injected: a
                .behaviours
                .iter()
                .map(behaviour_name)
                .collect::<Vec<_>>()
                .join(", "),
            detected: warden
                .faults
                .iter()
                .filter(|f| f.operator == a.validator && !f.honest)
                .cloned()
                .collect(),
        })
        .collect();
    let all_detected = faults.iter().all(|f| {
        f.detected
            .iter()
            .any(|d| d.detected_us.is_some() && d.isolated_us.is_some())
    });
    let liveness = !run
        .violations
        .iter()
        .any(|v| matches!(v, Violation::Liveness { .. }));
    let verdicts = Verdicts {
        safety: run.safe(),
        liveness,
        no_honest_accused: warden.honest_isolated.is_empty(),
        all_detected,
        passed: run.passed() && all_detected,
        violations: run.violations.iter().map(|v| v.to_string()).collect(),
    };
    SimulateReport {
        scenario: scenario.name.clone(),
        description: scenario.description.clone(),
        seed: scenario.seed,
        replay,
        validators: run.validators,
        simulated_us: run.end_us,
        views: warden.views,
        height: run.height,
        faults,
        unconfirmed_suspicions: warden.faults.iter().filter(|f| f.honest).cloned().collect(),
        operators: warden.operators.clone(),
        slashing: warden.slashing.clone(),
        chain_height: warden.chain_height,
        epochs: warden.epochs.clone(),
        isolation: warden.isolation.clone(),
        partitions: warden.partitions.clone(),
        resumption: run.resumption.clone(),
        emergency_view_changes: warden.emergency_view_changes,
        commits: warden.commits.clone(),
        view_starts: warden.view_starts.clone(),
        verdicts,
        error: run.warden_error.clone(),
    }
}

/// Runs `scenario` (its `[warden]` table switched on if absent) with `cfg`, keeping the chain
/// and relay queues in `data_dir` (a temporary directory when `None`), calling `progress` as
/// simulated time passes.
pub fn simulate(
    scenario: &Scenario,
    cfg: &FaultToleranceConfig,
    data_dir: Option<&Path>,
    replay: String,
    progress: &mut dyn FnMut(u64, u64),
) -> SimulateReport {
    simulate_with_metrics(scenario, cfg, data_dir, replay, progress, None)
}

/// [`simulate`], exporting health and chain counters into `metrics` as it runs.
pub fn simulate_with_metrics(
    scenario: &Scenario,
    cfg: &FaultToleranceConfig,
    data_dir: Option<&Path>,
    replay: String,
    progress: &mut dyn FnMut(u64, u64),
    metrics: Option<crate::ft::metrics::SharedMetrics>,
) -> SimulateReport {
    let mut scenario = scenario.clone();
    scenario.warden.get_or_insert_with(WardenSpec::default);
    let run = run_full(&scenario, cfg, data_dir, progress, metrics);
    report(&scenario, &run, replay)
}

fn ms(us: u64) -> String {
    format!("{:.1}", us as f64 / 1_000.0)
}

fn after(from: u64, to: Option<u64>) -> String {
    to.map_or("-".into(), |t| ms(t.saturating_sub(from)))
}

impl SimulateReport {
    /// The report as text.
    pub fn text(&self) -> String {
        let mut s = String::new();
        let v = &self.verdicts;
        let _ = writeln!(
            s,
            "Warden simulation `{}` (seed {}): {}",
            self.scenario,
            self.seed,
            if v.passed { "PASS" } else { "FAIL" }
        );
        if !self.description.is_empty() {
            let _ = writeln!(s, "  {}", self.description);
        }
        let _ = writeln!(
            s,
            "  {} validators, {:.1} simulated s, {} views, committed height {}, {} chain blocks, {} epochs",
            self.validators,
            self.simulated_us as f64 / 1e6,
            self.views,
            self.height,
            self.chain_height,
            self.epochs.len()
        );
        let _ = writeln!(s);
        let _ = writeln!(
            s,
            "Faults injected and detected (simulated ms after the onset):"
        );
        let _ = writeln!(
            s,
            "  {:<9} {:<26} {:<30} {:>7} {:>5} {:>8}  {:<18} {:>8}",
            "validator",
            "injected",
            "detected as",
            "detect",
            "views",
            "on chain",
            "isolation",
            "power"
        );
        for f in &self.faults {
            if f.detected.is_empty() {
                let _ = writeln!(
                    s,
                    "  {:<9} {:<26} {:<30}",
                    format!("v{}", f.validator),
                    f.injected,
                    "NOT DETECTED"
                );
            }
            for (i, d) in f.detected.iter().enumerate() {
                let views = d
                    .onset_view
                    .zip(d.detected_view)
                    .map_or("-".into(), |(o, x)| x.saturating_sub(o).to_string());
                let _ = writeln!(
                    s,
                    "  {:<9} {:<26} {:<30} {:>7} {:>5} {:>8}  {:<18} {:>8}",
                    if i == 0 {
                        format!("v{}", f.validator)
                    } else {
                        String::new()
                    },
                    if i == 0 {
                        f.injected.clone()
                    } else {
                        String::new()
                    },
                    format!("{} (tier {})", d.class, d.tier),
                    after(d.onset_us, d.detected_us),
                    views,
                    after(d.onset_us, d.on_chain_us),
                    format!(
                        "{} at {}",
                        d.isolation.as_deref().unwrap_or("-"),
                        after(d.onset_us, d.isolated_us)
                    ),
                    after(d.onset_us, d.power_lost_us),
                );
            }
        }
        if !self.unconfirmed_suspicions.is_empty() {
            let list: Vec<String> = self
                .unconfirmed_suspicions
                .iter()
                .map(|f| format!("v{} {}", f.operator, f.class))
                .collect();
            let _ = writeln!(
                s,
                "  suspicions of honest validators no quorum of witnesses co-signed: {}",
                list.join(", ")
            );
        }
        let _ = writeln!(s);
        let _ = writeln!(s, "On chain at the end:");
        let notable: Vec<&OperatorOutcome> = self
            .operators
            .iter()
            .filter(|o| !o.honest || o.isolation != "active")
            .collect();
        for o in &notable {
            let _ = writeln!(
                s,
                "  v{:<3} {:<8} reputation {:>7}  {:<12} power {}",
                o.operator,
                if o.honest { "honest" } else { "faulty" },
                o.reputation,
                o.isolation,
                o.power
            );
        }
        let honest_active = self
            .operators
            .iter()
            .filter(|o| o.honest && o.isolation == "active")
            .count();
        let _ = writeln!(s, "  {honest_active} honest validators active");
        for p in &self.slashing {
            let _ = writeln!(
                s,
                "  slashing proposal #{}: v{} {} {:.2}% ({})",
                p.id,
                p.operator,
                p.class,
                p.fraction_ppb as f64 / 1e7,
                p.status
            );
        }
        let _ = writeln!(s);
        let _ = writeln!(s, "Recovery:");
        for p in &self.partitions {
            let _ = writeln!(
                s,
                "  split seen at {} ms ({} components, primary {}); healed {}; commits resumed {}",
                p.detected_us / 1_000,
                p.components.len(),
                p.primary
                    .as_ref()
                    .map_or("none".into(), |c| format!("{c:?}")),
                p.healed_us
                    .map_or("never".into(), |h| format!("at {} ms", h / 1_000)),
                match (p.healed_us, p.resumed_us) {
                    (Some(h), Some(r)) => format!("{} ms after", ms(r.saturating_sub(h))),
                    _ => "-".into(),
                }
            );
        }
        let r = &self.resumption;
        let _ = writeln!(
            s,
            "  {} views led by faulty validators, {} failed: the next commit followed within {} ms median, {} ms worst (one view timer + two delays: {} ms)",
            r.bad_views,
            r.failed_views,
            ms(r.median_gap_us),
            ms(r.max_gap_us),
            ms(r.target_us)
        );
        if self.emergency_view_changes > 0 {
            let _ = writeln!(
                s,
                "  emergency view changes on stuck views: {}",
                self.emergency_view_changes
            );
        }
        let _ = writeln!(s);
        let yes = |b: bool| if b { "yes" } else { "NO" };
        let _ = writeln!(s, "Verdicts:");
        let _ = writeln!(s, "  safety: {}", yes(v.safety));
        let _ = writeln!(s, "  liveness: {}", yes(v.liveness));
        let _ = writeln!(
            s,
            "  every injected fault detected and isolated: {}",
            yes(v.all_detected)
        );
        let _ = writeln!(
            s,
            "  no honest validator accused: {}",
            yes(v.no_honest_accused)
        );
        for violation in &v.violations {
            let _ = writeln!(s, "  violation: {violation}");
        }
        if let Some(e) = &self.error {
            let _ = writeln!(s, "  the fault-tolerance layer failed: {e}");
        }
        let _ = writeln!(s, "  replay: {}", self.replay);
        s
    }
}
