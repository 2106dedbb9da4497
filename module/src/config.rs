//! The module's configuration: every threshold and window, in integers.

use borsh::{BorshDeserialize, BorshSerialize};

use crate::error::{ConfigField, Error};

/// One million: the denominator of every `_ppm` field.
pub const PPM: u64 = 1_000_000;
/// One billion: the denominator of every `_ppb` field.
pub const PPB: u64 = 1_000_000_000;

/// Reputation scoring. Scores are integers in `0..=max`.
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct ReputationConfig {
    /// The highest score.
    pub max: u32,
    /// The score of a new operator, toward which every score decays.
    pub baseline: u32,
    /// Fraction of the distance to the baseline removed at each epoch change (ppm).
    pub decay_ppm: u32,
    /// Penalty for a Tier 1 (provable) offence.
    pub tier1_penalty: u32,
    /// Penalty for a Tier 2 (witnessed) offence.
    pub tier2_penalty: u32,
    /// Penalty for a Tier 3 (recorded) offence.
    pub tier3_penalty: u32,
    /// Reward for meeting the participation minimum over one participation window.
    pub participation_reward: u32,
    /// Score over which an operator on probation is rehabilitated.
    pub rehabilitation_threshold: u32,
}

/// Quarantine and probation.
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct IsolationConfig {
    /// Offences answered with a warning only, before the first quarantine.
    pub warnings_before_quarantine: u32,
    /// Length of a short quarantine, in blocks.
    pub short_quarantine_blocks: u64,
    /// Length of a long quarantine (repeat offenders), in blocks.
    pub long_quarantine_blocks: u64,
    /// Offences after which quarantines are long.
    pub long_quarantine_after: u32,
    /// Effective power of an operator on probation, as a fraction of its power (ppm).
    pub probation_influence_ppm: u32,
}

/// Slashing proposals.
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct SlashingConfig {
    /// The smallest fraction proposed for a Tier 1 offence (ppb).
    pub min_fraction_ppb: u64,
    /// Blocks during which the authority may veto a proposal.
    pub deferral_blocks: u64,
    /// Reporter's reward as a fraction of the slashed amount (ppm); none for a self-report.
    pub reporter_reward_ppm: u32,
    /// Epochs over which offences are correlated: offenders within this many epochs of each
    /// other raise each other's fraction.
    pub correlation_window_epochs: u64,
}

/// Tier 2 accusations and Tier 3 certificate records.
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct LivenessConfig {
    /// Recorded certificates per participation window.
    pub participation_window: u32,
    /// Minimum share of a window's certificates an operator must sign (ppm).
    pub min_participation_ppm: u32,
    /// Failed views (timeout certificates) as leader within one window that quarantine.
    pub max_leader_failures: u32,
    /// Longest view range one accusation may cover.
    pub max_accusation_views: u64,
}

/// The module's configuration, set at genesis and changed only by the authority.
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Config {
    /// Epochs for which evidence stays admissible (match the unbonding period).
    pub retention_epochs: u64,
    /// Reputation scoring.
    pub reputation: ReputationConfig,
    /// Quarantine and probation.
    pub isolation: IsolationConfig,
    /// Slashing proposals.
    pub slashing: SlashingConfig,
    /// Liveness evidence.
    pub liveness: LivenessConfig,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            retention_epochs: 8,
            reputation: ReputationConfig {
                max: 1_000_000,
                baseline: 500_000,
                decay_ppm: 100_000,
                tier1_penalty: 500_000,
                tier2_penalty: 150_000,
                tier3_penalty: 100_000,
                participation_reward: 20_000,
                rehabilitation_threshold: 400_000,
            },
            isolation: IsolationConfig {
                warnings_before_quarantine: 1,
                short_quarantine_blocks: 100,
                long_quarantine_blocks: 1_000,
                long_quarantine_after: 3,
                probation_influence_ppm: 500_000,
            },
            slashing: SlashingConfig {
                min_fraction_ppb: 10_000_000,
                deferral_blocks: 100,
                reporter_reward_ppm: 50_000,
                correlation_window_epochs: 2,
            },
            liveness: LivenessConfig {
                participation_window: 100,
                min_participation_ppm: 500_000,
                max_leader_failures: 5,
                max_accusation_views: 10_000,
            },
        }
    }
}

fn check(ok: bool, field: ConfigField) -> Result<(), Error> {
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidConfig { field })
    }
}

impl Config {
    /// Checks every field's range; the first field out of range is named.
    pub fn validate(&self) -> Result<(), Error> {
        use ConfigField as F;
        let r = &self.reputation;
        let i = &self.isolation;
        let s = &self.slashing;
        let l = &self.liveness;
        check(
            (1..=10_000).contains(&self.retention_epochs),
            F::RetentionEpochs,
        )?;
        check(r.max > 0, F::ReputationMax)?;
        check(r.baseline <= r.max, F::ReputationBaseline)?;
        check(u64::from(r.decay_ppm) <= PPM, F::ReputationDecay)?;
        check(
            r.rehabilitation_threshold <= r.max,
            F::RehabilitationThreshold,
        )?;
        check(
            r.tier1_penalty <= r.max && r.tier2_penalty <= r.max && r.tier3_penalty <= r.max,
            F::Penalty,
        )?;
        check(r.participation_reward <= r.max, F::ParticipationReward)?;
        check(
            i.warnings_before_quarantine <= 100,
            F::WarningsBeforeQuarantine,
        )?;
        check(
            i.short_quarantine_blocks > 0 && i.long_quarantine_blocks >= i.short_quarantine_blocks,
            F::QuarantineBlocks,
        )?;
        check(
            u64::from(i.probation_influence_ppm) <= PPM,
            F::ProbationInfluence,
        )?;
        check(s.min_fraction_ppb <= PPB, F::SlashFraction)?;
        check(s.deferral_blocks <= 10_000_000, F::DeferralBlocks)?;
        check(u64::from(s.reporter_reward_ppm) <= PPM, F::ReporterReward)?;
        check(
            (1..=self.retention_epochs).contains(&s.correlation_window_epochs),
            F::CorrelationWindow,
        )?;
        check(
            (1..=100_000).contains(&l.participation_window),
            F::ParticipationWindow,
        )?;
        check(
            u64::from(l.min_participation_ppm) <= PPM,
            F::MinParticipation,
        )?;
        check(l.max_leader_failures > 0, F::MaxLeaderFailures)?;
        check(
            (1..=1_000_000).contains(&l.max_accusation_views),
            F::MaxAccusationViews,
        )?;
        // The long-quarantine threshold is a count; any value is meaningful.
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_config_is_valid() {
        assert_eq!(Config::default().validate(), Ok(()));
    }

    #[test]
    fn baseline_above_max_is_refused_with_its_field() {
        let mut config = Config::default();
        config.reputation.baseline = config.reputation.max + 1;
        assert_eq!(
            config.validate(),
            Err(Error::InvalidConfig {
                field: ConfigField::ReputationBaseline
            })
        );
    }
}
