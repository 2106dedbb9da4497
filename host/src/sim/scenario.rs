//! Scenario files (`fixtures/scenarios/*.toml`): validators and power, adversaries, Twins,
//! network, crashes, duration, seed and what the run must show.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::adversary::{Attack, InvalidKind, MAX_FLOOD_PER_VIEW};
use super::network::{Crash, NetworkConfig, Partition};
use super::rng::Rng;

/// The most validators a scenario may have (the wire format's bound).
pub const MAX_SCENARIO_VALIDATORS: usize = warden_module::wire::MAX_VALIDATORS;
/// The longest simulated duration a scenario may ask for: one hour.
pub const MAX_DURATION_US: u64 = 3_600_000_000;

/// The Byzantine behaviours of one validator.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdversarySpec {
    /// The validator (operator index).
    pub validator: u32,
    /// Its behaviours, all at once.
    pub behaviours: Vec<Attack>,
}

/// What a run must show.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    /// `true` for a scenario built to break safety (more than f colluders): the run passes
    /// only if the checker catches a safety violation.
    #[serde(default)]
    pub safety_violation: bool,
    /// Check liveness after faults heal (only when the faulty power is at most f).
    #[serde(default = "yes")]
    pub liveness: bool,
    /// The honest committed height the run must reach.
    #[serde(default)]
    pub min_height: u64,
    /// `true` for a coalition above f and at most 2f that may fork the chain: the run passes
    /// if it stays safe, or if every fork ends with more than a third of the power proven
    /// guilty on chain and no honest validator accused (the accountability check applies to
    /// every closed-loop run that breaks safety within 2f, this only allows the fork).
    #[serde(default)]
    pub accountable: bool,
}

fn yes() -> bool {
    true
}

impl Default for Expect {
    fn default() -> Self {
        Self {
            safety_violation: false,
            liveness: true,
            min_height: 0,
            accountable: false,
        }
    }
}

/// A simulation scenario.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Its name.
    pub name: String,
    /// What it exercises.
    #[serde(default)]
    pub description: String,
    /// The seed that fixes the whole run.
    #[serde(default)]
    pub seed: u64,
    /// Number of validators of power 10 each (ignored when `powers` is given).
    #[serde(default)]
    pub validators: u32,
    /// Power per validator.
    #[serde(default)]
    pub powers: Vec<u64>,
    /// Simulated duration, in microseconds.
    pub duration_us: u64,
    /// Stop early once an honest replica reaches this view.
    #[serde(default)]
    pub stop_at_view: Option<u64>,
    /// The first view timer, in microseconds.
    #[serde(default = "default_base_timeout")]
    pub base_timeout_us: u64,
    /// Timers double per failed view up to `2^max_backoff_exp` times the base.
    #[serde(default = "default_backoff")]
    pub max_backoff_exp: u32,
    /// The network.
    #[serde(default)]
    pub network: NetworkConfig,
    /// Byzantine validators.
    #[serde(default)]
    pub adversaries: Vec<AdversarySpec>,
    /// Validators run by two replicas sharing one key (Twins); each twin is node
    /// `validators + i` for the i-th entry.
    #[serde(default)]
    pub twins: Vec<u32>,
    /// Crashes and restarts.
    #[serde(default)]
    pub crashes: Vec<Crash>,
    /// Run the fault-tolerance layer: hosts, relayers, the embedded chain and epochs.
    #[serde(default)]
    pub warden: Option<super::hosts::WardenSpec>,
    /// What the run must show.
    #[serde(default)]
    pub expect: Expect,
}

fn default_base_timeout() -> u64 {
    60_000
}
fn default_backoff() -> u32 {
    4
}

/// Why a scenario is refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ScenarioError {
    /// The file is not valid TOML for a scenario.
    #[error("scenario does not parse: {0}")]
    Parse(String),
    /// A field is out of range.
    #[error("scenario field `{field}` is invalid: {reason}")]
    Invalid {
        /// The field.
        field: &'static str,
        /// Why.
        reason: String,
    },
}

fn invalid(field: &'static str, reason: impl Into<String>) -> ScenarioError {
    ScenarioError::Invalid {
        field,
        reason: reason.into(),
    }
}

impl Scenario {
    /// Parses and validates a scenario.
    pub fn from_toml(text: &str) -> Result<Self, ScenarioError> {
        let scenario: Scenario =
            toml::from_str(text).map_err(|e| ScenarioError::Parse(e.to_string()))?;
        scenario.validate()?;
        Ok(scenario)
    }

