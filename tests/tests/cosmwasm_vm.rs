//! The CosmWasm contract (`warden-cosmwasm`, lowered as `warden cosmwasm build` writes it) in
//! CosmWasm's own VM (`cosmwasm-vm` 3.0.10, singlepass) gives the module's verdicts.
//!
//! - Every fixture vector: the same outcome and error (name, code and values) as the module
//!   linked natively, the same events, and the same module state afterwards.
//! - The native = wasm sequence: every step's outcome and events, the state after every step,
//!   and the answers to queries.
//! - Signatures: a small-order `R` or a non-canonical `s` (both accepted or refused by
//!   ZIP-215 as `verify_strict` does not) are refused as Warden's runtime refuses them.

mod cosmwasm_support;
mod sequence;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use cosmwasm_std::{Binary, ContractResult, Env, Event as CosmWasmEvent, Order, Response};
use cosmwasm_support::{env, StoredCode, Vm};
use cosmwasm_vm::testing::{execute, instantiate, mock_env, mock_info, query, sudo, MockApi};
use cosmwasm_vm::Storage as _;
use curve25519_dalek::edwards::EdwardsPoint;
use curve25519_dalek::scalar::Scalar;
use ed25519_dalek::Signer;
use warden_cosmwasm::{
    module_event, registration_message, ExecuteMsg, InstantiateMsg, QueryMsg, SudoMsg,
    ADAPTER_PREFIX,
};
use warden_host::cosmwasm::CONTRACT_WASM;
use warden_host::fixtures::{load, malleate, Transaction};
use warden_module::codec::encode;
use warden_module::contract;
use warden_module::crypto::Ed25519Strict;
use warden_module::evidence::Evidence;
use warden_module::msg::{Msg, Query};
use warden_module::state::MemoryHost;
use warden_module::wire::{PublicKey, Signature};
use warden_testkit::{order_four_point, sign_with_nonce_point};
use warden_tests::{block, Native, TestNetwork, GENESIS_HEIGHT};

/// A fresh contract initialised with `genesis` at [`GENESIS_HEIGHT`].
fn instantiated(code: &StoredCode, genesis: &warden_module::msg::Genesis) -> Vm {
    let mut vm = code.instance();
    let at = block(GENESIS_HEIGHT);
    let init: ContractResult<Response> = instantiate(
        &mut vm,
        env(at.height, at.time),
        mock_info(&address(None), &[]),
        InstantiateMsg {
            genesis: Binary::from(encode(genesis)),
        },
    );
    init.into_result().expect("VM genesis");
    vm
}

/// The address a test gives to an identity (or to nobody).
fn address(identity: Option<&PublicKey>) -> String {
    let name = match identity {
        Some(key) => hex::encode(key.0),
        None => "anonymous".into(),
    };
    MockApi::default().addr_make(&name)
}

/// Binds the address of `identity` to it, through governance.
fn bind(vm: &mut Vm, identity: &PublicKey) {
    let msg = SudoMsg::BindIdentity {
        address: address(Some(identity)),
        identity: Binary::from(identity.0),
    };
    let result: ContractResult<Response> = sudo(vm, mock_env(), msg);
    result.into_result().expect("binding an identity");
}

/// The outcome of a call: `Ok` with the events, or the error text.
fn submit(
    vm: &mut Vm,
    env: Env,
    caller: Option<&PublicKey>,
    tx: &[u8],
) -> Result<Vec<CosmWasmEvent>, String> {
    let msg = ExecuteMsg::Submit {
        tx: Binary::from(tx),
    };
    let result: ContractResult<Response> = execute(vm, env, mock_info(&address(caller), &[]), msg);
    result.into_result().map(|r| r.events)
}

/// The module's state in the VM: everything but the adapter's identity bindings.
fn module_state(vm: &mut Vm) -> BTreeMap<Vec<u8>, Vec<u8>> {
    let all = vm
        .with_storage(|s| {
            let id = s.scan(None, None, Order::Ascending).0?;
            Ok(s.all(id).0?)
        })
        .expect("reading the VM's storage");
    all.into_iter()
        .filter(|(k, _)| !k.starts_with(ADAPTER_PREFIX))
        .collect()
}

/// The CosmWasm events the module's borsh events become.
fn expected_events(events: &[Vec<u8>]) -> Vec<CosmWasmEvent> {
    events
        .iter()
        .map(|e| module_event(e).expect("module events convert"))
        .collect()
}

/// `"Name (code n): Debug"`, as the contract reports a module error.
fn error_text(e: &warden_module::Error) -> String {
    format!("{} (code {}): {e:?}", e.name(), e.code())
}

fn caller_of(t: &Transaction) -> Option<PublicKey> {
    t.caller.as_ref().map(|hex_key| {
        let bytes = hex::decode(hex_key).expect("caller hex");
        PublicKey(bytes.try_into().expect("32-byte caller"))
    })
}

