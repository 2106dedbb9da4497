#!/usr/bin/env bash
# Builds the wasm-bindgen package into module/js/pkg (Node.js target, CommonJS).
# Needs wasm-bindgen-cli of exactly the version of the `wasm-bindgen` crate in Cargo.lock.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
cargo build --locked -p warden-module --lib --features js \
    --target wasm32-unknown-unknown --release --target-dir target/wasm-js
wasm-bindgen --target nodejs --out-dir module/js/pkg \
    target/wasm-js/wasm32-unknown-unknown/release/warden_module.wasm