    /// Reads a scenario file.
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
        Ok(Self::from_toml(&text)?)
    }

    /// The scenario as TOML.
    pub fn to_toml(&self) -> String {
        toml::to_string(self).unwrap_or_default()
    }

    /// Power per validator.
    pub fn power_list(&self) -> Vec<u64> {
        if self.powers.is_empty() {
            vec![10; self.validators as usize]
        } else {
            self.powers.clone()
        }
    }

    /// Number of nodes: validators plus Twins.
    pub fn node_count(&self) -> usize {
        self.power_list().len() + self.twins.len()
    }

    /// Checks every bound.
    pub fn validate(&self) -> Result<(), ScenarioError> {
        let powers = self.power_list();
        if powers.is_empty() || powers.len() > MAX_SCENARIO_VALIDATORS {
            return Err(invalid("validators", "between 1 and 1024 validators"));
        }
        if powers.iter().any(|p| *p == 0 || *p > 1 << 40) {
            return Err(invalid("powers", "every power in 1..=2^40"));
        }
        if self.duration_us == 0 || self.duration_us > MAX_DURATION_US {
            return Err(invalid("duration_us", "between 1 and 3,600,000,000"));
        }
        if self.base_timeout_us == 0 || self.base_timeout_us > 60_000_000 {
            return Err(invalid("base_timeout_us", "between 1 and 60,000,000"));
        }
        if self.max_backoff_exp > 16 {
            return Err(invalid("max_backoff_exp", "at most 16"));
        }
        let n = powers.len() as u32;
        let nodes = self.node_count() as u32;
        let net = &self.network;
        if net.latency_min_us > net.latency_max_us || net.latency_max_us > 10_000_000 {
            return Err(invalid("network.latency", "min <= max <= 10,000,000"));
        }
        if net.jitter_us > 10_000_000 || net.loss_ppm > 1_000_000 || net.duplicate_ppm > 1_000_000 {
            return Err(invalid(
                "network",
                "jitter <= 10 s, loss and duplication <= 1,000,000 ppm",
            ));
        }
        for p in &net.partitions {
            if p.start_us > p.end_us || p.groups.iter().flatten().any(|x| *x >= nodes) {
                return Err(invalid(
                    "network.partitions",
                    "start <= end and known nodes",
                ));
            }
        }
        let mut seen = std::collections::BTreeSet::new();
        for a in &self.adversaries {
            if a.validator >= n || !seen.insert(a.validator) {
                return Err(invalid("adversaries", "distinct, known validators"));
            }
            for b in &a.behaviours {
                match b {
                    Attack::DoubleVote { phase } if *phase != 1 && *phase != 2 => {
                        return Err(invalid("adversaries", "double_vote phase is 1 or 2"));
                    }
                    Attack::Flooding { per_view } if *per_view > MAX_FLOOD_PER_VIEW => {
                        return Err(invalid("adversaries", "flooding per_view <= 1000"));
                    }
                    Attack::TimingManipulation { delay_us } if *delay_us > 60_000_000 => {
                        return Err(invalid("adversaries", "delay_us <= 60,000,000"));
                    }
                    Attack::SelectiveConnectivity { peers }
                        if peers.iter().any(|p| *p >= nodes) =>
                    {
                        return Err(invalid("adversaries", "peers must be known nodes"));
                    }
                    Attack::Amnesia {
                        remember_us,
                        forget_us,
                    } if remember_us > forget_us || *forget_us > MAX_DURATION_US => {
                        return Err(invalid(
                            "adversaries",
                            "amnesia needs remember_us <= forget_us <= 3,600,000,000",
                        ));
                    }
                    _ => {}
                }
            }
        }
        let mut twins = std::collections::BTreeSet::new();
        if self.twins.iter().any(|t| *t >= n || !twins.insert(*t)) {
            return Err(invalid("twins", "distinct, known validators"));
        }
        if self
            .crashes
            .iter()
            .any(|c| c.node >= nodes || c.restart_us.is_some_and(|r| r < c.at_us))
        {
            return Err(invalid("crashes", "known nodes, restart after crash"));
        }
        Ok(())
    }

    /// The power of faulty validators (adversaries and Twins).
    pub fn faulty_power(&self) -> u64 {
        let powers = self.power_list();
        let mut faulty: std::collections::BTreeSet<u32> =
            self.adversaries.iter().map(|a| a.validator).collect();
        faulty.extend(self.twins.iter().copied());
        faulty.iter().map(|v| powers[*v as usize]).sum()
    }

    /// `f`: the largest power below a third of the total.
    pub fn f(&self) -> u64 {
        let total: u64 = self.power_list().iter().sum();
        total.saturating_sub(1) / 3
    }

    /// A random scenario for soak runs: 4 to 10 validators, up to f faulty ones (adversaries
    /// with one to three behaviours each, or a Twins pair), a lossy, jittery network, and
    /// sometimes a partition that heals and an honest crash that restarts. Safety and liveness
    /// must hold.
    pub fn random(seed: u64) -> Self {
        let mut rng = Rng::new(seed ^ 0x5EED_50A4);
        let n = [4u32, 5, 7, 10][rng.range(0, 3) as usize];
        let f = (n * 10 - 1) / 3 / 10;
        let faulty_count = rng.range(0, u64::from(f)) as u32;
        let mut ids: Vec<u32> = (0..n).collect();
        for i in (1..ids.len()).rev() {
            let j = rng.range(0, i as u64) as usize;
            ids.swap(i, j);
        }
        let faulty: Vec<u32> = ids[..faulty_count as usize].to_vec();
        let honest: Vec<u32> = ids[faulty_count as usize..].to_vec();
        let mut adversaries = Vec::new();
        let mut twins = Vec::new();
        for v in &faulty {
            if rng.range(0, 5) == 0 {
                twins.push(*v);
                continue;
            }
            let count = rng.range(1, 3);
            let mut behaviours = Vec::new();
            for _ in 0..count {
                let b = match rng.range(0, 12) {
                    0 => Attack::DoubleVote { phase: 1 },
                    1 => Attack::DoubleVote { phase: 2 },
                    2 => Attack::DoubleProposal,
                    3 => Attack::LockViolation,
                    4 => Attack::InvalidProposal {
                        invalid: InvalidKind::WrongLeader,
                    },
                    5 => Attack::InvalidProposal {
                        invalid: InvalidKind::ForgedCertificate,
                    },
                    6 => Attack::InvalidProposal {
                        invalid: InvalidKind::ShortCertificate,
                    },
                    7 => Attack::ProposalWithholding,
                    8 => Attack::VoteWithholding,
                    9 => Attack::Flooding {
                        per_view: rng.range(1, 20) as u32,
                    },
                    10 => Attack::TimingManipulation {
                        delay_us: rng.range(1_000, 100_000),
                    },
                    _ => Attack::SelectiveConnectivity {
                        peers: (0..n).filter(|_| rng.range(0, 1) == 0).collect(),
                    },
                };
                if !behaviours.contains(&b) {
                    behaviours.push(b);
                }
            }
            adversaries.push(AdversarySpec {
                validator: *v,
                behaviours,
            });
        }
        let duration_us = 12_000_000;
        let mut network = NetworkConfig {
            latency_min_us: rng.range(1_000, 5_000),
            latency_max_us: rng.range(5_000, 20_000),
            jitter_us: rng.range(0, 5_000),
            loss_ppm: rng.range(0, 10_000) as u32,
            duplicate_ppm: rng.range(0, 20_000) as u32,
            partitions: Vec::new(),
        };
        if rng.range(0, 2) == 0 {
            let start_us = rng.range(500_000, 3_000_000);
            let mut a = Vec::new();
            let mut b = Vec::new();
            for node in 0..n + twins.len() as u32 {
                if rng.range(0, 1) == 0 {
                    a.push(node);
                } else {
                    b.push(node);
                }
            }
            network.partitions.push(Partition {
                start_us,
                end_us: start_us + rng.range(500_000, 2_500_000),
                groups: vec![a, b],
            });
        }
        let mut crashes = Vec::new();
        if rng.range(0, 2) == 0 && !honest.is_empty() {
            let node = honest[rng.range(0, honest.len() as u64 - 1) as usize];
            let at_us = rng.range(300_000, 4_000_000);
            crashes.push(Crash {
                lose_disk: false,
                node,
                at_us,
                restart_us: Some(at_us + rng.range(100_000, 2_000_000)),
            });
        }
        Self {
            name: format!("random-{seed}"),
            description: "a random soak scenario".into(),
            seed,
            validators: n,
            powers: Vec::new(),
            duration_us,
            stop_at_view: None,
            base_timeout_us: 100_000,
            max_backoff_exp: default_backoff(),
            network,
            adversaries,
            twins,
            crashes,
            warden: None,
            expect: Expect::default(),
        }
    }

    /// A random coalition scenario for accountability soaks: 4, 7 or 10 validators, a
    /// coalition holding more than f and at most 2f of the power (and enough, with either
    /// half of the honest validators, for a quorum), and one of four forks under a partition
    /// it schedules: amnesia (beside one half, then back to an old lock beside the other),
    /// amnesia with phase-2 double votes, Twins (one replica beside each half), and Twins with
    /// amnesia. The run passes if it stays safe or if every fork ends with more than a third
    /// of the power proven guilty on chain and no honest validator accused.
    pub fn random_coalition(seed: u64) -> Self {
        let mut rng = Rng::new(seed ^ 0xC0A1_1710);
        let n = [4u32, 7, 10][rng.range(0, 2) as usize];
        let total = u64::from(n) * 10;
        let f = (total - 1) / 3;
        let quorum = warden_module::validators::quorum(total);
        let sizes: Vec<u32> = (1..n)
            .filter(|c| {
                let power = u64::from(*c) * 10;
                power > f && power <= 2 * f && power + u64::from((n - c) / 2) * 10 >= quorum
            })
            .collect();
        let c = sizes[rng.range(0, sizes.len() as u64 - 1) as usize];
        let mut ids: Vec<u32> = (0..n).collect();
        for i in (1..ids.len()).rev() {
            let j = rng.range(0, i as u64) as usize;
            ids.swap(i, j);
        }
        let mut coalition = ids[..c as usize].to_vec();
        coalition.sort_unstable();
        let honest = &ids[c as usize..];
        let half = honest.len() / 2 + rng.range(0, (honest.len() % 2) as u64) as usize;
        let mut side_a = honest[..half].to_vec();
        let mut side_b = honest[half..].to_vec();
        side_a.sort_unstable();
        side_b.sort_unstable();
        let t0 = rng.range(300_000, 2_000_000);
        let t1 = t0 + rng.range(800_000, 2_000_000);
        let t2 = t1 + rng.range(800_000, 2_000_000);
        let kind = rng.range(0, 3);
        let twins = kind >= 2;
        let amnesia = Attack::Amnesia {
            remember_us: t0,
            forget_us: t1,
        };
        let behaviours = match kind {
            0 | 3 => vec![amnesia],
            1 => vec![amnesia, Attack::DoubleVote { phase: 2 }],
            _ => Vec::new(),
        };
        let join = |a: &[u32], b: &[u32]| {
            let mut v = [a, b].concat();
            v.sort_unstable();
            v
        };
        let partitions = if twins {
            let twin_nodes: Vec<u32> = (0..c).map(|i| n + i).collect();
            vec![Partition {
                start_us: t0,
                end_us: t2,
                groups: vec![join(&coalition, &side_a), join(&twin_nodes, &side_b)],
            }]
        } else {
            vec![
                Partition {
                    start_us: t0,
                    end_us: t1,
                    groups: vec![join(&coalition, &side_a), side_b.clone()],
                },
                Partition {
                    start_us: t1,
                    end_us: t2,
                    groups: vec![side_a.clone(), join(&coalition, &side_b)],
                },
            ]
        };
        let network = NetworkConfig {
            latency_min_us: rng.range(1_000, 5_000),
            latency_max_us: rng.range(5_000, 15_000),
            jitter_us: rng.range(0, 3_000),
            loss_ppm: rng.range(0, 5_000) as u32,
            duplicate_ppm: rng.range(0, 10_000) as u32,
            partitions,
        };
        let adversaries = if behaviours.is_empty() {
            Vec::new()
        } else {
            coalition
                .iter()
                .map(|v| AdversarySpec {
                    validator: *v,
                    behaviours: behaviours.clone(),
                })
                .collect()
        };
        let kind_name = [
            "amnesia",
            "amnesia and double votes",
            "Twins",
            "Twins with amnesia",
        ][kind as usize];
        Self {
            name: format!("coalition-{seed}"),
            description: format!(
                "a random coalition fork: {kind_name}, coalition {coalition:?}, halves {side_a:?} and {side_b:?}"
            ),
            seed,
            validators: n,
            powers: Vec::new(),
            duration_us: t2 + 3_000_000,
            stop_at_view: None,
            base_timeout_us: 100_000,
            max_backoff_exp: default_backoff(),
            network,
            adversaries,
            twins: if twins { coalition.clone() } else { Vec::new() },
            crashes: Vec::new(),
            warden: Some(super::hosts::WardenSpec {
                epoch_heights: 1_000,
                ..super::hosts::WardenSpec::default()
            }),
            expect: Expect {
                safety_violation: false,
                liveness: false,
                min_height: 0,
                accountable: true,
            },
        }
    }
}
