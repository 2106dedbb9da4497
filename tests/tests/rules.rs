//! The module's rules, one test per rule or rejection, run through the wasm executor with
//! deterministic keys (`warden_host::testkit`): Tier 1 bans and slashing proposals with
//! correlated fractions, deduplication by offence, Tier 2 witness thresholds and the graduated
//! response, the quorum-preserving cap, probation and rehabilitation, Tier 3 participation
//! windows and leader failures, rotations (authority, quorum, key rotation, weak keys),
//! configuration governance, veto and finalisation, expiry, and the leader schedule.
//!
//! Unless a test says otherwise the network has 7 validators of power 10: total 70, quorum 47,
//! so the cap leaves room for 23 power of isolation, and an accusation needs witnesses holding
//! at least 24.

use warden_host::wasm::{CallError, Executor, ExecutorConfig};
use warden_module::codec::BoundedVec;
use warden_module::config::{Config, PPB, PPM};
use warden_module::error::{ConfigField, Error};
use warden_module::evidence::{
    Accusation, Behaviour, Evidence, OffenceClass, OffenceKey, ProposalViolation,
};
use warden_module::msg::{Event, Genesis, Msg, QuarantineLevel, Query, Rotation};
use warden_module::reputation;
use warden_module::schedule::{Candidate, LeaderSchedule};
use warden_module::slashing::correlated_fraction;
use warden_module::state::{IsolationState, ProposalStatus};
use warden_module::wire::{
    BlockHeader, Certificate, CertificateKind, CertificateSignature, Message, OperatorId, Proposal,
    PublicKey, Signature, SignedMessage, Vote,
};
use warden_tests::{
    accuse, all_but, authority_rotation, certificates, config_with, err, has, ok, rotated, swapped,
    tampered, witnessed, Chain, TestNetwork, WEAK_KEY,
};

const CHAIN_ID: u64 = 7;

fn network() -> TestNetwork {
    TestNetwork::new(CHAIN_ID, 7)
}

fn network_with(config: Config) -> TestNetwork {
    let mut net = network();
    net.config = config;
    net
}

/// Quarantine on the first Tier 2 or 3 offence (no warning).
fn no_warnings() -> Config {
    config_with(|c| c.isolation.warnings_before_quarantine = 0)
}

fn evidence(e: Evidence) -> Msg {
    Msg::SubmitEvidence(e)
}

/// An accusation of `accused` witnessed by everyone else.
fn accuse_by_all(net: &TestNetwork, accused: OperatorId, first: u64) -> Msg {
    accuse(net, accused, first, first + 5, &all_but(net, &[accused]))
}

fn key(operator: OperatorId, epoch: u64, view: u64, class: OffenceClass) -> OffenceKey {
    OffenceKey {
        operator,
        epoch,
        view,
        class,
    }
}

fn reward_of(fraction: u64, config: &Config) -> u64 {
    fraction * u64::from(config.slashing.reporter_reward_ppm) / PPM
}

// ----- Tier 1 ------------------------------------------------------------------------------

#[test]
fn tier1_evidence_bans_penalises_and_proposes_slash() {
    let net = network();
    let mut chain = Chain::new(&net);
    let reporter = net.reporter_key();
    let events = ok(chain.submit(Some(reporter), &evidence(net.double_vote(1, 5))));
    let h = chain.height;
    let offence = key(1, 1, 5, OffenceClass::DoubleVote);
    assert!(has(&events, |e| *e
        == Event::EvidenceAccepted {
            offence,
            reporter: Some(reporter)
        }));
    assert!(has(&events, |e| *e
        == Event::Banned {
            operator: 1,
            class: OffenceClass::DoubleVote
        }));
    assert!(has(
        &events,
        |e| matches!(e, Event::SlashingProposed { proposal } if proposal.id == 0)
    ));

    assert_eq!(
        chain.isolation(1),
        IsolationState::Banned {
            since: h,
            class: OffenceClass::DoubleVote
        }
    );
    let config = net.config.clone();
    assert_eq!(
        chain.score(1),
        config.reputation.baseline - config.reputation.tier1_penalty
    );
    assert_eq!(chain.effective_power_of(1), 0);

    let proposals = chain.proposals();
    assert_eq!(proposals.len(), 1);
    let p = proposals[0];
    let fraction = correlated_fraction(10, 70, config.slashing.min_fraction_ppb);
    assert_eq!(fraction, 9 * 100 * PPB / 4_900);
    assert_eq!(p.id, 0);
    assert_eq!(p.offence, offence);
    assert_eq!(p.evidence_id, offence.id());
    assert_eq!(p.fraction_ppb, fraction);
    assert_eq!(p.reporter, Some(reporter));
    assert_eq!(p.reporter_reward_ppb, reward_of(fraction, &config));
    assert_eq!(p.created, h);
    assert_eq!(p.execute_after, h + config.slashing.deferral_blocks);
    assert_eq!(p.status, ProposalStatus::Pending);

    let status = chain.status();
    assert_eq!(status.banned, 1);
    assert_eq!(status.active_power, 60);
    assert_eq!(status.slashing_proposals, 1);
}

#[test]
fn every_tier1_evidence_kind_is_accepted_and_bans_with_its_class() {
    let net = network();
    let cases = [
        (
            "double vote",
            net.double_vote(2, 5),
            OffenceClass::DoubleVote,
        ),
        (
            "double vote2",
            net.double_vote2(2, 5),
            OffenceClass::DoubleVote,
        ),
        (
            "double proposal",
            net.double_proposal(2, 5),
            OffenceClass::DoubleProposal,
        ),
        (
            "lock violation by vote",
            net.lock_violation_vote(2, 9),
            OffenceClass::LockViolation,
        ),
        (
            "lock violation by timeout",
            net.lock_violation_timeout(2, 9),
            OffenceClass::LockViolation,
        ),
        (
            "wrong leader",
            net.wrong_leader(2, 1),
            OffenceClass::InvalidProposal,
        ),
        (
            "short certificate",
            net.short_certificate(2, 1),
            OffenceClass::InvalidProposal,
        ),
    ];
    for (name, ev, class) in cases {
        let mut chain = Chain::new(&net);
        let outcome = chain.submit(Some(net.reporter_key()), &evidence(ev));
        let events = match outcome.result {
            Ok(_) => outcome.events,
            Err(e) => panic!("{name}: refused with {e}"),
        };
        assert!(
            has(&events, |e| *e == Event::Banned { operator: 2, class }),
            "{name}: {events:?}"
        );
        assert!(
            matches!(chain.isolation(2), IsolationState::Banned { class: c, .. } if c == class),
            "{name}"
        );
        assert_eq!(chain.proposals().len(), 1, "{name}");
    }
}

#[test]
fn correlated_offenders_raise_the_first_proposal_fraction() {
    let net = network();
    let config = net.config.clone();
    let mut chain = Chain::new(&net);
    let reporter = Some(net.reporter_key());
    ok(chain.submit(reporter, &evidence(net.double_vote(1, 5))));
    let single = correlated_fraction(10, 70, config.slashing.min_fraction_ppb);
    assert_eq!(chain.proposal(0).fraction_ppb, single);

    let events = ok(chain.submit(reporter, &evidence(net.double_proposal(2, 6))));
    let double = correlated_fraction(20, 70, config.slashing.min_fraction_ppb);
    assert!(double > single);
    assert!(
        has(&events, |e| *e
            == Event::SlashingFractionRaised {
                id: 0,
                fraction_ppb: double,
                reporter_reward_ppb: reward_of(double, &config),
            }),
        "{events:?}"
    );
    assert_eq!(chain.proposal(0).fraction_ppb, double);
    assert_eq!(
        chain.proposal(0).reporter_reward_ppb,
        reward_of(double, &config)
    );
    assert_eq!(chain.proposal(1).fraction_ppb, double);
}

#[test]
fn offenders_outside_the_correlation_window_are_not_correlated() {
    let net = network_with(config_with(|c| c.slashing.correlation_window_epochs = 1));
    let min = net.config.slashing.min_fraction_ppb;
    let mut chain = Chain::new(&net);
    let reporter = Some(net.reporter_key());
    ok(chain.submit(reporter, &evidence(net.double_vote(1, 5))));
    let next = rotated(&net, 2, &[]);
    ok(chain.submit(Some(net.authority_key()), &authority_rotation(&next)));
    let events = ok(chain.submit(reporter, &evidence(next.double_vote(2, 5))));
    assert!(!has(&events, |e| matches!(
        e,
        Event::SlashingFractionRaised { .. }
    )));
    let single = correlated_fraction(10, 70, min);
    assert_eq!(chain.proposal(0).fraction_ppb, single);
    assert_eq!(chain.proposal(1).fraction_ppb, single);
}

#[test]
fn self_report_earns_no_reporter_reward() {
    let net = network();
    let mut chain = Chain::new(&net);
    ok(chain.submit(Some(net.public(1)), &evidence(net.double_vote(1, 5))));
    let p = chain.proposal(0);
    assert_eq!(p.reporter, None);
    assert_eq!(p.reporter_reward_ppb, 0);

    // A correlated offender raises the fraction, still with no reward for the self-report.
    let events = ok(chain.submit(Some(net.reporter_key()), &evidence(net.double_vote(2, 5))));
    let raised = chain.proposal(0);
    assert!(raised.fraction_ppb > p.fraction_ppb);
    assert_eq!(raised.reporter, None);
    assert_eq!(raised.reporter_reward_ppb, 0);
    assert!(has(&events, |e| matches!(
        e,
        Event::SlashingFractionRaised {
            id: 0,
            reporter_reward_ppb: 0,
            ..
        }
    )));
    assert!(chain.proposal(1).reporter_reward_ppb > 0);
}

#[test]
fn evidence_from_no_caller_has_no_reporter() {
    let net = network();
    let mut chain = Chain::new(&net);
    ok(chain.submit(None, &evidence(net.double_vote(1, 5))));
    let p = chain.proposal(0);
    assert_eq!(p.reporter, None);
    assert_eq!(p.reporter_reward_ppb, 0);
}

// ----- deduplication -------------------------------------------------------------------------

#[test]
fn swapped_pair_is_duplicate() {
    let net = network();
    let mut chain = Chain::new(&net);
    ok(chain.submit(None, &evidence(net.double_vote(1, 5))));
    assert_eq!(
        err(chain.submit(None, &evidence(swapped(net.double_vote(1, 5))))),
        Error::Duplicate
    );
    ok(chain.submit(None, &evidence(net.double_proposal(2, 5))));
    assert_eq!(
        err(chain.submit(None, &evidence(swapped(net.double_proposal(2, 5))))),
        Error::Duplicate
    );
}

#[test]
fn different_pair_for_the_same_view_is_duplicate() {
    let net = network();
    let mut chain = Chain::new(&net);
    ok(chain.submit(None, &evidence(net.double_vote(1, 5))));
    let other_pair = Evidence::DoubleVote {
        first: net.vote(1, 5, [3; 32], 0),
        second: net.vote(1, 5, [4; 32], 2),
    };
    assert_eq!(
        err(chain.submit(None, &evidence(other_pair))),
        Error::Duplicate
    );
    // Phase-2 double votes of the same view are the same offence class.
    assert_eq!(
        err(chain.submit(None, &evidence(net.double_vote2(1, 5)))),
        Error::Duplicate
    );
}

