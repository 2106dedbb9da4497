//! The fault-tolerance layer a validator's host runs beside its consensus replica (BRIEF
//! section 4): it watches every consensus message, proves or witnesses misbehaviour, relays it
//! to the chain, feeds the chain's isolation decisions back into the validator set, recovers
//! from stuck views, partitions and lost disks, and reports health.
//!
//! ## Code map
//! - [`config`]: [`FaultToleranceConfig`], read from `warden.toml`.
//! - [`detect`]: the [`ByzantineDetector`]: Tier 1 conflict index and Tier 2 windows.
//! - [`relay`]: the [`relay::EvidenceCollector`]'s persistent queue and the relayer that submits it.
//! - [`recovery`]: stuck views, partitions, checkpoints.
//! - [`monitor`]: consensus, network and validator-set health, tolerance margin, anomalies.
//! - [`metrics`]: the Prometheus text exposition and its HTTP endpoint.
//! - [`host`]: the [`ValidatorHost`]: the parts above behind one sans-IO interface (inputs with
//!   the time, outputs as actions); what the simulator and every node run.
//! - [`wire`]: the host-to-host messages and their bounded encoding.
//! - [`manager`]: the [`FaultToleranceManager`] facade over a [`ValidatorHost`], a relay queue
//!   and a chain connection.
//! - [`test_utils`]: test support for teams integrating Warden into their own node.
//! - [`mod@bench`]: `warden ft bench`.
//!
//! The simulator closes the loop by driving one [`ValidatorHost`] per honest validator beside
//! the embedded chain (`crate::sim::hosts`).

pub mod bench;
pub mod config;
pub mod detect;
pub mod host;
pub mod manager;
pub mod metrics;
pub mod monitor;
pub mod recovery;
pub mod relay;
pub mod test_utils;
pub mod wire;

pub use config::FaultToleranceConfig;
pub use detect::ByzantineDetector;
pub use host::ValidatorHost;
pub use manager::{FaultToleranceManager, WardenManager};
