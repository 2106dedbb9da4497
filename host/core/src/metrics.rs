//! Prometheus metrics: a small registry, [`Metrics`], whose text exposition (format 0.0.4) is
//! written by the `prometheus` crate's `TextEncoder` (the HTTP endpoint that serves it lives
//! with the binary).
//!
//! The registry only holds current values: [`Metrics::gauge`] and [`Metrics::counter`] set the
//! value of one series (a metric name plus a set of labels), replacing the previous one. The
//! owner (for instance [`HealthReport::export`](crate::monitor::HealthReport::export)) updates
//! the values and the endpoint renders whatever is there when it is scraped.
//!
//! Output is deterministic: metric families are sorted by name, series within a family by their
//! labels (sorted by label name, then compared name by name and value by value), so two
//! registries holding the same values render the same bytes.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use prometheus::proto::{self, MetricFamily, MetricType};

/// The `Content-Type` of the text exposition format this module renders.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4";

/// Why a value was refused by the registry.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum MetricsError {
    /// The metric name does not match `[a-zA-Z_:][a-zA-Z0-9_:]*`.
    #[error("invalid metric name {0:?}: must match [a-zA-Z_:][a-zA-Z0-9_:]*")]
    InvalidName(String),
    /// A label name does not match `[a-zA-Z_][a-zA-Z0-9_]*` or starts with the reserved `__`.
    #[error("invalid label name {0:?}: must match [a-zA-Z_][a-zA-Z0-9_]* and not start with __")]
    InvalidLabelName(String),
    /// The same label name appears twice in one series.
    #[error("label {label:?} given twice for metric {name:?}")]
    DuplicateLabel {
        /// The metric.
        name: String,
        /// The repeated label.
        label: String,
    },
    /// The name is already registered with another type (a gauge set as a counter or back).
    #[error("metric {name:?} is already a {existing}, not a {requested}")]
    TypeConflict {
        /// The metric.
        name: String,
        /// The type it was registered with.
        existing: &'static str,
        /// The type asked for now.
        requested: &'static str,
    },
    /// A counter was given a negative value or NaN (counters count up from zero).
    #[error("counter {name:?} cannot take the value {value}")]
    InvalidCounterValue {
        /// The metric.
        name: String,
        /// The refused value.
        value: f64,
    },
}

/// The Prometheus type of a metric family.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Gauge,
    Counter,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Gauge => "gauge",
            Kind::Counter => "counter",
        }
    }
}

/// One metric name: its help text, its type and its series keyed by their sorted labels.
#[derive(Clone, Debug)]
struct Family {
    help: String,
    kind: Kind,
    series: BTreeMap<Vec<(String, String)>, f64>,
}

/// Metrics shared with an HTTP endpoint.
pub type SharedMetrics = Arc<Mutex<Metrics>>;

/// A registry of gauges and counters rendered in the Prometheus text exposition format 0.0.4.
///
/// Each call to [`gauge`](Self::gauge) or [`counter`](Self::counter) sets the current value of
/// one series; the help text of a family is the one given last. Names are validated, so a bad
/// name is an error rather than a broken scrape.
#[derive(Clone, Debug, Default)]
pub struct Metrics {
    families: BTreeMap<String, Family>,
}

impl Metrics {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the value of the gauge series `name{labels}`.
    pub fn gauge(
        &mut self,
        name: &str,
        help: &str,
        labels: &[(&str, &str)],
        value: f64,
    ) -> Result<(), MetricsError> {
        self.set(Kind::Gauge, name, help, labels, value)
    }

    /// Sets the value of the counter series `name{labels}`. Counters count up from zero, so a
    /// negative value or NaN is refused (`+Inf` is accepted).
    pub fn counter(
        &mut self,
        name: &str,
        help: &str,
        labels: &[(&str, &str)],
        value: f64,
    ) -> Result<(), MetricsError> {
        if value.is_nan() || value < 0.0 {
            return Err(MetricsError::InvalidCounterValue {
                name: name.to_string(),
                value,
            });
        }
        self.set(Kind::Counter, name, help, labels, value)
    }

    /// Removes every series of `name`; returns whether it existed.
    pub fn remove(&mut self, name: &str) -> bool {
        self.families.remove(name).is_some()
    }

    /// The current value of a series, if set (labels in any order).
    pub fn value(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let mut key: Vec<(String, String)> = labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        key.sort();
        self.families.get(name)?.series.get(&key).copied()
    }

