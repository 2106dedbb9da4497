//! The simulated network: per-link latency with jitter (which reorders), loss, duplication,
//! partitions that form and heal on a schedule, and crashed nodes that receive nothing.

use serde::{Deserialize, Serialize};

use super::replica::NodeId;
use super::rng::Rng;

/// A partition: from `start_us` until `end_us`, nodes in different groups cannot talk. Nodes
/// in no group form one more group together.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Partition {
    /// When it forms, in microseconds of simulated time.
    pub start_us: u64,
    /// When it heals.
    pub end_us: u64,
    /// The groups of nodes.
    pub groups: Vec<Vec<NodeId>>,
}

/// A crash of `node` at `at_us`, and its restart at `restart_us` (never, if absent).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Crash {
    /// The node.
    pub node: NodeId,
    /// When it crashes.
    pub at_us: u64,
    /// When it restarts from its durable store.
    #[serde(default)]
    pub restart_us: Option<u64>,
    /// The node loses its disk: it restarts from a checkpoint proved by a double certificate
    /// instead of its durable store.
    #[serde(default)]
    pub lose_disk: bool,
}

/// Network parameters of a run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkConfig {
    /// Smallest base latency of a link, in microseconds.
    #[serde(default = "default_latency_min")]
    pub latency_min_us: u64,
    /// Largest base latency of a link (each link draws its own once per run).
    #[serde(default = "default_latency_max")]
    pub latency_max_us: u64,
    /// Extra random delay per message, up to this; it reorders messages.
    #[serde(default)]
    pub jitter_us: u64,
    /// Probability that a message is lost, in parts per million.
    #[serde(default)]
    pub loss_ppm: u32,
    /// Probability that a message is delivered twice, in parts per million.
    #[serde(default)]
    pub duplicate_ppm: u32,
    /// Partitions.
    #[serde(default)]
    pub partitions: Vec<Partition>,
}

fn default_latency_min() -> u64 {
    1_000
}
fn default_latency_max() -> u64 {
    5_000
}

impl Default for NetworkConfig {
    fn default() -> Self {
        Self {
            latency_min_us: default_latency_min(),
            latency_max_us: default_latency_max(),
            jitter_us: 0,
            loss_ppm: 0,
            duplicate_ppm: 0,
            partitions: Vec::new(),
        }
    }
}

/// The network's state during a run.
pub struct Network {
    config: NetworkConfig,
    nodes: usize,
    links: Vec<u32>,
    rng: Rng,
}

impl Network {
    /// A network of `nodes` nodes; link latencies are drawn from `rng`.
    pub fn new(config: NetworkConfig, nodes: usize, mut rng: Rng) -> Self {
        let low = config.latency_min_us.min(config.latency_max_us);
        let high = config.latency_max_us.max(low);
        let links = (0..nodes * nodes)
            .map(|_| rng.range(low, high).min(u64::from(u32::MAX)) as u32)
            .collect();
        Self {
            config,
            nodes,
            links,
            rng,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &NetworkConfig {
        &self.config
    }

    /// Whether `from` and `to` can talk at `now`.
    pub fn connected(&self, from: NodeId, to: NodeId, now: u64) -> bool {
        if from == to {
            return true;
        }
        self.config
            .partitions
            .iter()
            .all(|p| now < p.start_us || now >= p.end_us || group_of(p, from) == group_of(p, to))
    }

    /// The delays (zero, one or two) after which a message sent now from `from` arrives at
    /// `to`: none if lost.
    pub fn delays(&mut self, from: NodeId, to: NodeId) -> Vec<u64> {
        if from == to {
            return vec![0];
        }
        if self.rng.chance_ppm(self.config.loss_ppm) {
            return Vec::new();
        }
        let copies = if self.rng.chance_ppm(self.config.duplicate_ppm) {
            2
        } else {
            1
        };
        let base = u64::from(self.links[from as usize * self.nodes + to as usize]);
        (0..copies)
            .map(|_| base.saturating_add(self.rng.range(0, self.config.jitter_us)))
            .collect()
    }

    /// When the last partition heals (zero if there are none).
    pub fn healed_at(&self) -> u64 {
        self.config
            .partitions
            .iter()
            .map(|p| p.end_us)
            .max()
            .unwrap_or(0)
    }
}

fn group_of(p: &Partition, node: NodeId) -> usize {
    p.groups
        .iter()
        .position(|g| g.contains(&node))
        .unwrap_or(p.groups.len())
}
