//! The queue consumers: what the registry and sender functions do with a batch of queue messages, apart
//! from how the batch arrived. The Lambda binaries feed them SQS events and turn the returned ids into
//! `batchItemFailures`; the local gateway's SQS pipeline feeds them what it polls and deletes the rest.
//! Each message is handled on its own, so one bad message fails alone and only it is retried.

use protocol::{Command, Delivery};

use crate::{
    handlers::{registry, sender},
    metrics::{self, Counts},
    ports::{Pusher, Queue, Registry},
};

/// One queue message: its id (for reporting a failure) and its JSON body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueMessage {
    pub id: String,
    pub body: String,
}

/// What a consumer did with one batch.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct BatchReport {
    /// The ids of the queue messages that failed and must be retried.
    pub failed: Vec<String>,
    /// What the batch did, for metrics.
    pub counts: Counts,
}

/// Applies each command in order. Fails the messages that could not be applied (a body that is not a
/// command fails too, so it ends in the dead-letter queue rather than vanishing).
pub async fn registry_batch(
    store: &dyn Registry,
    deliveries: &dyn Queue<Delivery>,
    messages: Vec<QueueMessage>,
) -> BatchReport {
    let mut report = BatchReport::default();
    for message in messages {
        let outcome = match serde_json::from_str::<Command>(&message.body) {
            Ok(command) => registry::handle(store, deliveries, command)
                .await
                .map_err(|e| e.to_string()),
            Err(e) => Err(format!("not a command: {e}")),
        };
        match outcome {
            Ok(registry::Handled::MessageSent) => report.counts.add(metrics::MESSAGES_SENT, 1),
            Ok(registry::Handled::Done) => {}
            Err(error) => {
                tracing::error!(message_id = %message.id, %error, "command failed");
                report.failed.push(message.id);
            }
        }
    }
    report
        .counts
        .add(metrics::BATCH_ITEM_FAILURES, report.failed.len());
    report
}

/// Delivers each delivery. A stale recipient is forgotten (by the sender core); recipients that could not
/// be reached are queued again as a delivery to them alone, so those who got the frame do not get it twice,
/// until [`sender::SendPolicy::requeues`] is spent. Fails the messages that failed as a whole (unreadable,
/// or the retry could not be queued).
pub async fn sender_batch(
    pusher: &dyn Pusher,
    commands: &dyn Queue<Command>,
    deliveries: &dyn Queue<Delivery>,
    messages: Vec<QueueMessage>,
    policy: sender::SendPolicy,
) -> BatchReport {
    let mut report = BatchReport::default();
    for message in messages {
        let outcome = match serde_json::from_str::<Delivery>(&message.body) {
            Ok(delivery) => {
                deliver_once(
                    pusher,
                    commands,
                    deliveries,
                    delivery,
                    policy,
                    &mut report.counts,
                )
                .await
            }
            Err(e) => Err(format!("not a delivery: {e}")),
        };
        if let Err(error) = outcome {
            tracing::error!(message_id = %message.id, %error, "delivery failed");
            report.failed.push(message.id);
        }
    }
    report
        .counts
        .add(metrics::BATCH_ITEM_FAILURES, report.failed.len());
    report
}

async fn deliver_once(
    pusher: &dyn Pusher,
    commands: &dyn Queue<Command>,
    deliveries: &dyn Queue<Delivery>,
    delivery: Delivery,
    policy: sender::SendPolicy,
    counts: &mut Counts,
) -> Result<(), String> {
    // Kept for a retry; the recipients list is not copied.
    let (frame, retries) = (delivery.frame.clone(), delivery.retries);
    let report = sender::deliver(pusher, commands, delivery, policy)
        .await
        .map_err(|e| e.to_string())?;
    tracing::info!(
        delivered = report.delivered,
        gone = report.gone.len(),
        failed = report.failed.len(),
        retries,
        "delivery done"
    );
    counts.add(metrics::DELIVERED, report.delivered);
    counts.add(metrics::GONE, report.gone.len());
    if report.failed.is_empty() {
        return Ok(());
    }
    if retries >= policy.requeues {
        tracing::error!(
            recipients = report.failed.len(),
            retries,
            "giving up on recipients that stayed unreachable"
        );
        counts.add(metrics::ABANDONED, report.failed.len());
        return Ok(());
    }
    counts.add(metrics::RETRIED, report.failed.len());
    deliveries
        .send_all(vec![Delivery {
            recipients: report.failed,
            frame,
            retries: retries + 1,
        }])
        .await
        .map_err(|e| format!("queueing the unreached recipients again: {e}"))
}
