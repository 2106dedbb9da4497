//! The CosmWasm contract (`module/cosmwasm/`, package `warden-cosmwasm`) as built by this
//! crate's build script: for `wasm32-unknown-unknown` with profile `wasm`, its bulk-memory
//! instructions lowered by `warden-wasm-lower` so that CosmWasm's VM accepts it.

use std::path::Path;

use anyhow::Context;

/// The contract CosmWasm chains store: signatures through the VM's `ed25519_verify`, after
/// `verify_strict`'s own refusals.
pub const CONTRACT_WASM: &[u8] = include_bytes!(env!("WARDEN_COSMWASM_WASM"));

/// The same contract built with feature `in-contract-verify`: signatures checked by
/// ed25519-dalek's `verify_strict` inside the contract (the gas table's reference).
pub const CONTRACT_WASM_IN_CONTRACT_VERIFY: &[u8] =
    include_bytes!(env!("WARDEN_COSMWASM_WASM_IN_CONTRACT_VERIFY"));

/// Writes the contract to `out` (and, with `in_contract_verify`, the in-contract-verify build
/// instead); returns a one-line summary with its size and SHA-256 (the checksum a chain
/// reports for the stored code).
pub fn write_contract(out: &Path, in_contract_verify: bool) -> anyhow::Result<String> {
    let wasm = if in_contract_verify {
        CONTRACT_WASM_IN_CONTRACT_VERIFY
    } else {
        CONTRACT_WASM
    };
    if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    std::fs::write(out, wasm).with_context(|| format!("writing {}", out.display()))?;
    use sha2::Digest;
    let checksum = hex::encode(sha2::Sha256::digest(wasm));
    Ok(format!(
        "wrote {} ({} bytes, sha256 {checksum})\n",
        out.display(),
        wasm.len()
    ))
}
