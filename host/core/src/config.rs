//! [`FaultToleranceConfig`]: the host's fault-tolerance settings, read from a TOML file
//! (`warden.toml`) and validated with the offending field and the reason.
//!
//! Names follow the original design where they fit. Durations are integers with their unit in
//! the name (views, milliseconds, blocks); only `detection_sensitivity` is a real number.
//!
//! - [`FaultToleranceConfig::from_toml`] parses a file's text: unknown fields are refused,
//!   omitted fields take their defaults, and the result is [validated](FaultToleranceConfig::validate).
//! - [`FaultToleranceConfig::read`] does the same for a file on disk.
//! - [`FaultToleranceConfig::default_toml`] renders a commented `warden.toml` holding every
//!   field at its default, which parses back to [`FaultToleranceConfig::default`].

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Why a configuration was refused.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The text is not valid TOML, has an unknown field, or a value of the wrong type. The text
    /// is the TOML parser's message: it names the line, the column and the field.
    #[error("cannot parse the fault-tolerance configuration: {0}")]
    Parse(String),
    /// A field holds a value outside its range.
    #[error("invalid value for `{field}`: {reason}")]
    Invalid {
        /// The dotted path of the field, e.g. `detection.detection_sensitivity`.
        field: String,
        /// What the value must be.
        reason: String,
    },
    /// The file could not be read.
    #[error("cannot read the fault-tolerance configuration `{}`: {error}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        error: std::io::Error,
    },
}

/// Detection: which detectors run, their windows and thresholds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DetectionConfig {
    /// Run the detectors at all.
    pub byzantine_detection_enabled: bool,
    /// Robust-statistics multiplier: a peer is an outlier when its figure exceeds the median of
    /// all peers by more than this many median absolute deviations.
    pub detection_sensitivity: f64,
    /// The Tier 2 window, in views.
    pub pattern_analysis_window: u64,
    /// Missed proposals (by a leader shown alive in that view) that make an accusation.
    pub proposal_withholding_min_views: u32,
    /// Proposals of this host's that a live peer failed to vote for, to make an accusation.
    pub vote_withholding_min_views: u32,
    /// Invalid or surplus messages per view from one peer that count as flooding.
    pub flooding_min_per_view: u64,
    /// Median lateness of a peer's messages above the network's, in milliseconds, that counts
    /// as timing manipulation.
    pub timing_min_delay_ms: u64,
    /// Views in which a live peer reached others but not this host, to make an accusation.
    pub selective_min_views: u32,
    /// Most signed messages the Tier 1 index keeps per epoch (oldest views are dropped first).
    pub max_indexed_messages: usize,
}

/// Evidence handling.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EvidenceConfig {
    /// Epochs for which evidence stays admissible on a chain Warden creates (the module's
    /// `retention_epochs`; match the unbonding period).
    pub evidence_retention_period: u64,
    /// The fewest witnesses (the accuser included) an accusation is submitted with.
    pub minimum_witness_count: usize,
    /// The share of the power, in parts per million, witnesses must hold before an accusation is
    /// submitted (the module requires more than one third).
    pub evidence_aggregation_threshold_ppm: u64,
}

/// Isolation policies.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IsolationPolicy {
    /// Submit evidence and accusations without an operator's confirmation.
    pub automatic_isolation: bool,
    /// Rebuild the validator set at each epoch from the module's isolation state.
    pub isolation_escalation_enabled: bool,
    /// Blocks of a first quarantine on a chain Warden creates; a repeat offender's is
    /// [`LONG_QUARANTINE_FACTOR`] times longer.
    pub quarantine_duration_blocks: u64,
}

/// Recovery.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RecoveryConfig {
    /// Run stuck-view, partition and checkpoint recovery.
    pub automatic_recovery: bool,
    /// With no commit for this long, the view is stuck and an emergency view change starts.
    pub view_change_timeout_ms: u64,
    /// A peer unheard for this long counts as unreachable in the connectivity matrix.
    pub partition_detection_threshold_ms: u64,
}

