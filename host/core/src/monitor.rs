//! Health monitoring (BRIEF section 4): the health of consensus, of the network and of the
//! validator set, the Byzantine tolerance margin, anomaly detection with robust statistics, and
//! failure prediction from trends.
//!
//! The [`HealthMonitor`] is fed events (commits, view changes, peers heard, the validator set)
//! and closes a sampling interval each time [`HealthMonitor::sample`] is called (every
//! [`MonitoringConfig::sample_interval_ms`]). It keeps the last [`MonitoringConfig::history`]
//! [`Sample`]s in a bounded ring; [`HealthMonitor::report`] turns them into a [`HealthReport`],
//! which [`HealthReport::export`] writes into a Prometheus [`Metrics`] registry.
//!
//! Time is always a parameter, in milliseconds, on whatever clock the caller uses (wall clock
//! or simulated time): the monitor never reads a clock, so the same inputs give the same report.
//! Memory is bounded whatever the inputs: the sample ring has a fixed capacity, and the
//! per-peer state is one slot per peer of the configured count (ids beyond it are ignored).

use std::collections::VecDeque;

use serde::Serialize;

use super::config::MonitoringConfig;
use super::metrics::{Metrics, MetricsError};

/// Reads one field of a [`Sample`].
type SampleField = fn(&Sample) -> f64;

/// The modified z-score above which (in absolute value, in the bad direction) the latest sample
/// is an anomaly: 3.5, the cut-off recommended by Iglewicz and Hoaglin.
pub const ANOMALY_Z_THRESHOLD: f64 = 3.5;

/// The constant of the modified z-score, `0.6745 * (x - median) / MAD`: it makes the MAD of a
/// normal distribution comparable to its standard deviation.
pub const MODIFIED_Z_FACTOR: f64 = 0.6745;

/// Earlier samples needed before the latest one is judged (anomalies) or a trend is fitted
/// (predictions). Fewer gives no anomaly and no prediction.
pub const MIN_BASELINE_SAMPLES: usize = 8;

/// Floor of the MAD, as a fraction of the median's magnitude. A flat history has a MAD of 0,
/// which would make any change infinitely anomalous; the floor says a change of less than about
/// `3.5 / 0.6745 * 5% = 26%` of a steady level is never an anomaly.
pub const MAD_FLOOR_FRACTION_OF_MEDIAN: f64 = 0.05;

/// Floor of the MAD, in events per sampling interval (converted to events per second): rates
/// are counts over one interval, so a change of one event is the measurement's resolution. With
/// this floor of a quarter event, a flat history only reports a change of at least
/// `3.5 / 0.6745 * 0.25 ≈ 1.3` events in one interval (so at least two), never a single one.
pub const MAD_FLOOR_EVENTS_PER_INTERVAL: f64 = 0.25;

/// A falling trend is only believed when its slope is at least this many standard errors below
/// zero (a least-squares t-statistic); jitter around a steady level stays well under it.
pub const TREND_MIN_T: f64 = 3.0;

/// A falling trend is only believed when the fitted line falls, over the span of the history, by
/// at least this fraction of the metric's mean level (or of 1, for levels near zero).
pub const TREND_MIN_RELATIVE_DECLINE: f64 = 0.1;

/// The most peers tracked (a `set_peers` beyond it is clamped), so a wrong count cannot
/// allocate without bound.
pub const MAX_TRACKED_PEERS: usize = 1 << 16;

/// The power that may still turn Byzantine before safety is at risk.
///
/// With a quorum of `quorum` out of a total power of `total_power`, any two quorums share at
/// least `2 * quorum - total_power` of power. Two conflicting certificates need that shared
/// power to vote twice, so safety holds while the Byzantine power is below the intersection,
/// i.e. at most `2 * quorum - total_power - 1`. The margin is that bound minus the power already
/// faulty:
///
/// `margin = (2q - T - 1) - faulty`
///
/// A margin of 0 means one more unit of faulty power breaks the guarantee; a negative margin
/// means safety is no longer guaranteed. For `T = 3f + 1` and `q = 2f + 1` the bound is `f`.
/// Computed in `i128`, so no input overflows. Meaningful for `T / 2 < q <= T`.
pub fn byzantine_tolerance_margin(total_power: u64, quorum: u64, faulty_power: u64) -> i128 {
    let (t, q, f) = (
        i128::from(total_power),
        i128::from(quorum),
        i128::from(faulty_power),
    );
    (2 * q - t - 1) - f
}

/// The validator set as the chain last reported it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ValidatorSetHealth {
    /// Validators in the set.
    pub validators: usize,
    /// Their total voting power.
    pub total_power: u64,
    /// The power a quorum certificate needs.
    pub quorum: u64,
    /// Power isolated by the chain (quarantined or banned).
    pub isolated_power: u64,
    /// Power of validators accused or suspected but not (yet) isolated.
    pub suspected_power: u64,
}

