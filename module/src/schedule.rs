//! The reputation-weighted leader schedule of an epoch (in the manner of Aptos'
//! `LeaderReputation`). The chain computes it once per epoch from effective power and
//! reputation; hosts and simulators call [`LeaderSchedule::leader`] with the same code, so every
//! node agrees on every view's leader.

use alloc::vec::Vec;
use borsh::{BorshDeserialize, BorshSerialize};
use sha2::{Digest, Sha256};

use crate::codec::BoundedVec;
use crate::wire::{OperatorId, MAX_VALIDATORS};

/// One candidate's weight and the running total up to and including it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct LeaderWeight {
    /// The operator.
    pub operator: OperatorId,
    /// Its weight: effective power times reputation.
    pub weight: u128,
    /// Sum of the weights of this and every earlier entry.
    pub cumulative: u128,
}

/// The leader schedule of one epoch.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct LeaderSchedule {
    /// Chain id, part of the seed.
    pub chain_id: u64,
    /// Epoch, part of the seed.
    pub epoch: u64,
    /// Candidates with positive weight, in increasing operator order.
    pub entries: BoundedVec<LeaderWeight, MAX_VALIDATORS>,
}

/// One candidate for [`LeaderSchedule::compute`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Candidate {
    /// The operator.
    pub operator: OperatorId,
    /// Its effective power (zero when banned or quarantined).
    pub effective_power: u64,
    /// Its reputation score.
    pub reputation: u32,
}

impl LeaderSchedule {
    /// A schedule with no candidates: no view has a leader.
    pub fn empty(chain_id: u64, epoch: u64) -> Self {
        Self {
            chain_id,
            epoch,
            entries: BoundedVec::empty(),
        }
    }

    /// Weighs each candidate by effective power times reputation. If every such weight is zero
    /// (every score is zero), falls back to effective power alone, so that a schedule exists
    /// while any candidate has power.
    pub fn compute(chain_id: u64, epoch: u64, candidates: &[Candidate]) -> Self {
        let mut sorted: Vec<Candidate> = candidates.to_vec();
        sorted.sort_unstable_by_key(|c| c.operator);
        sorted.dedup_by_key(|c| c.operator);
        sorted.truncate(MAX_VALIDATORS);
        let by_reputation =
            |c: &Candidate| u128::from(c.effective_power) * u128::from(c.reputation);
        let by_power = |c: &Candidate| u128::from(c.effective_power);
        let weigh: &dyn Fn(&Candidate) -> u128 = if sorted.iter().any(|c| by_reputation(c) > 0) {
            &by_reputation
        } else {
            &by_power
        };
        let mut cumulative = 0u128;
        let mut entries = Vec::with_capacity(sorted.len());
        for c in &sorted {
            let weight = weigh(c);
            if weight == 0 {
                continue;
            }
            // At most 1024 entries of at most 2^96 each: the sum cannot overflow u128.
            cumulative = cumulative.saturating_add(weight);
            entries.push(LeaderWeight {
                operator: c.operator,
                weight,
                cumulative,
            });
        }
        Self {
            chain_id,
            epoch,
            entries: BoundedVec::new(entries).unwrap_or_default(),
        }
    }

    /// Sum of all weights.
    pub fn total_weight(&self) -> u128 {
        self.entries.last().map_or(0, |e| e.cumulative)
    }