#[test]
fn two_copies_in_one_block_punish_once() {
    let net = network();
    let mut chain = Chain::new(&net);
    let msg = evidence(net.double_vote(1, 5));
    let first = ok(chain.submit(Some(net.reporter_key()), &msg));
    assert_eq!(
        err(chain.submit_in_block(Some(net.reporter_key()), &msg)),
        Error::Duplicate
    );
    let penalties = first
        .iter()
        .filter(|e| matches!(e, Event::ReputationChanged { operator: 1, .. }))
        .count();
    assert_eq!(penalties, 1);
    assert_eq!(chain.proposals().len(), 1);
    assert_eq!(chain.status().slashing_proposals, 1);
}

#[test]
fn dedup_ignores_evidence_bytes_a_tampered_copy_is_duplicate() {
    let net = network();
    let mut chain = Chain::new(&net);
    ok(chain.submit(None, &evidence(net.double_vote(1, 5))));
    // The offence is already punished; what proves it (even badly) does not matter.
    assert_eq!(
        err(chain.submit(None, &evidence(tampered(net.double_vote(1, 5))))),
        Error::Duplicate
    );
}

#[test]
fn evidence_against_a_banned_operator_is_already_banned() {
    let net = network();
    let mut chain = Chain::new(&net);
    ok(chain.submit(None, &evidence(net.double_vote(1, 5))));
    assert_eq!(
        err(chain.submit(None, &evidence(net.lock_violation_vote(1, 9)))),
        Error::AlreadyBanned { operator: 1 }
    );
    assert_eq!(
        err(chain.submit(None, &accuse_by_all(&net, 1, 10))),
        Error::AlreadyBanned { operator: 1 }
    );
}

// ----- Tier 1 refusals ----------------------------------------------------------------------

#[test]
fn identical_or_malleated_pair_is_not_conflicting() {
    let net = network();
    let mut chain = Chain::new(&net);
    let vote = net.vote(1, 5, [1; 32], 0);
    let same = Evidence::DoubleVote {
        first: vote.clone(),
        second: vote.clone(),
    };
    assert_eq!(
        err(chain.submit(None, &evidence(same))),
        Error::NotConflicting
    );
    let mut malleated = vote.clone();
    malleated.signature.0[63] ^= 0x10;
    let malleated = Evidence::DoubleVote {
        first: vote.clone(),
        second: malleated,
    };
    assert_eq!(
        err(chain.submit(None, &evidence(malleated))),
        Error::NotConflicting
    );
    let vote_and_timeout = Evidence::DoubleVote {
        first: vote,
        second: net.timeout(1, 5, 0),
    };
    assert_eq!(
        err(chain.submit(None, &evidence(vote_and_timeout))),
        Error::NotConflicting
    );
    let same_block = Evidence::DoubleProposal {
        first: net.proposal(1, 5, 1),
        second: net.proposal(1, 5, 1),
    };
    assert_eq!(
        err(chain.submit(None, &evidence(same_block))),
        Error::NotConflicting
    );
    let lock_respected = Evidence::LockViolation {
        locked: net.vote2(1, 5, [1; 32]),
        later: net.vote(1, 6, [2; 32], 5),
    };
    assert_eq!(
        err(chain.submit(None, &evidence(lock_respected))),
        Error::NotConflicting
    );
    assert_eq!(chain.status().banned, 0);
}

#[test]
fn pair_from_different_views_is_view_mismatch() {
    let net = network();
    let mut chain = Chain::new(&net);
    let ev = Evidence::DoubleVote {
        first: net.vote(1, 5, [1; 32], 0),
        second: net.vote(1, 6, [2; 32], 0),
    };
    assert_eq!(
        err(chain.submit(None, &evidence(ev))),
        Error::ViewMismatch {
            first: 5,
            second: 6
        }
    );
}

#[test]
fn pair_from_different_epochs_is_epoch_mismatch() {
    let net = network();
    let mut chain = Chain::new(&net);
    let vote = |epoch, hash| {
        net.signed_in(
            1,
            epoch,
            Message::Vote(Vote {
                view: 5,
                block_hash: hash,
                justify_view: 0,
            }),
        )
    };
    let ev = Evidence::DoubleVote {
        first: vote(1, [1; 32]),
        second: vote(2, [2; 32]),
    };
    assert_eq!(
        err(chain.submit(None, &evidence(ev))),
        Error::EpochMismatch {
            first: 1,
            second: 2
        }
    );
}

#[test]
fn pair_from_different_signers_is_signer_mismatch() {
    let net = network();
    let mut chain = Chain::new(&net);
    let ev = Evidence::DoubleVote {
        first: net.vote(1, 5, [1; 32], 0),
        second: net.vote(2, 5, [2; 32], 0),
    };
    assert_eq!(
        err(chain.submit(None, &evidence(ev))),
        Error::SignerMismatch {
            first: 1,
            second: 2
        }
    );
}

#[test]
fn signer_outside_the_set_is_unknown_validator() {
    let net = network();
    let mut chain = Chain::new(&net);
    let outsider = |hash| SignedMessage {
        epoch: 1,
        signer: 99,
        message: Message::Vote(Vote {
            view: 5,
            block_hash: hash,
            justify_view: 0,
        }),
        signature: Signature([0; 64]),
    };
    let ev = Evidence::DoubleVote {
        first: outsider([1; 32]),
        second: outsider([2; 32]),
    };
    assert_eq!(
        err(chain.submit(None, &evidence(ev))),
        Error::UnknownValidator {
            operator: 99,
            epoch: 1
        }
    );
}

#[test]
fn tampered_signature_is_bad_signature() {
    let net = network();
    let mut chain = Chain::new(&net);
    for ev in [
        net.double_vote(1, 5),
        net.double_proposal(1, 5),
        net.lock_violation_timeout(1, 9),
        net.wrong_leader(1, 1),
    ] {
        assert_eq!(
            err(chain.submit(None, &evidence(tampered(ev)))),
            Error::BadSignature { signer: 1 }
        );
    }
    assert_eq!(chain.status().banned, 0);
}

#[test]
fn unproven_proposal_violation_is_violation_not_proven() {
    let net = network();
    let mut chain = Chain::new(&net);
    let view = net.view_led_by(3, 1);
    let claims = [
        ProposalViolation::WrongLeader,
        ProposalViolation::ProposerNotSigner,
        ProposalViolation::ShortCertificate,
        ProposalViolation::JustifyNotOlder,
        ProposalViolation::ParentMismatch,
        ProposalViolation::HeightMismatch,
        ProposalViolation::DuplicateSigner,
        ProposalViolation::UnknownSigner,
        ProposalViolation::JustifyNotBlockCertificate,
        ProposalViolation::BadCertificateSignature { position: 0 },
    ];
    for violation in claims {
        // A correct proposal by the scheduled leader, extending genesis.
        let ev = Evidence::InvalidProposal {
            proposal: net.proposal(3, view, 1),
            parent: None,
            violation,
        };
        assert_eq!(
            err(chain.submit(None, &evidence(ev))),
            Error::ViolationNotProven,
            "{violation:?}"
        );
    }
    let not_a_proposal = Evidence::InvalidProposal {
        proposal: net.vote(3, view, [1; 32], 0),
        parent: None,
        violation: ProposalViolation::WrongLeader,
    };
    assert_eq!(
        err(chain.submit(None, &evidence(not_a_proposal))),
        Error::ViolationNotProven
    );
}

#[test]
fn evidence_from_a_future_epoch_is_future_epoch() {
    let net = network();
    let mut chain = Chain::new(&net);
    let future = rotated(&net, 3, &[]);
    assert_eq!(
        err(chain.submit(None, &evidence(future.double_vote(1, 5)))),
        Error::FutureEpoch {
            epoch: 3,
            current: 1
        }
    );
}

// ----- Tier 2 ------------------------------------------------------------------------------

#[test]
fn accusation_needs_more_than_a_third_of_witness_power() {
    let net = network();
    let mut chain = Chain::new(&net);
    assert_eq!(
        err(chain.submit(None, &accuse(&net, 3, 10, 20, &[4, 5]))),
        Error::InsufficientWitnesses {
            power: 20,
            required: 24
        }
    );
    let events = ok(chain.submit(None, &accuse(&net, 3, 10, 20, &[4, 5, 6])));
    assert!(has(&events, |e| *e
        == Event::AccusationAccepted {
            offence: key(3, 1, 10, OffenceClass::VoteWithholding),
            witness_power: 30,
            measured: 11,
        }));
}

#[test]
fn accused_witnessing_itself_does_not_count() {
    let net = network();
    let mut chain = Chain::new(&net);
    assert_eq!(
        err(chain.submit(None, &accuse(&net, 3, 10, 20, &[2, 3, 4]))),
        Error::InsufficientWitnesses {
            power: 20,
            required: 24
        }
    );
}

#[test]
fn accusation_with_exactly_one_third_is_insufficient_witnesses() {
    let net = TestNetwork::new(CHAIN_ID, 3);
    let mut chain = Chain::new(&net);
    assert_eq!(
        err(chain.submit(None, &accuse(&net, 0, 10, 20, &[1]))),
        Error::InsufficientWitnesses {
            power: 10,
            required: 11
        }
    );
    ok(chain.submit(None, &accuse(&net, 0, 10, 20, &[1, 2])));
}

#[test]
fn accusation_with_unsorted_witnesses_is_unsorted_signers() {
    let net = network();
    let mut chain = Chain::new(&net);
    assert_eq!(
        err(chain.submit(None, &accuse(&net, 3, 10, 20, &[5, 4, 6]))),
        Error::UnsortedSigners
    );
    assert_eq!(
        err(chain.submit(None, &accuse(&net, 3, 10, 20, &[4, 4, 5, 6]))),
        Error::UnsortedSigners
    );
}

#[test]
fn accusation_with_a_forged_witness_is_bad_signature() {
    let net = network();
    let mut chain = Chain::new(&net);
    let mut msg = net.accusation(3, Behaviour::MessageFlooding, 10, 20, &[4, 5, 6]);
    let mut witnesses = msg.witnesses.to_vec();
    witnesses[1].signature.0[5] ^= 1;
    msg.witnesses = BoundedVec::new(witnesses).expect("three");
    assert_eq!(
        err(chain.submit(None, &Msg::SubmitAccusation(msg))),
        Error::BadSignature { signer: 5 }
    );
}

