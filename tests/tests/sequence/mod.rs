//! The fixed transaction sequence the module's runtimes must agree on (`native_equals_wasm`,
//! `cosmwasm_vm`): genesis, every Tier 1 evidence kind, Tier 2 accusations, Tier 3
//! certificates that close participation windows, a rotation with a key change, config updates,
//! a veto, a finalisation after the deferral window, and refused transactions of many kinds.

use warden_module::codec::encode;
use warden_module::msg::Msg;
use warden_module::wire::{CertificateKind, OperatorId, PublicKey};
use warden_tests::{
    accuse, authority_rotation, certificates, config_with, rotated, swapped, tampered, TestNetwork,
    GENESIS_HEIGHT,
};

/// One transaction of the sequence.
pub struct Step {
    pub label: &'static str,
    pub height: u64,
    pub caller: Option<PublicKey>,
    pub tx: Vec<u8>,
    /// `"ok"` or the name of the error both builds must return.
    pub expect: &'static str,
}

/// Builds the sequence block by block.
pub struct Script {
    /// The transactions, in order.
    pub steps: Vec<Step>,
    /// The last block's height.
    pub height: u64,
}

impl Script {
    fn next(
        &mut self,
        label: &'static str,
        caller: Option<PublicKey>,
        msg: &Msg,
        expect: &'static str,
    ) {
        self.height += 1;
        self.same_block(label, caller, msg, expect);
    }

    fn same_block(
        &mut self,
        label: &'static str,
        caller: Option<PublicKey>,
        msg: &Msg,
        expect: &'static str,
    ) {
        self.raw(label, caller, encode(msg), expect);
    }

    fn raw(
        &mut self,
        label: &'static str,
        caller: Option<PublicKey>,
        tx: Vec<u8>,
        expect: &'static str,
    ) {
        self.steps.push(Step {
            label,
            height: self.height,
            caller,
            tx,
            expect,
        });
    }
}

/// 12 validators: five small ones (power 2) that commit Tier 1 offences, seven of power 10.
/// Total 80, quorum 54, accusations need 27.
pub fn network() -> TestNetwork {
    let mut net = TestNetwork::new(0x5EED, 12);
    net.powers = vec![10, 2, 2, 2, 2, 2, 10, 10, 10, 10, 10, 10];
    net.config = config_with(|c| {
        c.liveness.participation_window = 4;
        c.liveness.max_leader_failures = 1;
        c.slashing.deferral_blocks = 50;
    });
    net
}

