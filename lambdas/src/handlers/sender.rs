//! The sender function (outside the VPC): posts each [`Delivery`]'s frame to its recipients.
//!
//! Rules: the frame is serialised once and the same bytes go to every recipient; posts run with bounded
//! concurrency; a `410 Gone` is not a failure but a stale connection, reported to the registry as a
//! `forget` command for *that* connection; throttling is retried with exponential backoff; recipients that
//! still fail are returned, so the caller can retry exactly them and nobody else.

use std::time::Duration;

use bytes::Bytes;
use futures_util::{stream, StreamExt};
use protocol::{Command, ConnectionId, Delivery};

use crate::ports::{PushError, Pusher, Queue, QueueError};

/// How hard the sender tries.
#[derive(Debug, Clone, Copy)]
pub struct SendPolicy {
    /// Posts in flight at once for one delivery.
    pub concurrency: usize,
    /// Attempts per recipient when throttled (the first included).
    pub attempts: u32,
    /// Pause before the first retry; doubled for each further one.
    pub first_backoff: Duration,
    /// Times a delivery's unreachable recipients are queued again (as a new delivery to them alone) before
    /// the sender gives up on them.
    pub requeues: u32,
}

impl Default for SendPolicy {
    fn default() -> Self {
        Self {
            concurrency: 32,
            attempts: 4,
            first_backoff: Duration::from_millis(50),
            requeues: 3,
        }
    }
}

/// What became of one delivery.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct DeliveryReport {
    pub delivered: usize,
    /// Stale connections, already queued to be forgotten.
    pub gone: Vec<ConnectionId>,
    /// Recipients that could not be reached for another reason; retry only these.
    pub failed: Vec<ConnectionId>,
}

enum Outcome {
    Delivered,
    Gone(ConnectionId),
    Failed(ConnectionId),
}

/// Posts `delivery` to every recipient and queues a `forget` for each gone one.
pub async fn deliver(
    pusher: &dyn Pusher,
    commands: &dyn Queue<Command>,
    delivery: Delivery,
    policy: SendPolicy,
) -> Result<DeliveryReport, QueueError> {
    let payload = Bytes::from(delivery.frame.to_json());
    let outcomes: Vec<Outcome> = stream::iter(delivery.recipients)
        .map(|recipient| post_with_retry(pusher, recipient, payload.clone(), policy))
        .buffer_unordered(policy.concurrency.max(1))
        .collect()
        .await;
    let mut report = DeliveryReport::default();
    for outcome in outcomes {
        match outcome {
            Outcome::Delivered => report.delivered += 1,
            Outcome::Gone(id) => report.gone.push(id),
            Outcome::Failed(id) => report.failed.push(id),
        }
    }
    if !report.gone.is_empty() {
        let forget = report
            .gone
            .iter()
            .map(|id| Command::Forget {
                connection_id: id.clone(),
            })
            .collect();
        commands.send_all(forget).await?;
    }
    Ok(report)
}

async fn post_with_retry(
    pusher: &dyn Pusher,
    recipient: ConnectionId,
    payload: Bytes,
    policy: SendPolicy,
) -> Outcome {
    let mut backoff = policy.first_backoff;
    for attempt in 1..=policy.attempts.max(1) {
        match pusher.post(&recipient, payload.clone()).await {
            Ok(()) => return Outcome::Delivered,
            Err(PushError::Gone) => return Outcome::Gone(recipient),
            Err(PushError::Throttled) if attempt < policy.attempts => {
                tokio::time::sleep(backoff).await;
                backoff *= 2;
            }
            Err(error) => {
                tracing::warn!(connection_id = %recipient, %error, "post failed");
                return Outcome::Failed(recipient);
            }
        }
    }
    Outcome::Failed(recipient)
}
