//! Property tests of the module through the wasm executor (and natively where the property
//! is about the core): hostile input never traps or runs out of fuel, a refused transaction
//! changes nothing, and reputation stays within its bounds whatever happens.
//!
//! Case counts are modest because every case runs several wasm calls. The executor is
//! compiled once per test binary ([`warden_tests::executor`]).

use std::sync::OnceLock;

use proptest::collection::vec;
use proptest::prelude::*;

use warden_host::wasm::{CallError, CallOutcome, MemoryStore};
use warden_module::codec::{encode, BoundedVec};
use warden_module::config::Config;
use warden_module::evidence::Behaviour;
use warden_module::msg::{Msg, Query, QueryResponse};
use warden_module::wire::{CertificateKind, OperatorId, PublicKey};
use warden_tests::{
    all_but, authority_rotation, block, certificates, config_with, executor, rotated, swapped,
    tampered, Chain, Native, TestNetwork, GENESIS_HEIGHT,
};

const CHAIN_ID: u64 = 99;

fn network() -> TestNetwork {
    let mut net = TestNetwork::new(CHAIN_ID, 7);
    net.config = config_with(|c| {
        c.liveness.participation_window = 3;
        c.isolation.warnings_before_quarantine = 0;
        c.slashing.deferral_blocks = 40;
    });
    net
}

/// The network, its genesis state in wasm and natively, and a pool of transactions (most
/// valid in some state, many refused in others).
struct Fixture {
    net: TestNetwork,
    store: MemoryStore,
    native: Native,
    pool: Vec<(&'static str, Vec<u8>)>,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let net = network();
        let chain = Chain::new(&net);
        let mut native = Native::default();
        let (result, _) = native.init(&net.genesis());
        result.expect("native genesis");
        assert_eq!(native.host.state, chain.store);
        let ev = |e| encode(&Msg::SubmitEvidence(e));
        let acc = |accused, first, last, witnesses: &[OperatorId]| {
            encode(&Msg::SubmitAccusation(net.accusation(
                accused,
                Behaviour::TimingManipulation,
                first,
                last,
                witnesses,
            )))
        };
        let next = rotated(&net, 2, &[(0, 700)]);
        let everyone = all_but(&net, &[]);
        let pool = vec![
            ("double vote 1", ev(net.double_vote(1, 5))),
            ("double vote 1 swapped", ev(swapped(net.double_vote(1, 5)))),
            ("double vote2 2", ev(net.double_vote2(2, 5))),
            ("double proposal 3", ev(net.double_proposal(3, 5))),
            ("lock violation 4", ev(net.lock_violation_vote(4, 9))),
            (
                "lock violation timeout 5",
                ev(net.lock_violation_timeout(5, 9)),
            ),
            ("wrong leader 6", ev(net.wrong_leader(6, 1))),
            ("short certificate 2", ev(net.short_certificate(2, 1))),
            (
                "tampered double vote 0",
                ev(tampered(net.double_vote(0, 5))),
            ),
            ("epoch-2 double vote 0", ev(next.double_vote(0, 5))),
            ("accuse 3", acc(3, 10, 20, &[4, 5, 6])),
            ("accuse 3 again", acc(3, 21, 30, &[4, 5, 6])),
            ("accuse 3 overlapping", acc(3, 15, 25, &[4, 5, 6])),
            ("accuse 4", acc(4, 10, 20, &[0, 5, 6])),
            ("accuse 5", acc(5, 10, 20, &[0, 1, 6])),
            ("accuse 6 short", acc(6, 10, 20, &[0, 1])),
            ("accuse 0 in epoch 2", {
                encode(&Msg::SubmitAccusation(next.accusation(
                    0,
                    Behaviour::MessageFlooding,
                    1,
                    2,
                    &[1, 2, 3],
                )))
            }),
            (
                "certificates 1-3",
                encode(&certificates(
                    &net,
                    CertificateKind::Vote2,
                    1..=3,
                    &all_but(&net, &[6]),
                )),
            ),
            (
                "certificates 4-6",
                encode(&certificates(
                    &net,
                    CertificateKind::Vote2,
                    4..=6,
                    &everyone,
                )),
            ),
            (
                "timeouts 7-8",
                encode(&certificates(
                    &net,
                    CertificateKind::Timeout,
                    7..=8,
                    &everyone,
                )),
            ),
            (
                "short certificates",
                encode(&certificates(&net, CertificateKind::Vote, [9], &[0, 1, 2])),
            ),
            (
                "epoch-2 certificates",
                encode(&certificates(
                    &next,
                    CertificateKind::Vote2,
                    1..=3,
                    &everyone,
                )),
            ),
            ("rotation", encode(&authority_rotation(&next))),
            (
                "quorum rotation",
                encode(&Msg::RotateValidators(
                    net.rotation(&next, &[0, 1, 2, 3, 4]),
                )),
            ),
            (
                "rotation to epoch 3",
                encode(&authority_rotation(&rotated(&net, 3, &[]))),
            ),
            (
                "config",
                encode(&Msg::UpdateConfig(config_with(|c| {
                    c.liveness.participation_window = 2
                }))),
            ),
            (
                "bad config",
                encode(&Msg::UpdateConfig(config_with(|c| c.retention_epochs = 0))),
            ),
            ("veto 0", encode(&Msg::VetoSlashing { id: 0 })),
            ("veto 1", encode(&Msg::VetoSlashing { id: 1 })),
            ("finalise 0", encode(&Msg::FinaliseSlashing { id: 0 })),
            ("finalise 1", encode(&Msg::FinaliseSlashing { id: 1 })),
            (
                "empty batch",
                encode(&Msg::RecordCertificates(BoundedVec::empty())),
            ),
            ("garbage", vec![0xFF, 1, 2, 3]),
        ];
        Fixture {
            net,
            store: chain.store,
            native,
            pool,
        }
    })
}

