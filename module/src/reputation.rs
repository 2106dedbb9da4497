//! Reputation arithmetic: integers in `0..=max`, penalised per offence, rewarded for
//! participation, decaying toward a baseline at each epoch change.

use crate::config::{ReputationConfig, PPM};

/// Moves `score` toward the baseline by `decay_ppm` of the distance (rounding toward the
/// score, so a score never overshoots the baseline).
pub fn decay(score: u32, config: &ReputationConfig) -> u32 {
    let baseline = config.baseline.min(config.max);
    let score = score.min(config.max);
    let distance = u64::from(score.abs_diff(baseline));
    let step = (distance * u64::from(config.decay_ppm.min(PPM as u32)) / PPM) as u32;
    if score > baseline {
        score - step
    } else {
        score + step
    }
}

/// Lowers `score` by `penalty`, not below zero.
pub fn penalise(score: u32, penalty: u32) -> u32 {
    score.saturating_sub(penalty)
}

/// Raises `score` by `reward`, not above `max`.
pub fn reward(score: u32, reward: u32, max: u32) -> u32 {
    score.saturating_add(reward).min(max)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use proptest::prelude::*;

    #[test]
    fn decay_moves_toward_the_baseline_from_both_sides() {
        let config = Config::default().reputation;
        assert!(decay(0, &config) > 0);
        assert!(decay(config.max, &config) < config.max);
        assert_eq!(decay(config.baseline, &config), config.baseline);
    }

    proptest! {
        #[test]
        fn reputation_stays_in_bounds(
            start in 0u32..=1_000_000,
            ops in proptest::collection::vec((0u8..3, 0u32..=1_000_000), 0..64),
            decay_ppm in 0u32..=1_000_000,
        ) {
            let mut config = Config::default().reputation;
            config.decay_ppm = decay_ppm;
            let mut score = start;
            for (op, amount) in ops {
                score = match op {
                    0 => penalise(score, amount),
                    1 => reward(score, amount, config.max),
                    _ => decay(score, &config),
                };
                prop_assert!(score <= config.max);
            }
        }

        #[test]
        fn decay_never_crosses_the_baseline(score in 0u32..=1_000_000, decay_ppm in 0u32..=1_000_000) {
            let mut config = Config::default().reputation;
            config.decay_ppm = decay_ppm;
            let next = decay(score, &config);
            prop_assert!(next.abs_diff(config.baseline) <= score.abs_diff(config.baseline));
            // It stays on its side of the baseline (reaching it at most).
            if score >= config.baseline {
                prop_assert!(next >= config.baseline);
            } else {
                prop_assert!(next <= config.baseline);
            }
        }
    }
}