#[test]
fn accusation_response_is_graduated_warning_then_short_then_long() {
    let net = network();
    let config = net.config.clone();
    assert_eq!(config.isolation.warnings_before_quarantine, 1);
    assert_eq!(config.isolation.long_quarantine_after, 3);
    let (short, long) = (
        config.isolation.short_quarantine_blocks,
        config.isolation.long_quarantine_blocks,
    );
    let mut chain = Chain::new(&net);

    // 1st offence: a warning and a penalty.
    let events = ok(chain.submit(None, &accuse_by_all(&net, 3, 10)));
    assert!(has(&events, |e| *e
        == Event::Warned {
            operator: 3,
            class: OffenceClass::VoteWithholding
        }));
    assert_eq!(chain.isolation(3), IsolationState::Active);
    let info = chain.reputation(3);
    assert_eq!(info.offences, 1);
    assert_eq!(
        info.score,
        config.reputation.baseline - config.reputation.tier2_penalty
    );

    // 2nd: a short quarantine.
    let events = ok(chain.submit(None, &accuse_by_all(&net, 3, 20)));
    let h2 = chain.height;
    assert!(has(&events, |e| *e
        == Event::Quarantined {
            operator: 3,
            until: h2 + short,
            level: QuarantineLevel::Short
        }));
    assert_eq!(
        chain.isolation(3),
        IsolationState::Quarantined {
            since: h2,
            until: h2 + short,
            level: QuarantineLevel::Short
        }
    );

    // 3rd, after the first quarantine is over: short again.
    chain.advance_to(h2 + short);
    let events = ok(chain.submit(None, &accuse_by_all(&net, 3, 30)));
    let h3 = chain.height;
    assert!(has(&events, |e| *e
        == Event::Quarantined {
            operator: 3,
            until: h3 + short,
            level: QuarantineLevel::Short
        }));

    // 4th: past `long_quarantine_after`, a long quarantine.
    chain.advance_to(h3 + short);
    let events = ok(chain.submit(None, &accuse_by_all(&net, 3, 40)));
    let h4 = chain.height;
    assert!(has(&events, |e| *e
        == Event::Quarantined {
            operator: 3,
            until: h4 + long,
            level: QuarantineLevel::Long
        }));
    assert_eq!(chain.reputation(3).offences, 4);

    // Tier 2 never bans and never slashes.
    assert!(chain.proposals().is_empty());
    assert_eq!(chain.status().banned, 0);
}

#[test]
fn repeated_accusation_during_quarantine_extends_it_to_long() {
    let net = network();
    let config = net.config.clone();
    let mut chain = Chain::new(&net);
    for first in [10, 20, 30] {
        ok(chain.submit(None, &accuse_by_all(&net, 3, first)));
    }
    let events = ok(chain.submit(None, &accuse_by_all(&net, 3, 40)));
    let h = chain.height;
    assert!(!has(&events, |e| matches!(e, Event::Warned { .. })));
    match chain.isolation(3) {
        IsolationState::Quarantined { until, level, .. } => {
            assert_eq!(level, QuarantineLevel::Long);
            assert_eq!(until, h + config.isolation.long_quarantine_blocks);
        }
        other => panic!("expected a long quarantine, got {other:?}"),
    }
}

#[test]
fn overlapping_accusation_ranges_are_duplicate() {
    let net = network();
    let mut chain = Chain::new(&net);
    let witnesses = [4, 5, 6];
    ok(chain.submit(None, &accuse(&net, 3, 10, 20, &witnesses)));
    assert_eq!(
        err(chain.submit(None, &accuse(&net, 3, 15, 25, &witnesses))),
        Error::Duplicate
    );
    assert_eq!(
        err(chain.submit(None, &accuse(&net, 3, 20, 20, &witnesses))),
        Error::Duplicate
    );
    assert_eq!(
        err(chain.submit(None, &accuse(&net, 3, 10, 20, &witnesses))),
        Error::Duplicate
    );
    // A later range is a new offence; so is another behaviour over the same range.
    ok(chain.submit(None, &accuse(&net, 3, 21, 30, &witnesses)));
    let flooding = net.accusation(3, Behaviour::MessageFlooding, 10, 20, &witnesses);
    ok(chain.submit(None, &Msg::SubmitAccusation(flooding)));
    assert_eq!(chain.reputation(3).offences, 3);
}

#[test]
fn accusation_view_range_must_be_ordered_and_bounded() {
    let net = network();
    let max = net.config.liveness.max_accusation_views;
    let mut chain = Chain::new(&net);
    let reversed = Accusation {
        accused: 3,
        behaviour: Behaviour::VoteWithholding,
        epoch: 1,
        first_view: 20,
        last_view: 10,
        measured: 1,
    };
    let reversed = Msg::SubmitAccusation(witnessed(&net, reversed, &[4, 5, 6]));
    assert_eq!(
        err(chain.submit(None, &reversed)),
        Error::InvalidViewRange {
            first: 20,
            last: 10
        }
    );
    assert_eq!(
        err(chain.submit(None, &accuse(&net, 3, 1, 1 + max, &[4, 5, 6]))),
        Error::InvalidViewRange {
            first: 1,
            last: 1 + max
        }
    );
    ok(chain.submit(None, &accuse(&net, 3, 1, max, &[4, 5, 6])));
}

#[test]
fn accusation_of_an_unknown_operator_is_unknown_validator() {
    let net = network();
    let mut chain = Chain::new(&net);
    assert_eq!(
        err(chain.submit(None, &accuse(&net, 42, 1, 2, &[4, 5, 6]))),
        Error::UnknownValidator {
            operator: 42,
            epoch: 1
        }
    );
}

// ----- the cap -----------------------------------------------------------------------------

#[test]
fn quarantine_cap_keeps_a_quorum_active_and_defers_the_rest() {
    let net = network_with(no_warnings());
    let mut chain = Chain::new(&net);
    let events = ok(chain.submit(None, &accuse_by_all(&net, 1, 10)));
    assert!(has(&events, |e| matches!(
        e,
        Event::Quarantined { operator: 1, .. }
    )));
    let events = ok(chain.submit(None, &accuse_by_all(&net, 2, 10)));
    assert!(has(&events, |e| matches!(
        e,
        Event::Quarantined { operator: 2, .. }
    )));
    // A third would leave 40 < 47 active: it waits.
    let events = ok(chain.submit(None, &accuse_by_all(&net, 3, 10)));
    assert!(has(&events, |e| *e == Event::QuarantineDeferred { operator: 3 }));
    assert!(!has(&events, |e| matches!(e, Event::Quarantined { .. })));
    assert!(matches!(
        chain.isolation(3),
        IsolationState::Deferred {
            level: QuarantineLevel::Short,
            ..
        }
    ));
    let status = chain.status();
    assert_eq!(status.quarantined, 2);
    assert_eq!(status.active_power, 50);
    assert!(status.active_power >= 47);
    // A deferred operator keeps its full power.
    assert_eq!(chain.effective_power_of(3), 10);
    assert_eq!(chain.effective_power_of(1), 0);
}

#[test]
fn deferred_quarantine_is_admitted_when_room_frees_up_counting_probation() {
    // Seven operators of power 10: quorum 47, so at most 23 power may be withheld.
    let net = network_with(no_warnings());
    let short = net.config.isolation.short_quarantine_blocks;
    let mut chain = Chain::new(&net);
    ok(chain.submit(None, &accuse_by_all(&net, 1, 10)));
    let h1 = chain.height;
    ok(chain.submit(None, &accuse_by_all(&net, 2, 10)));
    let h2 = chain.height;
    ok(chain.submit(None, &accuse_by_all(&net, 3, 10)));
    assert!(matches!(
        chain.isolation(3),
        IsolationState::Deferred { .. }
    ));

    // Still full one block before operator 1's quarantine ends.
    chain.advance_to(h1 + short - 1);
    assert!(matches!(
        chain.isolation(3),
        IsolationState::Deferred { .. }
    ));

    // At its `until`, 1 goes on probation, withholding half its power: 5 + 10 (operator 2)
    // leaves no room for 3's 10, so 3 still waits.
    let end1 = h1 + short;
    let events = ok(chain.submit_at(
        end1,
        None,
        &certificates(&net, CertificateKind::Vote2, [1], &all_but(&net, &[])),
    ));
    assert!(has(&events, |e| *e == Event::ProbationStarted { operator: 1 }));
    assert_eq!(
        chain.isolation(1),
        IsolationState::Probation { since: end1 }
    );
    assert!(matches!(
        chain.isolation(3),
        IsolationState::Deferred { .. }
    ));

    // When 2's quarantine ends too, 5 + 5 withheld leaves room: 3 is quarantined.
    let end2 = h2 + short;
    let events = ok(chain.submit_at(
        end2,
        None,
        &certificates(&net, CertificateKind::Vote2, [2], &all_but(&net, &[])),
    ));
    assert!(has(&events, |e| *e == Event::ProbationStarted { operator: 2 }));
    assert!(has(&events, |e| *e
        == Event::Quarantined {
            operator: 3,
            until: end2 + short,
            level: QuarantineLevel::Short
        }));
    assert_eq!(
        chain.isolation(3),
        IsolationState::Quarantined {
            since: end2,
            until: end2 + short,
            level: QuarantineLevel::Short
        }
    );
    assert!(chain.status().active_power >= 47);
}

#[test]
fn ban_takes_precedence_and_displaces_a_quarantine_to_deferred() {
    let net = network_with(no_warnings());
    let mut chain = Chain::new(&net);
    ok(chain.submit(None, &accuse_by_all(&net, 1, 10)));
    ok(chain.submit(None, &accuse_by_all(&net, 2, 10)));
    let h2 = chain.height;
    let until2 = match chain.isolation(2) {
        IsolationState::Quarantined { until, .. } => until,
        other => panic!("expected a quarantine, got {other:?}"),
    };
    // A ban of 10 leaves room for one quarantine: the newer one waits.
    let events = ok(chain.submit(None, &evidence(net.double_vote(4, 5))));
    let h = chain.height;
    assert!(has(&events, |e| matches!(
        e,
        Event::Banned { operator: 4, .. }
    )));
    assert!(has(&events, |e| *e == Event::QuarantineDeferred { operator: 2 }));
    assert!(matches!(chain.isolation(4), IsolationState::Banned { .. }));
    assert!(matches!(
        chain.isolation(1),
        IsolationState::Quarantined { .. }
    ));
    assert_eq!(
        chain.isolation(2),
        IsolationState::Deferred {
            blocks: until2 - h,
            level: QuarantineLevel::Short,
            since: h2
        }
    );
    assert_eq!(chain.status().active_power, 50);
}

#[test]
fn bans_apply_even_past_the_cap() {
    let net = network();
    let mut chain = Chain::new(&net);
    for op in [1, 2, 3] {
        ok(chain.submit(None, &evidence(net.double_vote(op, 5))));
    }
    for op in [1, 2, 3] {
        assert!(matches!(chain.isolation(op), IsolationState::Banned { .. }));
    }
    assert_eq!(chain.status().banned, 3);
}

// ----- probation and rehabilitation --------------------------------------------------------

#[test]
fn quarantine_ends_at_until_then_probation_reduces_influence() {
    let net = network_with(no_warnings());
    let short = net.config.isolation.short_quarantine_blocks;
    let influence = u64::from(net.config.isolation.probation_influence_ppm);
    let mut chain = Chain::new(&net);
    ok(chain.submit(None, &accuse_by_all(&net, 3, 10)));
    let until = chain.height + short;
    assert_eq!(chain.effective_power_of(3), 0);

    chain.advance_to(until - 1);
    assert!(matches!(
        chain.isolation(3),
        IsolationState::Quarantined { .. }
    ));
    assert_eq!(chain.effective_power_of(3), 0);

    chain.advance_to(until);
    assert_eq!(
        chain.isolation(3),
        IsolationState::Probation { since: until }
    );
    assert_eq!(chain.effective_power_of(3), 10 * influence / PPM);
    assert_eq!(chain.effective_power_of(3), 5);
    assert_eq!(chain.status().active_power, 70);
}