    /// The number of metric names registered.
    pub fn len(&self) -> usize {
        self.families.len()
    }

    /// Whether no metric is registered.
    pub fn is_empty(&self) -> bool {
        self.families.is_empty()
    }

    fn set(
        &mut self,
        kind: Kind,
        name: &str,
        help: &str,
        labels: &[(&str, &str)],
        value: f64,
    ) -> Result<(), MetricsError> {
        if !valid_metric_name(name) {
            return Err(MetricsError::InvalidName(name.to_string()));
        }
        let mut key: Vec<(String, String)> = Vec::with_capacity(labels.len());
        for (label, val) in labels {
            if !valid_label_name(label) {
                return Err(MetricsError::InvalidLabelName(label.to_string()));
            }
            key.push((label.to_string(), val.to_string()));
        }
        key.sort();
        if let Some(w) = key.windows(2).find(|w| w[0].0 == w[1].0) {
            return Err(MetricsError::DuplicateLabel {
                name: name.to_string(),
                label: w[0].0.clone(),
            });
        }
        match self.families.get_mut(name) {
            Some(family) if family.kind != kind => Err(MetricsError::TypeConflict {
                name: name.to_string(),
                existing: family.kind.as_str(),
                requested: kind.as_str(),
            }),
            Some(family) => {
                if family.help != help {
                    family.help = help.to_string();
                }
                family.series.insert(key, value);
                Ok(())
            }
            None => {
                let mut series = BTreeMap::new();
                series.insert(key, value);
                self.families.insert(
                    name.to_string(),
                    Family {
                        help: help.to_string(),
                        kind,
                        series,
                    },
                );
                Ok(())
            }
        }
    }

    /// Renders every family in the text exposition format 0.0.4, with the `prometheus` crate's
    /// encoder: a `# HELP` and a `# TYPE` line once per name, then one line per series,
    /// families and series sorted; label values and help text escaped as the format requires.
    pub fn render(&self) -> String {
        let families: Vec<MetricFamily> = self
            .families
            .iter()
            .map(|(name, family)| family.proto(name))
            .collect();
        prometheus::TextEncoder::new()
            .encode_to_string(&families)
            // Fails only on a family with no series or no name, which the registry never holds.
            .unwrap_or_default()
    }
}

impl Family {
    fn proto(&self, name: &str) -> MetricFamily {
        let mut family = MetricFamily::default();
        family.set_name(name.to_string());
        family.set_help(self.help.clone());
        family.set_field_type(match self.kind {
            Kind::Gauge => MetricType::GAUGE,
            Kind::Counter => MetricType::COUNTER,
        });
        for (labels, &value) in &self.series {
            let mut metric = proto::Metric::from_label(
                labels
                    .iter()
                    .map(|(label, val)| {
                        let mut pair = proto::LabelPair::default();
                        pair.set_name(label.clone());
                        pair.set_value(val.clone());
                        pair
                    })
                    .collect(),
            );
            match self.kind {
                Kind::Gauge => {
                    let mut gauge = proto::Gauge::default();
                    gauge.set_value(value);
                    metric.set_gauge(gauge);
                }
                Kind::Counter => {
                    let mut counter = proto::Counter::default();
                    counter.set_value(value);
                    metric.set_counter(counter);
                }
            }
            family.mut_metric().push(metric);
        }
        family
    }
}

