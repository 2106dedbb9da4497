//! # warden-host
//!
//! The native half of Warden: the wasm executor that runs `warden-module` deterministically
//! under wasmtime, the embedded chain runtime ([`chain`]: persistent blocks, signed envelopes,
//! a state root and a local node), the fault-tolerance layer a validator's host runs ([`ft`]:
//! detection, relaying, recovery, monitoring and the `FaultToleranceManager` facade), the seeded
//! HotStuff-2 simulator that closes the loop over both ([`sim`]), deterministic test keys and
//! evidence builders, the golden fixture vectors, the module benchmark and the `warden` binary.
//!
//! Architecture invariant: [`wasm`] is the only module that embeds wasmtime.

pub mod bench;
pub mod chain;
pub mod cosmwasm;
pub mod demo;
pub mod fixtures;
pub mod forensics_cli;
pub mod ft;
pub mod ft_bench;
pub mod http;
pub mod keys;
pub mod logging;
pub mod net;
pub mod sim;
pub mod simulate;
pub mod test_utils;

pub use warden_testkit as testkit;
pub mod wasm;