impl ValidatorSetHealth {
    /// The power counted as faulty for the margin: isolated plus suspected. Conservative: an
    /// isolated validator has shown it misbehaves, and while its power stays in the set's total
    /// it is assumed to still be Byzantine.
    pub fn faulty_power(&self) -> u64 {
        self.isolated_power.saturating_add(self.suspected_power)
    }

    /// The Byzantine tolerance margin of this set, see [`byzantine_tolerance_margin`].
    pub fn margin(&self) -> i128 {
        byzantine_tolerance_margin(self.total_power, self.quorum, self.faulty_power())
    }

    /// Whether the power not isolated still reaches a quorum (otherwise nothing can commit).
    pub fn quorum_available(&self) -> bool {
        self.total_power.saturating_sub(self.isolated_power) >= self.quorum
    }

    /// Whether a validator set was reported at all (a total power above zero).
    pub fn is_known(&self) -> bool {
        self.total_power > 0
    }
}

/// One closed sampling interval.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Sample {
    /// When the interval was closed.
    pub at_ms: u64,
    /// Blocks committed in the interval (increases of the committed height), per second.
    pub commits_per_s: f64,
    /// View changes caused by a timeout in the interval, per second.
    pub view_changes_per_s: f64,
    /// Share of the peers heard within the last sampling interval (1 with no peers).
    pub reachable_fraction: f64,
    /// The Byzantine tolerance margin at the time.
    pub margin: i128,
}

/// Consensus health.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ConsensusHealth {
    /// The highest committed height seen (0 before any commit).
    pub height: u64,
    /// The highest view seen.
    pub view: u64,
    /// The latest sample's commit rate, blocks per second (0 before any sample).
    pub commit_rate_per_s: f64,
    /// The latest sample's timeout view changes per second (0 before any sample).
    pub view_changes_per_s: f64,
    /// When the latest commit was seen, if any.
    pub last_commit_ms: Option<u64>,
}

/// Network health.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct NetworkHealth {
    /// Peers tracked.
    pub peers: usize,
    /// Share of the peers heard within the last sampling interval before the report (1 with no
    /// peers).
    pub reachable_fraction: f64,
}

/// The latest sample departing from the history, in the bad direction.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Anomaly {
    /// The sample field: `"commits_per_s"` (too low) or `"view_changes_per_s"` (too high).
    pub metric: &'static str,
    /// When the anomalous sample was taken.
    pub at_ms: u64,
    /// Its value.
    pub value: f64,
    /// The median of the earlier samples.
    pub median: f64,
    /// Their median absolute deviation, after the floors ([`MAD_FLOOR_FRACTION_OF_MEDIAN`],
    /// [`MAD_FLOOR_EVENTS_PER_INTERVAL`]).
    pub mad: f64,
    /// The modified z-score `0.6745 * (value - median) / mad`.
    pub z_score: f64,
}

/// A metric trending towards failure, from a least-squares fit over the history.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FailurePrediction {
    /// `"commits_per_s"` (reaching zero: liveness lost) or `"margin"` (reaching below zero:
    /// safety no longer guaranteed).
    pub metric: &'static str,
    /// The fitted slope, in the metric's units per second (negative).
    pub slope_per_s: f64,
    /// When the fitted line reaches zero, on the caller's clock (the time of the latest sample
    /// when it already has).
    pub eta_ms: u64,
    /// Milliseconds from the report's time to `eta_ms` (0 when past).
    pub remaining_ms: u64,
}

/// The overall verdict of a [`HealthReport`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum HealthStatus {
    /// Nothing below is true.
    Healthy,
    /// Something needs attention, see [`HealthReport::status`].
    Degraded,
    /// Safety or liveness is lost or at immediate risk, see [`HealthReport::status`].
    Critical,
}

impl HealthStatus {
    /// The value of the `warden_health_status` gauge: 0 healthy, 1 degraded, 2 critical.
    pub fn as_gauge(self) -> f64 {
        match self {
            HealthStatus::Healthy => 0.0,
            HealthStatus::Degraded => 1.0,
            HealthStatus::Critical => 2.0,
        }
    }
}

