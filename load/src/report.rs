//! What one run measured: a [`Report`] that prints as a table for people and serialises as JSON.

use std::fmt;

use hdrhistogram::Histogram;
use serde::Serialize;

/// Send → receive latency percentiles, in milliseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Latency {
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub p99_9: f64,
    pub max: f64,
    pub mean: f64,
}

impl Latency {
    /// Reads the percentiles of a histogram recorded in microseconds.
    pub fn from_micros(histogram: &Histogram<u64>) -> Self {
        let ms = |micros: u64| micros as f64 / 1000.0;
        Self {
            p50: ms(histogram.value_at_quantile(0.50)),
            p90: ms(histogram.value_at_quantile(0.90)),
            p99: ms(histogram.value_at_quantile(0.99)),
            p99_9: ms(histogram.value_at_quantile(0.999)),
            max: ms(histogram.max()),
            mean: histogram.mean() / 1000.0,
        }
    }
}

/// The outcome of one load run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    pub target: String,
    /// Connections in rooms (every one sends).
    pub members: usize,
    pub rooms: usize,
    /// Extra connections that joined no room.
    pub idle: usize,
    /// Messages asked for, and actually sent before the time bound.
    pub messages_planned: u64,
    pub messages_sent: u64,
    /// `None`: as fast as the server takes them (each sender keeps `window` messages in flight).
    pub rate_per_sec: Option<f64>,
    pub deliveries_expected: u64,
    /// Distinct deliveries (message, receiver) that arrived.
    pub delivered: u64,
    pub lost: u64,
    pub duplicated: u64,
    /// Message frames a receiver should not have got (another room's, or an id not ours).
    pub unexpected: u64,
    /// From the first send to the last delivery.
    pub elapsed_secs: f64,
    pub deliveries_per_sec: f64,
    pub latency_ms: Latency,
    /// The send phase hit its time bound before every message went out.
    pub send_timed_out: bool,
}

impl Report {
    /// Nothing lost, duplicated or misdelivered.
    pub fn is_clean(&self) -> bool {
        self.lost == 0 && self.duplicated == 0 && self.unexpected == 0
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let rate = self
            .rate_per_sec
            .map_or_else(|| "unlimited".to_owned(), |r| format!("{r} msg/s"));
        let l = &self.latency_ms;
        let rows = [
            ("target", self.target.clone()),
            (
                "connections",
                format!(
                    "{} in {} rooms (+{} idle)",
                    self.members, self.rooms, self.idle
                ),
            ),
            (
                "messages",
                format!(
                    "{} of {} sent ({rate}){}",
                    self.messages_sent,
                    self.messages_planned,
                    if self.send_timed_out {
                        ", stopped by the time bound"
                    } else {
                        ""
                    }
                ),
            ),
            (
                "deliveries",
                format!("{} of {}", self.delivered, self.deliveries_expected),
            ),
            ("lost", self.lost.to_string()),
            ("duplicated", self.duplicated.to_string()),
            ("unexpected", self.unexpected.to_string()),
            ("elapsed", format!("{:.2} s", self.elapsed_secs)),
            ("deliveries/s", format!("{:.0}", self.deliveries_per_sec)),
            (
                "latency (ms)",
                format!(
                    "p50 {:.2}  p90 {:.2}  p99 {:.2}  p99.9 {:.2}  max {:.2}",
                    l.p50, l.p90, l.p99, l.p99_9, l.max
                ),
            ),
        ];
        for (name, value) in rows {
            writeln!(f, "{name:>14}  {value}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Percentiles come out in milliseconds from a histogram kept in microseconds.
    #[test]
    fn latency_is_reported_in_milliseconds() {
        let mut histogram = Histogram::<u64>::new(3).unwrap();
        for micros in 1..=1000 {
            histogram.record(micros).unwrap();
        }
        let latency = Latency::from_micros(&histogram);
        assert!((latency.p50 - 0.5).abs() < 0.01, "{latency:?}");
        assert!((latency.max - 1.0).abs() < 0.01, "{latency:?}");
    }
}