#[test]
fn probation_ends_in_rehabilitation_after_participation_windows() {
    // One offence leaves 350k; one window's reward of 60k lifts it over the 400k threshold.
    let config = config_with(|c| {
        c.isolation.warnings_before_quarantine = 0;
        c.liveness.participation_window = 2;
        c.reputation.participation_reward = 60_000;
    });
    let net = network_with(config.clone());
    let mut chain = Chain::new(&net);
    ok(chain.submit(None, &accuse_by_all(&net, 3, 10)));
    assert_eq!(chain.score(3), 350_000);
    assert!(chain.score(3) < config.reputation.rehabilitation_threshold);
    let end = chain.height + config.isolation.short_quarantine_blocks;
    chain.advance_to(end);
    assert!(matches!(
        chain.isolation(3),
        IsolationState::Probation { .. }
    ));

    let everyone = all_but(&net, &[]);
    let events = ok(chain.submit(
        None,
        &certificates(&net, CertificateKind::Vote2, [1, 2], &everyone),
    ));
    assert!(has(&events, |e| *e
        == Event::ReputationChanged {
            operator: 3,
            from: 350_000,
            to: 410_000
        }));
    assert!(has(&events, |e| *e == Event::Rehabilitated { operator: 3 }));
    assert_eq!(chain.isolation(3), IsolationState::Active);
    assert_eq!(chain.effective_power_of(3), 10);
}

#[test]
fn probation_continues_while_reputation_is_below_the_threshold() {
    let config = config_with(|c| {
        c.isolation.warnings_before_quarantine = 0;
        c.liveness.participation_window = 2;
    });
    let net = network_with(config.clone());
    let mut chain = Chain::new(&net);
    ok(chain.submit(None, &accuse_by_all(&net, 3, 10)));
    chain.advance_to(chain.height + config.isolation.short_quarantine_blocks);
    let everyone = all_but(&net, &[]);
    // 350k + 20k per window: two windows are not enough, three are.
    ok(chain.submit(
        None,
        &certificates(&net, CertificateKind::Vote2, [1, 2], &everyone),
    ));
    ok(chain.submit(
        None,
        &certificates(&net, CertificateKind::Vote2, [3, 4], &everyone),
    ));
    assert_eq!(chain.score(3), 390_000);
    assert!(matches!(
        chain.isolation(3),
        IsolationState::Probation { .. }
    ));
    let events = ok(chain.submit(
        None,
        &certificates(&net, CertificateKind::Vote2, [5, 6], &everyone),
    ));
    assert!(has(&events, |e| *e == Event::Rehabilitated { operator: 3 }));
    assert_eq!(chain.isolation(3), IsolationState::Active);
}

#[test]
fn probation_ends_in_rehabilitation_after_decay_at_rotation() {
    // 350k decays halfway toward the 500k baseline: 425k, over the threshold.
    let config = config_with(|c| {
        c.isolation.warnings_before_quarantine = 0;
        c.reputation.decay_ppm = 500_000;
    });
    let net = network_with(config.clone());
    let mut chain = Chain::new(&net);
    ok(chain.submit(None, &accuse_by_all(&net, 3, 10)));
    chain.advance_to(chain.height + config.isolation.short_quarantine_blocks);
    assert!(matches!(
        chain.isolation(3),
        IsolationState::Probation { .. }
    ));
    let events = ok(chain.submit(
        Some(net.authority_key()),
        &authority_rotation(&rotated(&net, 2, &[])),
    ));
    assert!(has(&events, |e| *e
        == Event::ReputationChanged {
            operator: 3,
            from: 350_000,
            to: 425_000
        }));
    assert!(has(&events, |e| *e == Event::Rehabilitated { operator: 3 }));
    assert_eq!(chain.isolation(3), IsolationState::Active);
}

// ----- Tier 3 ------------------------------------------------------------------------------

#[test]
fn participation_window_warns_then_quarantines_low_signers_and_rewards_the_rest() {
    let net = network_with(config_with(|c| c.liveness.participation_window = 4));
    let config = net.config.clone();
    let (base, reward, penalty) = (
        config.reputation.baseline,
        config.reputation.participation_reward,
        config.reputation.tier3_penalty,
    );
    let mut chain = Chain::new(&net);
    let signers = all_but(&net, &[6]);

    // Three certificates: the window stays open.
    let events = ok(chain.submit(
        None,
        &certificates(&net, CertificateKind::Vote2, 1..=3, &signers),
    ));
    assert!(!has(&events, |e| matches!(
        e,
        Event::ParticipationWindowClosed { .. }
    )));
    assert_eq!(chain.score(0), base);

    // The fourth closes it: 6 signed none and is warned, the rest are rewarded.
    let events = ok(chain.submit(
        None,
        &certificates(&net, CertificateKind::Vote2, [4], &signers),
    ));
    assert!(has(&events, |e| *e
        == Event::ParticipationWindowClosed {
            window: 0,
            certificates: 4
        }));
    assert!(has(&events, |e| *e
        == Event::Warned {
            operator: 6,
            class: OffenceClass::LowParticipation
        }));
    for op in 0..6 {
        assert_eq!(chain.score(op), base + reward, "operator {op}");
    }
    assert_eq!(chain.score(6), base - penalty);
    assert_eq!(chain.isolation(6), IsolationState::Active);

    // The next window quarantines it.
    let events = ok(chain.submit(
        None,
        &certificates(&net, CertificateKind::Vote2, 5..=8, &signers),
    ));
    let h = chain.height;
    assert!(has(&events, |e| *e
        == Event::Quarantined {
            operator: 6,
            until: h + config.isolation.short_quarantine_blocks,
            level: QuarantineLevel::Short
        }));
    assert_eq!(chain.score(6), base - 2 * penalty);
    assert_eq!(chain.reputation(6).offences, 2);
    for op in 0..6 {
        assert_eq!(chain.score(op), base + 2 * reward, "operator {op}");
    }
}

#[test]
fn participation_at_the_minimum_is_rewarded() {
    // 2 of 4 certificates is exactly the 50% minimum.
    let net = network_with(config_with(|c| c.liveness.participation_window = 4));
    let base = net.config.reputation.baseline;
    let reward = net.config.reputation.participation_reward;
    let mut chain = Chain::new(&net);
    let with_6 = all_but(&net, &[5]);
    let without_6 = all_but(&net, &[6]);
    ok(chain.submit(
        None,
        &certificates(&net, CertificateKind::Vote2, 1..=2, &with_6),
    ));
    let events = ok(chain.submit(
        None,
        &certificates(&net, CertificateKind::Vote2, 3..=4, &without_6),
    ));
    assert!(!has(&events, |e| matches!(e, Event::Warned { .. })));
    assert_eq!(chain.score(5), base + reward);
    assert_eq!(chain.score(6), base + reward);
}

#[test]
fn leader_with_too_many_timeout_certificates_is_sanctioned() {
    let net = network_with(config_with(|c| {
        c.liveness.participation_window = 4;
        c.liveness.max_leader_failures = 2;
    }));
    let config = net.config.clone();
    let mut chain = Chain::new(&net);
    let leader = net.leader(1);
    let v1 = net.view_led_by(leader, 1);
    let v2 = net.view_led_by(leader, v1 + 1);
    let everyone = all_but(&net, &[]);
    let mut certs = match certificates(&net, CertificateKind::Timeout, [v1, v2], &everyone) {
        Msg::RecordCertificates(c) => c.into_inner(),
        _ => unreachable!(),
    };
    // Two more (block certificates) close the window.
    certs.extend(
        match certificates(&net, CertificateKind::Vote2, [1, 2], &everyone) {
            Msg::RecordCertificates(c) => c.into_inner(),
            _ => unreachable!(),
        },
    );
    let msg = Msg::RecordCertificates(BoundedVec::new(certs).expect("four"));
    let events = ok(chain.submit(None, &msg));
    assert!(has(&events, |e| *e
        == Event::Warned {
            operator: leader,
            class: OffenceClass::LeaderFailures
        }));
    let warned: Vec<_> = events
        .iter()
        .filter(|e| matches!(e, Event::Warned { .. }))
        .collect();
    assert_eq!(warned.len(), 1, "{warned:?}");
    let base = config.reputation.baseline;
    assert_eq!(
        chain.score(leader),
        base + config.reputation.participation_reward - config.reputation.tier3_penalty
    );
    assert_eq!(chain.reputation(leader).offences, 1);
}

#[test]
fn leader_below_the_failure_limit_is_not_sanctioned() {
    let net = network_with(config_with(|c| {
        c.liveness.participation_window = 2;
        c.liveness.max_leader_failures = 2;
    }));
    let mut chain = Chain::new(&net);
    let leader = net.leader(1);
    let v1 = net.view_led_by(leader, 1);
    let everyone = all_but(&net, &[]);
    ok(chain.submit(
        None,
        &certificates(&net, CertificateKind::Timeout, [v1], &everyone),
    ));
    let events = ok(chain.submit(
        None,
        &certificates(&net, CertificateKind::Vote2, [1], &everyone),
    ));
    assert!(has(&events, |e| matches!(
        e,
        Event::ParticipationWindowClosed { .. }
    )));
    assert!(!has(&events, |e| matches!(e, Event::Warned { .. })));
    assert_eq!(chain.reputation(leader).offences, 0);
}

#[test]
fn certificates_short_of_a_quorum_are_insufficient_witnesses() {
    let net = network();
    let mut chain = Chain::new(&net);
    assert_eq!(
        err(chain.submit(
            None,
            &certificates(&net, CertificateKind::Vote2, [1], &[0, 1, 2, 3])
        )),
        Error::InsufficientWitnesses {
            power: 40,
            required: 47
        }
    );
}

#[test]
fn certificates_recorded_twice_or_out_of_order_are_duplicate() {
    let net = network();
    let mut chain = Chain::new(&net);
    let signers = net.quorum_signers();
    ok(chain.submit(
        None,
        &certificates(&net, CertificateKind::Vote2, [4], &signers),
    ));
    assert_eq!(
        err(chain.submit(
            None,
            &certificates(&net, CertificateKind::Vote2, [4], &signers)
        )),
        Error::Duplicate
    );
    assert_eq!(
        err(chain.submit(
            None,
            &certificates(&net, CertificateKind::Vote2, [3], &signers)
        )),
        Error::Duplicate
    );
    assert_eq!(
        err(chain.submit(
            None,
            &certificates(&net, CertificateKind::Vote2, [6, 5], &signers)
        )),
        Error::Duplicate
    );
    // Watermarks are per certificate kind.
    ok(chain.submit(
        None,
        &certificates(&net, CertificateKind::Vote, [3], &signers),
    ));
}

#[test]
fn empty_certificate_batch_is_empty_batch() {
    let net = network();
    let mut chain = Chain::new(&net);
    assert_eq!(
        err(chain.submit(None, &Msg::RecordCertificates(BoundedVec::empty()))),
        Error::EmptyBatch
    );
}

#[test]
fn certificate_with_unsorted_signers_is_unsorted_signers() {
    let net = network();
    let mut chain = Chain::new(&net);
    assert_eq!(
        err(chain.submit(
            None,
            &certificates(&net, CertificateKind::Vote2, [1], &[1, 0, 2, 3, 4])
        )),
        Error::UnsortedSigners
    );
}

