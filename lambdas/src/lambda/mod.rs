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
/// colours or the time (Lambda stamps every line).
pub fn init_logs() {
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_current_span(false)
        .with_ansi(false)
        .without_time()
        .init();
}

/// Runs `consumer` over an SQS event's records, prints the batch's metrics (one EMF line; CloudWatch Logs
/// extracts them) and answers `ReportBatchItemFailures`: only the failed messages are retried.
pub async fn consume_sqs_event<T>(consumer: &dyn Consumer<T>, event: SqsEvent) -> SqsBatchResponse
where
    T: DeserializeOwned + Send + Sync,
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
    println!("{}", report.counts.emf_line(&function, now_ms));
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