fn callers(net: &TestNetwork) -> Vec<Option<PublicKey>> {
    vec![
        None,
        Some(net.authority_key()),
        Some(net.reporter_key()),
        Some(net.public(0)),
        Some(net.public(3)),
    ]
}

/// The outcome must be success or a named refusal: never a trap, never fuel exhaustion.
fn clean(outcome: &CallOutcome) -> Result<(), TestCaseError> {
    match &outcome.result {
        Ok(_) | Err(CallError::Module(_)) => Ok(()),
        Err(e) => Err(TestCaseError::fail(format!(
            "the call did not end cleanly: {e}"
        ))),
    }
}

fn wasm_result(outcome: &CallOutcome) -> Result<(), warden_module::Error> {
    match &outcome.result {
        Ok(_) => Ok(()),
        Err(CallError::Module(e)) => Err(*e),
        Err(e) => panic!("not a clean outcome: {e}"),
    }
}

#[derive(Debug, Clone)]
enum Mutation {
    /// Flip bit `bit` of the byte at `pos` (modulo the length).
    Flip(usize, u8),
    /// Keep only the first `len` bytes (modulo the length).
    Truncate(usize),
    /// Append bytes.
    Extend(Vec<u8>),
    /// Overwrite four bytes at `pos` with a little-endian `u32`: forges length prefixes.
    Word(usize, u32),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        4 => (any::<usize>(), 0u8..8).prop_map(|(p, b)| Mutation::Flip(p, b)),
        1 => any::<usize>().prop_map(Mutation::Truncate),
        1 => vec(any::<u8>(), 1..64).prop_map(Mutation::Extend),
        2 => (any::<usize>(), prop_oneof![Just(u32::MAX), Just(1025u32), Just(17u32), any::<u32>()])
            .prop_map(|(p, w)| Mutation::Word(p, w)),
    ]
}

fn mutate(mut bytes: Vec<u8>, mutations: &[Mutation]) -> Vec<u8> {
    for m in mutations {
        match m {
            Mutation::Flip(pos, bit) if !bytes.is_empty() => {
                let i = pos % bytes.len();
                bytes[i] ^= 1 << bit;
            }
            Mutation::Truncate(len) if !bytes.is_empty() => {
                let len = len % bytes.len();
                bytes.truncate(len);
            }
            Mutation::Extend(more) => bytes.extend_from_slice(more),
            Mutation::Word(pos, word) if bytes.len() >= 4 => {
                let i = pos % (bytes.len() - 3);
                bytes[i..i + 4].copy_from_slice(&word.to_le_bytes());
            }
            _ => {}
        }
    }
    bytes
}

