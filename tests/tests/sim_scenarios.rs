//! The scenario files: each parses, and each run shows what it expects. Long soaks are
//! ignored by default; `warden sim soak --seeds N` runs them.

mod sim_common;

use sim_common::scenarios_dir;
use warden_host::sim::adversary::Attack;
use warden_host::sim::scenario::ScenarioError;
use warden_host::sim::{replay_command, run, soak, Scenario};

#[test]
fn every_scenario_file_shows_what_it_expects() {
    let mut paths: Vec<_> = std::fs::read_dir(scenarios_dir())
        .expect("fixtures/scenarios exists")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    paths.sort();
    assert!(paths.len() >= 15, "scenario files: {}", paths.len());
    let mut kinds = std::collections::HashSet::new();
    for path in paths {
        let mut s = Scenario::load(&path).expect("scenario parses");
        // Keep the default test run fast: the first three simulated seconds.
        s.duration_us = s.duration_us.min(2_000_000);
        s.expect.min_height = s.expect.min_height.min(5);
        for a in &s.adversaries {
            for b in &a.behaviours {
                kinds.insert(std::mem::discriminant(b));
            }
        }
        let report = run(&s);
        assert!(
            report.passed(),
            "{}",
            report.summary(&replay_command(&path.display().to_string(), s.seed))
        );
    }
    // Nine kinds of behaviour (invalid proposals count once) appear in the files.
    assert_eq!(kinds.len(), 9, "every adversary kind has a scenario");
}

#[test]
fn bad_scenarios_are_refused_with_the_field() {
    let base = "name = \"x\"\nvalidators = 4\nduration_us = 1000\n";
    assert!(Scenario::from_toml(base).is_ok());
    let cases = [
        ("name = \"x\"\nvalidators = 0\nduration_us = 1000\n", "validators"),
        ("name = \"x\"\nvalidators = 4\nduration_us = 0\n", "duration_us"),
        (
            "name = \"x\"\nvalidators = 4\nduration_us = 10\n[[adversaries]]\nvalidator = 9\nbehaviours = []\n",
            "adversaries",
        ),
        (
            "name = \"x\"\nvalidators = 4\nduration_us = 10\n[[adversaries]]\nvalidator = 1\nbehaviours = [{ kind = \"double_vote\", phase = 3 }]\n",
            "adversaries",
        ),
        ("name = \"x\"\nvalidators = 4\nduration_us = 10\ntwins = [4]\n", "twins"),
        (
            "name = \"x\"\nvalidators = 4\nduration_us = 10\n[[crashes]]\nnode = 7\nat_us = 1\n",
            "crashes",
        ),
    ];
    for (text, field) in cases {
        match Scenario::from_toml(text) {
            Err(ScenarioError::Invalid { field: f, .. }) => assert_eq!(f, field, "{text}"),
            other => panic!("{text}: expected an invalid {field}, got {other:?}"),
        }
    }
    assert!(matches!(
        Scenario::from_toml("name = \"x\"\nvalidators = 4\nduration_us = 10\nsurprise = 1\n"),
        Err(ScenarioError::Parse(_))
    ));
}

#[test]
fn scenarios_round_trip_through_toml() {
    let s = Scenario::random(99);
    assert_eq!(Scenario::from_toml(&s.to_toml()).expect("parses"), s);
    let flood = Attack::Flooding { per_view: 3 };
    let mut t = s.clone();
    t.twins.clear();
    t.adversaries = vec![warden_host::sim::scenario::AdversarySpec {
        validator: 0,
        behaviours: vec![flood],
    }];
    assert!(Scenario::from_toml(&t.to_toml()).is_ok());
}

#[test]
#[ignore = "long soak: run with --ignored, or `warden sim soak --seeds 500`"]
fn soak_random_scenarios() {
    let report = soak(1, 300, false, |_, _| {});
    for (seed, summary) in &report.failures {
        eprintln!("seed {seed} failed:\n{summary}");
    }
    assert!(
        report.failures.is_empty(),
        "{} failing seeds",
        report.failures.len()
    );
}

/// A soak over disjoint ranges on several threads reports each range exactly as a soak of
/// that range alone does, and ranges that overlap are refused.
#[test]
fn a_soak_over_disjoint_ranges_on_threads_matches_each_range_run_alone() {
    use warden_host::ft::FaultToleranceConfig;
    use warden_host::sim::{soak_ranges, SoakKind};
    let cfg = FaultToleranceConfig::default();
    let firsts = [40, 1_000_000];
    let reports = soak_ranges(SoakKind::WithinF, &firsts, 6, false, &cfg, 2, &|_, _| {})
        .expect("disjoint ranges");
    for (first, report) in firsts.iter().zip(&reports) {
        let alone = soak(*first, 6, false, |_, _| {});
        assert_eq!(report.runs, 6);
        assert_eq!(
            (report.height, report.with_faults, report.failures.len()),
            (alone.height, alone.with_faults, alone.failures.len()),
            "range from {first}"
        );
        assert_eq!(
            report.by_behaviour, alone.by_behaviour,
            "range from {first}"
        );
    }
    let overlap = soak_ranges(SoakKind::WithinF, &[10, 14], 6, false, &cfg, 2, &|_, _| {});
    assert!(overlap.is_err_and(|e| e.contains("overlap")));
}