    /// The leader of `view`: the candidate whose cumulative-weight interval holds
    /// `SHA-256("WARDEN-LEADER" || chain_id || epoch || view)` (first 16 bytes, little endian)
    /// modulo the total weight. `None` only when no candidate has weight.
    pub fn leader(&self, view: u64) -> Option<OperatorId> {
        let total = self.total_weight();
        if total == 0 {
            return None;
        }
        let mut hasher = Sha256::new();
        hasher.update(b"WARDEN-LEADER");
        hasher.update(self.chain_id.to_le_bytes());
        hasher.update(self.epoch.to_le_bytes());
        hasher.update(view.to_le_bytes());
        let digest = hasher.finalize();
        let mut seed = [0u8; 16];
        seed.copy_from_slice(&digest[..16]);
        let draw = u128::from_le_bytes(seed) % total;
        let index = self.entries.partition_point(|e| e.cumulative <= draw);
        self.entries.get(index).map(|e| e.operator)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn candidates(n: u32) -> Vec<Candidate> {
        (0..n)
            .map(|operator| Candidate {
                operator,
                effective_power: 10,
                reputation: 500,
            })
            .collect()
    }

    #[test]
    fn every_view_has_a_leader_among_the_candidates() {
        let schedule = LeaderSchedule::compute(7, 1, &candidates(4));
        for view in 0..200 {
            let leader = schedule.leader(view).unwrap();
            assert!(leader < 4);
        }
    }

    #[test]
    fn zero_power_candidates_never_lead() {
        let mut c = candidates(4);
        c[2].effective_power = 0;
        let schedule = LeaderSchedule::compute(7, 1, &c);
        assert!((0..500).all(|v| schedule.leader(v) != Some(2)));
    }

    #[test]
    fn leadership_follows_weight() {
        let mut c = candidates(2);
        c[0].reputation = 900;
        c[1].reputation = 100;
        let schedule = LeaderSchedule::compute(7, 1, &c);
        let zero = (0..10_000)
            .filter(|v| schedule.leader(*v) == Some(0))
            .count();
        // Expected 9,000 of 10,000; allow generous sampling noise.
        assert!(
            (8_500..9_500).contains(&zero),
            "operator 0 led {zero} views"
        );
    }

    #[test]
    fn all_zero_reputation_falls_back_to_power() {
        let mut c = candidates(3);
        for x in &mut c {
            x.reputation = 0;
        }
        let schedule = LeaderSchedule::compute(7, 1, &c);
        assert!(schedule.leader(5).is_some());
    }

    /// The leaders the JavaScript package's tests compare against (`module/js/test/leaders.json`):
    /// views 0..50 of fixed candidate lists. `WARDEN_BLESS=1` rewrites the file.
    #[test]
    fn javascript_leader_golden_file_matches() {
        use alloc::format;
        use alloc::string::String;
        // (chain id, epoch, [(operator, effective power, reputation)])
        type Case = (u64, u64, [(u32, u64, u32); 4]);
        let cases: [Case; 3] = [
            (
                7,
                1,
                [(0, 10, 1000), (1, 10, 1000), (2, 10, 1000), (3, 10, 1000)],
            ),
            (
                7,
                2,
                [(0, 5, 900), (1, 20, 300), (2, 0, 1000), (5, 7, 1000)],
            ),
            (99, 3, [(1, 1, 0), (2, 2, 0), (3, 3, 0), (4, 4, 0)]),
        ];
        let mut out = String::from("[\n");
        for (i, (chain_id, epoch, list)) in cases.iter().enumerate() {
            let candidates: Vec<Candidate> = list
                .iter()
                .map(|&(operator, effective_power, reputation)| Candidate {
                    operator,
                    effective_power,
                    reputation,
                })
                .collect();
            let schedule = LeaderSchedule::compute(*chain_id, *epoch, &candidates);
            let cands: Vec<String> = list
                .iter()
                .map(|(o, p, r)| {
                    format!("{{\"operator\": {o}, \"effective_power\": {p}, \"reputation\": {r}}}")
                })
                .collect();
            let leaders: Vec<String> = (0..50)
                .map(|v| format!("{}", schedule.leader(v).unwrap()))
                .collect();
            out += &format!(
                "  {{\"chain_id\": {chain_id}, \"epoch\": {epoch}, \"candidates\": [{}], \"leaders\": [{}]}}{}\n",
                cands.join(", "),
                leaders.join(", "),
                if i + 1 < cases.len() { "," } else { "" }
            );
        }
        out += "]\n";
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/js/test/leaders.json");
        if std::env::var_os("WARDEN_BLESS").is_some() {
            std::fs::write(path, &out).unwrap();
        }
        assert_eq!(std::fs::read_to_string(path).unwrap_or_default(), out);
    }
}