/// Runs `tx` in wasm and natively from the fixture's genesis state; both must end cleanly,
/// agree, and leave the state untouched when they refuse.
fn run_hostile(tx: &[u8], caller: Option<PublicKey>) -> Result<(), TestCaseError> {
    let fx = fixture();
    let height = GENESIS_HEIGHT + 1;
    let mut store = fx.store.clone();
    let outcome = executor().execute(&mut store, block(height), caller, tx);
    clean(&outcome)?;
    let mut native = fx.native.clone();
    let (native_result, native_events) = native.execute(height, caller, tx);
    prop_assert_eq!(native_result, wasm_result(&outcome));
    prop_assert_eq!(&native_events, &outcome.events);
    prop_assert_eq!(&native.host.state, &store);
    if outcome.result.is_err() {
        prop_assert_eq!(&store, &fx.store);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_transaction_bytes_never_trap_or_run_out_of_fuel(
        bytes in vec(any::<u8>(), 0..1024),
        caller in 0usize..5,
    ) {
        let fx = fixture();
        run_hostile(&bytes, callers(&fx.net)[caller])?;
    }

    #[test]
    fn arbitrary_bytes_after_a_valid_message_tag_never_trap(
        tag in 0u8..7,
        rest in vec(any::<u8>(), 0..512),
        caller in 0usize..5,
    ) {
        let fx = fixture();
        let mut bytes = vec![tag];
        bytes.extend(rest);
        run_hostile(&bytes, callers(&fx.net)[caller])?;
    }

    #[test]
    fn mutated_valid_transactions_never_trap_or_run_out_of_fuel(
        index in 0usize..64,
        mutations in vec(mutation(), 1..4),
        caller in 0usize..5,
    ) {
        let fx = fixture();
        let (_, tx) = &fx.pool[index % fx.pool.len()];
        let tx = mutate(tx.clone(), &mutations);
        run_hostile(&tx, callers(&fx.net)[caller])?;
    }

    #[test]
    fn arbitrary_query_bytes_never_trap_or_run_out_of_fuel(
        bytes in vec(any::<u8>(), 0..1200),
        tagged in any::<bool>(),
        tag in 0u8..10,
    ) {
        let fx = fixture();
        let mut q = bytes;
        if tagged {
            q.insert(0, tag);
        }
        let mut store = fx.store.clone();
        let outcome = executor().query(&mut store, block(GENESIS_HEIGHT + 1), &q);
        clean(&outcome)?;
        prop_assert!(outcome.events.is_empty());
        prop_assert_eq!(&store, &fx.store);
        let mut native = fx.native.clone();
        let native_answer = native.query(GENESIS_HEIGHT + 1, &q);
        let wasm_answer = match outcome.result {
            Ok(bytes) => Ok(bytes),
            Err(CallError::Module(e)) => Err(e),
            Err(e) => return Err(TestCaseError::fail(e.to_string())),
        };
        prop_assert_eq!(native_answer, wasm_answer);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn refused_transaction_leaves_state_byte_for_byte_unchanged(
        steps in vec((0usize..64, 0usize..5, 0u64..120, any::<bool>()), 1..14),
    ) {
        let fx = fixture();
        let callers = callers(&fx.net);
        let mut store = fx.store.clone();
        let mut native = fx.native.clone();
        let mut height = GENESIS_HEIGHT;
        for (index, caller, gap, corrupt) in steps {
            let (label, tx) = &fx.pool[index % fx.pool.len()];
            let tx = if corrupt { mutate(tx.clone(), &[Mutation::Flip(tx.len() / 2, 3)]) } else { tx.clone() };
            height += gap;
            let caller = callers[caller];
            let before = store.clone();
            let native_events_before = native.host.events.len();
            let outcome = executor().execute(&mut store, block(height), caller, &tx);
            clean(&outcome)?;
            let (native_result, native_events) = native.execute(height, caller, &tx);
            prop_assert_eq!(native_result, wasm_result(&outcome), "{}", label);
            prop_assert_eq!(&native_events, &outcome.events, "{}", label);
            if outcome.result.is_err() {
                prop_assert_eq!(&store, &before, "wasm state changed by refused {}", label);
                prop_assert_eq!(&native.host.state, &before, "native state changed by refused {}", label);
                prop_assert_eq!(native.host.events.len(), native_events_before);
                prop_assert!(outcome.events.is_empty());
            }
            prop_assert_eq!(&native.host.state, &store, "{}", label);
        }
    }
}

/// One step of a random history for the reputation property.
#[derive(Debug, Clone)]
enum Step {
    /// Tier 1 evidence against an operator.
    Provable(OperatorId),
    /// A Tier 2 accusation of an operator.
    Witnessed(OperatorId),
    /// Enough certificates to close a window, not signed by the listed operators (at most
    /// two, so a quorum signs).
    Window(Vec<OperatorId>),
    /// An authority rotation to the next epoch.
    Rotate,
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        1 => (0u32..7).prop_map(Step::Provable),
        3 => (0u32..7).prop_map(Step::Witnessed),
        4 => vec(0u32..7, 0..3).prop_map(Step::Window),
        2 => Just(Step::Rotate),
    ]
}

fn reputation_config() -> impl Strategy<Value = Config> {
    (
        1u32..=1_000_000,
        0u32..=1_000_000,
        any::<[u32; 6]>(),
        1u32..=3,
        0u32..=3,
    )
        .prop_map(|(max, decay_ppm, parts, window, warnings)| {
            config_with(|c| {
                let r = &mut c.reputation;
                r.max = max;
                r.decay_ppm = decay_ppm;
                r.baseline = parts[0] % (max + 1);
                r.tier1_penalty = parts[1] % (max + 1);
                r.tier2_penalty = parts[2] % (max + 1);
                r.tier3_penalty = parts[3] % (max + 1);
                r.participation_reward = parts[4] % (max + 1);
                r.rehabilitation_threshold = parts[5] % (max + 1);
                c.liveness.participation_window = window;
                c.isolation.warnings_before_quarantine = warnings;
                c.isolation.short_quarantine_blocks = 5;
                c.isolation.long_quarantine_blocks = 20;
            })
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn reputation_stays_within_zero_and_max(
        config in reputation_config(),
        steps in vec(step(), 1..16),
    ) {
        prop_assert_eq!(config.validate(), Ok(()));
        let mut net = TestNetwork::new(CHAIN_ID, 7);
        net.config = config.clone();
        let mut chain = Chain::new(&net);
        let max = config.reputation.max;
        let mut view = 10u64;
        let mut accepted = 0;
        for step in steps {
            view += 10;
            let msg = match &step {
                Step::Provable(op) => Msg::SubmitEvidence(net.double_vote(*op, view)),
                Step::Witnessed(op) => Msg::SubmitAccusation(net.accusation(
                    *op,
                    Behaviour::ProposalWithholding,
                    view,
                    view + 5,
                    &all_but(&net, &[*op]),
                )),
                Step::Window(absent) => {
                    let window = u64::from(config.liveness.participation_window);
                    certificates(&net, CertificateKind::Vote2, view..view + window, &all_but(&net, absent))
                }
                Step::Rotate => {
                    net = rotated(&net, net.epoch + 1, &[]);
                    authority_rotation(&net)
                }
            };
            let outcome = chain.submit(Some(net.authority_key()), &msg);
            clean(&outcome)?;
            if outcome.is_ok() {
                accepted += 1;
            } else if let Step::Rotate | Step::Window(_) = step {
                return Err(TestCaseError::fail(format!("{step:?} refused: {:?}", outcome.result)));
            }
            for op in 0..7 {
                let score = match chain.query(&Query::Reputation { operator: op }) {
                    QueryResponse::Reputation(r) => r.score,
                    other => return Err(TestCaseError::fail(format!("{other:?}"))),
                };
                prop_assert!(score <= max, "operator {} has {} over {} after {:?}", op, score, max, step);
            }
        }
        prop_assert!(accepted > 0);
    }
}
