//! Counts of what the backend did, and their CloudWatch form: one log line in the embedded metric format
//! (EMF) per batch, which CloudWatch Logs turns into metrics with no API call and no extra permission.
//!
//! The consumers fill [`Counts`] (pure); the Lambda functions print [`Counts::emf_line`] on stdout beside
//! their JSON logs. Metric names are the constants below; every line carries the `FunctionName` dimension
//! (Lambda's `AWS_LAMBDA_FUNCTION_NAME`, unique per stack), so two deployments never mix.

use serde_json::{json, Map, Value};

/// The CloudWatch namespace of every Chatty metric.
pub const NAMESPACE: &str = "Chatty";

/// New chat messages stored and fanned out to their room (registry); a retry fanned out again is not one.
pub const MESSAGES_SENT: &str = "MessagesSent";
/// Queue messages a consumer failed and left for SQS to retry (registry and sender).
pub const BATCH_ITEM_FAILURES: &str = "BatchItemFailures";
/// Frames posted to a connection (sender).
pub const DELIVERED: &str = "Delivered";
/// Recipients whose connection answered 410 Gone, now forgotten (sender).
pub const GONE: &str = "Gone";
/// Recipients that could not be reached and were queued again (sender).
pub const RETRIED: &str = "Retried";
/// Recipients given up on after the sender's last retry: their frame is lost (sender).
pub const ABANDONED: &str = "Abandoned";

/// Counts by metric name, in the order first added.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Counts(Vec<(&'static str, u64)>);

impl Counts {
    /// Adds `n` to the metric `name`.
    pub fn add(&mut self, name: &'static str, n: usize) {
        let n = u64::try_from(n).unwrap_or(u64::MAX);
        match self.0.iter_mut().find(|(known, _)| *known == name) {
            Some((_, total)) => *total = total.saturating_add(n),
            None => self.0.push((name, n)),
        }
    }

    /// Adds every count of `other`.
    pub fn merge(&mut self, other: &Counts) {
        for (name, n) in &other.0 {
            self.add(name, usize::try_from(*n).unwrap_or(usize::MAX));
        }
    }

    /// The count of `name` (0 if never added).
    pub fn get(&self, name: &str) -> u64 {
        self.0
            .iter()
            .find(|(known, _)| *known == name)
            .map_or(0, |(_, n)| *n)
    }

    /// The counts above zero as one EMF log line for `function_name`, stamped `timestamp_ms` (Unix
    /// milliseconds); none if every count is zero. A zero is left out because CloudWatch Logs bills every
    /// byte and a missing datapoint reads the same to the alarms (`TreatMissingData: notBreaching`).
    pub fn emf_line(&self, function_name: &str, timestamp_ms: u64) -> Option<String> {
        let counted: Vec<&(&str, u64)> = self.0.iter().filter(|(_, n)| *n > 0).collect();
        if counted.is_empty() {
            return None;
        }
        let mut line = Map::new();
        line.insert(
            "_aws".into(),
            json!({
                "Timestamp": timestamp_ms,
                "CloudWatchMetrics": [{
                    "Namespace": NAMESPACE,
                    "Dimensions": [["FunctionName"]],
                    "Metrics": counted.iter()
                        .map(|(name, _)| json!({"Name": name, "Unit": "Count"}))
                        .collect::<Vec<_>>(),
                }],
            }),
        );
        line.insert("FunctionName".into(), Value::from(function_name));
        for (name, n) in counted {
            line.insert((*name).into(), Value::from(*n));
        }
        Some(Value::Object(line).to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_add_up_by_name() {
        let mut counts = Counts::default();
        counts.add(DELIVERED, 2);
        counts.add(GONE, 0);
        counts.add(DELIVERED, 3);
        assert_eq!(counts.get(DELIVERED), 5);
        assert_eq!(counts.get(GONE), 0);
        assert_eq!(counts.get(ABANDONED), 0);
    }

    /// The shape CloudWatch requires: every metric declared under `_aws` has a numeric member of the same
    /// name at the top level, and so does every dimension. Zeros are left out, and a batch of zeros
    /// prints nothing.
    #[test]
    fn an_emf_line_declares_every_value_it_carries() {
        let mut counts = Counts::default();
        counts.add(DELIVERED, 7);
        counts.add(ABANDONED, 0);
        counts.add(GONE, 1);
        let line: Value = serde_json::from_str(
            &counts
                .emf_line("chatty-sender", 1_700_000_000_000)
                .expect("counts above zero"),
        )
        .expect("one JSON object");
        let directive = &line["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(line["_aws"]["Timestamp"], 1_700_000_000_000_u64);
        assert_eq!(directive["Namespace"], NAMESPACE);
        assert_eq!(directive["Dimensions"], json!([["FunctionName"]]));
        assert_eq!(line["FunctionName"], "chatty-sender");
        let declared: Vec<&str> = directive["Metrics"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| {
                assert_eq!(m["Unit"], "Count");
                m["Name"].as_str().unwrap()
            })
            .collect();
        assert_eq!(declared, [DELIVERED, GONE]);
        assert_eq!(line[DELIVERED], 7);
        assert_eq!(line[GONE], 1);
        assert!(line.get(ABANDONED).is_none());
        let mut zeros = Counts::default();
        zeros.add(BATCH_ITEM_FAILURES, 0);
        assert_eq!(zeros.emf_line("chatty-sender", 1), None);
    }
}