pub fn script(net: &TestNetwork) -> Script {
    let mut s = Script {
        steps: Vec::new(),
        height: GENESIS_HEIGHT,
    };
    let rep = Some(net.reporter_key());
    let auth = Some(net.authority_key());
    let ev = Msg::SubmitEvidence;
    let signers: Vec<OperatorId> = vec![0, 6, 7, 8, 9, 10];

    // Tier 1: every kind, correlated, a self-report, and refusals.
    s.next("double vote", rep, &ev(net.double_vote(1, 5)), "ok");
    s.same_block(
        "the same double vote in the same block",
        rep,
        &ev(net.double_vote(1, 5)),
        "Duplicate",
    );
    s.next(
        "swapped double vote",
        rep,
        &ev(swapped(net.double_vote(1, 5))),
        "Duplicate",
    );
    s.next(
        "phase-2 double vote by a banned operator",
        rep,
        &ev(net.double_vote2(1, 6)),
        "AlreadyBanned",
    );
    s.next("double proposal", rep, &ev(net.double_proposal(2, 7)), "ok");
    s.next(
        "lock violation (vote), self-reported",
        Some(net.public(3)),
        &ev(net.lock_violation_vote(3, 9)),
        "ok",
    );
    s.next(
        "lock violation (timeout), tampered",
        rep,
        &ev(tampered(net.lock_violation_timeout(4, 12))),
        "BadSignature",
    );
    s.next(
        "lock violation (timeout)",
        None,
        &ev(net.lock_violation_timeout(4, 12)),
        "ok",
    );
    s.next(
        "invalid proposal (short certificate)",
        rep,
        &ev(net.short_certificate(5, 1)),
        "ok",
    );
    s.next(
        "invalid proposal (wrong leader) by a banned operator",
        rep,
        &ev(net.wrong_leader(5, 1)),
        "AlreadyBanned",
    );
    s.next(
        "double vote of a future epoch",
        rep,
        &ev(rotated(net, 3, &[]).double_vote(6, 1)),
        "FutureEpoch",
    );

    // Tier 2.
    s.next(
        "accusation of 6",
        rep,
        &accuse(net, 6, 10, 20, &[7, 8, 9]),
        "ok",
    );
    s.next(
        "overlapping accusation of 6",
        rep,
        &accuse(net, 6, 15, 25, &[7, 8, 9]),
        "Duplicate",
    );
    s.next(
        "accusation of 6 with two witnesses",
        rep,
        &accuse(net, 6, 30, 40, &[7, 8]),
        "InsufficientWitnesses",
    );
    s.next(
        "accusation of 6 witnessed by itself",
        rep,
        &accuse(net, 6, 30, 40, &[6, 7, 8]),
        "InsufficientWitnesses",
    );
    s.next(
        "second accusation of 6",
        rep,
        &accuse(net, 6, 30, 40, &[7, 8, 9]),
        "ok",
    );
    s.next(
        "accusation of 7",
        rep,
        &accuse(net, 7, 10, 20, &[8, 9, 10]),
        "ok",
    );
    s.next(
        "second accusation of 7 (deferred by the cap)",
        rep,
        &accuse(net, 7, 21, 30, &[8, 9, 10]),
        "ok",
    );
    s.next(
        "accusation of a banned operator",
        rep,
        &accuse(net, 1, 10, 20, &[8, 9, 10]),
        "AlreadyBanned",
    );

    // Tier 3: one window of four certificates (11 never signs; a leader fails once).
    let failed_leader = net.leader(50);
    s.next(
        "two block certificates",
        None,
        &certificates(net, CertificateKind::Vote2, [1, 2], &signers),
        "ok",
    );
    s.next(
        "a timeout certificate",
        None,
        &certificates(net, CertificateKind::Timeout, [50], &signers),
        "ok",
    );
    s.next(
        "a block certificate again",
        None,
        &certificates(net, CertificateKind::Vote2, [2], &signers),
        "Duplicate",
    );
    s.next(
        "a certificate short of a quorum",
        None,
        &certificates(net, CertificateKind::Vote2, [3], &[0, 6, 7]),
        "InsufficientWitnesses",
    );
    s.next(
        "a phase-1 certificate closing the window",
        None,
        &certificates(net, CertificateKind::Vote, [3], &signers),
        "ok",
    );
    s.next(
        "an empty batch",
        None,
        &Msg::RecordCertificates(Default::default()),
        "EmptyBatch",
    );
    assert!(failed_leader < 12);

    // Governance: a quorum rotation with a new key for 0, config changes.
    let next = rotated(net, 2, &[(0, 500)]);
    s.next(
        "rotation approved by 4 of power 10",
        rep,
        &Msg::RotateValidators(net.rotation(&next, &[6, 7, 8, 9])),
        "InsufficientWitnesses",
    );
    s.next(
        "rotation without approvals",
        rep,
        &authority_rotation(&next),
        "Unauthorized",
    );
    s.next(
        "rotation approved by a quorum",
        rep,
        &Msg::RotateValidators(net.rotation(&next, &signers)),
        "ok",
    );
    s.next(
        "rotation to the same epoch",
        auth,
        &authority_rotation(&next),
        "EpochNotAfter",
    );
    let new_config = config_with(|c| {
        c.liveness.participation_window = 2;
        c.reputation.participation_reward = 50_000;
        c.slashing.deferral_blocks = 50;
    });
    s.next(
        "config update by a reporter",
        rep,
        &Msg::UpdateConfig(new_config.clone()),
        "Unauthorized",
    );
    s.next(
        "invalid config update",
        auth,
        &Msg::UpdateConfig(config_with(|c| {
            c.reputation.baseline = c.reputation.max + 1
        })),
        "InvalidConfig",
    );
    s.next("config update", auth, &Msg::UpdateConfig(new_config), "ok");

    // Veto and finalisation.
    s.next(
        "veto by a reporter",
        rep,
        &Msg::VetoSlashing { id: 0 },
        "Unauthorized",
    );
    s.next(
        "veto of proposal 0",
        auth,
        &Msg::VetoSlashing { id: 0 },
        "ok",
    );
    s.next(
        "finalise proposal 1 too early",
        None,
        &Msg::FinaliseSlashing { id: 1 },
        "DeferralPending",
    );
    s.height += 200;
    s.next(
        "finalise proposal 1",
        None,
        &Msg::FinaliseSlashing { id: 1 },
        "ok",
    );
    s.next(
        "veto after the window",
        auth,
        &Msg::VetoSlashing { id: 2 },
        "NotPending",
    );
    s.next(
        "finalise a vetoed proposal",
        None,
        &Msg::FinaliseSlashing { id: 0 },
        "NotPending",
    );
    s.next(
        "finalise an unknown proposal",
        None,
        &Msg::FinaliseSlashing { id: 99 },
        "UnknownProposal",
    );

    // Epoch 2: the rotated key, old evidence, more windows (quarantines have ended).
    s.next(
        "accusation of 8 in epoch 2",
        rep,
        &accuse(&next, 8, 1, 9, &[9, 10, 11]),
        "ok",
    );
    s.next(
        "evidence with 0's new key",
        rep,
        &ev(next.double_vote(0, 3)),
        "ok",
    );
    s.next(
        "evidence with 0's old key in epoch 2",
        rep,
        &ev(rotated(net, 2, &[]).double_vote(0, 4)),
        "AlreadyBanned",
    );
    s.next(
        "epoch-1 evidence against 6",
        rep,
        &ev(net.double_vote(6, 8)),
        "ok",
    );
    let signers2: Vec<OperatorId> = vec![7, 8, 9, 10, 11];
    s.next(
        "certificates of epoch 2",
        None,
        &certificates(&next, CertificateKind::Vote2, [1, 2], &[6, 7, 8, 9, 10, 11]),
        "ok",
    );
    s.next(
        "certificates of epoch 2 again",
        None,
        &certificates(&next, CertificateKind::Vote2, [3, 4], &signers2),
        "InsufficientWitnesses",
    );
    s.next(
        "certificates of epoch 2, all",
        None,
        &certificates(
            &next,
            CertificateKind::Vote2,
            [3, 4, 5, 6],
            &[0, 6, 7, 8, 9, 10, 11],
        ),
        "ok",
    );
    s.next(
        "certificates of epoch 1 after epoch 2",
        None,
        &certificates(net, CertificateKind::Vote2, [9], &signers),
        "Duplicate",
    );

    // Raw bytes.
    s.raw("garbage", rep, vec![0xFF, 0x00, 0x13], "Decode");
    let mut trailing = encode(&Msg::FinaliseSlashing { id: 1 });
    trailing.push(0);
    s.raw("trailing byte", rep, trailing, "Decode");
    s.raw("empty", rep, Vec::new(), "Decode");
    s
}