/// Whether `name` matches `[a-zA-Z_:][a-zA-Z0-9_:]*`.
pub fn valid_metric_name(name: &str) -> bool {
    let mut chars = name.chars();
    match chars.next() {
        Some(c) if c.is_ascii_alphabetic() || c == '_' || c == ':' => {}
        _ => return false,
    }
    chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

/// Whether `name` matches `[a-zA-Z_][a-zA-Z0-9_]*` and does not start with the reserved `__`.
pub fn valid_label_name(name: &str) -> bool {
    let mut chars = name.chars();
    match chars.next() {
        Some(c) if c.is_ascii_alphabetic() || c == '_' => {}
        _ => return false,
    }
    !name.starts_with("__") && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn help_and_type_appear_once_per_name_and_series_are_sorted() {
        let mut m = Metrics::new();
        m.gauge("b_metric", "B.", &[("peer", "2")], 2.0).unwrap();
        m.gauge("b_metric", "B.", &[("peer", "1")], 1.5).unwrap();
        m.counter("a_total", "A.", &[], 7.0).unwrap();
        m.gauge("b_metric", "B.", &[("peer", "1")], 1.0).unwrap(); // replaces 1.5
        let text = m.render();
        assert_eq!(
            text,
            "# HELP a_total A.\n# TYPE a_total counter\na_total 7\n\
             # HELP b_metric B.\n# TYPE b_metric gauge\n\
             b_metric{peer=\"1\"} 1\nb_metric{peer=\"2\"} 2\n"
        );
        assert_eq!(text.matches("# HELP b_metric").count(), 1);
        assert_eq!(text.matches("# TYPE b_metric").count(), 1);
    }

    #[test]
    fn labels_are_sorted_by_name_whatever_the_order_given() {
        let mut a = Metrics::new();
        a.gauge("x", "X.", &[("z", "1"), ("a", "2")], 1.0).unwrap();
        let mut b = Metrics::new();
        b.gauge("x", "X.", &[("a", "2"), ("z", "1")], 1.0).unwrap();
        assert_eq!(a.render(), b.render());
        assert!(a.render().contains("x{a=\"2\",z=\"1\"} 1\n"));
        assert_eq!(a.value("x", &[("z", "1"), ("a", "2")]), Some(1.0));
    }

    #[test]
    fn label_values_and_help_are_escaped() {
        let mut m = Metrics::new();
        m.gauge("m", "line\\one\nline two", &[("v", "a\\b\"c\nd")], 0.5)
            .unwrap();
        let text = m.render();
        assert!(text.contains("# HELP m line\\\\one\\nline two\n"), "{text}");
        assert!(text.contains("m{v=\"a\\\\b\\\"c\\nd\"} 0.5\n"), "{text}");
        assert_eq!(text.lines().count(), 3);
    }

    #[test]
    fn non_finite_values_render_in_a_spelling_prometheus_parses() {
        // The encoder writes Rust's `NaN`, `inf` and `-inf`; Prometheus parses values with Go's
        // `strconv.ParseFloat`, which takes these case-insensitively (the promtool test of the
        // endpoints checks a registry holding them).
        let mut m = Metrics::new();
        m.gauge("g", "G.", &[("k", "nan")], f64::NAN).unwrap();
        m.gauge("g", "G.", &[("k", "pinf")], f64::INFINITY).unwrap();
        m.gauge("g", "G.", &[("k", "ninf")], f64::NEG_INFINITY)
            .unwrap();
        m.gauge("g", "G.", &[("k", "neg")], -2.25).unwrap();
        let text = m.render();
        assert!(text.contains("g{k=\"nan\"} NaN\n"), "{text}");
        assert!(text.contains("g{k=\"pinf\"} inf\n"), "{text}");
        assert!(text.contains("g{k=\"ninf\"} -inf\n"), "{text}");
        assert!(text.contains("g{k=\"neg\"} -2.25\n"), "{text}");
    }

    #[test]
    fn invalid_names_are_refused_without_panicking() {
        let mut m = Metrics::new();
        for bad in ["", "1abc", "a-b", "a b", "é", "a.b"] {
            assert_eq!(
                m.gauge(bad, "h", &[], 1.0),
                Err(MetricsError::InvalidName(bad.to_string()))
            );
        }
        assert!(m.gauge("ok:name_1", "h", &[], 1.0).is_ok());
        assert!(m.gauge("_x", "h", &[], 1.0).is_ok());
        assert!(matches!(
            m.gauge("y", "h", &[("bad-label", "v")], 1.0),
            Err(MetricsError::InvalidLabelName(_))
        ));
        assert!(matches!(
            m.gauge("y", "h", &[("__reserved", "v")], 1.0),
            Err(MetricsError::InvalidLabelName(_))
        ));
        assert!(matches!(
            m.gauge("y", "h", &[("a", "1"), ("a", "2")], 1.0),
            Err(MetricsError::DuplicateLabel { .. })
        ));
        assert!(matches!(
            m.counter("ok:name_1", "h", &[], 1.0),
            Err(MetricsError::TypeConflict { .. })
        ));
        assert!(matches!(
            m.counter("c", "h", &[], -1.0),
            Err(MetricsError::InvalidCounterValue { .. })
        ));
        assert_eq!(m.len(), 2);
        assert!(!m.render().contains("y"));
    }
}
