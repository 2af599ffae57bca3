//! The queue consumers: what the registry and sender functions do with a batch of queue messages, apart
//! from how the batch arrived. The Lambda binaries feed them SQS events and turn the returned ids into
//! `batchItemFailures`; the local gateway's SQS pipeline feeds them what it polls and deletes the rest.
//! Each message is handled on its own, so one bad message fails alone and only it is retried.

use protocol::{Command, Delivery};

use crate::{
    handlers::{registry, sender},
    ports::{Pusher, Queue, Registry},
};

/// One queue message: its id (for reporting a failure) and its JSON body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueMessage {
    pub id: String,
    pub body: String,
}

/// Applies each command in order. Returns the ids of the messages that failed and must be retried
/// (a body that is not a command fails too, so it ends in the dead-letter queue rather than vanishing).
pub async fn registry_batch(
    store: &dyn Registry,
    deliveries: &dyn Queue<Delivery>,
    messages: Vec<QueueMessage>,
) -> Vec<String> {
    let mut failed = Vec::new();
    for message in messages {
        let outcome = match serde_json::from_str::<Command>(&message.body) {
            Ok(command) => registry::handle(store, deliveries, command)
                .await
                .map_err(|e| e.to_string()),
            Err(e) => Err(format!("not a command: {e}")),
        };
        if let Err(error) = outcome {
            tracing::error!(message_id = %message.id, %error, "command failed");
            failed.push(message.id);
        }
    }
    failed
}

/// Delivers each delivery. A stale recipient is forgotten (by the sender core); recipients that could not
/// be reached are queued again as a delivery to them alone, so those who got the frame do not get it twice.
/// Returns the ids of the messages that failed as a whole (unreadable, or the retry could not be queued).
pub async fn sender_batch(
    pusher: &dyn Pusher,
    commands: &dyn Queue<Command>,
    deliveries: &dyn Queue<Delivery>,
    messages: Vec<QueueMessage>,
    policy: sender::SendPolicy,
) -> Vec<String> {
    let mut failed = Vec::new();
    for message in messages {
        let outcome = match serde_json::from_str::<Delivery>(&message.body) {
            Ok(delivery) => deliver_once(pusher, commands, deliveries, delivery, policy).await,
            Err(e) => Err(format!("not a delivery: {e}")),
        };
        if let Err(error) = outcome {
            tracing::error!(message_id = %message.id, %error, "delivery failed");
            failed.push(message.id);
        }
    }
    failed
}

async fn deliver_once(
    pusher: &dyn Pusher,
    commands: &dyn Queue<Command>,
    deliveries: &dyn Queue<Delivery>,
    delivery: Delivery,
    policy: sender::SendPolicy,
) -> Result<(), String> {
    let frame = delivery.frame.clone();
    let report = sender::deliver(pusher, commands, delivery, policy)
        .await
        .map_err(|e| e.to_string())?;
    tracing::info!(
        delivered = report.delivered,
        gone = report.gone.len(),
        failed = report.failed.len(),
        "delivery done"
    );
    if report.failed.is_empty() {
        return Ok(());
    }
    deliveries
        .send_all(vec![Delivery {
            recipients: report.failed,
            frame,
        }])
        .await
        .map_err(|e| format!("queueing the unreached recipients again: {e}"))
}