/// Reputation (written into a new chain's genesis; the chain's own configuration rules).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ReputationPolicy {
    /// Keep reputation and weight leaders by it.
    pub reputation_system_enabled: bool,
    /// Decay towards the baseline per epoch, parts per million.
    pub reputation_decay_rate_ppm: u64,
    /// Reputation an operator needs to leave probation, parts per million of the maximum.
    pub rehabilitation_threshold_ppm: u64,
}

/// The relayer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RelayerConfig {
    /// Most items submitted per batch.
    pub batch_size: usize,
    /// Submission attempts before an item is given up (and kept on disk as failed).
    pub max_attempts: u32,
    /// First retry delay, in milliseconds; doubles per attempt.
    pub backoff_base_ms: u64,
    /// Longest retry delay, in milliseconds.
    pub backoff_max_ms: u64,
    /// Most items waiting in the queue.
    pub queue_capacity: usize,
}

/// Monitoring.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MonitoringConfig {
    /// Samples kept for trends and anomaly detection.
    pub history: usize,
    /// Sampling period, in milliseconds.
    pub sample_interval_ms: u64,
}

/// How many times longer a repeat offender's quarantine is than a first one (the module's
/// defaults: 1,000 and 100 blocks).
pub const LONG_QUARANTINE_FACTOR: u64 = 10;

/// The host's fault-tolerance configuration.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FaultToleranceConfig {
    /// Detection.
    pub detection: DetectionConfig,
    /// Evidence.
    pub evidence: EvidenceConfig,
    /// Isolation.
    pub isolation: IsolationPolicy,
    /// Recovery.
    pub recovery: RecoveryConfig,
    /// Reputation.
    pub reputation: ReputationPolicy,
    /// Relayer.
    pub relayer: RelayerConfig,
    /// Monitoring.
    pub monitoring: MonitoringConfig,
}

impl Default for DetectionConfig {
    fn default() -> Self {
        Self {
            byzantine_detection_enabled: true,
            detection_sensitivity: 3.0,
            pattern_analysis_window: 32,
            proposal_withholding_min_views: 3,
            vote_withholding_min_views: 2,
            flooding_min_per_view: 50,
            timing_min_delay_ms: 20,
            selective_min_views: 3,
            max_indexed_messages: 1 << 16,
        }
    }
}

impl Default for EvidenceConfig {
    fn default() -> Self {
        Self {
            evidence_retention_period: 8,
            minimum_witness_count: 2,
            evidence_aggregation_threshold_ppm: 340_000,
        }
    }
}

impl Default for IsolationPolicy {
    fn default() -> Self {
        Self {
            automatic_isolation: true,
            isolation_escalation_enabled: true,
            quarantine_duration_blocks: 100,
        }
    }
}

impl Default for RecoveryConfig {
    fn default() -> Self {
        Self {
            automatic_recovery: true,
            view_change_timeout_ms: 1_000,
            partition_detection_threshold_ms: 500,
        }
    }
}

impl Default for ReputationPolicy {
    fn default() -> Self {
        Self {
            reputation_system_enabled: true,
            reputation_decay_rate_ppm: 100_000,
            rehabilitation_threshold_ppm: 400_000,
        }
    }
}

impl Default for RelayerConfig {
    fn default() -> Self {
        Self {
            batch_size: 16,
            max_attempts: 8,
            backoff_base_ms: 100,
            backoff_max_ms: 10_000,
            queue_capacity: 10_000,
        }
    }
}

impl MonitoringConfig {
    /// Whether a sample is due at `now_us`, the last one having been taken at `last_us`: at
    /// most one per `sample_interval_ms`. Records `now_us` as the last when it is.
    pub fn sample_due(&self, last_us: &mut Option<u64>, now_us: u64) -> bool {
        let interval = self.sample_interval_ms.max(1).saturating_mul(1_000);
        let due = last_us.is_none_or(|last| now_us.saturating_sub(last) >= interval);
        if due {
            *last_us = Some(now_us);
        }
        due
    }
}

