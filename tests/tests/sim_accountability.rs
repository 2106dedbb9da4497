//! Accountable safety: a coalition of more than f and at most 2f of the power can fork the
//! chain, and then the run must end with more than a third of the power proven guilty on
//! chain, from certificates alone, and no honest validator accused. The scenarios are in
//! `fixtures/scenarios/accountable/`; `warden sim soak --coalitions` runs random ones.

mod sim_common;

use std::collections::BTreeSet;
use std::path::PathBuf;

use sim_common::scenarios_dir;
use warden_host::ft::forensics::ForkRule;
use warden_host::sim::checker::Violation;
use warden_host::sim::{replay_command, run, soak_kind, RunReport, Scenario, SoakKind};

fn accountable_scenarios() -> Vec<PathBuf> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(scenarios_dir().join("accountable"))
        .expect("fixtures/scenarios/accountable exists")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    paths.sort();
    paths
}

fn load(name: &str) -> (Scenario, String) {
    let path = scenarios_dir().join("accountable").join(name);
    let s = Scenario::load(&path).expect("scenario parses");
    let replay = replay_command(&path.display().to_string(), s.seed);
    (s, replay)
}

fn culprits(report: &RunReport) -> BTreeSet<u32> {
    report
        .accountability
        .as_ref()
        .map(|a| a.culprits.iter().copied().collect())
        .unwrap_or_default()
}

#[test]
fn every_coalition_fork_bans_exactly_the_coalition_with_slashing_proposals() {
    let paths = accountable_scenarios();
    assert_eq!(paths.len(), 12, "four forks on 4, 7 and 10 validators");
    for path in paths {
        let s = Scenario::load(&path).expect("scenario parses");
        let report = run(&s);
        let summary = report.summary(&replay_command(&path.display().to_string(), s.seed));
        assert!(report.passed(), "{summary}");
        let a = report.accountability.as_ref().expect("safety broke");
        assert!(a.holds(), "{summary}");
        let coalition: BTreeSet<u32> = report.faulty.iter().copied().collect();
        assert_eq!(culprits(&report), coalition, "{summary}");
        assert!(a.proven_power * 3 > a.total_power, "{summary}");
        let w = report.warden.as_ref().expect("closed loop");
        assert!(w.honest_isolated.is_empty(), "{summary}");
        // More than a third of the power offended: the correlated fraction is all the stake.
        for c in &coalition {
            let fraction = w
                .slashing
                .iter()
                .filter(|p| p.operator == *c)
                .map(|p| p.fraction_ppb)
                .max();
            assert_eq!(
                fraction,
                Some(1_000_000_000),
                "v{c}'s slashing proposals\n{summary}"
            );
        }
        // An amnesia fork has no double vote to find: the hosts prove it from certificates,
        // by the lock-violation case of the rule.
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        if name.starts_with("amnesia_") {
            let fork = w.forks.first().expect("a host proved the fork");
            assert_eq!(fork.rule, ForkRule::LockViolation, "{summary}");
            assert!(fork.culprit_power * 3 > fork.total_power, "{summary}");
            let proven: BTreeSet<u32> = fork.culprits.iter().copied().collect();
            assert!(proven.is_subset(&coalition), "{summary}");
        }
    }
}

#[test]
fn a_fork_whose_evidence_never_reaches_the_chain_fails_the_accountability_check() {
    // No host relays: the hosts still prove the fork, but nothing lands on chain.
    let (mut s, replay) = load("amnesia_4.toml");
    if let Some(w) = s.warden.as_mut() {
        w.relayers = Some(Vec::new());
    }
    let report = run(&s);
    let summary = report.summary(&replay);
    assert!(!report.safe(), "{summary}");
    assert!(
        report.violations.iter().any(|v| matches!(
            v,
            Violation::Unaccountable {
                proven_power: 0,
                ..
            }
        )),
        "{summary}"
    );
    assert!(!report.passed(), "{summary}");
}

#[test]
fn a_coalition_soak_ends_every_fork_accountable() {
    let report = soak_kind(
        SoakKind::Coalitions,
        1,
        8,
        true,
        &warden_host::ft::FaultToleranceConfig::default(),
        |_, _| {},
    );
    let failures: Vec<&str> = report.failures.iter().map(|(_, s)| s.as_str()).collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(report.forks >= 4, "only {} of 8 runs forked", report.forks);
    assert_eq!(report.accountable, report.forks);
    assert_eq!(report.honest_culprits, 0);
}

#[test]
#[ignore = "long soak: run with --ignored, or `warden sim soak --coalitions --seeds 500`"]
fn a_long_coalition_soak_ends_every_fork_accountable() {
    let report = soak_kind(
        SoakKind::Coalitions,
        1,
        500,
        true,
        &warden_host::ft::FaultToleranceConfig::default(),
        |_, _| {},
    );
    let failures: Vec<&str> = report.failures.iter().map(|(_, s)| s.as_str()).collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
