//! The `warden sim` subcommands.

use std::path::PathBuf;

use clap::Subcommand;

use super::{bench, replay_command, Scenario};

/// `warden sim ...`.
#[derive(Subcommand, Debug)]
pub enum SimAction {
    /// Run a scenario file and print its summary; a failing run prints the command that
    /// replays it.
    Run {
        /// The scenario file (for example `fixtures/scenarios/partition_heals.toml`).
        scenario: PathBuf,
        /// Override the scenario's seed.
        #[arg(long)]
        seed: Option<u64>,
    },
    /// Run many random scenarios (up to f faulty validators of every kind, Twins, lossy
    /// networks, partitions that heal, crashes that restart) and report every failing seed.
    Soak {
        /// How many seeds (in each range).
        #[arg(long, default_value_t = 100)]
        seeds: u64,
        /// The first seed of a range; give several (`--first 1000000 --first 2000000`, or
        /// `--first 1000000,2000000`) to soak disjoint ranges and get a summary per range.
        #[arg(long, default_value = "1", value_delimiter = ',', num_args = 1..)]
        first: Vec<u64>,
        /// Threads running scenarios in parallel (default: the machine's cores).
        #[arg(long, value_parser = clap::value_parser!(u64).range(1..=256))]
        jobs: Option<u64>,
        /// Run the fault-tolerance layer too (hosts detect, the embedded chain records,
        /// epochs rebuild the set); a run also fails if an honest validator is accused or
        /// isolated, or if a provable offence that honest nodes received is not banned on
        /// chain within the evidence bound. Prints, per behaviour, runs, failures, false
        /// accusations, missed offences and stalls.
        #[arg(long)]
        warden: bool,
        /// Run coalitions of more than f and at most 2f of the power that fork the chain
        /// (amnesia, amnesia with double votes, Twins, Twins with amnesia) under partitions
        /// they schedule, with the fault-tolerance layer on: a run fails unless every fork
        /// ends with more than a third of the power proven guilty on chain and no honest
        /// validator among the culprits.
        #[arg(long, conflicts_with = "warden")]
        coalitions: bool,
    },
    /// Simulated views per second and peak memory for honest networks, next to the
    /// signing-and-verifying floor.
    Bench {
        /// Views per size.
        #[arg(long, default_value_t = 1_000, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
        views: u64,
        /// Network sizes, comma separated.
        #[arg(long, value_delimiter = ',', default_value = "16,100,400")]
        sizes: Vec<u32>,
    },
}

/// Runs a `warden sim` subcommand and returns what to print; a failing run or soak is an
/// error whose message holds the summary and the replay command.
pub fn run_action(
    action: SimAction,
    cfg: &crate::ft::FaultToleranceConfig,
) -> anyhow::Result<String> {
    match action {
        SimAction::Run { scenario, seed } => {
            let mut s = Scenario::load(&scenario)?;
            if let Some(seed) = seed {
                s.seed = seed;
            }
            let report = super::world::run_with(&s, cfg, None);
            let summary = report.summary(&replay_command(&scenario.display().to_string(), s.seed));
            if report.passed() {
                Ok(summary)
            } else {
                Err(anyhow::anyhow!("{summary}run failed (seed {})", s.seed))
            }
        }
        SimAction::Soak {
            seeds,
            first,
            jobs,
            warden,
            coalitions,
        } => {
            let kind = if coalitions {
                super::SoakKind::Coalitions
            } else {
                super::SoakKind::WithinF
            };
            let jobs = jobs.map_or_else(
                || std::thread::available_parallelism().map_or(1, usize::from),
                |j| j as usize,
            );
            let total = seeds.saturating_mul(first.len() as u64);
            let done = std::sync::atomic::AtomicU64::new(0);
            let progress = |seed: u64, run: &super::world::RunReport| {
                let n = done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
                if !run.passed() {
                    eprintln!("seed {seed}: FAIL");
                } else if n.is_multiple_of(25) || n == total {
                    eprintln!("soak: {n} of {total} seeds run");
                }
            };
            let reports = super::soak_ranges(kind, &first, seeds, warden, cfg, jobs, &progress)
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            let mut out = String::new();
            let mut report = super::SoakReport::default();
            for (start, range) in first.iter().zip(reports) {
                out.push_str(&format!(
                    "soak: {} seeds from {start}, {} with faulty validators, {} failures, total committed height {}\n",
                    range.runs,
                    range.with_faults,
                    range.failures.len(),
                    range.height
                ));
                report.merge(range);
            }
            if first.len() > 1 {
                out.push_str(&format!(
                    "soak: {} seeds in {} ranges, {} with faulty validators, {} failures\n",
                    report.runs,
                    first.len(),
                    report.with_faults,
                    report.failures.len()
                ));
            }
            if coalitions {
                out.push_str(&format!(
                    "  forks: {} runs broke safety, {} ended with more than a third of the power proven guilty on chain; honest culprits: {}; honest validators accused by Tier 2 (no guarantee above f): {}\n",
                    report.forks, report.accountable, report.honest_culprits, report.honest_accused
                ));
            }
            if !coalitions {
                out.push_str(&report.behaviour_table());
            }
            for (_, summary) in &report.failures {
                out.push_str(summary);
            }
            if report.failures.is_empty() {
                Ok(out)
            } else {
                Err(anyhow::anyhow!("{out}"))
            }
        }
        SimAction::Bench { views, sizes } => {
            if sizes
                .iter()
                .any(|n| *n == 0 || *n as usize > super::scenario::MAX_SCENARIO_VALIDATORS)
            {
                anyhow::bail!("sizes must be between 1 and 1024");
            }
            Ok(bench::run(&sizes, views))
        }
    }
}