impl Default for MonitoringConfig {
    fn default() -> Self {
        Self {
            history: 64,
            sample_interval_ms: 100,
        }
    }
}

/// Refuses `field` with `reason` unless `ok`.
fn check(ok: bool, field: &str, reason: impl Into<String>) -> Result<(), ConfigError> {
    if ok {
        Ok(())
    } else {
        Err(ConfigError::Invalid {
            field: field.to_owned(),
            reason: reason.into(),
        })
    }
}

/// Refuses `field` unless `value` lies in `min..=max`.
fn range<T>(value: T, min: T, max: T, field: &str) -> Result<(), ConfigError>
where
    T: PartialOrd + std::fmt::Display + Copy,
{
    check(
        value >= min && value <= max,
        field,
        format!("must be between {min} and {max} (got {value})"),
    )
}

/// Longest duration, in milliseconds, a timeout or period may be configured to: one hour.
const MAX_DURATION_MS: u64 = 3_600_000;
/// One million: parts per million of a whole.
const PPM: u64 = 1_000_000;
/// The most validators a set can hold (the module's bound).
const MAX_VALIDATORS: usize = warden_module::wire::MAX_VALIDATORS;

/// A section's name, its one-line comment, and each field's name and one-line comment.
type SectionDocs = (
    &'static str,
    &'static str,
    &'static [(&'static str, &'static str)],
);

/// The one-line documentation of each section and each field, in declaration order. Every
/// field [`FaultToleranceConfig::default`] serializes must appear here (a test checks it), so
/// that [`FaultToleranceConfig::default_toml`] documents every key.
const DOCS: &[SectionDocs] = &[
    (
        "detection",
        "Detection: which detectors run, their windows and thresholds.",
        &[
            ("byzantine_detection_enabled", "Run the detectors at all."),
            (
                "detection_sensitivity",
                "Outlier multiplier: a peer is an outlier when its figure exceeds the peers' median by more than this many median absolute deviations (above 0, at most 100).",
            ),
            (
                "pattern_analysis_window",
                "The Tier 2 window, in views (1 to 10000).",
            ),
            (
                "proposal_withholding_min_views",
                "Missed proposals (by a leader shown alive in that view) that make an accusation.",
            ),
            (
                "vote_withholding_min_views",
                "Proposals of this host's that a live peer failed to vote for, to make an accusation.",
            ),
            (
                "flooding_min_per_view",
                "Invalid or surplus messages per view from one peer that count as flooding.",
            ),
            (
                "timing_min_delay_ms",
                "Median lateness of a peer's messages above the network's, in milliseconds, that counts as timing manipulation.",
            ),
            (
                "selective_min_views",
                "Views in which a live peer reached others but not this host, to make an accusation.",
            ),
            (
                "max_indexed_messages",
                "Most signed messages the Tier 1 index keeps per epoch; the oldest views are dropped first.",
            ),
        ],
    ),
    (
        "evidence",
        "Evidence handling.",
        &[
            (
                "evidence_retention_period",
                "Epochs for which evidence stays admissible on a chain Warden creates (the module's `retention_epochs`; match the unbonding period).",
            ),
            (
                "minimum_witness_count",
                "The fewest witnesses (the accuser included) an accusation is submitted with.",
            ),
            (
                "evidence_aggregation_threshold_ppm",
                "Share of the power, in parts per million, the witnesses must hold before an accusation is submitted; the module requires more than one third (above 333333).",
            ),
        ],
    ),
    (
        "isolation",
        "Isolation policies.",
        &[
            (
                "automatic_isolation",
                "Submit evidence and accusations without an operator's confirmation.",
            ),
            (
                "isolation_escalation_enabled",
                "Rebuild the validator set at each epoch from the module's isolation state.",
            ),
            (
                "quarantine_duration_blocks",
                "Blocks of a first quarantine on a chain Warden creates; a repeat offender's is ten times longer.",
            ),
        ],
    ),
    (
        "recovery",
        "Recovery from stuck views, partitions and lost disks.",
        &[
            (
                "automatic_recovery",
                "Run stuck-view, partition and checkpoint recovery.",
            ),
            (
                "view_change_timeout_ms",
                "With no commit for this many milliseconds the view is stuck and an emergency view change starts.",
            ),
            (
                "partition_detection_threshold_ms",
                "A peer unheard for this many milliseconds counts as unreachable in the connectivity matrix.",
            ),
        ],
    ),
    (
        "reputation",
        "Reputation on a chain Warden creates (written into its genesis; afterwards the chain's own configuration rules).",
        &[
            (
                "reputation_system_enabled",
                "Keep reputation and weight leaders by it; off, no offence or participation moves a score.",
            ),
            (
                "reputation_decay_rate_ppm",
                "Decay towards the baseline per epoch, in parts per million.",
            ),
            (
                "rehabilitation_threshold_ppm",
                "Reputation an operator needs to leave probation, in parts per million of the maximum.",
            ),
        ],
    ),
    (
        "relayer",
        "The relayer that submits evidence to the chain.",
        &[
            ("batch_size", "Most items submitted per batch (1 to 1000)."),
            (
                "max_attempts",
                "Submission attempts before an item is given up (and kept on disk as failed).",
            ),
            (
                "backoff_base_ms",
                "First retry delay, in milliseconds; it doubles per attempt.",
            ),
            (
                "backoff_max_ms",
                "Longest retry delay, in milliseconds (at least backoff_base_ms).",
            ),
            (
                "queue_capacity",
                "Most items waiting in the queue (1 to 1000000).",
            ),
        ],
    ),
    (
        "monitoring",
        "Monitoring.",
        &[
            (
                "history",
                "Samples kept for trends and anomaly detection (2 to 100000).",
            ),
            ("sample_interval_ms", "Sampling period, in milliseconds."),
        ],
    ),
];