#[test]
fn certificate_with_a_forged_signature_is_bad_signature() {
    let net = network();
    let mut chain = Chain::new(&net);
    let mut cert = net.certificate(CertificateKind::Vote2, 1, [9; 32], 0, &net.quorum_signers());
    let mut parts = cert.signatures.to_vec();
    parts[2].signature.0[0] ^= 1;
    cert.signatures = BoundedVec::new(parts).expect("small");
    let msg = Msg::RecordCertificates(BoundedVec::new(vec![cert]).expect("one"));
    assert_eq!(
        err(chain.submit(None, &msg)),
        Error::BadSignature { signer: 2 }
    );
}

// ----- rotations ---------------------------------------------------------------------------

#[test]
fn rotation_by_authority_starts_the_next_epoch() {
    let net = network();
    let mut chain = Chain::new(&net);
    let next = rotated(&net, 2, &[(0, 100)]);
    let events = ok(chain.submit(Some(net.authority_key()), &authority_rotation(&next)));
    assert!(has(&events, |e| *e
        == Event::EpochStarted {
            epoch: 2,
            validators: 7,
            total_power: 70,
            set_hash: next.set().hash()
        }));
    assert_eq!(chain.status().epoch, 2);
    assert_eq!(
        chain.query(&Query::ValidatorSet { epoch: 2 }),
        warden_module::msg::QueryResponse::ValidatorSet(next.set())
    );
}

#[test]
fn rotation_by_a_quorum_certificate_of_the_current_set() {
    let net = network();
    let mut chain = Chain::new(&net);
    let next = rotated(&net, 2, &[(4, 104)]);
    let msg = Msg::RotateValidators(net.rotation(&next, &[0, 1, 2, 3, 4]));
    ok(chain.submit(Some(net.reporter_key()), &msg));
    assert_eq!(chain.status().epoch, 2);
}

#[test]
fn rotation_short_of_a_quorum_is_insufficient_witnesses() {
    let net = network();
    let mut chain = Chain::new(&net);
    let next = rotated(&net, 2, &[]);
    let msg = Msg::RotateValidators(net.rotation(&next, &[0, 1, 2, 3]));
    assert_eq!(
        err(chain.submit(Some(net.reporter_key()), &msg)),
        Error::InsufficientWitnesses {
            power: 40,
            required: 47
        }
    );
    assert_eq!(chain.status().epoch, 1);
}

#[test]
fn rotation_approved_for_another_set_is_bad_signature() {
    let net = network();
    let mut chain = Chain::new(&net);
    let approved = rotated(&net, 2, &[]);
    let other = rotated(&net, 2, &[(1, 101)]);
    let mut msg = net.rotation(&approved, &[0, 1, 2, 3, 4]);
    msg.validators = other.validators();
    assert_eq!(
        err(chain.submit(None, &Msg::RotateValidators(msg))),
        Error::BadSignature { signer: 0 }
    );
}

#[test]
fn rotation_without_approvals_from_a_non_authority_is_unauthorized() {
    let net = network();
    let mut chain = Chain::new(&net);
    let msg = authority_rotation(&rotated(&net, 2, &[]));
    assert_eq!(
        err(chain.submit(Some(net.reporter_key()), &msg)),
        Error::Unauthorized
    );
    assert_eq!(
        err(chain.submit(Some(net.public(0)), &msg)),
        Error::Unauthorized
    );
    assert_eq!(err(chain.submit(None, &msg)), Error::Unauthorized);
}

#[test]
fn rotation_to_a_past_epoch_is_epoch_not_after() {
    let net = network();
    let mut chain = Chain::new(&net);
    assert_eq!(
        err(chain.submit(Some(net.authority_key()), &authority_rotation(&net))),
        Error::EpochNotAfter {
            epoch: 1,
            current: 1
        }
    );
}

#[test]
fn key_rotation_keeps_reputation_and_offences_with_the_operator() {
    let net = network();
    let config = net.config.reputation.clone();
    let mut chain = Chain::new(&net);
    ok(chain.submit(None, &accuse_by_all(&net, 3, 10)));
    let before = chain.reputation(3);
    assert_eq!(before.offences, 1);

    let next = rotated(&net, 2, &[(3, 103)]);
    ok(chain.submit(Some(net.authority_key()), &authority_rotation(&next)));
    let after = chain.reputation(3);
    assert_eq!(after.score, reputation::decay(before.score, &config));
    assert_eq!(after.offences, 1);

    // The graduated response continues: the second offence (signed about the new key's epoch)
    // quarantines.
    let events = ok(chain.submit(None, &accuse_by_all(&next, 3, 10)));
    assert!(has(&events, |e| matches!(
        e,
        Event::Quarantined { operator: 3, .. }
    )));
}

#[test]
fn banned_operator_stays_banned_after_key_rotation() {
    let net = network();
    let mut chain = Chain::new(&net);
    ok(chain.submit(None, &evidence(net.double_vote(1, 5))));
    let next = rotated(&net, 2, &[(1, 101)]);
    ok(chain.submit(Some(net.authority_key()), &authority_rotation(&next)));
    assert!(matches!(chain.isolation(1), IsolationState::Banned { .. }));
    assert_eq!(chain.effective_power_of(1), 0);
    // New key, new epoch, new offence: still banned.
    assert_eq!(
        err(chain.submit(None, &evidence(next.double_vote(1, 5)))),
        Error::AlreadyBanned { operator: 1 }
    );
    assert_eq!(
        err(chain.submit(None, &evidence(next.double_proposal(1, 8)))),
        Error::AlreadyBanned { operator: 1 }
    );
}

fn with_key(
    genesis_validators: &TestNetwork,
    operator: OperatorId,
    key: warden_module::wire::PublicKey,
) -> Vec<warden_module::validators::ValidatorInfo> {
    let mut list = genesis_validators.validators().into_inner();
    list[operator as usize].key = key;
    list
}

#[test]
fn weak_key_is_refused_at_genesis() {
    let net = network();
    let genesis = Genesis {
        validators: BoundedVec::new(with_key(&net, 2, WEAK_KEY)).expect("small"),
        ..net.genesis()
    };
    let (mut chain, outcome) = Chain::try_genesis(&genesis);
    assert_eq!(err(outcome), Error::WeakKey { operator: 2 });
    // Nothing was initialised.
    assert!(chain.store.is_empty());
    assert_eq!(chain.try_query(&Query::Status), Err(Error::NotInitialized));
}

#[test]
fn weak_key_is_refused_at_rotation() {
    let net = network();
    let mut chain = Chain::new(&net);
    let msg = Msg::RotateValidators(Rotation {
        epoch: 2,
        validators: BoundedVec::new(with_key(&net, 5, WEAK_KEY)).expect("small"),
        approvals: BoundedVec::empty(),
    });
    assert_eq!(
        err(chain.submit(Some(net.authority_key()), &msg)),
        Error::WeakKey { operator: 5 }
    );
    assert_eq!(chain.status().epoch, 1);
}

#[test]
fn shared_key_is_duplicate_key() {
    let net = network();
    let mut chain = Chain::new(&net);
    let msg = Msg::RotateValidators(Rotation {
        epoch: 2,
        validators: BoundedVec::new(with_key(&net, 5, net.public(2))).expect("small"),
        approvals: BoundedVec::empty(),
    });
    assert_eq!(
        err(chain.submit(Some(net.authority_key()), &msg)),
        Error::DuplicateKey { operator: 5 }
    );
}

// ----- configuration -----------------------------------------------------------------------

#[test]
fn config_update_is_authority_only() {
    let net = network();
    let mut chain = Chain::new(&net);
    let new = config_with(|c| c.liveness.participation_window = 10);
    let msg = Msg::UpdateConfig(new.clone());
    for caller in [Some(net.reporter_key()), Some(net.public(0)), None] {
        assert_eq!(err(chain.submit(caller, &msg)), Error::Unauthorized);
    }
    assert_eq!(chain.config(), net.config);
    // Authorisation is checked before the content.
    let invalid = config_with(|c| c.reputation.baseline = c.reputation.max + 1);
    assert_eq!(
        err(chain.submit(Some(net.reporter_key()), &Msg::UpdateConfig(invalid))),
        Error::Unauthorized
    );
    let events = ok(chain.submit(Some(net.authority_key()), &msg));
    assert!(has(&events, |e| *e == Event::ConfigUpdated));
    assert_eq!(chain.config(), new);
}

#[test]
fn config_update_is_validated() {
    let net = network();
    let mut chain = Chain::new(&net);
    let authority = Some(net.authority_key());
    let cases: Vec<(Config, ConfigField)> = vec![
        (
            config_with(|c| c.reputation.baseline = c.reputation.max + 1),
            ConfigField::ReputationBaseline,
        ),
        (
            config_with(|c| c.retention_epochs = 0),
            ConfigField::RetentionEpochs,
        ),
        (
            config_with(|c| c.reputation.max = 0),
            ConfigField::ReputationMax,
        ),
        (
            config_with(|c| c.reputation.decay_ppm = 1_000_001),
            ConfigField::ReputationDecay,
        ),
        (
            config_with(|c| c.isolation.short_quarantine_blocks = 0),
            ConfigField::QuarantineBlocks,
        ),
        (
            config_with(|c| c.isolation.probation_influence_ppm = 2_000_000),
            ConfigField::ProbationInfluence,
        ),
        (
            config_with(|c| c.slashing.min_fraction_ppb = PPB + 1),
            ConfigField::SlashFraction,
        ),
        (
            config_with(|c| c.slashing.correlation_window_epochs = 0),
            ConfigField::CorrelationWindow,
        ),
        (
            config_with(|c| c.liveness.participation_window = 0),
            ConfigField::ParticipationWindow,
        ),
        (
            config_with(|c| c.liveness.max_leader_failures = 0),
            ConfigField::MaxLeaderFailures,
        ),
        (
            config_with(|c| c.liveness.max_accusation_views = 0),
            ConfigField::MaxAccusationViews,
        ),
    ];
    for (config, field) in cases {
        assert_eq!(
            err(chain.submit(authority, &Msg::UpdateConfig(config))),
            Error::InvalidConfig { field },
            "{field:?}"
        );
    }
    assert_eq!(chain.config(), net.config);
}

#[test]
fn invalid_config_is_refused_at_genesis() {
    let mut net = network();
    net.config = config_with(|c| c.liveness.participation_window = 0);
    let (_, outcome) = Chain::try_genesis(&net.genesis());
    assert_eq!(
        err(outcome),
        Error::InvalidConfig {
            field: ConfigField::ParticipationWindow
        }
    );
}

// ----- veto and finalisation ---------------------------------------------------------------

#[test]
fn veto_only_within_the_deferral_window() {
    let net = network();
    let deferral = net.config.slashing.deferral_blocks;
    let mut chain = Chain::new(&net);
    let authority = Some(net.authority_key());
    ok(chain.submit(None, &evidence(net.double_vote(1, 5))));
    let h0 = chain.height;
    ok(chain.submit(None, &evidence(net.double_vote(2, 5))));
    let h1 = chain.height;

    // Authority only.
    assert_eq!(
        err(chain.submit(Some(net.reporter_key()), &Msg::VetoSlashing { id: 0 })),
        Error::Unauthorized
    );
    // The last block of the window.
    let events = ok(chain.submit_at(h0 + deferral - 1, authority, &Msg::VetoSlashing { id: 0 }));
    assert!(has(&events, |e| *e == Event::SlashingVetoed { id: 0 }));
    assert_eq!(chain.proposal(0).status, ProposalStatus::Vetoed);
    assert_eq!(
        err(chain.submit(authority, &Msg::VetoSlashing { id: 0 })),
        Error::NotPending { id: 0 }
    );
    // The window of proposal 1 is over at its `execute_after`.
    assert_eq!(
        err(chain.submit_at(h1 + deferral, authority, &Msg::VetoSlashing { id: 1 })),
        Error::NotPending { id: 1 }
    );
    assert_eq!(chain.proposal(1).status, ProposalStatus::Pending);
    assert_eq!(
        err(chain.submit(authority, &Msg::VetoSlashing { id: 9 })),
        Error::UnknownProposal { id: 9 }
    );
    // A vetoed proposal is never finalised.
    assert_eq!(
        err(chain.submit(None, &Msg::FinaliseSlashing { id: 0 })),
        Error::NotPending { id: 0 }
    );
}

