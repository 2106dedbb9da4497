//! The module as a chain ages and as adversaries probe its edges: state that outgrows any one
//! stored value, one identity per curve point, exact slashing arithmetic for large stakes,
//! self-reports across key rotations, one justify-epoch rule for the chain and the relayer,
//! fuel for quorum operations of the largest sets, and oversized input at the executor.

use std::cell::RefCell;

use curve25519_dalek::constants::{ED25519_BASEPOINT_POINT, EIGHT_TORSION};
use curve25519_dalek::Scalar;
use warden_host::fixtures;
use warden_host::ft::relay::{reverify, ChainView};
use warden_host::testkit::{self, key, public};
use warden_host::wasm::{BlockContext, CallError, MemoryStore};
use warden_module::codec::{decode, encode, BoundedBytes, BoundedVec};
use warden_module::config::PPB;
use warden_module::error::Error;
use warden_module::evidence::{Behaviour, Evidence, ProposalViolation};
use warden_module::msg::{
    Msg, Query, QueryResponse, Rotation, Status, MAX_EVIDENCE_PER_TX, MAX_SIGNATURES_PER_TX,
    MAX_TX_BYTES,
};
use warden_module::schedule::LeaderSchedule;
use warden_module::state::IsolationState;
use warden_module::validators::{ValidatorInfo, ValidatorSet};
use warden_module::wire::{CertificateKind, OperatorId, PublicKey, MAX_VALIDATORS};
use warden_tests::{
    accuse, all_but, authority_rotation, certificates, config_with, err, executor, has, ok,
    rotated, Chain, Native, TestNetwork,
};

const CHAIN_ID: u64 = 7;

fn evidence(e: Evidence) -> Msg {
    Msg::SubmitEvidence(e)
}

fn validator(operator: OperatorId, key: PublicKey, power: u64) -> ValidatorInfo {
    ValidatorInfo {
        operator,
        name: BoundedBytes::new(format!("validator-{operator}").into_bytes()).expect("short"),
        key,
        power,
    }
}

fn rotation_to(epoch: u64, validators: Vec<ValidatorInfo>) -> Msg {
    Msg::RotateValidators(Rotation {
        epoch,
        validators: BoundedVec::new(validators).expect("at most 1024"),
        approvals: BoundedVec::empty(),
    })
}

// ----- 1. state that keeps working as a chain ages --------------------------------------------

/// The native module over a growing state, one transaction per block.
struct Aging {
    native: Native,
    height: u64,
}

impl Aging {
    #[track_caller]
    fn submit(&mut self, caller: Option<PublicKey>, msg: &Msg) -> Result<(), Error> {
        self.height += 1;
        self.native.execute(self.height, caller, &encode(msg)).0
    }

    #[track_caller]
    fn query(&mut self, query: &Query) -> QueryResponse {
        let bytes = self
            .native
            .query(self.height, &encode(query))
            .unwrap_or_else(|e| panic!("{query:?} refused: {e}"));
        decode(&bytes, usize::MAX).expect("a response")
    }