impl FaultToleranceConfig {
    /// Parses and [validates](Self::validate) the text of a `warden.toml`. Unknown fields are
    /// refused; omitted fields and sections take their defaults.
    pub fn from_toml(text: &str) -> Result<Self, ConfigError> {
        let config: Self = toml::from_str(text).map_err(|e| ConfigError::Parse(e.to_string()))?;
        config.validate()?;
        Ok(config)
    }

    /// Reads, parses and [validates](Self::validate) the file at `path`.
    pub fn read(path: impl AsRef<Path>) -> Result<Self, ConfigError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|error| ConfigError::Io {
            path: path.to_path_buf(),
            error,
        })?;
        Self::from_toml(&text)
    }

    /// Checks every field against its range; the error names the first offending field by its
    /// dotted path and says what the value must be.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let d = &self.detection;
        check(
            d.detection_sensitivity.is_finite()
                && d.detection_sensitivity > 0.0
                && d.detection_sensitivity <= 100.0,
            "detection.detection_sensitivity",
            format!(
                "must be a finite number above 0 and at most 100 (got {})",
                d.detection_sensitivity
            ),
        )?;
        range(
            d.pattern_analysis_window,
            1,
            10_000,
            "detection.pattern_analysis_window",
        )?;
        for (value, field) in [
            (
                d.proposal_withholding_min_views,
                "detection.proposal_withholding_min_views",
            ),
            (
                d.vote_withholding_min_views,
                "detection.vote_withholding_min_views",
            ),
            (d.selective_min_views, "detection.selective_min_views"),
        ] {
            check(
                value >= 1 && u64::from(value) <= d.pattern_analysis_window,
                field,
                format!(
                    "must be at least 1 and at most `detection.pattern_analysis_window` ({}) (got {value})",
                    d.pattern_analysis_window
                ),
            )?;
        }
        range(
            d.flooding_min_per_view,
            1,
            1_000_000,
            "detection.flooding_min_per_view",
        )?;
        range(
            d.timing_min_delay_ms,
            1,
            MAX_DURATION_MS,
            "detection.timing_min_delay_ms",
        )?;
        range(
            d.max_indexed_messages,
            16,
            1 << 24,
            "detection.max_indexed_messages",
        )?;

        let e = &self.evidence;
        range(
            e.evidence_retention_period,
            1,
            10_000,
            "evidence.evidence_retention_period",
        )?;
        range(
            e.minimum_witness_count,
            1,
            MAX_VALIDATORS,
            "evidence.minimum_witness_count",
        )?;
        check(
            e.evidence_aggregation_threshold_ppm > PPM / 3 && e.evidence_aggregation_threshold_ppm <= PPM,
            "evidence.evidence_aggregation_threshold_ppm",
            format!(
                "must be above 333333 (the module requires more than one third of the power) and at most 1000000 (got {})",
                e.evidence_aggregation_threshold_ppm
            ),
        )?;

        range(
            self.isolation.quarantine_duration_blocks,
            1,
            10_000_000,
            "isolation.quarantine_duration_blocks",
        )?;

        let r = &self.recovery;
        range(
            r.view_change_timeout_ms,
            1,
            MAX_DURATION_MS,
            "recovery.view_change_timeout_ms",
        )?;
        range(
            r.partition_detection_threshold_ms,
            1,
            MAX_DURATION_MS,
            "recovery.partition_detection_threshold_ms",
        )?;

        let p = &self.reputation;
        range(
            p.reputation_decay_rate_ppm,
            0,
            PPM,
            "reputation.reputation_decay_rate_ppm",
        )?;
        range(
            p.rehabilitation_threshold_ppm,
            0,
            PPM,
            "reputation.rehabilitation_threshold_ppm",
        )?;

        let l = &self.relayer;
        range(l.batch_size, 1, 1000, "relayer.batch_size")?;
        range(l.max_attempts, 1, 1000, "relayer.max_attempts")?;
        range(
            l.backoff_base_ms,
            1,
            MAX_DURATION_MS,
            "relayer.backoff_base_ms",
        )?;
        range(
            l.backoff_max_ms,
            1,
            24 * MAX_DURATION_MS,
            "relayer.backoff_max_ms",
        )?;
        check(
            l.backoff_base_ms <= l.backoff_max_ms,
            "relayer.backoff_max_ms",
            format!(
                "must be at least `relayer.backoff_base_ms` ({}) (got {})",
                l.backoff_base_ms, l.backoff_max_ms
            ),
        )?;
        range(l.queue_capacity, 1, 1_000_000, "relayer.queue_capacity")?;

        let m = &self.monitoring;
        range(m.history, 2, 100_000, "monitoring.history")?;
        range(
            m.sample_interval_ms,
            1,
            MAX_DURATION_MS,
            "monitoring.sample_interval_ms",
        )?;
        Ok(())
    }

    /// The module configuration of a chain Warden creates (`warden chain genesis`, the
    /// simulator's embedded chain): the module's defaults, with this configuration's evidence
    /// retention (`retention_epochs`, and the correlation window within it), quarantine length
    /// (the first quarantine; a repeat offender's is [`LONG_QUARANTINE_FACTOR`] times longer)
    /// and reputation policy (decay, rehabilitation threshold; with the reputation system off,
    /// no penalty or reward moves a score, so every operator stays at the baseline and leaders
    /// are drawn by power alone).
    pub fn module_config(&self) -> warden_module::config::Config {
        let mut c = warden_module::config::Config {
            retention_epochs: self.evidence.evidence_retention_period,
            ..Default::default()
        };
        c.slashing.correlation_window_epochs =
            c.slashing.correlation_window_epochs.min(c.retention_epochs);
        let short = self.isolation.quarantine_duration_blocks;
        c.isolation.short_quarantine_blocks = short;
        c.isolation.long_quarantine_blocks = short.saturating_mul(LONG_QUARANTINE_FACTOR);
        let p = &self.reputation;
        c.reputation.decay_ppm = u32::try_from(p.reputation_decay_rate_ppm).unwrap_or(u32::MAX);
        c.reputation.rehabilitation_threshold =
            (u64::from(c.reputation.max) * p.rehabilitation_threshold_ppm.min(PPM) / PPM) as u32;
        if !p.reputation_system_enabled {
            c.reputation.tier1_penalty = 0;
            c.reputation.tier2_penalty = 0;
            c.reputation.tier3_penalty = 0;
            c.reputation.participation_reward = 0;
        }
        c
    }

    /// A commented `warden.toml` listing every field of every section at its default value,
    /// each under a one-line comment. It parses back to [`FaultToleranceConfig::default`].
    ///
    /// The values come from serializing the default, so they cannot drift from it; the comments
    /// come from a table that a test checks covers every serialized field.
    pub fn default_toml() -> String {
        let mut out = String::from(
            "# warden.toml: the fault-tolerance settings of a Warden host.\n\
             #\n\
             # Every field is listed at its default value. Omitted fields take their defaults and\n\
             # unknown fields are refused. Durations are integers with their unit in the name\n\
             # (views, milliseconds, blocks, epochs); shares are parts per million (ppm).\n",
        );
        let table = default_table();
        for (section, section_doc, fields) in DOCS {
            let Some(toml::Value::Table(values)) = table.get(*section) else {
                continue;
            };
            out.push_str(&format!("\n# {section_doc}\n[{section}]\n"));
            for (key, doc) in *fields {
                if let Some(value) = values.get(*key) {
                    out.push_str(&format!("# {doc}\n{key} = {value}\n"));
                }
            }
            // A field missing from the table is still written (so the file parses back to the
            // default), marked undocumented; a test refuses it.
            for (key, value) in values {
                if !fields.iter().any(|(k, _)| k == key) {
                    out.push_str(&format!("# (undocumented)\n{key} = {value}\n"));
                }
            }
        }
        for (section, value) in &table {
            if !DOCS.iter().any(|(s, _, _)| s == section) {
                out.push_str(&format!("\n# (undocumented)\n[{section}]\n"));
                if let toml::Value::Table(values) = value {
                    for (key, value) in values {
                        out.push_str(&format!("# (undocumented)\n{key} = {value}\n"));
                    }
                }
            }
        }
        out
    }
}

