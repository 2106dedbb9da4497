//! The genesis file: TOML, read into host-side mirror structs and turned into the module's
//! [`Genesis`].
//!
//! ```toml
//! chain_id = 7
//! epoch = 1
//! time_ms = 1700000000000          # genesis block time (default 0)
//! authority = "<hex ed25519 public key>"
//!
//! [runtime]                        # every field optional
//! fuel_per_tx = 1000000000         # plus fuel_per_signature for each signature a transaction carries
//! fuel_per_signature = 5000000
//! max_block_txs = 1000
//! mempool_capacity = 10000
//!
//! [[validators]]
//! operator = 0
//! name = "validator-0"
//! key = "<hex ed25519 public key>"
//! power = 10
//!
//! [config]                         # the module's configuration; omitted fields take defaults
//! retention_epochs = 8
//! [config.reputation]
//! baseline = 500000
//! ```
//!
//! Unknown fields are refused, so a misspelt setting is an error rather than a silent default.

use std::path::Path;

use serde::{Deserialize, Serialize};

use warden_module::codec::{BoundedBytes, BoundedVec};
use warden_module::config::{
    Config, IsolationConfig, LivenessConfig, ReputationConfig, SlashingConfig,
};
use warden_module::msg::Genesis;
use warden_module::validators::ValidatorInfo;
use warden_module::wire::{PublicKey, MAX_VALIDATORS};

use crate::testkit::TestNetwork;

/// The largest genesis file read.
pub const MAX_GENESIS_BYTES: u64 = 4 << 20;

/// The runtime's own settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RuntimeConfig {
    /// Fuel one transaction may burn, besides its signatures' allowance.
    pub fuel_per_tx: u64,
    /// Fuel added for each signature a transaction carries (at most
    /// `warden_module::msg::MAX_SIGNATURES_PER_TX`), so quorum operations of large sets fit.
    pub fuel_per_signature: u64,
    /// Most transactions in one block.
    pub max_block_txs: u32,
    /// Most transactions waiting in the mempool.
    pub mempool_capacity: u32,
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        Self {
            fuel_per_tx: 1_000_000_000,
            fuel_per_signature: 5_000_000,
            max_block_txs: 1_000,
            mempool_capacity: 10_000,
        }
    }
}

/// One validator.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ValidatorToml {
    /// Stable operator index.
    pub operator: u32,
    /// Name (at most 64 bytes).
    pub name: String,
    /// Consensus key, 32 bytes in hex.
    pub key: String,
    /// Voting power.
    pub power: u64,
}

