//! The module linked natively and the module compiled to wasm are the same state machine.
//!
//! One fixed transaction sequence (genesis, every Tier 1 evidence kind, Tier 2 accusations,
//! Tier 3 certificates that close participation windows, a rotation with a key change, config
//! updates, a veto, a finalisation after the deferral window, and refused transactions of
//! many kinds) runs through `warden_module::contract` over a `MemoryHost` and through the
//! wasmtime executor over a `MemoryStore`. Every transaction must end the same way (success or
//! the same `Error`), emit the same events, and both must end with the same state map and
//! answer every query with the same bytes.

mod sequence;

use borsh::BorshDeserialize;
use sequence::{network, script};
use warden_host::wasm::{CallError, Executor, MemoryStore};
use warden_module::codec::encode;
use warden_module::msg::{Event, Query};
use warden_tests::{block, executors, Native, GENESIS_HEIGHT};

fn outcome_name(result: &Result<(), warden_module::Error>) -> &'static str {
    match result {
        Ok(()) => "ok",
        Err(e) => e.name(),
    }
}

#[test]
fn native_and_wasm_agree_on_every_transaction_event_and_final_state() {
    // The module's verdicts are the same whichever verifier its build uses.
    for (build, exec) in executors() {
        eprintln!("the {build} build");
        agree_on_every_transaction_event_and_final_state(exec);
    }
}

fn agree_on_every_transaction_event_and_final_state(exec: &Executor) {
    let net = network();
    let genesis = net.genesis();

    let mut native = Native::default();
    let (native_init, native_events) = native.init(&genesis);
    let mut store = MemoryStore::new();
    let init = exec.init(&mut store, block(GENESIS_HEIGHT), &genesis);
    assert_eq!(native_init, Ok(()));
    assert!(init.is_ok(), "wasm genesis refused: {:?}", init.result);
    assert_eq!(native_events, init.events, "genesis events");
    assert_eq!(native.host.state, store, "state after genesis");

    let script = script(&net);
    let mut accepted = 0;
    for (i, step) in script.steps.iter().enumerate() {
        let (native_result, native_events) = native.execute(step.height, step.caller, &step.tx);
        let wasm = exec.execute(&mut store, block(step.height), step.caller, &step.tx);
        let wasm_result = match wasm.result {
            Ok(bytes) => {
                assert!(
                    bytes.is_empty(),
                    "step {i} ({}): a transaction has no output",
                    step.label
                );
                Ok(())
            }
            Err(CallError::Module(e)) => Err(e),
            Err(other) => panic!(
                "step {i} ({}): wasm did not end cleanly: {other}",
                step.label
            ),
        };
        assert_eq!(
            native_result, wasm_result,
            "step {i} ({}): outcome",
            step.label
        );
        assert_eq!(
            native_events, wasm.events,
            "step {i} ({}): events",
            step.label
        );
        assert_eq!(native.host.state, store, "step {i} ({}): state", step.label);
        assert_eq!(
            outcome_name(&native_result),
            step.expect,
            "step {i} ({}): expected {}, got {:?}",
            step.label,
            step.expect,
            native_result
        );
        if native_result.is_ok() {
            accepted += 1;
            assert!(
                !native_events.is_empty(),
                "step {i} ({}): no events",
                step.label
            );
        } else {
            assert!(
                native_events.is_empty(),
                "step {i} ({}): a refusal emitted events",
                step.label
            );
        }
    }
    assert!(accepted >= 20, "only {accepted} transactions were accepted");

    // What the sequence must have exercised.
    let all: Vec<Event> = native
        .host
        .events
        .iter()
        .map(|raw| Event::try_from_slice(raw).expect("events decode"))
        .collect();
    for (what, seen) in [
        (
            "a ban",
            all.iter().any(|e| matches!(e, Event::Banned { .. })),
        ),
        (
            "a raised fraction",
            all.iter()
                .any(|e| matches!(e, Event::SlashingFractionRaised { .. })),
        ),
        (
            "a warning",
            all.iter().any(|e| matches!(e, Event::Warned { .. })),
        ),
        (
            "a quarantine",
            all.iter().any(|e| matches!(e, Event::Quarantined { .. })),
        ),
        (
            "a deferral",
            all.iter()
                .any(|e| matches!(e, Event::QuarantineDeferred { .. })),
        ),
        (
            "a probation",
            all.iter()
                .any(|e| matches!(e, Event::ProbationStarted { .. })),
        ),
        (
            "a closed window",
            all.iter()
                .any(|e| matches!(e, Event::ParticipationWindowClosed { .. })),
        ),
        (
            "a new epoch",
            all.iter()
                .any(|e| matches!(e, Event::EpochStarted { epoch: 2, .. })),
        ),
        (
            "a config update",
            all.iter().any(|e| matches!(e, Event::ConfigUpdated)),
        ),
        (
            "a veto",
            all.iter()
                .any(|e| matches!(e, Event::SlashingVetoed { .. })),
        ),
        (
            "a finalisation",
            all.iter()
                .any(|e| matches!(e, Event::SlashingFinalised { .. })),
        ),
    ] {
        assert!(seen, "the sequence never produced {what}");
    }

    // Every query answers the same, at the last block and far later.
    let last = script.height;
    for height in [last, last + 10_000] {
        let mut queries = vec![
            Query::Status,
            Query::Config,
            Query::Isolated,
            Query::SlashingProposals {
                start: 0,
                limit: 100,
            },
            Query::SlashingProposals { start: 2, limit: 1 },
            Query::EffectivePower,
            Query::Schedule { epoch: 1 },
            Query::Schedule { epoch: 2 },
            Query::Schedule { epoch: 3 },
            Query::ValidatorSet { epoch: 1 },
            Query::ValidatorSet { epoch: 2 },
        ];
        for operator in 0..13 {
            queries.push(Query::Reputation { operator });
            queries.push(Query::Isolation { operator });
        }
        for view in 0..20 {
            queries.push(Query::Leader { epoch: 1, view });
            queries.push(Query::Leader { epoch: 2, view });
        }
        let mut raw: Vec<Vec<u8>> = queries.iter().map(encode).collect();
        raw.push(vec![0xEE]);
        raw.push(vec![0; 2_000]);
        for q in &raw {
            let native_answer = native.query(height, q);
            let wasm = exec.query(&mut store, block(height), q);
            let wasm_answer = match wasm.result {
                Ok(bytes) => Ok(bytes),
                Err(CallError::Module(e)) => Err(e),
                Err(other) => panic!("query {q:?} did not end cleanly: {other}"),
            };
            assert_eq!(native_answer, wasm_answer, "query {q:?} at height {height}");
        }
    }
    // Queries write nothing.
    assert_eq!(native.host.state, store);
}
