//! The demonstration: a small network's misbehaviour proven through the wasm module, and the
//! resulting on-chain state.

use std::fmt::Write as _;

use borsh::BorshDeserialize;
use warden_module::codec::{encode, BoundedVec};
use warden_module::evidence::Behaviour;
use warden_module::msg::{Msg, Query, QueryResponse};
use warden_module::wire::CertificateKind;

use crate::testkit::TestNetwork;
use crate::wasm::{BlockContext, CallOutcome, Executor, ExecutorConfig, MemoryStore};

/// One step of the demonstration and what the module said.
#[derive(Debug, Clone)]
pub struct Step {
    /// What was submitted.
    pub what: String,
    /// The outcome: `ok` or the module's error name.
    pub outcome: String,
    /// Fuel burnt.
    pub fuel: u64,
}

fn outcome(o: &CallOutcome) -> String {
    match &o.result {
        Ok(_) => "ok".into(),
        Err(e) => e.to_string(),
    }
}

/// Runs the demonstration and returns the report as text.
pub fn run() -> anyhow::Result<String> {
    let exec = Executor::new(ExecutorConfig::default())?;
    let net = TestNetwork::new(7, 7);
    let mut store = MemoryStore::new();
    let mut ctx = BlockContext {
        height: 1,
        time: 1_700_000_000_000,
    };
    let init = exec.init(&mut store, ctx, &net.genesis());
    anyhow::ensure!(init.is_ok(), "genesis refused: {}", outcome(&init));

    let reporter = Some(net.reporter_key());
    let quorum = net.quorum_signers();
    let steps: Vec<(String, Msg)> = vec![
        (
            "double vote (phase 1) by validator 1".into(),
            Msg::SubmitEvidence(net.double_vote(1, 5)),
        ),
        (
            "the same double vote, votes swapped".into(),
            Msg::SubmitEvidence(match net.double_vote(1, 5) {
                warden_module::evidence::Evidence::DoubleVote { first, second } => {
                    warden_module::evidence::Evidence::DoubleVote {
                        first: second,
                        second: first,
                    }
                }
                other => other,
            }),
        ),
        (
            "lock violation (vote) by validator 2".into(),
            Msg::SubmitEvidence(net.lock_violation_vote(2, 9)),
        ),
        (
            "vote withholding by validator 3, witnessed by 4, 5, 6".into(),
            Msg::SubmitAccusation(net.accusation(
                3,
                Behaviour::VoteWithholding,
                10,
                20,
                &[4, 5, 6],
            )),
        ),
        (
            "a second accusation of validator 3 (view 30 to 40)".into(),
            Msg::SubmitAccusation(net.accusation(
                3,
                Behaviour::VoteWithholding,
                30,
                40,
                &[4, 5, 6],
            )),
        ),
        (
            "an accusation witnessed by validator 4 alone".into(),
            Msg::SubmitAccusation(net.accusation(5, Behaviour::MessageFlooding, 10, 12, &[4])),
        ),
        (
            "a phase-2 certificate of view 12".into(),
            Msg::RecordCertificates(
                BoundedVec::new(vec![net.certificate(
                    CertificateKind::Vote2,
                    12,
                    [3; 32],
                    0,
                    &quorum,
                )])
                .expect("one"),
            ),
        ),
    ];
    let mut report = String::new();
    writeln!(
        report,
        "Warden demonstration: {} validators, chain {}, through the wasm module",
        net.keys.len(),
        net.chain_id
    )?;
    writeln!(report)?;
    for (what, msg) in steps {
        ctx.height += 1;
        let o = exec.execute(&mut store, ctx, reporter, &encode(&msg));
        writeln!(
            report,
            "  block {:>2}  {:<56} {} ({} fuel)",
            ctx.height,
            what,
            outcome(&o),
            o.fuel_used
        )?;
    }
    writeln!(report)?;
    let query = |store: &mut MemoryStore, q: Query| -> anyhow::Result<QueryResponse> {
        let o = exec.query(store, ctx, &encode(&q));
        let bytes = o.result.map_err(|e| anyhow::anyhow!("query failed: {e}"))?;
        Ok(QueryResponse::try_from_slice(&bytes)?)
    };
    if let QueryResponse::Status(s) = query(&mut store, Query::Status)? {
        writeln!(report, "On-chain status at height {}: epoch {}, {} validators, active power {} of {}, {} banned, {} quarantined, {} slashing proposals",
            s.height, s.epoch, s.validators, s.active_power, s.total_power, s.banned, s.quarantined, s.slashing_proposals)?;
    }
    if let QueryResponse::Isolated(list) = query(&mut store, Query::Isolated)? {
        writeln!(report, "Isolation:")?;
        for (op, state) in list {
            writeln!(report, "  validator {op}: {state:?}")?;
        }
    }
    writeln!(report, "Reputation:")?;
    for op in 0..net.keys.len() as u32 {
        if let QueryResponse::Reputation(r) = query(&mut store, Query::Reputation { operator: op })?
        {
            writeln!(
                report,
                "  validator {op}: {} ({} Tier 2/3 offences)",
                r.score, r.offences
            )?;
        }
    }
    if let QueryResponse::SlashingProposals(list) = query(
        &mut store,
        Query::SlashingProposals {
            start: 0,
            limit: 100,
        },
    )? {
        writeln!(report, "Slashing proposals:")?;
        for p in list {
            writeln!(report, "  #{} validator {} for {:?} in view {}: {} ppb, reporter reward {} ppb, final after block {}",
                p.id, p.offence.operator, p.offence.class, p.offence.view, p.fraction_ppb, p.reporter_reward_ppb, p.execute_after)?;
        }
    }
    Ok(report)
}
