//! The checker can fail: fed conflicting commits or conflicting signatures of an honest
//! operator, it reports them with the module's own offence classes.

use std::collections::BTreeSet;

use warden_host::sim::checker::{Checker, Violation};
use warden_host::testkit::TestNetwork;
use warden_module::evidence::OffenceClass;

fn checker() -> Checker {
    Checker::new(
        vec![true; 4],
        (0..4).collect::<BTreeSet<u32>>(),
        None,
        1_000,
        500,
    )
}

#[test]
fn an_honest_double_vote_is_reported() {
    let net = TestNetwork::new(1, 4);
    let mut c = checker();
    c.on_signed(&net.vote(1, 5, [1; 32], 4));
    c.on_signed(&net.vote(1, 5, [1; 32], 4)); // a resend is fine
    assert!(c.violations.is_empty());
    c.on_signed(&net.vote(1, 5, [2; 32], 4));
    assert!(matches!(
        c.violations[..],
        [Violation::HonestOffence {
            operator: 1,
            class: OffenceClass::DoubleVote,
            view: 5
        }]
    ));
}

#[test]
fn an_honest_lock_violation_is_reported_in_either_order() {
    let net = TestNetwork::new(1, 4);
    let mut c = checker();
    c.on_signed(&net.vote2(2, 7, [1; 32]));
    c.on_signed(&net.timeout(2, 9, 3));
    assert!(c.violations.iter().any(|v| matches!(
        v,
        Violation::HonestOffence {
            class: OffenceClass::LockViolation,
            ..
        }
    )));
    let mut c = checker();
    c.on_signed(&net.vote(3, 10, [2; 32], 2));
    c.on_signed(&net.vote2(3, 6, [1; 32]));
    assert!(c.violations.iter().any(|v| matches!(
        v,
        Violation::HonestOffence {
            class: OffenceClass::LockViolation,
            ..
        }
    )));
}

#[test]
fn conflicting_commits_are_reported() {
    let mut c = checker();
    c.on_commit(10, 0, 1, [1; 32]);
    c.on_commit(11, 1, 1, [1; 32]);
    assert!(c.safe());
    c.on_commit(12, 2, 1, [2; 32]);
    assert!(!c.safe());
}

#[test]
fn a_stall_past_the_bound_is_reported() {
    let mut c = Checker::new(vec![true; 4], (0..4).collect(), Some(0), 1_000, 500);
    c.on_commit(500, 0, 1, [1; 32]);
    c.finish(1_400);
    assert!(c.violations.is_empty());
    c.finish(1_600);
    assert!(matches!(c.violations[..], [Violation::Liveness { .. }]));
}

#[test]
fn each_view_led_by_a_faulty_validator_since_the_last_commit_adds_one_view_timer() {
    let mut c = Checker::new(vec![true; 4], (0..4).collect(), Some(0), 1_000, 500);
    // A faulty leader's view before the last commit buys nothing after it.
    c.on_bad_leader_view(200);
    c.on_commit(500, 0, 1, [1; 32]);
    c.on_bad_leader_view(700);
    c.on_bad_leader_view(1_200);
    c.finish(2_500);
    assert!(c.violations.is_empty(), "{:?}", c.violations);
    c.finish(2_600);
    assert!(matches!(
        c.violations[..],
        [Violation::Liveness {
            since_us: 500,
            bound_us: 2_000
        }]
    ));
}
