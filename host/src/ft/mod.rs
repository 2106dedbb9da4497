//! The fault-tolerance layer's I/O side: what a validator's host needs around the sans-IO
//! [`ValidatorHost`] of `warden-core` (re-exported here as [`config`], [`detect`], [`host`],
//! [`wire`], [`recovery`] and [`monitor`]).
//!
//! ## Code map
//! - [`relay`]: the [`relay::EvidenceCollector`]'s durable queue and the relayer that submits it.
//! - [`metrics`]: the HTTP endpoint serving the Prometheus exposition.
//! - [`manager`]: the [`FaultToleranceManager`] facade over a [`ValidatorHost`], a relay queue
//!   and a chain connection.
//!
//! The simulator closes the loop by driving one [`ValidatorHost`] per honest validator beside
//! the embedded chain (`crate::sim::hosts`).

pub mod async_manager;
pub mod manager;
pub mod metrics;
pub mod relay;
pub mod relay_server;

pub use warden_core::{config, detect, forensics, host, monitor, recovery, wire};
pub use warden_core::{ByzantineDetector, FaultToleranceConfig, ValidatorHost};

pub use manager::{FaultToleranceManager, WardenManager};