#[test]
fn every_fixture_vector_gives_the_same_verdict_events_and_state_in_the_cosmwasm_vm() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures");
    let files = load(&dir).expect("loading the fixture vectors");
    let code = StoredCode::store(CONTRACT_WASM);
    let mut count = 0;
    let mut failures = Vec::new();
    for file in &files {
        for v in &file.vectors {
            count += 1;
            if let Err(e) = run_vector(&code, v) {
                failures.push(format!("{}/{}: {e}", file.area, v.name));
            }
        }
    }
    assert!(count > 100, "only {count} vectors");
    assert!(
        failures.is_empty(),
        "{} of {count} vectors differ in the VM:\n  {}",
        failures.len(),
        failures.join("\n  ")
    );
}

fn run_vector(code: &StoredCode, v: &warden_host::fixtures::Vector) -> Result<(), String> {
    let genesis = hex::decode(&v.genesis).map_err(|e| e.to_string())?;
    let mut native = MemoryHost {
        height: v.genesis_height,
        time: v.genesis_time,
        ..MemoryHost::default()
    };
    contract::init(&mut native, &genesis).map_err(|e| format!("native genesis: {e:?}"))?;
    let mut vm = code.instance();
    let init: ContractResult<Response> = instantiate(
        &mut vm,
        env(v.genesis_height, v.genesis_time),
        mock_info(&address(None), &[]),
        InstantiateMsg {
            genesis: Binary::from(genesis),
        },
    );
    init.into_result().map_err(|e| format!("VM genesis: {e}"))?;
    let callers: BTreeSet<[u8; 32]> = v
        .setup
        .iter()
        .chain([&v.tx])
        .filter_map(|t| caller_of(t).map(|k| k.0))
        .collect();
    for key in callers {
        bind(&mut vm, &PublicKey(key));
    }

    let steps: Vec<&Transaction> = v.setup.iter().chain([&v.tx]).collect();
    for (i, t) in steps.iter().enumerate() {
        let tx = hex::decode(&t.tx).map_err(|e| e.to_string())?;
        let caller = caller_of(t);
        native.height = t.height;
        native.time = t.time;
        native.caller = caller;
        let before = native.events.len();
        let expected = contract::execute(&mut native, &Ed25519Strict, &tx)
            .map(|()| expected_events(&native.events[before..]))
            .map_err(|e| error_text(&e));
        let actual = submit(&mut vm, env(t.height, t.time), caller.as_ref(), &tx);
        if actual != expected {
            return Err(format!(
                "transaction {i}: native {expected:?}, VM {actual:?}"
            ));
        }
        if i + 1 == steps.len() {
            // The vector's own verdict: `"Name (code n): Debug"` against its name and values.
            let (name, debug) = match &actual {
                Ok(_) => ("ok".to_string(), None),
                Err(text) => {
                    let (head, debug) = text.split_once("): ").unwrap_or((text, ""));
                    let name = head.split(" (code").next().unwrap_or(head);
                    (name.to_string(), Some(debug.to_string()))
                }
            };
            if name != v.expected || debug != v.expected_error {
                return Err(format!(
                    "expected {} ({:?}), the VM gave {name} ({debug:?})",
                    v.expected, v.expected_error
                ));
            }
        }
    }
    if module_state(&mut vm) != native.state {
        return Err("the module states differ".into());
    }
    Ok(())
}

#[test]
fn the_cosmwasm_vm_agrees_with_the_native_module_on_every_step_of_the_sequence() {
    let net = sequence::network();
    let genesis = net.genesis();
    let mut native = Native::default();
    let (native_init, _) = native.init(&genesis);
    assert_eq!(native_init, Ok(()));
    let mut vm = instantiated(&StoredCode::store(CONTRACT_WASM), &genesis);
    assert_eq!(
        module_state(&mut vm),
        native.host.state,
        "state after genesis"
    );

    let script = sequence::script(&net);
    let callers: BTreeSet<[u8; 32]> = script
        .steps
        .iter()
        .filter_map(|s| s.caller.map(|k| k.0))
        .collect();
    for key in callers {
        bind(&mut vm, &PublicKey(key));
    }
    let mut accepted = 0;
    for (i, step) in script.steps.iter().enumerate() {
        let before = native.host.events.len();
        let (native_result, _) = native.execute(step.height, step.caller, &step.tx);
        let expected = native_result
            .map(|()| expected_events(&native.host.events[before..]))
            .map_err(|e| error_text(&e));
        let ctx = block(step.height);
        let actual = submit(
            &mut vm,
            env(ctx.height, ctx.time),
            step.caller.as_ref(),
            &step.tx,
        );
        assert_eq!(actual, expected, "step {i} ({})", step.label);
        let name = match &actual {
            Ok(_) => "ok",
            Err(text) => text.split(" (code").next().unwrap_or(text),
        };
        assert_eq!(
            name, step.expect,
            "step {i} ({}): expected outcome",
            step.label
        );
        assert_eq!(
            module_state(&mut vm),
            native.host.state,
            "step {i} ({}): state",
            step.label
        );
        accepted += usize::from(actual.is_ok());
    }
    assert!(accepted >= 20, "only {accepted} transactions were accepted");

    let last = block(script.height);
    for q in [Query::Status, Query::Config, Query::Isolated] {
        let bytes = encode(&q);
        let expected = native.query(script.height, &bytes).expect("native query");
        let answer: ContractResult<Binary> = query(
            &mut vm,
            env(last.height, last.time),
            QueryMsg::Module {
                query: Binary::from(bytes),
            },
        );
        let answer: Binary =
            cosmwasm_std::from_json(answer.into_result().expect("VM query")).expect("JSON");
        assert_eq!(answer.to_vec(), expected, "{q:?}");
    }
}

