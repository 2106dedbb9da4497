//! The on-chain build's linear memory: a 32 KiB stack below the data instead of the toolchain's
//! 1 MiB. A call's memory is then a few hundred KiB, which a runtime resets cheaply between
//! calls. A stack overflow runs below address zero and traps; it never reaches the data.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let wasm = std::env::var("CARGO_CFG_TARGET_ARCH").as_deref() == Ok("wasm32");
    let js = std::env::var_os("CARGO_FEATURE_JS").is_some();
    let abi = std::env::var_os("CARGO_FEATURE_ABI").is_some();
    if wasm && abi && !js {
        println!("cargo:rustc-link-arg-cdylib=-zstack-size={STACK_BYTES}");
    }
}

/// The module's stack, in bytes.
const STACK_BYTES: u32 = 32 * 1024;