/// A snapshot of the host's health.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct HealthReport {
    /// The report's time, on the caller's clock.
    pub at_ms: u64,
    /// Consensus.
    pub consensus: ConsensusHealth,
    /// Network.
    pub network: NetworkHealth,
    /// The validator set as last reported.
    pub validator_set: ValidatorSetHealth,
    /// The Byzantine tolerance margin of that set, see [`byzantine_tolerance_margin`].
    pub margin: i128,
    /// Samples in the history.
    pub samples: usize,
    /// Anomalies of the latest sample.
    pub anomalies: Vec<Anomaly>,
    /// The earliest predicted failure, if a metric trends towards one.
    pub prediction: Option<FailurePrediction>,
    /// The verdict:
    /// - [`Critical`](HealthStatus::Critical) when the validator set is known and the margin is
    ///   negative or the power not isolated is below a quorum, or when nothing was committed for
    ///   the whole history (a full history of samples without a commit, or no commit for
    ///   `history * sample_interval_ms` since the last one);
    /// - otherwise [`Degraded`](HealthStatus::Degraded) when there is an anomaly, a failure
    ///   prediction, a known validator set with a margin of 0, or fewer than 2/3 of the peers
    ///   reachable;
    /// - otherwise [`Healthy`](HealthStatus::Healthy).
    pub status: HealthStatus,
}

impl HealthReport {
    /// Writes the report into `metrics` as gauges: `warden_height`, `warden_commit_rate`,
    /// `warden_view_changes_rate`, `warden_peers_reachable_ratio`, `warden_validators`,
    /// `warden_total_power`, `warden_isolated_power`, `warden_byzantine_tolerance_margin`,
    /// `warden_anomalies`, `warden_health_status` (0 healthy, 1 degraded, 2 critical), and
    /// `warden_predicted_failure_seconds` (labelled with the metric) when there is a prediction;
    /// it is removed otherwise, so no stale prediction stays exposed.
    pub fn export(&self, metrics: &mut Metrics) -> Result<(), MetricsError> {
        let gauges: [(&str, &str, f64); 10] = [
            (
                "warden_height",
                "Highest committed block height.",
                self.consensus.height as f64,
            ),
            (
                "warden_commit_rate",
                "Blocks committed per second over the latest sampling interval.",
                self.consensus.commit_rate_per_s,
            ),
            (
                "warden_view_changes_rate",
                "View changes by timeout per second over the latest sampling interval.",
                self.consensus.view_changes_per_s,
            ),
            (
                "warden_peers_reachable_ratio",
                "Share of the peers heard within the latest sampling interval.",
                self.network.reachable_fraction,
            ),
            (
                "warden_validators",
                "Validators in the validator set.",
                self.validator_set.validators as f64,
            ),
            (
                "warden_total_power",
                "Total voting power of the validator set.",
                self.validator_set.total_power as f64,
            ),
            (
                "warden_isolated_power",
                "Voting power isolated by the chain.",
                self.validator_set.isolated_power as f64,
            ),
            (
                "warden_byzantine_tolerance_margin",
                "Power that may still turn Byzantine before safety is at risk.",
                self.margin as f64,
            ),
            (
                "warden_anomalies",
                "Anomalies in the latest sample.",
                self.anomalies.len() as f64,
            ),
            (
                "warden_health_status",
                "Health status: 0 healthy, 1 degraded, 2 critical.",
                self.status.as_gauge(),
            ),
        ];
        for (name, help, value) in gauges {
            metrics.gauge(name, help, &[], value)?;
        }
        metrics.remove("warden_predicted_failure_seconds");
        if let Some(p) = &self.prediction {
            metrics.gauge(
                "warden_predicted_failure_seconds",
                "Seconds until the predicted failure of a metric trending towards it.",
                &[("metric", p.metric)],
                p.remaining_ms as f64 / 1000.0,
            )?;
        }
        Ok(())
    }
}

/// Consensus, network and validator-set health over a bounded history of samples.
#[derive(Clone, Debug)]
pub struct HealthMonitor {
    history: usize,
    interval_ms: u64,
    samples: VecDeque<Sample>,
    height: Option<u64>,
    view: u64,
    last_commit_ms: Option<u64>,
    /// When the open interval started (the previous sample), if any sample was taken.
    interval_start_ms: Option<u64>,
    commits_in_interval: u64,
    timeouts_in_interval: u64,
    /// When each peer `0..peers` was last heard.
    last_heard: Vec<Option<u64>>,
    validator_set: ValidatorSetHealth,
}

impl HealthMonitor {
    /// A monitor keeping `cfg.history` samples (at least 1) taken every
    /// `cfg.sample_interval_ms` (at least 1).
    pub fn new(cfg: &MonitoringConfig) -> Self {
        let history = cfg.history.max(1);
        Self {
            history,
            interval_ms: cfg.sample_interval_ms.max(1),
            samples: VecDeque::with_capacity(history),
            height: None,
            view: 0,
            last_commit_ms: None,
            interval_start_ms: None,
            commits_in_interval: 0,
            timeouts_in_interval: 0,
            last_heard: Vec::new(),
            validator_set: ValidatorSetHealth::default(),
        }
    }