macro_rules! mirror {
    ($(#[$doc:meta])* $name:ident => $target:ident { $($(#[$fdoc:meta])* $field:ident: $ty:ty),* $(,)? }, $default:expr) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
        #[serde(default, deny_unknown_fields)]
        pub struct $name {
            $($(#[$fdoc])* pub $field: $ty,)*
        }
        impl Default for $name {
            fn default() -> Self {
                let d: $target = $default;
                Self { $($field: d.$field,)* }
            }
        }
        impl From<$name> for $target {
            fn from(m: $name) -> Self {
                Self { $($field: m.$field,)* }
            }
        }
        impl From<&$target> for $name {
            fn from(c: &$target) -> Self {
                Self { $($field: c.$field.clone(),)* }
            }
        }
    };
}

mirror!(
    /// [`ReputationConfig`].
    ReputationToml => ReputationConfig {
        /// The highest score.
        max: u32,
        /// The starting score and decay target.
        baseline: u32,
        /// Decay per epoch change (ppm).
        decay_ppm: u32,
        /// Tier 1 penalty.
        tier1_penalty: u32,
        /// Tier 2 penalty.
        tier2_penalty: u32,
        /// Tier 3 penalty.
        tier3_penalty: u32,
        /// Reward per participation window met.
        participation_reward: u32,
        /// Rehabilitation threshold.
        rehabilitation_threshold: u32,
    },
    Config::default().reputation
);

mirror!(
    /// [`IsolationConfig`].
    IsolationToml => IsolationConfig {
        /// Warnings before the first quarantine.
        warnings_before_quarantine: u32,
        /// Short quarantine, in blocks.
        short_quarantine_blocks: u64,
        /// Long quarantine, in blocks.
        long_quarantine_blocks: u64,
        /// Offences after which quarantines are long.
        long_quarantine_after: u32,
        /// Influence on probation (ppm).
        probation_influence_ppm: u32,
    },
    Config::default().isolation
);

mirror!(
    /// [`SlashingConfig`].
    SlashingToml => SlashingConfig {
        /// Smallest Tier 1 fraction (ppb).
        min_fraction_ppb: u64,
        /// Veto window, in blocks.
        deferral_blocks: u64,
        /// Reporter reward (ppm).
        reporter_reward_ppm: u32,
        /// Correlation window, in epochs.
        correlation_window_epochs: u64,
    },
    Config::default().slashing
);

mirror!(
    /// [`LivenessConfig`].
    LivenessToml => LivenessConfig {
        /// Certificates per participation window.
        participation_window: u32,
        /// Minimum participation (ppm).
        min_participation_ppm: u32,
        /// Leader failures per window that quarantine.
        max_leader_failures: u32,
        /// Longest accusation range, in views.
        max_accusation_views: u64,
    },
    Config::default().liveness
);

/// [`Config`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ConfigToml {
    /// Evidence retention, in epochs.
    pub retention_epochs: u64,
    /// Reputation.
    pub reputation: ReputationToml,
    /// Isolation.
    pub isolation: IsolationToml,
    /// Slashing.
    pub slashing: SlashingToml,
    /// Liveness.
    pub liveness: LivenessToml,
}

impl Default for ConfigToml {
    fn default() -> Self {
        Self::from(&Config::default())
    }
}

impl From<&Config> for ConfigToml {
    fn from(c: &Config) -> Self {
        Self {
            retention_epochs: c.retention_epochs,
            reputation: (&c.reputation).into(),
            isolation: (&c.isolation).into(),
            slashing: (&c.slashing).into(),
            liveness: (&c.liveness).into(),
        }
    }
}

impl From<ConfigToml> for Config {
    fn from(m: ConfigToml) -> Self {
        Self {
            retention_epochs: m.retention_epochs,
            reputation: m.reputation.into(),
            isolation: m.isolation.into(),
            slashing: m.slashing.into(),
            liveness: m.liveness.into(),
        }
    }
}

/// A genesis file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenesisFile {
    /// The chain id.
    pub chain_id: u64,
    /// The first epoch.
    pub epoch: u64,
    /// Genesis block time, milliseconds since the Unix epoch.
    #[serde(default)]
    pub time_ms: u64,
    /// The authority's key, 32 bytes in hex.
    pub authority: String,
    /// Runtime settings.
    #[serde(default)]
    pub runtime: RuntimeConfig,
    /// The first validators.
    pub validators: Vec<ValidatorToml>,
    /// The module's configuration.
    #[serde(default)]
    pub config: ConfigToml,
}

fn key_from_hex(what: &str, hex_key: &str) -> anyhow::Result<PublicKey> {
    let bytes = hex::decode(hex_key.trim()).map_err(|e| anyhow::anyhow!("{what}: not hex: {e}"))?;
    let bytes: [u8; 32] = bytes
        .try_into()
        .map_err(|b: Vec<u8>| anyhow::anyhow!("{what}: {} bytes, a key has 32", b.len()))?;
    Ok(PublicKey(bytes))
}

impl GenesisFile {
    /// Parses a genesis file's text.
    pub fn parse(text: &str) -> anyhow::Result<Self> {
        toml::from_str(text).map_err(|e| anyhow::anyhow!("genesis: {e}"))
    }

    /// Reads a genesis file.
    pub fn read(path: &Path) -> anyhow::Result<Self> {
        let size = std::fs::metadata(path)
            .map_err(|e| anyhow::anyhow!("reading {}: {e}", path.display()))?
            .len();
        anyhow::ensure!(
            size <= MAX_GENESIS_BYTES,
            "{}: {size} bytes, over the limit of {MAX_GENESIS_BYTES}",
            path.display()
        );
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("reading {}: {e}", path.display()))?;
        Self::parse(&text).map_err(|e| anyhow::anyhow!("{}: {e:#}", path.display()))
    }

    /// The file as TOML.
    pub fn to_toml(&self) -> anyhow::Result<String> {
        toml::to_string(self).map_err(|e| anyhow::anyhow!("genesis: {e}"))
    }

    /// The module's genesis. Structural checks happen here; the module checks the rest (weak
    /// keys, duplicates, configuration ranges) when it initialises.
    pub fn module_genesis(&self) -> anyhow::Result<Genesis> {
        anyhow::ensure!(
            self.runtime.fuel_per_tx > 0,
            "runtime.fuel_per_tx must be positive"
        );
        anyhow::ensure!(
            self.runtime.max_block_txs > 0,
            "runtime.max_block_txs must be positive"
        );
        anyhow::ensure!(
            self.runtime.mempool_capacity > 0,
            "runtime.mempool_capacity must be positive"
        );
        anyhow::ensure!(
            self.validators.len() <= MAX_VALIDATORS,
            "{} validators, at most {MAX_VALIDATORS}",
            self.validators.len()
        );
        let validators = self
            .validators
            .iter()
            .map(|v| {
                Ok(ValidatorInfo {
                    operator: v.operator,
                    name: BoundedBytes::new(v.name.clone().into_bytes()).ok_or_else(|| {
                        anyhow::anyhow!("validator {}: name over 64 bytes", v.operator)
                    })?,
                    key: key_from_hex(&format!("validator {}", v.operator), &v.key)?,
                    power: v.power,
                })
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        Ok(Genesis {
            chain_id: self.chain_id,
            epoch: self.epoch,
            authority: key_from_hex("authority", &self.authority)?,
            validators: BoundedVec::new(validators)
                .ok_or_else(|| anyhow::anyhow!("too many validators"))?,
            config: self.config.clone().into(),
        })
    }

    /// The genesis of a test network (deterministic keys).
    pub fn from_network(net: &TestNetwork, time_ms: u64) -> Self {
        let genesis = net.genesis();
        Self {
            chain_id: genesis.chain_id,
            epoch: genesis.epoch,
            time_ms,
            authority: hex::encode(genesis.authority.0),
            runtime: RuntimeConfig::default(),
            validators: genesis
                .validators
                .iter()
                .map(|v| ValidatorToml {
                    operator: v.operator,
                    name: String::from_utf8_lossy(v.name.as_bytes()).into_owned(),
                    key: hex::encode(v.key.0),
                    power: v.power,
                })
                .collect(),
            config: (&genesis.config).into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn omitted_config_fields_take_defaults_and_unknown_ones_are_refused() {
        let net = TestNetwork::new(7, 4);
        let text = format!(
            "chain_id = 7\nepoch = 1\nauthority = \"{}\"\n[config.reputation]\nbaseline = 1\n{}",
            hex::encode(net.authority_key().0),
            GenesisFile::from_network(&net, 0)
                .validators
                .iter()
                .map(|v| format!(
                    "[[validators]]\noperator = {}\nname = \"{}\"\nkey = \"{}\"\npower = {}\n",
                    v.operator, v.name, v.key, v.power
                ))
                .collect::<String>()
        );
        let file = GenesisFile::parse(&text).expect("parses");
        let genesis = file.module_genesis().expect("converts");
        assert_eq!(genesis.config.reputation.baseline, 1);
        assert_eq!(
            genesis.config.reputation.max,
            Config::default().reputation.max
        );
        assert_eq!(genesis.validators.len(), 4);
        assert!(GenesisFile::parse(&format!("{text}\nbogus = 1\n")).is_err());
    }

    #[test]
    fn a_test_network_round_trips_through_toml() {
        let file = GenesisFile::from_network(&TestNetwork::new(7, 7), 5);
        let text = file.to_toml().expect("serialises");
        assert_eq!(GenesisFile::parse(&text).expect("parses"), file);
        assert_eq!(
            file.module_genesis().expect("converts"),
            TestNetwork::new(7, 7).genesis()
        );
    }
}
