//! # warden-core
//!
//! What a validator's host runs beside its consensus replica (BRIEF section 4), as plain data
//! and pure functions of its inputs: it watches every consensus message, proves or witnesses
//! misbehaviour, starts and co-signs accusations, recovers from stuck views and partitions,
//! keeps checkpoints for peers that lost their disk, and reports health. [`ValidatorHost`]
//! puts it behind one sans-IO interface; the simulator and every node drive that type.
//!
//! ## Code map
//! - [`config`]: [`FaultToleranceConfig`], read from `warden.toml`, and the module
//!   configuration of the chains Warden creates.
//! - [`detect`]: the [`ByzantineDetector`]: Tier 1 conflict index and Tier 2 windows.
//! - [`forensics`]: after a fork, the culprits holding more than a third of the power, from
//!   certificates alone.
//! - [`host`]: the [`ValidatorHost`]: inputs with the time, outputs as actions.
//! - [`wire`]: the host-to-host messages and their bounded encoding.
//! - [`recovery`]: stuck views, partitions, checkpoints.
//! - [`monitor`]: consensus, network and validator-set health, tolerance margin, anomalies.
//! - [`metrics`]: the Prometheus text exposition.
//!
//! Architecture invariant: this crate depends on `warden-module` and plain data libraries only
//! (no wasmtime, redb, HTTP stack, clap or async runtime), and nothing in it reads a clock, a
//! socket or a file other than the configuration file it is asked to load.

pub mod config;
pub mod detect;
pub mod forensics;
pub mod host;
pub mod metrics;
pub mod monitor;
pub mod recovery;
pub mod wire;

pub use config::FaultToleranceConfig;
pub use detect::ByzantineDetector;
pub use host::ValidatorHost;
