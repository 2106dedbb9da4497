//! CosmWasm gas per evidence kind: the contract with the VM's `ed25519_verify` beside the same
//! transaction verified inside the contract (`verify_strict` compiled in), in `cosmwasm-vm`
//! 3.0.10. Gas is deterministic: one run is the figure.
//!
//! `cargo bench -p warden-tests --bench cosmwasm_gas`

#[path = "../tests/cosmwasm_support/mod.rs"]
mod cosmwasm_support;

use cosmwasm_std::{Binary, ContractResult, Response};
use cosmwasm_support::StoredCode;
use cosmwasm_vm::testing::{execute, instantiate, mock_info, MockApi};
use warden_cosmwasm::{ExecuteMsg, InstantiateMsg};
use warden_host::bench::grouped;
use warden_host::cosmwasm::{CONTRACT_WASM, CONTRACT_WASM_IN_CONTRACT_VERIFY};
use warden_module::codec::encode;
use warden_module::msg::Msg;
use warden_module::wire::CertificateKind;
use warden_tests::{accuse, block, certificates, TestNetwork, GENESIS_HEIGHT};

/// `GasConfig::ed25519_verify_cost` of cosmwasm-vm 3.0.10 (35 µs at 1 gas per picosecond).
const ED25519_VERIFY_GAS: u64 = 35_000_000;

/// The target: a double vote costs at most about three `ed25519_verify` calls.
const DOUBLE_VOTE_TARGET: u64 = 3 * ED25519_VERIFY_GAS;

fn env(height: u64) -> cosmwasm_std::Env {
    let ctx = block(height);
    cosmwasm_support::env(ctx.height, ctx.time)
}

/// Gas of `tx` on a fresh contract: (gas, whether it was accepted).
fn gas(code: &StoredCode, net: &TestNetwork, tx: &Msg) -> (u64, Result<(), String>) {
    gas_of_bytes(code, net, &encode(tx))
}

/// Gas of raw transaction bytes on a fresh contract.
fn gas_of_bytes(code: &StoredCode, net: &TestNetwork, tx: &[u8]) -> (u64, Result<(), String>) {
    let mut vm = code.instance();
    let sender = MockApi::default().addr_make("relayer");
    let init: ContractResult<Response> = instantiate(
        &mut vm,
        env(GENESIS_HEIGHT),
        mock_info(&sender, &[]),
        InstantiateMsg {
            genesis: Binary::from(encode(&net.genesis())),
        },
    );
    init.into_result().expect("genesis");
    let before = vm.get_gas_left();
    let result: ContractResult<Response> = execute(
        &mut vm,
        env(GENESIS_HEIGHT + 1),
        mock_info(&sender, &[]),
        ExecuteMsg::Submit {
            tx: Binary::from(tx),
        },
    );
    let used = before - vm.get_gas_left();
    (used, result.into_result().map(|_| ()))
}

fn main() {
    let net = TestNetwork::new(0xC05, 16);
    let quorum: Vec<u32> = (0..11).collect();
    let kinds: Vec<(&str, Msg)> = vec![
        ("double vote", Msg::SubmitEvidence(net.double_vote(1, 5))),
        (
            "double vote (phase 2)",
            Msg::SubmitEvidence(net.double_vote2(1, 5)),
        ),
        (
            "double proposal",
            Msg::SubmitEvidence(net.double_proposal(2, 7)),
        ),
        (
            "lock violation (vote)",
            Msg::SubmitEvidence(net.lock_violation_vote(3, 9)),
        ),
        (
            "lock violation (timeout)",
            Msg::SubmitEvidence(net.lock_violation_timeout(4, 12)),
        ),
        (
            "invalid proposal (short certificate)",
            Msg::SubmitEvidence(net.short_certificate(5, 1)),
        ),
        (
            "accusation (6 witnesses)",
            accuse(&net, 6, 10, 20, &[7, 8, 9, 10, 11, 12]),
        ),
        (
            "certificates (2 of 11 signatures)",
            certificates(&net, CertificateKind::Vote, [1, 2], &quorum),
        ),
    ];
    println!("CosmWasm gas per transaction (cosmwasm-vm 3.0.10, 16 validators; one ed25519_verify = {} gas)\n", grouped(ED25519_VERIFY_GAS));
    println!(
        "{:<38} {:>5} {:>16} {:>10} {:>18} {:>7}",
        "evidence", "sigs", "host verify", "per sig", "in-contract verify", "ratio"
    );
    let host_verify = StoredCode::store(CONTRACT_WASM);
    let contract_verify = StoredCode::store(CONTRACT_WASM_IN_CONTRACT_VERIFY);
    let mut double_vote = None;
    for (label, tx) in &kinds {
        let signatures = tx.signature_count().max(1);
        let (host, host_result) = gas(&host_verify, &net, tx);
        let (inside, inside_result) = gas(&contract_verify, &net, tx);
        if let Err(e) = host_result.as_ref().and(inside_result.as_ref()) {
            eprintln!("{label}: refused: {e}");
            std::process::exit(1);
        }
        if *label == "double vote" {
            double_vote = Some(host);
        }
        println!(
            "{:<38} {:>5} {:>16} {:>10} {:>18} {:>6.1}x",
            label,
            signatures,
            grouped(host),
            grouped(host / signatures),
            grouped(inside),
            inside as f64 / host as f64
        );
    }
    let (fixed, refused) = gas_of_bytes(&host_verify, &net, &[0xff]);
    assert!(refused.is_err(), "an undecodable transaction was accepted");
    println!(
        "{:<38} {:>5} {:>16}",
        "refused: not a transaction",
        0,
        grouped(fixed)
    );
    let double_vote = double_vote.expect("the double vote row");
    println!(
        "\ndouble vote: {} gas = {:.2} ed25519_verify calls (target at most about 3: {})",
        grouped(double_vote),
        double_vote as f64 / ED25519_VERIFY_GAS as f64,
        if double_vote <= DOUBLE_VOTE_TARGET {
            "PASS"
        } else {
            "MISS"
        }
    );
}
