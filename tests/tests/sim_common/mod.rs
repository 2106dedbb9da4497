//! Helpers shared by the simulator tests.

#![allow(dead_code)]

use std::path::PathBuf;

use warden_host::sim::adversary::{Attack, InvalidKind};
use warden_host::sim::network::NetworkConfig;
use warden_host::sim::scenario::{AdversarySpec, Expect, Scenario};
use warden_host::sim::{run, RunReport};

/// Every Byzantine behaviour, one of each kind.
pub fn every_behaviour() -> Vec<Attack> {
    vec![
        Attack::DoubleVote { phase: 1 },
        Attack::DoubleVote { phase: 2 },
        Attack::DoubleProposal,
        Attack::LockViolation,
        Attack::InvalidProposal {
            invalid: InvalidKind::WrongLeader,
        },
        Attack::InvalidProposal {
            invalid: InvalidKind::ForgedCertificate,
        },
        Attack::InvalidProposal {
            invalid: InvalidKind::ShortCertificate,
        },
        Attack::ProposalWithholding,
        Attack::VoteWithholding,
        Attack::Flooding { per_view: 10 },
        Attack::TimingManipulation { delay_us: 30_000 },
        Attack::SelectiveConnectivity { peers: vec![0, 1] },
    ]
}

/// A small scenario: `n` validators, `duration_us` simulated, a jittery network.
pub fn scenario(name: &str, seed: u64, n: u32, duration_us: u64) -> Scenario {
    Scenario {
        name: name.to_string(),
        description: String::new(),
        seed,
        validators: n,
        powers: Vec::new(),
        duration_us,
        stop_at_view: None,
        base_timeout_us: 100_000,
        max_backoff_exp: 4,
        network: NetworkConfig {
            latency_min_us: 2_000,
            latency_max_us: 10_000,
            jitter_us: 5_000,
            loss_ppm: 2_000,
            duplicate_ppm: 5_000,
            partitions: Vec::new(),
        },
        adversaries: Vec::new(),
        twins: Vec::new(),
        crashes: Vec::new(),
        warden: None,
        expect: Expect::default(),
    }
}

/// `behaviours` on each of `validators`.
pub fn with_adversaries(mut s: Scenario, validators: &[u32], behaviours: Vec<Attack>) -> Scenario {
    for v in validators {
        s.adversaries.push(AdversarySpec {
            validator: *v,
            behaviours: behaviours.clone(),
        });
    }
    s
}

/// Runs `s` and fails the test, printing the seed and the scenario, unless `ok` holds.
pub fn run_expecting(s: &Scenario, ok: impl Fn(&RunReport) -> bool, what: &str) -> RunReport {
    let report = run(s);
    if !ok(&report) {
        panic!(
            "{what} failed for seed {}\n{}\nscenario to replay (save as a file and run `warden sim run FILE --seed {}`):\n{}",
            s.seed,
            report.summary(&format!("warden sim run FILE --seed {}", s.seed)),
            s.seed,
            s.to_toml()
        );
    }
    report
}

/// The scenario directory.
pub fn scenarios_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("fixtures")
        .join("scenarios")
}
