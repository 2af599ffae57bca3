//! The sender function's core (outside the VPC): posts each [`Delivery`]'s frame to its recipients. Every
//! retry of a delivery lives here, in two steps:
//!
//! 1. a throttled post (429) is retried at once, with exponential backoff, up to [`SendPolicy::attempts`];
//! 2. recipients that still could not be reached are queued again as a delivery to them alone (so those who
//!    got the frame do not get it twice), up to [`SendPolicy::requeues`] times; then they are given up on
//!    and counted as abandoned.
//!
//! Rules: the frame is serialised once and the same bytes go to every recipient (then, for a closing
//! delivery, each recipient's connection is closed); a pusher that can post without waiting (the local
//! gateway's connection table) takes the whole delivery in one call; other posts run with bounded
//! concurrency; a `410 Gone` is not a failure but a stale connection, reported to the registry as a
//! `forget` command for *that* connection. (The SQS adapter's own retries are of the transport: entries SQS
//! failed on its side.)

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

/// The ports the sender works with.
#[derive(Clone, Copy)]
pub struct Ports<'a> {
    pub pusher: &'a dyn Pusher,
    /// Where `forget` commands for gone connections go.
    pub commands: &'a dyn Queue<Command>,
    /// Where unreached recipients are queued again.
    pub deliveries: &'a dyn Queue<Delivery>,
}

/// What became of one delivery.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct DeliveryReport {
    pub delivered: usize,
    /// Stale connections, already queued to be forgotten.
    pub gone: Vec<ConnectionId>,
    /// Recipients that could not be reached for another reason, already queued again.
    pub retried: Vec<ConnectionId>,
    /// Recipients that could not be reached after the last requeue: their frame is lost.
    pub abandoned: Vec<ConnectionId>,
}

/// What became of one post, by the recipient's position in the delivery.
enum Outcome {
    Delivered,
    Gone(usize),
    Failed(usize),
}

/// Posts `delivery` to every recipient, queues a `forget` for each gone one and queues the unreached ones
/// again (bounded). An error means a queue refused: the whole delivery may be retried, and recipients who
/// already got the frame get it again (clients drop frames they have by id).
pub async fn deliver(
    ports: Ports<'_>,
    delivery: &Delivery,
    policy: SendPolicy,
) -> Result<DeliveryReport, QueueError> {
    let payload = Bytes::from(delivery.frame.to_json());
    let recipients = &delivery.recipients;
    // An in-process pusher takes the whole delivery at once; whom it could not reach at once, and every
    // recipient of a pusher that cannot, or of a closing delivery, is posted to one by one, with retries.
    let mut outcomes = Vec::with_capacity(recipients.len());
    let mut one_by_one = Vec::new();
    match (!delivery.close)
        .then(|| ports.pusher.post_all_now(recipients, &payload))
        .flatten()
    {
        Some(results) => {
            for (i, result) in results.into_iter().enumerate() {
                match result {
                    Ok(()) => outcomes.push(Outcome::Delivered),
                    Err(PushError::Gone) => outcomes.push(Outcome::Gone(i)),
                    Err(_) => one_by_one.push(i),
                }
            }
        }
        None => one_by_one.extend(0..recipients.len()),
    }
    outcomes.extend(
        stream::iter(one_by_one)
            .map(|i| {
                post_with_retry(
                    ports.pusher,
                    recipients,
                    i,
                    payload.clone(),
                    policy,
                    delivery.close,
                )
            })
            .buffer_unordered(policy.concurrency.max(1))
            .collect::<Vec<Outcome>>()
            .await,
    );
    let mut report = DeliveryReport::default();
    let mut unreached = Vec::new();
    for outcome in outcomes {
        match outcome {
            Outcome::Delivered => report.delivered += 1,
            Outcome::Gone(i) => report.gone.push(recipients[i].clone()),
            Outcome::Failed(i) => unreached.push(recipients[i].clone()),
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
        ports.commands.send_all(forget).await?;
    }
    if unreached.is_empty() {
        return Ok(report);
    }
    if delivery.retries >= policy.requeues {
        tracing::error!(
            recipients = unreached.len(),
            retries = delivery.retries,
            "giving up on recipients that stayed unreachable"
        );
        report.abandoned = unreached;
        return Ok(report);
    }
    ports
        .deliveries
        .send_all(vec![Delivery {
            recipients: unreached.clone(),
            frame: delivery.frame.clone(),
            retries: delivery.retries + 1,
            close: delivery.close,
        }])
        .await?;
    report.retried = unreached;
    Ok(report)
}

async fn post_with_retry(
    pusher: &dyn Pusher,
    recipients: &[ConnectionId],
    position: usize,
    payload: Bytes,
    policy: SendPolicy,
    close: bool,
) -> Outcome {
    let recipient = &recipients[position];
    let mut backoff = policy.first_backoff;
    for attempt in 1..=policy.attempts.max(1) {
        match pusher.post(recipient, payload.clone()).await {
            Ok(()) if close => {
                if let Err(error) = pusher.close(recipient).await {
                    tracing::warn!(connection_id = %recipient, %error, "closing failed");
                }
                return Outcome::Delivered;
            }
            Ok(()) => return Outcome::Delivered,
            Err(PushError::Gone) => return Outcome::Gone(position),
            Err(PushError::Throttled) if attempt < policy.attempts => {
                tokio::time::sleep(backoff).await;
                backoff *= 2;
            }
            Err(error) => {
                tracing::warn!(connection_id = %recipient, %error, "post failed");
                return Outcome::Failed(position);
            }
        }
    }
    Outcome::Failed(position)
}