#[test]
fn finalise_only_after_the_deferral_window() {
    let net = network();
    let deferral = net.config.slashing.deferral_blocks;
    let mut chain = Chain::new(&net);
    let reporter = Some(net.reporter_key());
    ok(chain.submit(reporter, &evidence(net.double_vote(1, 5))));
    let h = chain.height;
    let p = chain.proposal(0);
    assert_eq!(
        err(chain.submit_at(h + deferral - 1, None, &Msg::FinaliseSlashing { id: 0 })),
        Error::DeferralPending {
            until: h + deferral
        }
    );
    let events = ok(chain.submit_at(h + deferral, None, &Msg::FinaliseSlashing { id: 0 }));
    assert!(has(&events, |e| *e
        == Event::SlashingFinalised {
            id: 0,
            operator: 1,
            fraction_ppb: p.fraction_ppb,
            reporter_reward_ppb: p.reporter_reward_ppb,
            reporter
        }));
    assert_eq!(chain.proposal(0).status, ProposalStatus::Finalised);
    assert_eq!(
        err(chain.submit(None, &Msg::FinaliseSlashing { id: 0 })),
        Error::NotPending { id: 0 }
    );
    assert_eq!(
        err(chain.submit(Some(net.authority_key()), &Msg::VetoSlashing { id: 0 })),
        Error::NotPending { id: 0 }
    );
    assert_eq!(
        err(chain.submit(None, &Msg::FinaliseSlashing { id: 1 })),
        Error::UnknownProposal { id: 1 }
    );
}

#[test]
fn a_closed_proposal_is_never_raised_and_keeps_the_fraction_it_closed_at() {
    let net = network();
    let config = net.config.clone();
    let min = config.slashing.min_fraction_ppb;
    let mut chain = Chain::new(&net);
    let reporter = Some(net.reporter_key());
    let authority = Some(net.authority_key());
    ok(chain.submit(reporter, &evidence(net.double_vote(1, 5))));
    ok(chain.submit(reporter, &evidence(net.double_vote(2, 5))));
    let double = correlated_fraction(20, 70, min);
    assert_eq!(chain.proposal(0).fraction_ppb, double);
    ok(chain.submit(authority, &Msg::VetoSlashing { id: 0 }));

    // A third offender raises the pending proposal only.
    let events = ok(chain.submit(reporter, &evidence(net.double_vote(3, 5))));
    let triple = correlated_fraction(30, 70, min);
    assert!(triple > double);
    assert!(!has(&events, |e| matches!(
        e,
        Event::SlashingFractionRaised { id: 0, .. }
    )));
    assert!(has(&events, |e| *e
        == Event::SlashingFractionRaised {
            id: 1,
            fraction_ppb: triple,
            reporter_reward_ppb: reward_of(triple, &config),
        }));
    let vetoed = chain.proposal(0);
    assert_eq!(vetoed.status, ProposalStatus::Vetoed);
    assert_eq!(vetoed.fraction_ppb, double);
    assert_eq!(vetoed.reporter_reward_ppb, reward_of(double, &config));

    // Finalised at the fraction correlation gave it, which it keeps.
    let at = chain.proposal(1).execute_after;
    let events = ok(chain.submit_at(at, None, &Msg::FinaliseSlashing { id: 1 }));
    assert!(has(&events, |e| *e
        == Event::SlashingFinalised {
            id: 1,
            operator: 2,
            fraction_ppb: triple,
            reporter_reward_ppb: reward_of(triple, &config),
            reporter,
        }));
    let finalised = chain.proposal(1);
    assert_eq!(finalised.status, ProposalStatus::Finalised);
    assert_eq!(finalised.fraction_ppb, triple);
}

#[test]
fn a_pending_proposal_keeps_its_raised_fraction_after_its_epoch_leaves_retention() {
    let net = network_with(config_with(|c| {
        c.retention_epochs = 1;
        c.slashing.correlation_window_epochs = 1;
    }));
    let config = net.config.clone();
    let mut chain = Chain::new(&net);
    let reporter = Some(net.reporter_key());
    let authority = Some(net.authority_key());
    ok(chain.submit(reporter, &evidence(net.double_vote(1, 5))));
    ok(chain.submit(reporter, &evidence(net.double_vote(2, 5))));
    let double = correlated_fraction(20, 70, config.slashing.min_fraction_ppb);
    // Epoch 3 keeps epochs 2 and 3: epoch 1, and its correlation record, are gone.
    for epoch in 2..=3 {
        ok(chain.submit(authority, &authority_rotation(&rotated(&net, epoch, &[]))));
    }
    assert_eq!(
        err(chain.submit(reporter, &evidence(net.double_vote(3, 6)))),
        Error::Expired {
            epoch: 1,
            oldest: 2
        }
    );
    let p = chain.proposal(0);
    assert_eq!(p.status, ProposalStatus::Pending);
    assert_eq!(p.fraction_ppb, double);
    assert_eq!(p.reporter_reward_ppb, reward_of(double, &config));
    let events = ok(chain.submit_at(p.execute_after, None, &Msg::FinaliseSlashing { id: 0 }));
    assert!(has(&events, |e| matches!(
        e,
        Event::SlashingFinalised { id: 0, fraction_ppb, .. } if *fraction_ppb == double
    )));
}

// ----- expiry ------------------------------------------------------------------------------

#[test]
fn evidence_older_than_retention_is_expired() {
    let net = network_with(config_with(|c| c.retention_epochs = 2));
    let authority = Some(net.authority_key());
    let mut chain = Chain::new(&net);
    let old_double_vote = evidence(net.double_vote(1, 5));
    let old_accusation = accuse_by_all(&net, 3, 10);
    let old_certificates = certificates(&net, CertificateKind::Vote2, [1], &net.quorum_signers());
    for epoch in 2..=3 {
        ok(chain.submit(authority, &authority_rotation(&rotated(&net, epoch, &[]))));
    }
    // Epoch 3 keeps epochs 1 to 3.
    ok(chain.submit(None, &evidence(net.double_vote(2, 5))));
    ok(chain.submit(authority, &authority_rotation(&rotated(&net, 4, &[]))));
    let expired = Error::Expired {
        epoch: 1,
        oldest: 2,
    };
    assert_eq!(err(chain.submit(None, &old_double_vote)), expired);
    assert_eq!(err(chain.submit(None, &old_accusation)), expired);
    assert_eq!(err(chain.submit(None, &old_certificates)), expired);
    assert_eq!(
        chain.try_query(&Query::Leader { epoch: 1, view: 1 }),
        Err(expired)
    );
    // Epoch 2 is still admissible.
    ok(chain.submit(None, &evidence(rotated(&net, 2, &[]).double_vote(3, 5))));
}

#[test]
fn evidence_of_a_skipped_epoch_is_unknown_epoch() {
    let net = network();
    let mut chain = Chain::new(&net);
    ok(chain.submit(
        Some(net.authority_key()),
        &authority_rotation(&rotated(&net, 4, &[])),
    ));
    assert_eq!(
        err(chain.submit(None, &evidence(rotated(&net, 2, &[]).double_vote(1, 5)))),
        Error::UnknownEpoch { epoch: 2 }
    );
    assert_eq!(
        err(chain.submit(None, &evidence(rotated(&net, 5, &[]).double_vote(1, 5)))),
        Error::FutureEpoch {
            epoch: 5,
            current: 4
        }
    );
    ok(chain.submit(None, &evidence(net.double_vote(1, 5))));
}

// ----- leader schedule ---------------------------------------------------------------------

#[test]
fn leader_schedule_follows_reputation_from_the_next_epoch_and_banned_operators_never_lead() {
    let net = network();
    let mut chain = Chain::new(&net);
    assert_eq!(chain.schedule(1), net.schedule());
    ok(chain.submit(None, &evidence(net.double_vote(1, 5))));
    ok(chain.submit(None, &accuse_by_all(&net, 3, 10)));
    // The running epoch's schedule does not move.
    assert_eq!(chain.schedule(1), net.schedule());

    ok(chain.submit(
        Some(net.authority_key()),
        &authority_rotation(&rotated(&net, 2, &[])),
    ));
    let schedule = chain.schedule(2);
    let candidates: Vec<Candidate> = (0..7)
        .map(|op| Candidate {
            operator: op,
            effective_power: chain.effective_power_of(op),
            reputation: chain.score(op),
        })
        .collect();
    assert_eq!(schedule, LeaderSchedule::compute(CHAIN_ID, 2, &candidates));
    assert!(schedule.entries.iter().all(|e| e.operator != 1));
    let weight = |op: OperatorId| {
        schedule
            .entries
            .iter()
            .find(|e| e.operator == op)
            .map(|e| e.weight)
            .unwrap_or(0)
    };
    assert!(weight(3) < weight(0), "a penalised operator weighs less");
    assert_eq!(weight(0), 10 * u128::from(chain.score(0)));
    for view in 0..300 {
        let leader = chain.leader(2, view);
        assert_eq!(leader, schedule.leader(view));
        assert_ne!(leader, Some(1), "the banned operator leads view {view}");
    }
}

#[test]
fn quarantined_operators_do_not_lead_the_next_epoch() {
    let net = network_with(no_warnings());
    let mut chain = Chain::new(&net);
    ok(chain.submit(None, &accuse_by_all(&net, 3, 10)));
    ok(chain.submit(
        Some(net.authority_key()),
        &authority_rotation(&rotated(&net, 2, &[])),
    ));
    let schedule = chain.schedule(2);
    assert!(schedule.entries.iter().all(|e| e.operator != 3));
    assert!((0..300).all(|v| chain.leader(2, v) != Some(3)));
}

// ----- lifecycle ---------------------------------------------------------------------------

#[test]
fn second_genesis_is_already_initialized() {
    let net = network();
    let mut chain = Chain::new(&net);
    let before = chain.store.clone();
    let outcome =
        warden_tests::executor().init(&mut chain.store, warden_tests::block(5), &net.genesis());
    assert_eq!(err(outcome), Error::AlreadyInitialized);
    assert_eq!(chain.store, before);
}

#[test]
fn transaction_before_genesis_is_not_initialized() {
    let net = network();
    let mut chain = Chain {
        store: Default::default(),
        height: 1,
    };
    assert_eq!(
        err(chain.submit(None, &evidence(net.double_vote(1, 5)))),
        Error::NotInitialized
    );
}