    /// A block at `height` was committed. Counts the height's increase (1 for the first
    /// commit); a height not above the highest seen counts nothing.
    pub fn on_commit(&mut self, now_ms: u64, height: u64) {
        let added = match self.height {
            None => 1,
            Some(h) => height.saturating_sub(h),
        };
        if added > 0 {
            self.height = Some(height);
            self.commits_in_interval = self.commits_in_interval.saturating_add(added);
            self.last_commit_ms = Some(self.last_commit_ms.map_or(now_ms, |t| t.max(now_ms)));
        }
    }

    /// The replica entered `view`; `by_timeout` when a timeout certificate (not a commit or a
    /// quorum certificate) moved it. Only timeouts count in the samples.
    pub fn on_view_change(&mut self, _now_ms: u64, view: u64, by_timeout: bool) {
        self.view = self.view.max(view);
        if by_timeout {
            self.timeouts_in_interval = self.timeouts_in_interval.saturating_add(1);
        }
    }

    /// A message from `peer` arrived. Ids at or beyond the peer count are ignored.
    pub fn on_peer_heard(&mut self, now_ms: u64, peer: u32) {
        if let Some(slot) = usize::try_from(peer)
            .ok()
            .and_then(|i| self.last_heard.get_mut(i))
        {
            *slot = Some(slot.map_or(now_ms, |t| t.max(now_ms)));
        }
    }

    /// The number of peers (ids `0..count`), clamped to [`MAX_TRACKED_PEERS`]. Peers that stay
    /// keep when they were last heard.
    pub fn set_peers(&mut self, count: usize) {
        self.last_heard.resize(count.min(MAX_TRACKED_PEERS), None);
    }

    /// The validator set as the chain now reports it.
    pub fn set_validator_set(&mut self, set: ValidatorSetHealth) {
        self.validator_set = set;
    }

    /// Closes the open sampling interval at `now_ms` and pushes its [`Sample`], dropping the
    /// oldest beyond the history. Rates divide by the time since the previous sample (the
    /// configured interval for the first sample, or when no time passed).
    pub fn sample(&mut self, now_ms: u64) -> Sample {
        let elapsed_ms = match self.interval_start_ms {
            Some(start) if now_ms > start => now_ms - start,
            _ => self.interval_ms,
        };
        let per_s = 1000.0 / elapsed_ms as f64;
        let sample = Sample {
            at_ms: now_ms,
            commits_per_s: self.commits_in_interval as f64 * per_s,
            view_changes_per_s: self.timeouts_in_interval as f64 * per_s,
            reachable_fraction: self.reachable_fraction(now_ms),
            margin: self.validator_set.margin(),
        };
        self.commits_in_interval = 0;
        self.timeouts_in_interval = 0;
        self.interval_start_ms = Some(now_ms);
        if self.samples.len() == self.history {
            self.samples.pop_front();
        }
        self.samples.push_back(sample);
        sample
    }

