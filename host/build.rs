//! Builds `warden-module` for `wasm32-unknown-unknown` (profile `wasm`) twice and hands the
//! paths to the crate: `WARDEN_MODULE_WASM` (signatures through the runtime's `verify` import)
//! and `WARDEN_MODULE_WASM_IN_WASM_VERIFY` (feature `in-wasm-verify`, signatures checked inside
//! the module). Adds the wasm target with rustup when it is missing, so a fresh clone builds
//! with nothing but the stock toolchain.
//!
//! It also builds the CosmWasm contract (`warden-cosmwasm`) twice (profile `cosmwasm`: for
//! speed, since the VM meters every operation), lowered for CosmWasm's VM by
//! `warden-wasm-lower`: `WARDEN_COSMWASM_WASM` (signatures through the VM's `ed25519_verify`)
//! and `WARDEN_COSMWASM_WASM_IN_CONTRACT_VERIFY` (feature `in-contract-verify`).
//!
//! Everything is built by a nested cargo into its own target directory (`target/wasm-module`),
//! so it never contends with the outer build's lock.

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

const TARGET: &str = "wasm32-unknown-unknown";

fn main() {
    let manifest_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let root = manifest_dir.parent().expect("workspace root").to_path_buf();
    for dir in [root.join("module"), root.join("module").join("cosmwasm")] {
        for file in ["src", "Cargo.toml", "build.rs"] {
            println!("cargo:rerun-if-changed={}", dir.join(file).display());
        }
    }
    println!(
        "cargo:rerun-if-changed={}",
        root.join("Cargo.lock").display()
    );
    println!(
        "cargo:rerun-if-changed={}",
        root.join("Cargo.toml").display()
    );
    let target_dir = env::var("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| root.join("target"))
        .join("wasm-module");
    // The module that verifies inside, then the one with the runtime's `verify` import (last,
    // so that the build's own `warden_module.wasm` is that one).
    let module = "warden-module";
    let contract = "warden-cosmwasm";
    for (var, package, features, name) in [
        (
            "WARDEN_MODULE_WASM_IN_WASM_VERIFY",
            module,
            Some("in-wasm-verify"),
            "warden_module_in_wasm_verify.wasm",
        ),
        ("WARDEN_MODULE_WASM", module, None, "warden_module.wasm"),
        (
            "WARDEN_COSMWASM_WASM_IN_CONTRACT_VERIFY",
            contract,
            Some("in-contract-verify"),
            "warden_cosmwasm_in_contract_verify.wasm",
        ),
        (
            "WARDEN_COSMWASM_WASM",
            contract,
            None,
            "warden_cosmwasm.wasm",
        ),
    ] {
        println!("cargo:rerun-if-env-changed={var}");
        // A prebuilt module may be supplied instead (for example by a chain's own build).
        let path = match env::var(var) {
            Ok(path) => PathBuf::from(path),
            Err(_) => {
                let profile = if package == contract {
                    "cosmwasm"
                } else {
                    "wasm"
                };
                let built = build_module(&root, &target_dir, package, profile, features, name);
                if package == contract {
                    lower(&built)
                } else {
                    built
                }
            }
        };
        println!("cargo:rustc-env={var}={}", path.display());
    }
}

/// Lowers the contract's bulk-memory instructions (CosmWasm's VM refuses them) into
/// `<name>.lowered.wasm` beside it.
fn lower(wasm: &Path) -> PathBuf {
    let bytes = std::fs::read(wasm).unwrap_or_else(|e| panic!("reading {}: {e}", wasm.display()));
    let lowered = warden_wasm_lower::lower_bulk_memory(&bytes)
        .unwrap_or_else(|e| panic!("lowering {}: {e}", wasm.display()));
    let out = wasm.with_extension("lowered.wasm");
    std::fs::write(&out, lowered).unwrap_or_else(|e| panic!("writing {}: {e}", out.display()));
    out
}

/// Builds `package` with `profile` and `features` and copies it to `name` beside the build's
/// output (the builds share the target directory, and so every dependency of one profile).
fn build_module(
    root: &Path,
    target_dir: &Path,
    package: &str,
    profile: &str,
    features: Option<&str>,
    name: &str,
) -> PathBuf {
    let cargo = env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    ensure_target();

    let mut cmd = Command::new(&cargo);
    cmd.current_dir(root)
        .args(["build", "--package", package, "--lib", "--locked"])
        .args(["--target", TARGET, "--profile", profile, "--target-dir"])
        .arg(target_dir);
    if let Some(features) = features {
        cmd.args(["--features", features]);
    }
    // The outer build's flags are for the host, not for wasm.
    for var in [
        "RUSTFLAGS",
        "CARGO_ENCODED_RUSTFLAGS",
        "CARGO_BUILD_RUSTFLAGS",
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_TARGET",
        "RUSTC_WORKSPACE_WRAPPER",
        "CARGO_MAKEFLAGS",
        "MAKEFLAGS",
        "MFLAGS",
    ] {
        cmd.env_remove(var);
    }
    for (key, _) in env::vars() {
        if key.starts_with("CARGO_FEATURE_") || key.starts_with("CARGO_CFG_") {
            cmd.env_remove(key);
        }
    }
    let status = cmd
        .status()
        .unwrap_or_else(|e| panic!("could not run {cargo} to build {package} for {TARGET}: {e}"));
    if !status.success() {
        panic!("building {package} for {TARGET} failed ({status}); see the output above");
    }
    let out = target_dir.join(TARGET).join(profile);
    let wasm = out.join(format!("{}.wasm", package.replace('-', "_")));
    if !wasm.exists() {
        panic!("the wasm build finished but {} is missing", wasm.display());
    }
    let copy = out.join(name);
    if copy != wasm {
        std::fs::copy(&wasm, &copy)
            .unwrap_or_else(|e| panic!("copying {} to {}: {e}", wasm.display(), copy.display()));
    }
    copy
}

/// Adds the wasm target when the active toolchain lacks it.
fn ensure_target() {
    let rustc = env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let sysroot = Command::new(&rustc)
        .args(["--print", "sysroot"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()));
    if let Some(sysroot) = &sysroot {
        if has_target(sysroot) {
            return;
        }
    }
    let status = Command::new("rustup")
        .args(["target", "add", TARGET])
        .status();
    match status {
        Ok(s) if s.success() => {
            println!("cargo:warning=added the missing {TARGET} target with rustup");
        }
        other => panic!(
            "the {TARGET} target is missing and `rustup target add {TARGET}` failed ({other:?}); \
             install it by hand and build again"
        ),
    }
}

fn has_target(sysroot: &Path) -> bool {
    sysroot
        .join("lib")
        .join("rustlib")
        .join(TARGET)
        .join("lib")
        .is_dir()
}
