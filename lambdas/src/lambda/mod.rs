//! Lambda event translation (feature `aws`): each part turns a Lambda event into calls of the core and the
//! result back into what Lambda expects. The binaries in `src/bin/` only read the environment, build
//! clients once per cold start and hand them here, so the same code is tested in process and as built
//! binaries.
//!
//! - [`authorizer`]: `$connect` REQUEST authorizer → Allow (with the user as context) or Deny.
//! - [`gateway`]: API Gateway WebSocket events → [`crate::core::gateway`] → the route response.
//! - [`consume_sqs_event`]: the registry and sender functions, an SQS batch → [`crate::consumer`] →
//!   `batchItemFailures`.
//!
//! Configuration is read from the environment by [`Env`]; every variable is documented in `docs/aws.md`.

pub mod authorizer;
pub mod gateway;

use aws_lambda_events::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use serde::de::DeserializeOwned;

use crate::consumer::{consume_batch, Body, Consumer};

/// A missing or unreadable setting.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("environment variable {0} is not set")]
    Missing(&'static str),
    #[error("environment variable {name} is invalid: {reason}")]
    Invalid { name: &'static str, reason: String },
}

/// Reads settings from the process environment.
#[derive(Debug, Clone, Copy, Default)]
pub struct Env;

impl Env {
    pub fn required(self, name: &'static str) -> Result<String, ConfigError> {
        self.optional(name).ok_or(ConfigError::Missing(name))
    }

    /// The variable's value, if set and not empty.
    pub fn optional(self, name: &'static str) -> Option<String> {
        std::env::var(name).ok().filter(|v| !v.trim().is_empty())
    }

    /// A parsed value, or `default` when unset.
    pub fn parsed<T: std::str::FromStr>(
        self,
        name: &'static str,
        default: T,
    ) -> Result<T, ConfigError>
    where
        T::Err: std::fmt::Display,
    {
        self.optional(name).map_or(Ok(default), |v| {
            v.parse().map_err(|e: T::Err| ConfigError::Invalid {
                name,
                reason: e.to_string(),
            })
        })
    }
}

/// JSON logs on stdout (CloudWatch parses them), filtered by `RUST_LOG` (default `info`), without ANSI
/// colours or the time (Lambda stamps every line). Whatever `RUST_LOG` says, [`PINNED_TARGETS`] stay at
/// `info`.
pub fn init_logs() {
    use tracing_subscriber::util::SubscriberInitExt;
    log_subscriber(std::env::var("RUST_LOG").ok().as_deref(), std::io::stdout).init();
}

/// Targets no setting may open below `info`. `lambda_runtime` logs every raw event at TRACE (target
/// `lambda_runtime::layers::api_response`, "raw JSON event received from Lambda"), and a `$connect` event
/// carries the ID token in its query string; its API client would log requests at that level too.
pub const PINNED_TARGETS: [&str; 2] = ["lambda_runtime", "lambda_runtime_api_client"];

/// The subscriber [`init_logs`] installs, writing to `writer`: `rust_log`'s filter (or `info`) and, as a
/// second filter both must pass, [`PINNED_TARGETS`] at `info`. Two filters rather than one `EnvFilter` with
/// `lambda_runtime=info` appended, because a more specific directive (`lambda_runtime::layers=trace`) or a
/// span directive (`[Lambda runtime invoke]=trace`) in `RUST_LOG` would win inside one `EnvFilter`.
pub fn log_subscriber<W>(
    rust_log: Option<&str>,
    writer: W,
) -> impl tracing::Subscriber + Send + Sync
where
    W: for<'w> tracing_subscriber::fmt::MakeWriter<'w> + Send + Sync + 'static,
{
    use tracing_subscriber::{
        filter::LevelFilter, filter::Targets, layer::SubscriberExt, EnvFilter,
    };
    let wanted = rust_log
        .and_then(|directives| EnvFilter::try_new(directives).ok())
        .unwrap_or_else(|| EnvFilter::new("info"));
    let pinned = PINNED_TARGETS.into_iter().fold(
        Targets::new().with_default(LevelFilter::TRACE),
        |targets, target| targets.with_target(target, LevelFilter::INFO),
    );
    tracing_subscriber::registry()
        .with(wanted)
        .with(pinned)
        .with(
            tracing_subscriber::fmt::layer()
                .json()
                .with_current_span(false)
                .with_ansi(false)
                .without_time()
                .with_writer(writer),
        )
}

/// Runs `consumer` over an SQS event's records, prints the batch's metrics (one EMF line; CloudWatch Logs
/// extracts them) and answers `ReportBatchItemFailures`: only the failed messages are retried.
pub async fn consume_sqs_event<T>(consumer: &dyn Consumer<T>, event: SqsEvent) -> SqsBatchResponse
where
    T: DeserializeOwned + crate::ports::MessageGroup + Send + Sync,
{
    let (ids, bodies): (Vec<String>, Vec<Body<T>>) = event
        .records
        .into_iter()
        .map(|record| {
            (
                record.message_id.unwrap_or_default(),
                Body::Json(record.body.unwrap_or_default()),
            )
        })
        .unzip();
    let report = consume_batch(consumer, &bodies).await;
    let function = std::env::var("AWS_LAMBDA_FUNCTION_NAME").unwrap_or_else(|_| "local".into());
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    if let Some(line) = report.counts.emf_line(&function, now_ms) {
        println!("{line}");
    }
    let mut response = SqsBatchResponse::default();
    response.batch_item_failures = report
        .failed
        .into_iter()
        .map(|position| {
            let mut failure = BatchItemFailure::default();
            failure.item_identifier = ids[position].clone();
            tracing::error!(message_id = %failure.item_identifier, "left for SQS to retry");
            failure
        })
        .collect();
    response
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    /// Everything the subscriber writes, shared with the test.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// What the logs say when `lambda_runtime` logs a raw `$connect` event the way it does (TRACE, its own
    /// target, inside its invocation span) and Chatty logs at TRACE, under `RUST_LOG=rust_log`.
    fn logged_under(rust_log: &str) -> String {
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = log_subscriber(Some(rust_log), move || writer.clone());
        tracing::subscriber::with_default(subscriber, || {
            let span = tracing::info_span!(target: "lambda_runtime::layers::trace", "Lambda runtime invoke");
            let _entered = span.enter();
            tracing::trace!(
                target: "lambda_runtime::layers::api_response",
                body = "{\"queryStringParameters\":{\"token\":\"eyJ.secret\"}}",
                "raw JSON event received from Lambda"
            );
            tracing::trace!(target: "lambda_runtime_api_client", "request with the event");
            tracing::info!(target: "lambda_runtime::layers::api_response", "runtime info stays visible");
            tracing::trace!(target: "lambdas::auth", "chatty's own trace");
        });
        let bytes = captured.0.lock().unwrap().clone();
        String::from_utf8(bytes).unwrap()
    }

    /// No `RUST_LOG` a deployment could set lets `lambda_runtime` print a raw event (the ID token) or its
    /// API client trace, while Chatty's own TRACE and the runtime's INFO still come through (so the filter
    /// is not simply dropping everything).
    #[test]
    fn no_rust_log_opens_the_runtimes_event_trace() {
        for rust_log in [
            "trace",
            "lambda_runtime=trace,lambdas=trace",
            "lambda_runtime::layers::api_response=trace,lambdas=trace",
            "lambda_runtime::layers=trace,lambda_runtime_api_client=trace,trace",
            "[Lambda runtime invoke]=trace,trace",
            "lambda_runtime[Lambda runtime invoke]=trace,trace",
        ] {
            let logged = logged_under(rust_log);
            assert!(!logged.contains("eyJ.secret"), "{rust_log}: {logged}");
            assert!(
                !logged.contains("request with the event"),
                "{rust_log}: {logged}"
            );
            assert!(
                logged.contains("runtime info stays visible"),
                "{rust_log}: {logged}"
            );
            assert!(
                logged.contains("chatty's own trace"),
                "{rust_log}: {logged}"
            );
        }
    }

    /// Without `RUST_LOG`, or with one that does not parse, the level is `info`.
    #[test]
    fn unset_or_unreadable_rust_log_means_info() {
        for rust_log in [None, Some("lambdas=notalevel")] {
            let captured = Captured::default();
            let writer = captured.clone();
            tracing::subscriber::with_default(
                log_subscriber(rust_log, move || writer.clone()),
                || {
                    tracing::info!(target: "lambdas::auth", "shown");
                    tracing::debug!(target: "lambdas::auth", "hidden");
                },
            );
            let logged = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
            assert!(
                logged.contains("shown") && !logged.contains("hidden"),
                "{rust_log:?}: {logged}"
            );
        }
    }
}