    /// The samples kept, oldest first.
    pub fn samples(&self) -> impl ExactSizeIterator<Item = &Sample> + '_ {
        self.samples.iter()
    }

    /// Share of the peers heard within the last sampling interval before `now_ms` (1 with no
    /// peers: none is unreachable).
    pub fn reachable_fraction(&self, now_ms: u64) -> f64 {
        if self.last_heard.is_empty() {
            return 1.0;
        }
        let since = now_ms.saturating_sub(self.interval_ms);
        let heard = self
            .last_heard
            .iter()
            .filter(|t| matches!(t, Some(t) if *t >= since))
            .count();
        heard as f64 / self.last_heard.len() as f64
    }

    /// The health at `now_ms` (see [`HealthReport::status`] for the verdict's rule).
    pub fn report(&self, now_ms: u64) -> HealthReport {
        let latest = self.samples.back();
        let consensus = ConsensusHealth {
            height: self.height.unwrap_or(0),
            view: self.view,
            commit_rate_per_s: latest.map_or(0.0, |s| s.commits_per_s),
            view_changes_per_s: latest.map_or(0.0, |s| s.view_changes_per_s),
            last_commit_ms: self.last_commit_ms,
        };
        let network = NetworkHealth {
            peers: self.last_heard.len(),
            reachable_fraction: self.reachable_fraction(now_ms),
        };
        let margin = self.validator_set.margin();
        let anomalies = self.anomalies();
        let prediction = self.prediction(now_ms);

        let set_known = self.validator_set.is_known();
        let history_span_ms = self.interval_ms.saturating_mul(self.history as u64);
        let stalled = (self.samples.len() == self.history
            && self.samples.iter().all(|s| s.commits_per_s == 0.0))
            || self
                .last_commit_ms
                .is_some_and(|t| now_ms.saturating_sub(t) >= history_span_ms);
        let status =
            if (set_known && (margin < 0 || !self.validator_set.quorum_available())) || stalled {
                HealthStatus::Critical
            } else if !anomalies.is_empty()
                || prediction.is_some()
                || (set_known && margin == 0)
                || (network.peers > 0 && network.reachable_fraction < 2.0 / 3.0)
            {
                HealthStatus::Degraded
            } else {
                HealthStatus::Healthy
            };

        HealthReport {
            at_ms: now_ms,
            consensus,
            network,
            validator_set: self.validator_set,
            margin,
            samples: self.samples.len(),
            anomalies,
            prediction,
            status,
        }
    }

    /// Anomalies of the latest sample against the earlier ones: a commit rate whose modified
    /// z-score is below `-ANOMALY_Z_THRESHOLD`, a timeout rate whose score is above it.
    fn anomalies(&self) -> Vec<Anomaly> {
        let samples: Vec<Sample> = self.samples.iter().copied().collect();
        let Some((latest, baseline)) = samples.split_last() else {
            return Vec::new();
        };
        if baseline.len() < MIN_BASELINE_SAMPLES {
            return Vec::new();
        }
        let resolution = MAD_FLOOR_EVENTS_PER_INTERVAL * 1000.0 / self.interval_ms as f64;
        let mut out = Vec::new();
        let checks: [(&'static str, SampleField, bool); 2] = [
            ("commits_per_s", |s| s.commits_per_s, false),
            ("view_changes_per_s", |s| s.view_changes_per_s, true),
        ];
        for (metric, get, high_is_bad) in checks {
            let values: Vec<f64> = baseline.iter().map(get).collect();
            let value = get(latest);
            let (median, mad) = median_and_mad(values);
            let mad = mad
                .max(MAD_FLOOR_FRACTION_OF_MEDIAN * median.abs())
                .max(resolution);
            let z_score = MODIFIED_Z_FACTOR * (value - median) / mad;
            let bad = if high_is_bad {
                z_score > ANOMALY_Z_THRESHOLD
            } else {
                z_score < -ANOMALY_Z_THRESHOLD
            };
            if bad {
                out.push(Anomaly {
                    metric,
                    at_ms: latest.at_ms,
                    value,
                    median,
                    mad,
                    z_score,
                });
            }
        }
        out
    }

    /// The earliest failure predicted by a falling commit rate or margin.
    fn prediction(&self, now_ms: u64) -> Option<FailurePrediction> {
        if self.samples.len() < MIN_BASELINE_SAMPLES + 1 {
            return None;
        }
        let points = |get: SampleField| -> Vec<(f64, f64)> {
            self.samples
                .iter()
                .map(|s| (s.at_ms as f64, get(s)))
                .collect()
        };
        let candidates = [
            ("commits_per_s", points(|s| s.commits_per_s)),
            ("margin", points(|s| s.margin as f64)),
        ];
        candidates
            .into_iter()
            .filter_map(|(metric, pts)| {
                let (slope_per_ms, eta_ms) = falling_trend(&pts)?;
                Some(FailurePrediction {
                    metric,
                    slope_per_s: slope_per_ms * 1000.0,
                    eta_ms,
                    remaining_ms: eta_ms.saturating_sub(now_ms),
                })
            })
            .min_by_key(|p| p.eta_ms)
    }
}

/// The median of `values` and their median absolute deviation (0 and 0 when empty).
fn median_and_mad(mut values: Vec<f64>) -> (f64, f64) {
    let median = median_of(&mut values);
    let mut deviations: Vec<f64> = values.iter().map(|v| (v - median).abs()).collect();
    (median, median_of(&mut deviations))
}

fn median_of(values: &mut [f64]) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    values.sort_by(f64::total_cmp);
    let n = values.len();
    if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    }
}

