//! Safety of the simulated HotStuff-2 network: with at most f faulty validators of every
//! kind, and with Twins, no two honest replicas commit different blocks and no honest replica
//! signs conflicting messages; with more than f colluders the checker catches the violation.

mod sim_common;

use sim_common::{every_behaviour, run_expecting, scenario, scenarios_dir, with_adversaries};
use warden_host::sim::adversary::Attack;
use warden_host::sim::checker::Violation;
use warden_host::sim::{run, Scenario};

#[test]
fn safety_and_liveness_hold_with_f_byzantine_of_every_kind() {
    for (i, behaviour) in every_behaviour().into_iter().enumerate() {
        for seed in 0..2u64 {
            let seed = 1_000 + i as u64 * 10 + seed;
            // Four validators, f = 1; and seven, f = 2.
            let s = with_adversaries(
                scenario("one-kind", seed, 4, 2_000_000),
                &[seed as u32 % 4],
                vec![behaviour.clone()],
            );
            run_expecting(
                &s,
                |r| r.violations.is_empty() && r.height > 0,
                "f byzantine of one kind",
            );
            let s = with_adversaries(
                scenario("one-kind-7", seed, 7, 2_000_000),
                &[1, 5],
                vec![behaviour.clone()],
            );
            run_expecting(
                &s,
                |r| r.violations.is_empty() && r.height > 0,
                "f byzantine of one kind",
            );
        }
    }
}

#[test]
fn safety_holds_with_f_byzantine_combining_every_kind() {
    for seed in 0..4u64 {
        let mut behaviours = every_behaviour();
        // Talking to a subset and delaying are liveness attacks; keep the rest all at once.
        behaviours.retain(|b| !matches!(b, Attack::SelectiveConnectivity { .. }));
        let s = with_adversaries(
            scenario("all-kinds", 2_000 + seed, 10, 3_000_000),
            &[0, 4, 9],
            behaviours,
        );
        run_expecting(&s, |r| r.safe(), "f byzantine combining every kind");
    }
}

#[test]
fn safety_holds_with_twins_across_seeds() {
    for seed in 0..8u64 {
        let n = if seed % 2 == 0 { 4 } else { 7 };
        let mut s = scenario("twins", 3_000 + seed, n, 2_000_000);
        s.twins = if n == 4 {
            vec![(seed % 4) as u32]
        } else {
            vec![1, 4]
        };
        let report = run_expecting(&s, |r| r.violations.is_empty(), "twins");
        assert!(
            report.height > 0,
            "seed {}: twins stalled the network",
            s.seed
        );
    }
}

#[test]
fn safety_holds_across_random_soak_seeds() {
    for seed in 1..=6u64 {
        let s = Scenario::random(seed);
        run_expecting(&s, |r| r.passed(), "random soak scenario");
    }
}

#[test]
fn more_than_f_colluders_break_safety_and_the_checker_catches_it() {
    let path = scenarios_dir().join("collusion_breaks_safety.toml");
    let base = Scenario::load(&path).expect("scenario parses");
    for seed in [26u64, 1, 2] {
        let mut s = base.clone();
        s.seed = seed;
        s.duration_us = 2_000_000;
        let report = run(&s);
        assert!(
            report
                .violations
                .iter()
                .any(|v| matches!(v, Violation::ConflictingCommit { .. })),
            "seed {seed}: more than f colluders did not produce a caught conflicting commit\n{}",
            report.summary(&format!("warden sim run {} --seed {seed}", path.display()))
        );
        assert!(
            report.passed(),
            "seed {seed}: the scenario expects the violation"
        );
    }
}

#[test]
fn the_same_collusion_within_f_is_harmless() {
    let path = scenarios_dir().join("collusion_breaks_safety.toml");
    let mut s = Scenario::load(&path).expect("scenario parses");
    s.adversaries.truncate(1);
    s.expect.safety_violation = false;
    s.expect.liveness = true;
    s.duration_us = 3_000_000;
    for seed in 0..3u64 {
        s.seed = seed;
        run_expecting(&s, |r| r.violations.is_empty(), "one equivocating colluder");
    }
}

#[test]
fn faulty_validators_leave_provable_evidence() {
    let s = with_adversaries(
        scenario("evidence", 4_000, 4, 2_000_000),
        &[2],
        vec![Attack::DoubleVote { phase: 1 }],
    );
    let report = run_expecting(&s, |r| r.violations.is_empty(), "double voter");
    assert!(
        report
            .offences
            .keys()
            .any(|c| format!("{c:?}") == "DoubleVote"),
        "a double voter is caught by the module's own offence check"
    );
}