    fn status(&mut self) -> Status {
        match self.query(&Query::Status) {
            QueryResponse::Status(s) => s,
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn banned_keys_past_the_map_bound_keep_bans_and_rotations_working() {
    // 110 validators of power 1, every key rotated in each of 39 rotations: 40 retained keys
    // per operator, so more than 4,096 banned keys once 103 operators are banned.
    let mut net = TestNetwork::new(CHAIN_ID, 110);
    net.powers = vec![1; 110];
    net.config.retention_epochs = 40;
    let authority = Some(net.authority_key());
    // Through the wasm module, as a chain runs it.
    let mut chain = Chain::new(&net);
    for epoch in 2..=40u64 {
        let seeds: Vec<(OperatorId, u64)> = (0..110)
            .map(|op| (op, 10_000 * epoch + u64::from(op)))
            .collect();
        net = rotated(&net, epoch, &seeds);
        ok(chain.submit(authority, &authority_rotation(&net)));
    }
    for op in 0..110 {
        ok(chain.submit(None, &evidence(net.double_vote(op, 5))));
    }
    assert_eq!(chain.status().banned, 110);
    // Rotations still work, and still refuse a banned key under another operator.
    let mut next = rotated(&net, 41, &[]);
    ok(chain.submit(authority, &authority_rotation(&next)));
    next = rotated(&next, 42, &[(1, 10_000 * 3)]);
    assert_eq!(
        err(chain.submit(authority, &authority_rotation(&next))),
        Error::AlreadyBanned { operator: 0 }
    );
}

#[test]
fn more_than_4096_bans_keep_every_query_and_transaction_working() {
    // Five epochs of 1,024 new operators of power 1 each, every one banned.
    const PER_EPOCH: u32 = MAX_VALIDATORS as u32;
    const EPOCHS: u32 = 5;
    let mut net = TestNetwork::new(CHAIN_ID, PER_EPOCH * EPOCHS);
    net.powers = vec![1; net.keys.len()];
    let members = |net: &TestNetwork, epoch: u32| -> Vec<ValidatorInfo> {
        let first = (epoch - 1) * PER_EPOCH;
        (first..first + PER_EPOCH)
            .map(|op| validator(op, net.public(op), 1))
            .collect()
    };
    let genesis = warden_module::msg::Genesis {
        chain_id: CHAIN_ID,
        epoch: 1,
        authority: net.authority_key(),
        validators: BoundedVec::new(members(&net, 1)).expect("1024"),
        config: net.config.clone(),
    };
    let mut native = Native::default();
    native.init(&genesis).0.expect("genesis accepted");
    let mut chain = Aging { native, height: 1 };
    let authority = Some(net.authority_key());
    for epoch in 1..=EPOCHS {
        net.epoch = u64::from(epoch);
        if epoch > 1 {
            chain
                .submit(authority, &rotation_to(net.epoch, members(&net, epoch)))
                .unwrap_or_else(|e| panic!("rotation to {epoch}: {e}"));
        }
        let first = (epoch - 1) * PER_EPOCH;
        for op in first..first + PER_EPOCH {
            chain
                .submit(None, &evidence(net.double_vote(op, 5)))
                .unwrap_or_else(|e| panic!("ban {op} in epoch {epoch}: {e}"));
        }
    }
    let banned = PER_EPOCH * EPOCHS;
    let status = chain.status();
    assert_eq!(status.banned, banned);
    assert_eq!(status.slashing_proposals, u64::from(banned));
    assert_eq!(status.active_power, 0);
    // Every query still answers.
    assert_eq!(
        chain.query(&Query::Isolation { operator: 0 }),
        QueryResponse::Isolation(IsolationState::Banned {
            since: 2,
            class: warden_module::evidence::OffenceClass::DoubleVote
        })
    );
    match chain.query(&Query::Banned {
        start: u64::from(banned) - 3,
        limit: 10,
    }) {
        QueryResponse::Banned(page) => {
            let ops: Vec<OperatorId> = page.iter().map(|(op, _)| *op).collect();
            assert_eq!(ops, vec![banned - 3, banned - 2, banned - 1]);
        }
        other => panic!("{other:?}"),
    }
    match chain.query(&Query::Isolated) {
        QueryResponse::Isolated(list) => assert_eq!(list.len(), PER_EPOCH as usize),
        other => panic!("{other:?}"),
    }
    chain.query(&Query::EffectivePower);
    chain.query(&Query::SlashingProposals {
        start: 4000,
        limit: 100,
    });
    // And every transaction: governance, finalisation, a rotation back to banned operators.
    let authority_config = config_with(|c| c.slashing.deferral_blocks = 1);
    chain
        .submit(authority, &Msg::UpdateConfig(authority_config))
        .expect("configuration update");
    chain
        .submit(None, &Msg::FinaliseSlashing { id: 4096 })
        .expect("finalisation");
    net.epoch = u64::from(EPOCHS) + 1;
    chain
        .submit(authority, &rotation_to(net.epoch, members(&net, 1)))
        .expect("rotation back to the first operators");
    assert_eq!(chain.status().active_power, 0);
}

#[test]
fn quarantine_of_an_operator_outside_the_set_ends_on_time_and_follows_it_back() {
    let mut net = TestNetwork::new(CHAIN_ID, 7);
    net.config.isolation.warnings_before_quarantine = 0;
    let short = net.config.isolation.short_quarantine_blocks;
    let authority = Some(net.authority_key());
    let mut chain = Chain::new(&net);
    ok(chain.submit(None, &accuse(&net, 3, 10, 15, &all_but(&net, &[3]))));
    let until = chain.height + short;
    // Epoch 2 leaves operator 3 out; its record leaves the set's table with it.
    let mut without: Vec<ValidatorInfo> = net.validators().to_vec();
    without.retain(|v| v.operator != 3);
    ok(chain.submit(authority, &rotation_to(2, without)));
    assert!(matches!(
        chain.isolation(3),
        IsolationState::Quarantined { until: u, .. } if u == until
    ));
    chain.advance_to(until);
    assert_eq!(
        chain.isolation(3),
        IsolationState::Probation { since: until }
    );
    // Back in epoch 3, on probation, with the event of its quarantine's end.
    let events = ok(chain.submit(authority, &rotation_to(3, net.validators().to_vec())));
    assert!(has(&events, |e| *e
        == warden_module::msg::Event::ProbationStarted { operator: 3 }));
    assert_eq!(
        chain.isolation(3),
        IsolationState::Probation { since: until }
    );
    assert_eq!(chain.status().active_power, 70);
}

// ----- 2. one point, one identity ----------------------------------------------------------

/// `03` then 31 zero bytes, and the same point with y + p: `f0`, `ff` x 30, `7f`.
fn aliased_encodings() -> (PublicKey, PublicKey) {
    let mut canonical = [0u8; 32];
    canonical[0] = 0x03;
    let mut alias = [0xffu8; 32];
    alias[0] = 0xf0;
    alias[31] = 0x7f;
    (PublicKey(canonical), PublicKey(alias))
}

/// A full-order point plus a point of order 8.
fn torsioned_key() -> PublicKey {
    let point = ED25519_BASEPOINT_POINT * Scalar::from(987_654_321u64) + EIGHT_TORSION[1];
    PublicKey(point.compress().0)
}

#[test]
fn non_canonical_key_encoding_is_refused_at_genesis() {
    let net = TestNetwork::new(CHAIN_ID, 7);
    let (canonical, alias) = aliased_encodings();
    for (name, key) in [("canonical y = 3", canonical), ("y + p", alias)] {
        let mut genesis = net.genesis();
        let mut validators = genesis.validators.to_vec();
        validators.push(validator(7, key, 10));
        genesis.validators = BoundedVec::new(validators).expect("small");
        let (_, outcome) = Chain::try_genesis(&genesis);
        let refused = outcome.module_error();
        // The canonical encoding of y = 3 has a torsion component too; either way the chain
        // refuses both, and never as two identities.
        assert_eq!(refused, Some(Error::WeakKey { operator: 7 }), "{name}");
    }
}

#[test]
fn banned_key_cannot_return_under_another_encoding() {
    let net = TestNetwork::new(CHAIN_ID, 7);
    let authority = Some(net.authority_key());
    let mut chain = Chain::new(&net);
    ok(chain.submit(None, &evidence(net.double_vote(1, 5))));
    // Operator 1's key, re-encoded with y + p where that is possible, else with a torsion
    // point added: neither is accepted for operator 6.
    let banned = net.public(1);
    let point = curve25519_dalek::edwards::CompressedEdwardsY(banned.0)
        .decompress()
        .expect("a point");
    let other_encoding = PublicKey((point + EIGHT_TORSION[4]).compress().0);
    let mut validators = net.validators().to_vec();
    validators[6].key = other_encoding;
    let refused = err(chain.submit(authority, &rotation_to(2, validators)));
    assert_eq!(refused, Error::WeakKey { operator: 6 });
}

#[test]
fn key_with_torsion_component_is_refused_at_rotation() {
    let net = TestNetwork::new(CHAIN_ID, 7);
    let mut chain = Chain::new(&net);
    let mut validators = net.validators().to_vec();
    validators[3].key = torsioned_key();
    let refused = err(chain.submit(Some(net.authority_key()), &rotation_to(2, validators)));
    assert_eq!(refused, Error::WeakKey { operator: 3 });
}

#[test]
fn non_canonical_and_torsioned_keys_are_not_strong() {
    let (_, alias) = aliased_encodings();
    assert!(!warden_module::crypto::is_strong_key(&alias));
    assert!(!warden_module::crypto::is_strong_key(&torsioned_key()));
    assert!(warden_module::crypto::is_strong_key(&public(&key(42))));
}

// ----- 3. exact correlated slashing --------------------------------------------------------

#[test]
fn correlated_slashing_of_large_stakes_is_exact() {
    let mut net = TestNetwork::new(CHAIN_ID, 4);
    net.powers = vec![1_000_000_000_000_000; 4];
    net.config.slashing.min_fraction_ppb = 0;
    let mut chain = Chain::new(&net);
    ok(chain.submit(None, &evidence(net.double_vote(1, 5))));
    assert_eq!(chain.proposal(0).fraction_ppb, 562_500_000);
    ok(chain.submit(None, &evidence(net.double_vote(2, 5))));
    assert_eq!(chain.proposal(0).fraction_ppb, PPB);
    assert_eq!(chain.proposal(1).fraction_ppb, PPB);
}

#[test]
fn correlated_slashing_near_the_power_limit_does_not_collapse() {
    // Ten validators of 2^58 (a total under the module's 2^62 bound): one offender is 9%.
    let mut net = TestNetwork::new(CHAIN_ID, 10);
    net.powers = vec![1 << 58; 10];
    net.config.slashing.min_fraction_ppb = 0;
    let mut chain = Chain::new(&net);
    ok(chain.submit(None, &evidence(net.double_vote(1, 5))));
    assert_eq!(chain.proposal(0).fraction_ppb, 90_000_000);
}

// ----- 4. self-reports across key rotations ------------------------------------------------

#[test]
fn self_report_from_an_older_rotated_key_earns_no_reward() {
    let net = TestNetwork::new(CHAIN_ID, 7);
    let authority = Some(net.authority_key());
    let mut chain = Chain::new(&net);
    let epoch2 = rotated(&net, 2, &[(1, 500)]);
    ok(chain.submit(authority, &authority_rotation(&epoch2)));
    let epoch3 = rotated(&epoch2, 3, &[(1, 600)]);
    ok(chain.submit(authority, &authority_rotation(&epoch3)));
    // Operator 1 reports its own epoch-1 double vote from its epoch-2 key.
    ok(chain.submit(Some(epoch2.public(1)), &evidence(net.double_vote(1, 5))));
    let proposal = chain.proposal(0);
    assert_eq!(proposal.reporter, None);
    assert_eq!(proposal.reporter_reward_ppb, 0);
}

// ----- 5. one justify-epoch rule for the chain and the relayer -----------------------------

/// The relayer's view of a [`Chain`], through the chain's own queries.
struct ChainQueries(RefCell<Chain>, u64);

impl ChainView for ChainQueries {
    fn chain_id(&self) -> u64 {
        self.1
    }
    fn validator_set(&self, epoch: u64) -> Option<ValidatorSet> {
        match self
            .0
            .borrow_mut()
            .try_query(&Query::ValidatorSet { epoch })
        {
            Ok(QueryResponse::ValidatorSet(set)) => Some(set),
            _ => None,
        }
    }
    fn schedule(&self, epoch: u64) -> Option<LeaderSchedule> {
        match self.0.borrow_mut().try_query(&Query::Schedule { epoch }) {
            Ok(QueryResponse::Schedule(schedule)) => Some(schedule),
            _ => None,
        }
    }
}

/// The chain's verdict on `msg` and the relayer's, from the same state.
fn verdicts(chain: &Chain, caller: Option<PublicKey>, msg: &Msg) -> (Option<Error>, Option<Error>) {
    let mut on_chain = chain.clone();
    let chain_verdict = match on_chain.submit(caller, msg).result {
        Ok(_) => None,
        Err(CallError::Module(e)) => Some(e),
        Err(other) => panic!("the chain did not end cleanly: {other}"),
    };
    let view = ChainQueries(RefCell::new(chain.clone()), CHAIN_ID);
    (chain_verdict, reverify(msg, &view).err())
}

/// An epoch-1 proposal by its leader whose justify claims epoch 2, signed by operators 0..=4.
fn later_epoch_justify(net: &TestNetwork, violation: ProposalViolation) -> Evidence {
    net.justify_from_epoch(2, 2, 5, violation)
}

/// Errors the relayer leaves to the chain: they depend on the chain's records, not the proof.
fn state_only(e: &Error) -> bool {
    matches!(
        e,
        Error::Duplicate
            | Error::AlreadyBanned { .. }
            | Error::Expired { .. }
            | Error::FutureEpoch { .. }
            | Error::InvalidViewRange { .. }
    )
}

#[test]
fn relayer_and_chain_agree_on_a_justify_from_a_later_epoch() {
    let net = TestNetwork::new(CHAIN_ID, 7);
    let violations = [
        ProposalViolation::ShortCertificate,
        ProposalViolation::UnknownSigner,
        ProposalViolation::BadCertificateSignature { position: 0 },
    ];
    let before = Chain::new(&net);
    let mut after = before.clone();
    ok(after.submit(
        Some(net.authority_key()),
        &authority_rotation(&rotated(&net, 2, &[])),
    ));
    for (when, chain) in [
        ("in epoch 1", &before),
        ("after the rotation to epoch 2", &after),
    ] {
        for violation in violations {
            let msg = evidence(later_epoch_justify(&net, violation));
            let (on_chain, relayer) = verdicts(chain, None, &msg);
            assert_eq!(on_chain, relayer, "{violation:?} {when}");
        }
    }
    // The rule itself: no set certifies a justify from a later epoch.
    let msg = evidence(later_epoch_justify(
        &net,
        ProposalViolation::ShortCertificate,
    ));
    assert_eq!(verdicts(&after, None, &msg), (None, None));
    let msg = evidence(later_epoch_justify(
        &net,
        ProposalViolation::BadCertificateSignature { position: 0 },
    ));
    assert_eq!(
        verdicts(&after, None, &msg),
        (
            Some(Error::ViolationNotProven),
            Some(Error::ViolationNotProven)
        )
    );
}

#[test]
fn relayer_and_chain_agree_on_every_fixture_vector() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures");
    let files = fixtures::load(&dir).expect("the fixtures load");
    let mut compared = 0;
    for file in &files {
        for v in &file.vectors {
            let Ok(bytes) = hex::decode(&v.tx.tx) else {
                continue;
            };
            let Ok(msg) = decode::<Msg>(&bytes, MAX_TX_BYTES) else {
                continue;
            };
            if !matches!(msg, Msg::SubmitEvidence(_) | Msg::SubmitAccusation(_)) {
                continue;
            }
            let genesis =
                decode(&hex::decode(&v.genesis).expect("hex"), usize::MAX).expect("a genesis");
            let mut chain = Chain::from_genesis(&genesis);
            for step in &v.setup {
                let caller = step
                    .caller
                    .as_ref()
                    .map(|k| PublicKey(hex::decode(k).expect("hex").try_into().expect("32 bytes")));
                chain.advance_to(step.height - 1);
                ok(chain.submit(
                    caller,
                    &decode(&hex::decode(&step.tx).expect("hex"), MAX_TX_BYTES).expect("a Msg"),
                ));
            }
            chain.advance_to(v.tx.height - 1);
            let caller =
                v.tx.caller
                    .as_ref()
                    .map(|k| PublicKey(hex::decode(k).expect("hex").try_into().expect("32 bytes")));
            let (on_chain, relayer) = verdicts(&chain, caller, &msg);
            if on_chain.as_ref().is_some_and(state_only) {
                // Refused on the chain's records before any proof check; the relayer, which
                // does not read them, checks the proof instead.
                continue;
            }
            assert_eq!(on_chain, relayer, "{}", v.name);
            compared += 1;
        }
    }
    assert!(compared > 50, "only {compared} vectors compared");
}

// ----- 6. fuel for quorum operations of the largest sets -----------------------------------

fn large_network() -> TestNetwork {
    TestNetwork::new(CHAIN_ID, MAX_VALIDATORS as u32)
}

#[test]
fn quorum_certificate_of_a_1024_validator_set_is_recorded() {
    let net = large_network();
    let mut chain = Chain::new(&net);
    let signers = net.quorum_signers();
    assert_eq!(signers.len(), 683);
    ok(chain.submit(
        None,
        &certificates(&net, CertificateKind::Vote, 1..=1, &signers),
    ));
}

#[test]
fn accusation_with_342_witnesses_of_a_1024_validator_set_is_accepted() {
    let net = large_network();
    let mut chain = Chain::new(&net);
    let witnesses: Vec<OperatorId> = (1..=342).collect();
    let accusation = net.accusation(0, Behaviour::VoteWithholding, 10, 15, &witnesses);
    ok(chain.submit(None, &Msg::SubmitAccusation(accusation)));
}

#[test]
fn rotation_approved_by_683_of_a_1024_validator_set_is_accepted() {
    let net = large_network();
    let mut chain = Chain::new(&net);
    let next = rotated(&net, 2, &[(5, 99_999)]);
    let rotation = net.rotation(&next, &net.quorum_signers());
    ok(chain.submit(None, &Msg::RotateValidators(rotation)));
    assert_eq!(chain.status().epoch, 2);
}

#[test]
fn double_votes_of_a_third_of_a_1024_validator_set_are_each_accepted() {
    // Each ban raises every earlier correlated proposal: the last of 342 reads 341 of them.
    let net = large_network();
    let mut chain = Chain::new(&net);
    for op in 0..342 {
        ok(chain.submit(None, &evidence(net.double_vote(op, 5))));
    }
    assert_eq!(chain.proposal(0).fraction_ppb, PPB);
    assert_eq!(chain.status().banned, 342);
}

#[test]
fn a_fork_of_a_1024_validator_set_lands_in_six_batches_of_evidence() {
    // After a fork more than a third of the set is proven guilty: six transactions ban them.
    let net = large_network();
    let mut chain = Chain::new(&net);
    let culprits: Vec<Evidence> = (0..342).map(|op| net.lock_violation_vote(op, 9)).collect();
    let batches: Vec<Msg> = culprits
        .chunks(MAX_EVIDENCE_PER_TX)
        .map(|c| Msg::SubmitEvidenceBatch(BoundedVec::new(c.to_vec()).expect("bounded")))
        .collect();
    assert_eq!(batches.len(), 6);
    let mut accepted = 0;
    for msg in &batches {
        assert!(encode(msg).len() < MAX_TX_BYTES);
        accepted += ok(chain.submit(None, msg))
            .iter()
            .filter(|e| matches!(e, warden_module::msg::Event::EvidenceAccepted { .. }))
            .count();
    }
    assert_eq!(accepted, 342);
    assert_eq!(chain.status().banned, 342);
    // More than a third of the power offended: every proposal is raised to all of the stake.
    assert!(chain.proposals().iter().all(|p| p.fraction_ppb == PPB));
    // Everything in it is punished already: nothing new.
    assert_eq!(err(chain.submit(None, &batches[0])), Error::Duplicate);
}

#[test]
fn a_batch_with_one_unproven_piece_is_refused_whole_and_known_pieces_are_passed_over() {
    let net = TestNetwork::new(CHAIN_ID, 7);
    let mut chain = Chain::new(&net);
    ok(chain.submit(None, &evidence(net.double_vote(0, 5))));
    let mut forged = net.double_vote(2, 5);
    if let Evidence::DoubleVote { second, .. } = &mut forged {
        second.signature.0[0] ^= 1;
    }
    let batch =
        |items: Vec<Evidence>| Msg::SubmitEvidenceBatch(BoundedVec::new(items).expect("small"));
    assert_eq!(
        err(chain.submit(None, &batch(vec![net.double_vote(1, 5), forged.clone()]))),
        Error::BadSignature { signer: 2 }
    );
    assert_eq!(
        chain.status().banned,
        1,
        "nothing of the refused batch is written"
    );
    // The known piece (operator 0) is passed over, the new one (operator 1) accepted.
    ok(chain.submit(
        None,
        &batch(vec![net.double_vote(0, 5), net.double_vote(1, 5)]),
    ));
    assert_eq!(chain.status().banned, 2);
    assert_eq!(
        err(chain.submit(None, &batch(Vec::new()))),
        Error::Duplicate
    );
}

#[test]
fn certificates_past_the_signature_limit_are_too_many_signatures() {
    let net = large_network();
    let mut chain = Chain::new(&net);
    let signers = net.quorum_signers();
    // Three quorum certificates: 2,049 signatures, over the 2,048 one transaction may carry.
    let msg = certificates(&net, CertificateKind::Vote, 1..=3, &signers);
    assert_eq!(
        err(chain.submit(None, &msg)),
        Error::TooManySignatures {
            count: 3 * 683,
            limit: MAX_SIGNATURES_PER_TX as u64
        }
    );
}

// ----- 8. oversized input at the executor ---------------------------------------------------

#[test]
fn executor_refuses_oversized_input_before_entering_the_module() {
    let net = TestNetwork::new(CHAIN_ID, 4);
    let mut chain = Chain::new(&net);
    for size in [MAX_TX_BYTES + 1, 80 << 20] {
        let input = vec![0u8; size];
        let outcome = executor().execute(
            &mut chain.store,
            BlockContext { height: 2, time: 0 },
            None,
            &input,
        );
        assert_eq!(
            outcome.result.err(),
            Some(CallError::Module(Error::TooLarge {
                size: size as u64,
                limit: MAX_TX_BYTES as u64
            })),
            "{size} bytes"
        );
    }
    let outcome = executor().query(&mut MemoryStore::new(), BlockContext::default(), &[0; 2048]);
    assert!(matches!(
        outcome.result,
        Err(CallError::Module(Error::TooLarge { size: 2048, .. }))
    ));
    // The testkit's keys are unaffected.
    assert!(warden_module::crypto::is_strong_key(&testkit::public(
        &testkit::key(0)
    )));
}