/// The double vote of `operator` with its second signature replaced.
fn double_vote_with(net: &TestNetwork, operator: u32, second: impl Fn(&[u8]) -> Signature) -> Msg {
    let mut evidence = net.double_vote(operator, 5);
    if let Evidence::DoubleVote { second: vote, .. } = &mut evidence {
        let bytes = vote.message.signing_bytes(net.chain_id, vote.epoch);
        vote.signature = second(&bytes);
    }
    Msg::SubmitEvidence(evidence)
}

#[test]
fn signatures_zip215_accepts_and_verify_strict_refuses_are_refused_in_the_cosmwasm_vm() {
    let net = TestNetwork::new(0xC05, 4);
    let key = net.keys[1].clone();
    let r = Scalar::from_bytes_mod_order([7; 32]);
    let cases: [(&str, Msg, bool); 4] = [
        (
            "a valid signature",
            double_vote_with(&net, 1, |m| {
                sign_with_nonce_point(&key, m, r, EdwardsPoint::default())
            }),
            true,
        ),
        (
            "a small-order R (ZIP-215 accepts it)",
            double_vote_with(&net, 1, |m| {
                sign_with_nonce_point(&key, m, Scalar::ZERO, order_four_point())
            }),
            false,
        ),
        (
            "a non-canonical s",
            double_vote_with(&net, 1, |m| {
                malleate(sign_with_nonce_point(&key, m, r, EdwardsPoint::default()))
            }),
            false,
        ),
        (
            "a signature over other bytes",
            double_vote_with(&net, 1, |_| {
                sign_with_nonce_point(&key, b"other", r, EdwardsPoint::default())
            }),
            false,
        ),
    ];
    let genesis = net.genesis();
    let code = StoredCode::store(CONTRACT_WASM);
    for (label, msg, valid) in cases {
        let mut native = Native::default();
        native.init(&genesis).0.expect("native genesis");
        let mut vm = instantiated(&code, &genesis);
        let tx = encode(&msg);
        let height = GENESIS_HEIGHT + 1;
        let before = native.host.events.len();
        let expected = native
            .execute(height, None, &tx)
            .0
            .map(|()| expected_events(&native.host.events[before..]))
            .map_err(|e| error_text(&e));
        assert_eq!(expected.is_ok(), valid, "{label}: native {expected:?}");
        let ctx = block(height);
        let actual = submit(&mut vm, env(ctx.height, ctx.time), None, &tx);
        assert_eq!(actual, expected, "{label}");
        assert_eq!(module_state(&mut vm), native.host.state, "{label}: state");
    }
}

#[test]
fn a_sender_registers_its_own_key_and_a_forged_registration_is_refused() {
    let net = TestNetwork::new(0xC05, 4);
    let mut vm = StoredCode::store(CONTRACT_WASM).instance();
    let sender = address(None);
    let env = mock_env();
    let message = registration_message(env.contract.address.as_str(), &sender);
    let key = &net.keys[2];
    let register = |signature: Signature| ExecuteMsg::RegisterIdentity {
        key: Binary::from(key.verifying_key().to_bytes()),
        signature: Binary::from(signature.0),
    };
    let good = Signature(key.sign(&message).to_bytes());
    let forged = Signature(
        key.sign(&registration_message("another-contract", &sender))
            .to_bytes(),
    );
    let refused: ContractResult<Response> = execute(
        &mut vm,
        env.clone(),
        mock_info(&sender, &[]),
        register(forged),
    );
    let err = refused
        .into_result()
        .expect_err("a signature over another contract");
    assert!(err.starts_with("BadSignature (code 9)"), "{err}");
    let accepted: ContractResult<Response> = execute(
        &mut vm,
        env.clone(),
        mock_info(&sender, &[]),
        register(good),
    );
    let accepted = accepted.into_result().expect("a proven registration");
    assert_eq!(
        accepted.events,
        [cosmwasm_std::Event::new("warden_identity_bound")
            .add_attribute("address", &sender)
            .add_attribute(
                "identity",
                warden_module::json::to_hex(&key.verifying_key().to_bytes())
            )]
    );
    let identity: ContractResult<Binary> = query(
        &mut vm,
        env,
        QueryMsg::Identity {
            address: sender.clone(),
        },
    );
    let identity: Option<Binary> =
        cosmwasm_std::from_json(identity.into_result().expect("identity query")).expect("JSON");
    assert_eq!(
        identity.map(|b| b.to_vec()),
        Some(key.verifying_key().to_bytes().to_vec())
    );
}