/// The default configuration as a TOML table.
fn default_table() -> toml::Table {
    toml::to_string(&FaultToleranceConfig::default())
        .ok()
        .and_then(|text| text.parse::<toml::Table>().ok())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    /// The dotted keys (`section.field`) of a table holding one level of sections.
    fn dotted_keys(table: &toml::Table) -> BTreeSet<String> {
        let mut keys = BTreeSet::new();
        for (section, value) in table {
            match value {
                toml::Value::Table(fields) => {
                    keys.extend(fields.keys().map(|key| format!("{section}.{key}")));
                }
                _ => {
                    keys.insert(section.clone());
                }
            }
        }
        keys
    }

    #[test]
    fn the_default_is_valid() {
        FaultToleranceConfig::default().validate().unwrap();
    }

    #[test]
    fn the_default_toml_parses_back_to_the_default() {
        let text = FaultToleranceConfig::default_toml();
        assert_eq!(
            FaultToleranceConfig::from_toml(&text).unwrap(),
            FaultToleranceConfig::default()
        );
    }

    #[test]
    fn an_empty_file_is_the_default() {
        assert_eq!(
            FaultToleranceConfig::from_toml("").unwrap(),
            FaultToleranceConfig::default()
        );
    }

    #[test]
    fn every_key_is_documented() {
        let serialized = dotted_keys(&default_table());
        assert!(serialized.len() > 20, "{serialized:?}");
        let documented: BTreeSet<String> = DOCS
            .iter()
            .flat_map(|(s, _, fields)| fields.iter().map(move |(k, _)| format!("{s}.{k}")))
            .collect();
        assert_eq!(serialized, documented, "DOCS must document every field");

        let text = FaultToleranceConfig::default_toml();
        assert!(!text.contains("(undocumented)"));
        let rendered: toml::Table = text.parse().unwrap();
        assert_eq!(dotted_keys(&rendered), serialized);

        // Every key line and every section header sits under a comment line.
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].starts_with('#'));
        for (i, line) in lines.iter().enumerate() {
            if !line.is_empty() && !line.starts_with('#') {
                assert!(
                    i > 0 && lines[i - 1].starts_with("# "),
                    "line {} is not commented: {line}",
                    i + 1
                );
            }
        }
    }

    #[test]
    fn an_unknown_field_is_refused_by_name() {
        let err = FaultToleranceConfig::from_toml("[detection]\ndetection_sensitivty = 2.0\n")
            .unwrap_err();
        assert!(matches!(err, ConfigError::Parse(_)), "{err:?}");
        let text = err.to_string();
        assert!(text.contains("detection_sensitivty"), "{text}");

        let err = FaultToleranceConfig::from_toml("[detektion]\n").unwrap_err();
        assert!(err.to_string().contains("detektion"), "{err}");
    }

    #[test]
    fn an_out_of_range_value_is_refused_by_dotted_field() {
        let err = FaultToleranceConfig::from_toml("[detection]\ndetection_sensitivity = -1.0\n")
            .unwrap_err();
        match &err {
            ConfigError::Invalid { field, .. } => {
                assert_eq!(field, "detection.detection_sensitivity")
            }
            other => panic!("{other:?}"),
        }
        assert!(err.to_string().starts_with(
            "invalid value for `detection.detection_sensitivity`: must be a finite number above 0"
        ));

        for (text, field) in [
            (
                "[evidence]\nevidence_aggregation_threshold_ppm = 333333\n",
                "evidence.evidence_aggregation_threshold_ppm",
            ),
            ("[relayer]\nbatch_size = 0\n", "relayer.batch_size"),
            ("[relayer]\nbatch_size = 1001\n", "relayer.batch_size"),
            (
                "[relayer]\nbackoff_base_ms = 500\nbackoff_max_ms = 100\n",
                "relayer.backoff_max_ms",
            ),
            ("[monitoring]\nhistory = 1\n", "monitoring.history"),
            (
                "[detection]\nmax_indexed_messages = 15\n",
                "detection.max_indexed_messages",
            ),
            (
                "[detection]\npattern_analysis_window = 0\n",
                "detection.pattern_analysis_window",
            ),
            (
                "[recovery]\nview_change_timeout_ms = 0\n",
                "recovery.view_change_timeout_ms",
            ),
            ("[relayer]\nqueue_capacity = 0\n", "relayer.queue_capacity"),
        ] {
            match FaultToleranceConfig::from_toml(text) {
                Err(ConfigError::Invalid { field: f, .. }) => assert_eq!(f, field, "{text}"),
                other => panic!("{text}: {other:?}"),
            }
        }

        let mut config = FaultToleranceConfig::default();
        config.detection.detection_sensitivity = f64::NAN;
        assert!(config.validate().is_err());
        config.detection.detection_sensitivity = f64::INFINITY;
        assert!(config.validate().is_err());
    }

    #[test]
    fn a_type_error_is_refused_with_its_line() {
        let err = FaultToleranceConfig::from_toml(
            "[detection]\nbyzantine_detection_enabled = true\npattern_analysis_window = \"many\"\n",
        )
        .unwrap_err();
        assert!(matches!(err, ConfigError::Parse(_)), "{err:?}");
        let text = err.to_string();
        assert!(text.contains("line 3"), "{text}");
    }

    #[test]
    fn a_missing_file_is_an_io_error_naming_it() {
        let err = FaultToleranceConfig::read("/nonexistent/warden.toml").unwrap_err();
        assert!(matches!(err, ConfigError::Io { .. }), "{err:?}");
        assert!(err.to_string().contains("/nonexistent/warden.toml"));
    }
}