/// Fits `y = a + b x` by least squares and, when the slope `b` is a believable fall (at least
/// [`TREND_MIN_T`] standard errors below zero, and a fall over the span of at least
/// [`TREND_MIN_RELATIVE_DECLINE`] of the mean level or of 1), returns the slope and the `x` at
/// which the line reaches zero (the last `x` when the fitted value there is already at or below
/// zero).
fn falling_trend(points: &[(f64, f64)]) -> Option<(f64, u64)> {
    let n = points.len();
    if n < 3 {
        return None;
    }
    let nf = n as f64;
    let mean_x = points.iter().map(|p| p.0).sum::<f64>() / nf;
    let mean_y = points.iter().map(|p| p.1).sum::<f64>() / nf;
    let sxx: f64 = points.iter().map(|p| (p.0 - mean_x).powi(2)).sum();
    if sxx <= 0.0 {
        return None;
    }
    let sxy: f64 = points.iter().map(|p| (p.0 - mean_x) * (p.1 - mean_y)).sum();
    let slope = sxy / sxx;
    if !slope.is_finite() || slope >= 0.0 {
        return None;
    }
    let residuals: f64 = points
        .iter()
        .map(|p| (p.1 - (mean_y + slope * (p.0 - mean_x))).powi(2))
        .sum();
    let standard_error = (residuals / (nf - 2.0) / sxx).sqrt();
    let t = if standard_error > 0.0 {
        slope / standard_error
    } else {
        f64::NEG_INFINITY
    };
    if t > -TREND_MIN_T {
        return None;
    }
    let (first_x, last_x) = (points[0].0, points[n - 1].0);
    let decline = -slope * (last_x - first_x);
    if decline < TREND_MIN_RELATIVE_DECLINE * mean_y.abs().max(1.0) {
        return None;
    }
    let fitted_last = mean_y + slope * (last_x - mean_x);
    let eta = if fitted_last <= 0.0 {
        last_x
    } else {
        last_x + fitted_last / -slope
    };
    // `as` saturates: a far-off time becomes u64::MAX.
    Some((slope, eta.max(0.0).round() as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    const INTERVAL: u64 = 100;

    fn monitor(history: usize) -> HealthMonitor {
        HealthMonitor::new(&MonitoringConfig {
            history,
            sample_interval_ms: INTERVAL,
        })
    }

    fn bft_set(validators: usize, isolated: u64) -> ValidatorSetHealth {
        ValidatorSetHealth {
            validators,
            total_power: validators as u64,
            quorum: (2 * validators as u64) / 3 + 1,
            isolated_power: isolated,
            suspected_power: 0,
        }
    }

    /// Drives one sampling interval ending at `end_ms`: `commits` blocks spread over it,
    /// `timeouts` timeout view changes, and every peer heard.
    fn interval(m: &mut HealthMonitor, end_ms: u64, commits: u64, timeouts: u64, peers: u32) {
        let start = end_ms - INTERVAL;
        for i in 0..commits {
            let h = m.height.unwrap_or(0) + 1;
            m.on_commit(start + 1 + i * INTERVAL / (commits + 1), h);
        }
        for _ in 0..timeouts {
            let v = m.view + 1;
            m.on_view_change(start + 50, v, true);
        }
        for p in 0..peers {
            m.on_peer_heard(start + 60, p);
        }
        m.sample(end_ms);
    }

    #[test]
    fn the_margin_is_the_quorum_intersection_minus_one_minus_the_faulty_power() {
        // n = 4, f = 1: quorums of 3 intersect in 2, so 1 Byzantine unit is tolerated.
        assert_eq!(byzantine_tolerance_margin(4, 3, 0), 1);
        assert_eq!(byzantine_tolerance_margin(4, 3, 1), 0);
        assert_eq!(byzantine_tolerance_margin(4, 3, 2), -1);
        // n = 100 = 3 * 33 + 1, q = 67: 2 * 67 - 100 = 34 shared, 33 tolerated.
        assert_eq!(byzantine_tolerance_margin(100, 67, 0), 33);
        assert_eq!(byzantine_tolerance_margin(100, 67, 33), 0);
        assert_eq!(byzantine_tolerance_margin(100, 67, 34), -1);
        // A unanimous quorum tolerates T - 1; a bare majority of an even total tolerates none.
        assert_eq!(byzantine_tolerance_margin(10, 10, 0), 9);
        assert_eq!(byzantine_tolerance_margin(10, 6, 0), 1);
        assert_eq!(byzantine_tolerance_margin(10, 5, 0), -1);
        // For every f, T = 3f + 1 and q = 2f + 1 tolerate exactly f.
        for f in 0..50u64 {
            assert_eq!(
                byzantine_tolerance_margin(3 * f + 1, 2 * f + 1, 0),
                f as i128
            );
        }
        // No overflow at the extremes.
        assert_eq!(byzantine_tolerance_margin(u64::MAX, u64::MAX, u64::MAX), -1);
        // Isolated and suspected power both count as faulty.
        let set = ValidatorSetHealth {
            suspected_power: 1,
            ..bft_set(7, 1)
        };
        assert_eq!(set.margin(), 0);
    }

    #[test]
    fn a_steady_network_shows_no_anomaly_and_no_prediction() {
        let mut m = monitor(32);
        m.set_peers(6);
        m.set_validator_set(bft_set(7, 0));
        // 4 to 6 commits per interval, the odd timeout, every peer heard.
        let jitter = [5, 6, 4, 5, 5, 6, 4, 5];
        for i in 0..40u64 {
            let timeouts = u64::from(i % 13 == 7);
            interval(
                &mut m,
                (i + 1) * INTERVAL,
                jitter[(i % 8) as usize],
                timeouts,
                6,
            );
            let r = m.report((i + 1) * INTERVAL);
            assert!(r.anomalies.is_empty(), "sample {i}: {:?}", r.anomalies);
            assert_eq!(r.prediction, None, "sample {i}");
            assert_eq!(r.status, HealthStatus::Healthy, "sample {i}: {r:?}");
        }
        let r = m.report(4_000);
        assert_eq!(r.network.reachable_fraction, 1.0);
        assert_eq!(r.margin, 2);
        assert_eq!(r.consensus.height, 40 * 5);
        assert!(serde_json::to_string(&r).unwrap().contains("\"Healthy\""));
    }

    #[test]
    fn a_commit_stall_is_reported_as_an_anomaly() {
        let mut m = monitor(32);
        m.set_peers(3);
        m.set_validator_set(bft_set(4, 0));
        for i in 0..20u64 {
            interval(&mut m, (i + 1) * INTERVAL, 5, 0, 3);
        }
        assert!(m.report(2_000).anomalies.is_empty());
        interval(&mut m, 2_100, 0, 0, 3);
        let r = m.report(2_100);
        assert_eq!(r.anomalies.len(), 1, "{:?}", r.anomalies);
        let a = &r.anomalies[0];
        assert_eq!(a.metric, "commits_per_s");
        assert_eq!((a.value, a.median), (0.0, 50.0));
        assert!(a.z_score < -ANOMALY_Z_THRESHOLD);
        assert_eq!(r.status, HealthStatus::Degraded);
    }

    #[test]
    fn a_burst_of_timeouts_is_reported_as_an_anomaly() {
        let mut m = monitor(32);
        for i in 0..20u64 {
            interval(&mut m, (i + 1) * INTERVAL, 5, 0, 0);
        }
        // One timeout is within the resolution of a flat history; three are not.
        interval(&mut m, 2_100, 5, 1, 0);
        assert!(m.report(2_100).anomalies.is_empty());
        interval(&mut m, 2_200, 5, 3, 0);
        let r = m.report(2_200);
        assert_eq!(r.anomalies.len(), 1);
        assert_eq!(r.anomalies[0].metric, "view_changes_per_s");
        assert!(r.anomalies[0].z_score > ANOMALY_Z_THRESHOLD);
    }

    #[test]
    fn too_few_samples_report_nothing() {
        let mut m = monitor(32);
        for i in 0..MIN_BASELINE_SAMPLES as u64 {
            interval(&mut m, (i + 1) * INTERVAL, 20 - 2 * i, 0, 0);
        }
        interval(&mut m, 900, 0, 5, 0);
        let r = m.report(900);
        assert_eq!(r.samples, MIN_BASELINE_SAMPLES + 1);
        // With exactly the minimum baseline the latest sample is judged...
        assert!(!r.anomalies.is_empty());
        // ...but one sample fewer judges nothing.
        let mut m = monitor(32);
        for i in 0..MIN_BASELINE_SAMPLES as u64 - 1 {
            interval(&mut m, (i + 1) * INTERVAL, 20 - 2 * i, 0, 0);
        }
        interval(&mut m, 800, 0, 5, 0);
        let r = m.report(800);
        assert!(r.anomalies.is_empty());
        assert_eq!(r.prediction, None);
    }

    #[test]
    fn a_falling_commit_rate_predicts_a_failure_time() {
        let mut m = monitor(64);
        m.set_validator_set(bft_set(4, 0));
        // 20, 19, 18, ... commits per 100 ms: 200/s falling by 100/s each second, zero at
        // the 21st sample, t = 2100 ms.
        for i in 0..12u64 {
            interval(&mut m, (i + 1) * INTERVAL, 20 - i, 0, 0);
        }
        let r = m.report(1_200);
        let p = r.prediction.clone().expect("a prediction");
        assert_eq!(p.metric, "commits_per_s");
        assert!((p.slope_per_s + 100.0).abs() < 1e-6, "{p:?}");
        assert_eq!(p.eta_ms, 2_100);
        assert_eq!(p.remaining_ms, 900);
        assert_eq!(r.status, HealthStatus::Degraded);

        let mut metrics = Metrics::new();
        r.export(&mut metrics).unwrap();
        assert_eq!(
            metrics.value(
                "warden_predicted_failure_seconds",
                &[("metric", "commits_per_s")]
            ),
            Some(0.9)
        );
    }

    #[test]
    fn a_falling_margin_predicts_when_safety_is_lost() {
        let mut m = monitor(64);
        // Ten validators of power 10 (T = 100, q = 67, margin 33); one more unit of
        // suspected power every sample.
        for i in 0..20u64 {
            m.set_validator_set(ValidatorSetHealth {
                validators: 10,
                total_power: 100,
                quorum: 67,
                isolated_power: 0,
                suspected_power: i,
            });
            interval(&mut m, (i + 1) * INTERVAL, 5, 0, 0);
        }
        let r = m.report(2_000);
        assert_eq!(r.margin, 14);
        let p = r.prediction.expect("a prediction");
        assert_eq!(p.metric, "margin");
        assert!((p.slope_per_s + 10.0).abs() < 1e-9);
        // margin 14 at 2000 ms, falling 1 per 100 ms: zero at 3400 ms.
        assert_eq!(p.eta_ms, 3_400);
    }

    #[test]
    fn history_is_bounded() {
        let mut m = monitor(5);
        for i in 0..1_000u64 {
            interval(&mut m, (i + 1) * INTERVAL, 3, 0, 0);
        }
        assert_eq!(m.samples().len(), 5);
        assert_eq!(m.samples().next().unwrap().at_ms, 996 * INTERVAL);
        assert_eq!(m.report(100_000).samples, 5);
        // A history of 0 keeps one sample.
        let mut m = monitor(0);
        m.sample(1);
        m.sample(2);
        assert_eq!(m.samples().len(), 1);
    }

    #[test]
    fn unknown_peers_do_not_grow_memory() {
        let mut m = monitor(8);
        m.set_peers(4);
        for peer in (0..1_000_000u32).step_by(7).chain([u32::MAX]) {
            m.on_peer_heard(50, peer);
        }
        assert_eq!(m.last_heard.len(), 4);
        assert!(m.last_heard.capacity() < 64);
        // Of the ids heard (multiples of 7, and u32::MAX), only 0 is a known peer.
        assert_eq!(m.reachable_fraction(60), 0.25);
        m.set_peers(usize::MAX);
        assert_eq!(m.last_heard.len(), MAX_TRACKED_PEERS);
    }

    #[test]
    fn reachability_counts_peers_heard_within_the_last_interval() {
        let mut m = monitor(8);
        m.set_peers(3);
        m.on_peer_heard(10, 0);
        m.on_peer_heard(150, 1);
        m.on_peer_heard(190, 2);
        assert!((m.reachable_fraction(200) - 2.0 / 3.0).abs() < 1e-12);
        assert_eq!(m.sample(200).reachable_fraction, m.reachable_fraction(200));
        assert_eq!(m.reachable_fraction(300), 0.0);
        let r = m.report(300);
        assert_eq!(r.network.peers, 3);
        assert_eq!(r.status, HealthStatus::Degraded);
    }

    #[test]
    fn a_negative_margin_or_a_long_stall_is_critical() {
        let mut m = monitor(10);
        m.set_validator_set(bft_set(4, 2));
        interval(&mut m, 100, 5, 0, 0);
        assert_eq!(m.report(100).margin, -1);
        assert_eq!(m.report(100).status, HealthStatus::Critical);

        let mut m = monitor(10);
        m.set_validator_set(bft_set(4, 0));
        interval(&mut m, 100, 5, 0, 0);
        assert_eq!(m.report(100).status, HealthStatus::Healthy);
        // No commit for the whole history span (10 * 100 ms) after the last one.
        let last = m.report(100).consensus.last_commit_ms.unwrap();
        assert_eq!(m.report(last + 999).status, HealthStatus::Healthy);
        assert_eq!(m.report(last + 1_000).status, HealthStatus::Critical);

        // Never a commit, over a full history.
        let mut m = monitor(10);
        for i in 0..10u64 {
            interval(&mut m, (i + 1) * INTERVAL, 0, 0, 0);
        }
        assert_eq!(m.report(1_000).status, HealthStatus::Critical);
    }

    #[test]
    fn the_report_exports_its_gauges() {
        let mut m = monitor(10);
        m.set_peers(2);
        m.set_validator_set(bft_set(4, 1));
        interval(&mut m, 100, 3, 1, 2);
        let r = m.report(100);
        let mut metrics = Metrics::new();
        metrics
            .gauge(
                "warden_predicted_failure_seconds",
                "stale",
                &[("metric", "margin")],
                1.0,
            )
            .unwrap();
        r.export(&mut metrics).unwrap();
        let get = |name: &str| metrics.value(name, &[]);
        assert_eq!(get("warden_height"), Some(3.0));
        assert_eq!(get("warden_commit_rate"), Some(30.0));
        assert_eq!(get("warden_view_changes_rate"), Some(10.0));
        assert_eq!(get("warden_peers_reachable_ratio"), Some(1.0));
        assert_eq!(get("warden_validators"), Some(4.0));
        assert_eq!(get("warden_total_power"), Some(4.0));
        assert_eq!(get("warden_isolated_power"), Some(1.0));
        assert_eq!(get("warden_byzantine_tolerance_margin"), Some(0.0));
        assert_eq!(get("warden_anomalies"), Some(0.0));
        // Margin 0: degraded.
        assert_eq!(get("warden_health_status"), Some(1.0));
        // No prediction: the stale series is gone.
        assert!(!metrics
            .render()
            .contains("warden_predicted_failure_seconds"));
    }
}