#[test]
fn undecodable_transaction_is_decode_and_oversized_is_too_large() {
    let net = network();
    let mut chain = Chain::new(&net);
    assert_eq!(err(chain.submit_raw(None, &[0xFF, 1, 2])), Error::Decode);
    let mut trailing = borsh::to_vec(&Msg::VetoSlashing { id: 0 }).expect("encodes");
    trailing.push(0);
    assert_eq!(err(chain.submit_raw(None, &trailing)), Error::Decode);
    let max = warden_module::msg::MAX_TX_BYTES;
    assert_eq!(
        err(chain.submit_raw(None, &vec![0u8; max + 1])),
        Error::TooLarge {
            size: max as u64 + 1,
            limit: max as u64
        }
    );
}

/// `ReputationConfig` documents scores as integers in `0..=max`; a configuration that lowers
/// `max` must not leave scores above it (the query, rehabilitation and the next schedule read
/// them).
#[test]
fn lowering_the_maximum_reputation_bounds_every_score() {
    let net = network_with(config_with(|c| {
        c.liveness.participation_window = 1;
        c.reputation.participation_reward = 100_000;
    }));
    let mut chain = Chain::new(&net);
    let everyone = all_but(&net, &[]);
    ok(chain.submit(
        None,
        &certificates(&net, CertificateKind::Vote2, [1], &everyone),
    ));
    assert_eq!(chain.score(0), 600_000);
    let lower = config_with(|c| {
        c.liveness.participation_window = 1;
        c.reputation.max = 550_000;
    });
    ok(chain.submit(Some(net.authority_key()), &Msg::UpdateConfig(lower)));
    for op in 0..7 {
        let score = chain.score(op);
        assert!(
            score <= 550_000,
            "operator {op}: score {score} over the new maximum"
        );
    }
}

#[test]
fn reputation_change_after_lowering_the_maximum_clamps_to_it() {
    let net = network_with(config_with(|c| {
        c.liveness.participation_window = 1;
        c.reputation.participation_reward = 100_000;
    }));
    let mut chain = Chain::new(&net);
    let everyone = all_but(&net, &[]);
    ok(chain.submit(
        None,
        &certificates(&net, CertificateKind::Vote2, [1], &everyone),
    ));
    let lower = config_with(|c| {
        c.liveness.participation_window = 1;
        c.reputation.max = 550_000;
    });
    ok(chain.submit(Some(net.authority_key()), &Msg::UpdateConfig(lower)));
    ok(chain.submit(
        None,
        &certificates(&net, CertificateKind::Vote2, [2], &everyone),
    ));
    for op in 0..7 {
        assert_eq!(chain.score(op), 550_000, "operator {op}");
    }
}

// ----- more Tier 1 rules -------------------------------------------------------------------

/// A proposal by the scheduled leader of a view, with every defect `f` chooses to add.
struct ProposalParts {
    view: u64,
    parent: BlockHeader,
    block: BlockHeader,
    justify: Certificate,
}

fn proposal_by_leader(net: &TestNetwork, leader: OperatorId) -> ProposalParts {
    let view = net.view_led_by(leader, 3);
    let parent = net.block(1, [0; 32], 1, leader);
    let justify = net.certificate(
        CertificateKind::Vote,
        view - 1,
        parent.hash(),
        0,
        &net.quorum_signers(),
    );
    let block = net.block(2, parent.hash(), 9, leader);
    ProposalParts {
        view,
        parent,
        block,
        justify,
    }
}

#[test]
fn every_proposal_violation_is_provable() {
    let net = network();
    let leader = 2;
    type Defect = fn(&mut ProposalParts);
    let cases: Vec<(ProposalViolation, Defect)> = vec![
        (ProposalViolation::ProposerNotSigner, |p| {
            p.block.proposer = 5
        }),
        (ProposalViolation::DuplicateSigner, |p| {
            let mut parts = p.justify.signatures.to_vec();
            parts.insert(1, parts[0]);
            p.justify.signatures = BoundedVec::new(parts).expect("small");
        }),
        (ProposalViolation::UnknownSigner, |p| {
            let mut parts = p.justify.signatures.to_vec();
            parts.push(CertificateSignature {
                signer: 42,
                lock_view: 0,
                signature: Signature([0; 64]),
            });
            p.justify.signatures = BoundedVec::new(parts).expect("small");
        }),
        (
            ProposalViolation::BadCertificateSignature { position: 1 },
            |p| {
                let mut parts = p.justify.signatures.to_vec();
                parts[1].signature.0[7] ^= 0x80;
                p.justify.signatures = BoundedVec::new(parts).expect("small");
            },
        ),
        (ProposalViolation::JustifyNotBlockCertificate, |p| {
            p.justify.kind = CertificateKind::Timeout
        }),
        (ProposalViolation::JustifyNotOlder, |p| {
            p.justify.view = p.view
        }),
        (ProposalViolation::ParentMismatch, |p| {
            p.block.parent_hash = [7; 32]
        }),
        (ProposalViolation::HeightMismatch, |p| p.block.height = 5),
    ];
    for (violation, defect) in cases {
        let mut parts = proposal_by_leader(&net, leader);
        defect(&mut parts);
        let proposal = net.signed(
            leader,
            Message::Proposal(Proposal {
                view: parts.view,
                block: parts.block,
                justify: parts.justify,
            }),
        );
        let ev = Evidence::InvalidProposal {
            proposal,
            parent: Some(parts.parent),
            violation,
        };
        let mut chain = Chain::new(&net);
        let outcome = chain.submit(Some(net.reporter_key()), &evidence(ev));
        assert!(
            outcome.is_ok(),
            "{violation:?} refused: {:?}",
            outcome.result
        );
        assert!(
            has(&outcome.events, |e| *e
                == Event::Banned {
                    operator: leader,
                    class: OffenceClass::InvalidProposal
                }),
            "{violation:?}"
        );
    }
}

#[test]
fn height_mismatch_needs_the_parent_header_the_justify_certifies() {
    let net = network();
    let leader = 2;
    let mut parts = proposal_by_leader(&net, leader);
    parts.block.height = 5;
    let proposal = net.signed(
        leader,
        Message::Proposal(Proposal {
            view: parts.view,
            block: parts.block,
            justify: parts.justify,
        }),
    );
    let mut chain = Chain::new(&net);
    for parent in [None, Some(net.block(4, [0; 32], 3, leader))] {
        let ev = Evidence::InvalidProposal {
            proposal: proposal.clone(),
            parent,
            violation: ProposalViolation::HeightMismatch,
        };
        assert_eq!(
            err(chain.submit(None, &evidence(ev))),
            Error::ViolationNotProven
        );
    }
}

#[test]
fn correlated_fraction_caps_at_one_and_spares_settled_proposals() {
    let net = network();
    let deferral = net.config.slashing.deferral_blocks;
    let mut chain = Chain::new(&net);
    ok(chain.submit(None, &evidence(net.double_vote(1, 5))));
    ok(chain.submit(None, &evidence(net.double_vote(2, 5))));
    let h = chain.height;
    ok(chain.submit_at(h + deferral, None, &Msg::FinaliseSlashing { id: 0 }));
    let settled = chain.proposal(0);
    // A third offender: 3 * 30 / 70 > 1, the fraction is the whole stake.
    let events = ok(chain.submit(None, &evidence(net.double_vote(3, 5))));
    assert_eq!(chain.proposal(2).fraction_ppb, PPB);
    assert_eq!(chain.proposal(1).fraction_ppb, PPB);
    assert!(has(&events, |e| matches!(
        e,
        Event::SlashingFractionRaised { id: 1, fraction_ppb, .. } if *fraction_ppb == PPB
    )));
    // The finalised proposal is not reopened.
    assert!(!has(&events, |e| matches!(
        e,
        Event::SlashingFractionRaised { id: 0, .. }
    )));
    assert_eq!(chain.proposal(0), settled);
}

#[test]
fn evidence_signed_with_a_rotated_out_key_in_its_epoch_is_accepted() {
    let net = network();
    let mut chain = Chain::new(&net);
    let next = rotated(&net, 2, &[(1, 101), (2, 102)]);
    ok(chain.submit(Some(net.authority_key()), &authority_rotation(&next)));
    // Operator 1 double-voted in epoch 1 with its old key: the rotation escapes nothing.
    ok(chain.submit(None, &evidence(net.double_vote(1, 5))));
    assert!(matches!(chain.isolation(1), IsolationState::Banned { .. }));
    // The old key in the new epoch proves nothing.
    let old_key_new_epoch = rotated(&net, 2, &[]);
    assert_eq!(
        err(chain.submit(None, &evidence(old_key_new_epoch.double_vote(2, 5)))),
        Error::BadSignature { signer: 2 }
    );
}

#[test]
fn self_report_with_a_rotated_out_key_earns_no_reward() {
    let net = network();
    let mut chain = Chain::new(&net);
    let next = rotated(&net, 2, &[(1, 101)]);
    ok(chain.submit(Some(net.authority_key()), &authority_rotation(&next)));
    ok(chain.submit(Some(net.public(1)), &evidence(net.double_vote(1, 5))));
    assert_eq!(chain.proposal(0).reporter, None);
    assert_eq!(chain.proposal(0).reporter_reward_ppb, 0);
}

// ----- more isolation rules ----------------------------------------------------------------

#[test]
fn long_quarantine_takes_precedence_over_short_under_the_cap() {
    let net = network_with(config_with(|c| {
        c.isolation.warnings_before_quarantine = 0;
        c.isolation.long_quarantine_after = 1;
    }));
    let mut chain = Chain::new(&net);
    ok(chain.submit(None, &accuse_by_all(&net, 1, 10)));
    ok(chain.submit(None, &accuse_by_all(&net, 2, 10)));
    ok(chain.submit(None, &accuse_by_all(&net, 3, 10)));
    assert!(matches!(
        chain.isolation(3),
        IsolationState::Deferred {
            level: QuarantineLevel::Short,
            ..
        }
    ));
    // 3's second offence is long: it is admitted and the newest short quarantine waits.
    let events = ok(chain.submit(None, &accuse_by_all(&net, 3, 20)));
    assert!(has(&events, |e| matches!(
        e,
        Event::Quarantined {
            operator: 3,
            level: QuarantineLevel::Long,
            ..
        }
    )));
    assert!(has(&events, |e| *e == Event::QuarantineDeferred { operator: 2 }));
    assert!(matches!(
        chain.isolation(1),
        IsolationState::Quarantined { .. }
    ));
    assert!(matches!(
        chain.isolation(2),
        IsolationState::Deferred { .. }
    ));
    assert_eq!(chain.status().active_power, 50);
}

#[test]
fn isolated_query_lists_every_operator_that_is_not_active() {
    let net = network_with(no_warnings());
    let mut chain = Chain::new(&net);
    ok(chain.submit(None, &evidence(net.double_vote(5, 5))));
    ok(chain.submit(None, &accuse_by_all(&net, 2, 10)));
    ok(chain.submit(None, &accuse_by_all(&net, 4, 10)));
    let list = chain.isolated();
    let operators: Vec<OperatorId> = list.iter().map(|(op, _)| *op).collect();
    assert_eq!(operators, vec![2, 4, 5]);
    assert!(matches!(list[0].1, IsolationState::Quarantined { .. }));
    assert!(matches!(list[1].1, IsolationState::Deferred { .. }));
    assert!(matches!(list[2].1, IsolationState::Banned { .. }));
    let status = chain.status();
    assert_eq!((status.banned, status.quarantined), (1, 1));
}

#[test]
fn reputation_decays_toward_the_baseline_at_each_rotation() {
    let net = network_with(config_with(|c| {
        c.liveness.participation_window = 1;
        c.reputation.participation_reward = 200_000;
    }));
    let config = net.config.reputation.clone();
    let mut chain = Chain::new(&net);
    ok(chain.submit(
        None,
        &certificates(&net, CertificateKind::Vote2, [1], &all_but(&net, &[6])),
    ));
    ok(chain.submit(None, &accuse_by_all(&net, 6, 10)));
    let (high, low) = (chain.score(0), chain.score(6));
    assert!(high > config.baseline && low < config.baseline);
    let mut epoch = 1;
    let (mut expect_high, mut expect_low) = (high, low);
    for _ in 0..3 {
        epoch += 1;
        ok(chain.submit(
            Some(net.authority_key()),
            &authority_rotation(&rotated(&net, epoch, &[])),
        ));
        expect_high = reputation::decay(expect_high, &config);
        expect_low = reputation::decay(expect_low, &config);
        assert_eq!(chain.score(0), expect_high);
        assert_eq!(chain.score(6), expect_low);
        assert!(expect_high > config.baseline && expect_low < config.baseline);
    }
    assert!(chain.score(0) < high && chain.score(6) > low);
}

// ----- decoding and entry points -----------------------------------------------------------

#[test]
fn certificate_batch_over_its_bound_is_decode() {
    let net = network();
    let mut chain = Chain::new(&net);
    let cert = net.certificate(CertificateKind::Vote2, 1, [1; 32], 0, &net.quorum_signers());
    // Msg::RecordCertificates is variant 2: the tag, a u32 count of 17, then 17 certificates.
    let mut tx = vec![2u8];
    tx.extend_from_slice(&17u32.to_le_bytes());
    for _ in 0..17 {
        tx.extend(borsh::to_vec(&cert).expect("encodes"));
    }
    assert_eq!(err(chain.submit_raw(None, &tx)), Error::Decode);
    // A forged count far past the bound is refused before anything is read.
    let mut forged = vec![2u8];
    forged.extend_from_slice(&u32::MAX.to_le_bytes());
    assert_eq!(err(chain.submit_raw(None, &forged)), Error::Decode);
}

#[test]
fn bad_bool_or_option_tag_is_decode() {
    let net = network();
    let mut chain = Chain::new(&net);
    let ev = Evidence::InvalidProposal {
        proposal: net.proposal(1, 5, 1),
        parent: None,
        violation: ProposalViolation::WrongLeader,
    };
    let mut tx = borsh::to_vec(&Msg::SubmitEvidence(ev)).expect("encodes");
    // The `parent` option tag sits just before the violation tag at the end.
    let at = tx.len() - 2;
    assert_eq!(tx[at], 0);
    tx[at] = 2;
    assert_eq!(err(chain.submit_raw(None, &tx)), Error::Decode);
}

#[test]
fn oversized_query_is_too_large() {
    let net = network();
    let mut chain = Chain::new(&net);
    let max = warden_module::msg::MAX_QUERY_BYTES;
    let outcome = warden_tests::executor().query(
        &mut chain.store,
        warden_tests::block(chain.height),
        &vec![0u8; max + 1],
    );
    assert_eq!(
        err(outcome),
        Error::TooLarge {
            size: max as u64 + 1,
            limit: max as u64
        }
    );
}

#[test]
fn fuel_exhaustion_leaves_state_unchanged() {
    let net = network();
    let mut chain = Chain::new(&net);
    let starved = Executor::new(ExecutorConfig {
        fuel_per_call: 200_000,
        fuel_per_signature: 0,
        ..ExecutorConfig::default()
    })
    .expect("compiles");
    let before = chain.store.clone();
    let tx = borsh::to_vec(&evidence(net.double_vote(1, 5))).expect("encodes");
    let outcome = starved.execute(&mut chain.store, warden_tests::block(2), None, &tx);
    assert!(
        matches!(outcome.result, Err(CallError::OutOfFuel)),
        "{:?}",
        outcome.result
    );
    assert!(outcome.events.is_empty());
    assert_eq!(chain.store, before);
    // The same transaction with enough fuel succeeds.
    ok(chain.submit(None, &evidence(net.double_vote(1, 5))));
}

#[test]
fn verify_entry_point_is_strict() {
    let signer = warden_host::testkit::key(3);
    let key = warden_host::testkit::public(&signer);
    let message = b"warden".to_vec();
    let signature = warden_host::testkit::sign(&signer, &message);
    let input = |key: PublicKey, message: &[u8], signature: Signature| {
        borsh::to_vec(&(
            key,
            warden_module::codec::BoundedBytes::<65536>::new(message.to_vec()).expect("small"),
            signature,
        ))
        .expect("encodes")
    };
    // The same verdicts through the runtime's `verify` import and inside the module.
    for (build, exec) in warden_tests::executors() {
        assert!(
            exec.verify(&input(key, &message, signature)).is_ok(),
            "{build}"
        );
        let mut bad = signature;
        bad.0[0] ^= 1;
        assert!(
            matches!(
                err(exec.verify(&input(key, &message, bad))),
                Error::BadSignature { .. }
            ),
            "{build}"
        );
        // The identity key with R = identity and s = 0 passes a cofactored or lax check for
        // any message; `verify_strict` refuses the small-order key.
        let mut trick = [0u8; 64];
        trick[0] = 1;
        assert!(
            matches!(
                err(exec.verify(&input(WEAK_KEY, &message, Signature(trick)))),
                Error::BadSignature { .. }
            ),
            "{build}"
        );
        assert_eq!(err(exec.verify(&[1, 2, 3])), Error::Decode, "{build}");
    }
}

#[test]
fn the_verify_import_charges_its_fixed_fuel_and_fuel_per_message_byte() {
    use warden_host::wasm::{FUEL_PER_VERIFY, FUEL_PER_VERIFY_BYTE};
    let signer = warden_host::testkit::key(3);
    let key = warden_host::testkit::public(&signer);
    let fuel = |len: usize| {
        let message = vec![7u8; len];
        let signature = warden_host::testkit::sign(&signer, &message);
        let input = borsh::to_vec(&(
            key,
            warden_module::codec::BoundedBytes::<65536>::new(message).expect("small"),
            signature,
        ))
        .expect("encodes");
        let outcome = warden_tests::executor().verify(&input);
        assert!(outcome.is_ok(), "{:?}", outcome.result);
        outcome.fuel_used
    };
    let (short, long) = (fuel(100), fuel(10_100));
    assert!(short >= FUEL_PER_VERIFY, "{short}");
    assert!(
        long - short >= 10_000 * FUEL_PER_VERIFY_BYTE,
        "10,000 more bytes cost {} fuel",
        long - short
    );
}

#[test]
fn empty_unsorted_or_repeated_set_is_invalid_validator_set() {
    let net = network();
    let mut chain = Chain::new(&net);
    let authority = Some(net.authority_key());
    let rotation = |validators: Vec<warden_module::validators::ValidatorInfo>| {
        Msg::RotateValidators(Rotation {
            epoch: 2,
            validators: BoundedVec::new(validators).expect("small"),
            approvals: BoundedVec::empty(),
        })
    };
    let list = net.validators().into_inner();
    let mut unsorted = list.clone();
    unsorted.swap(2, 3);
    let mut repeated = list.clone();
    repeated[3].operator = 2;
    for (name, validators) in [
        ("empty", vec![]),
        ("unsorted", unsorted),
        ("repeated", repeated),
    ] {
        assert_eq!(
            err(chain.submit(authority, &rotation(validators))),
            Error::InvalidValidatorSet,
            "{name}"
        );
    }
    let mut zero = list;
    zero[4].power = 0;
    assert_eq!(
        err(chain.submit(authority, &rotation(zero))),
        Error::InvalidPower { operator: 4 }
    );
    assert_eq!(chain.status().epoch, 1);
}

/// Events are emitted for every state change: an indexer following `Quarantined` events must
/// learn the new end and level when a quarantine in force is extended.
#[test]
fn extending_a_quarantine_in_force_emits_its_new_end() {
    let net = network();
    let long = net.config.isolation.long_quarantine_blocks;
    let mut chain = Chain::new(&net);
    for first in [10, 20, 30] {
        ok(chain.submit(None, &accuse_by_all(&net, 3, first)));
    }
    let events = ok(chain.submit(None, &accuse_by_all(&net, 3, 40)));
    let h = chain.height;
    assert!(
        has(&events, |e| *e
            == Event::Quarantined {
                operator: 3,
                until: h + long,
                level: QuarantineLevel::Long
            }),
        "no event for the extended quarantine: {events:?}"
    );
}

/// Tier 2 offences are keyed by (operator, epoch, first view, class): an accusation over an
/// earlier range that does not overlap an accepted one is a different offence.
#[test]
fn earlier_non_overlapping_accusation_is_a_new_offence() {
    let net = network();
    let mut chain = Chain::new(&net);
    ok(chain.submit(None, &accuse(&net, 3, 100, 120, &[4, 5, 6])));
    ok(chain.submit(None, &accuse(&net, 3, 10, 20, &[4, 5, 6])));
    assert_eq!(chain.reputation(3).offences, 2);
}

/// The brief counts reduced influence (probation) among the isolation states, and isolation
/// must never leave less than a quorum of power active: the effective power of the set must
/// stay at or above a quorum of its total.
#[test]
fn probation_reduced_influence_never_takes_effective_power_below_a_quorum() {
    let net = network_with(no_warnings());
    let short = net.config.isolation.short_quarantine_blocks;
    let mut chain = Chain::new(&net);
    ok(chain.submit(None, &accuse_by_all(&net, 1, 10)));
    let h1 = chain.height;
    ok(chain.submit(None, &accuse_by_all(&net, 2, 10)));
    ok(chain.submit(None, &accuse_by_all(&net, 3, 10)));
    // 1 goes on probation (5 of 10 effective) and 3 takes its quarantine slot.
    ok(chain.submit_at(
        h1 + short,
        None,
        &certificates(&net, CertificateKind::Vote2, [1], &all_but(&net, &[])),
    ));
    assert!(matches!(
        chain.isolation(1),
        IsolationState::Probation { .. }
    ));
    let effective: u64 = chain.effective_power().iter().map(|e| e.effective).sum();
    assert!(
        effective >= 47,
        "effective power {effective} below the quorum of 47"
    );
}

#[test]
fn banned_key_cannot_return_under_another_operator() {
    let net = TestNetwork::new(7, 7);
    let mut chain = Chain::new(&net);
    ok(chain.submit(
        Some(net.reporter_key()),
        &Msg::SubmitEvidence(net.double_vote(1, 5)),
    ));
    // Operator 1 rotates to a fresh key and operator 6 takes its banned one.
    let mut next = rotated(&net, net.epoch + 1, &[(1, 101)]);
    next.keys[6] = net.keys[1].clone();
    let refused = err(chain.submit(Some(net.authority_key()), &authority_rotation(&next)));
    assert_eq!(refused, Error::AlreadyBanned { operator: 1 });
    // The banned operator itself may stay in the set; it keeps no power.
    let next = rotated(&net, net.epoch + 1, &[(1, 101)]);
    ok(chain.submit(Some(net.authority_key()), &authority_rotation(&next)));
    assert_eq!(chain.effective_power_of(1), 0);
}
