//! The queue consumers: what the registry and sender functions do with a batch of queue messages, apart
//! from how the batch arrived. Every mode runs this code: the Lambda binaries feed it SQS events (JSON
//! bodies) and turn the failed positions into `batchItemFailures`; the local gateway feeds it what its
//! in-memory queues (items as they are) or its SQS pollers hold, and redelivers the failed ones.
//!
//! [`consume_batch`] is the one batch loop: each message is handled on its own, so one bad message fails
//! alone and only it is retried; what the batch did is counted for [`crate::metrics`]. The two consumers
//! are [`RegistryConsumer`] (commands) and [`SenderConsumer`] (deliveries).

use std::sync::Arc;

use async_trait::async_trait;
use futures_util::future::join_all;
use protocol::{Command, Delivery};
use serde::de::DeserializeOwned;

use crate::{
    core::{registry, sender},
    metrics::{self, Counts},
    ports::{Clock, MessageGroup, Pusher, Queue, QueueError, Registry},
};

/// One queue message's body: JSON as SQS carries it, or the item itself from an in-process queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body<T> {
    Json(String),
    Item(T),
}

/// Why one queue message failed; it is left for the queue to redeliver.
#[derive(Debug, thiserror::Error)]
pub enum ConsumeError {
    /// The body is not what this queue carries; it will fail again and end in the dead-letter queue.
    #[error("not a queue item: {0}")]
    Unreadable(#[from] serde_json::Error),
    #[error(transparent)]
    Registry(#[from] registry::RegistryHandlerError),
    #[error(transparent)]
    Queue(#[from] QueueError),
}

/// What a consumer did with one batch.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct BatchReport {
    /// The positions, in the batch, of the messages that failed and must be redelivered.
    pub failed: Vec<usize>,
    /// What the batch did, for metrics.
    pub counts: Counts,
}

/// Handles one queue item.
#[async_trait]
pub trait Consumer<T>: Send + Sync {
    /// Applies `item`, adding what it did to `counts`. An error fails this message alone.
    async fn consume(&self, item: &T, counts: &mut Counts) -> Result<(), ConsumeError>;
}

/// Hands each message of the batch to `consumer` and reports the ones that failed. Messages of one
/// [`MessageGroup`] are applied in batch order, one after another; different groups are applied
/// concurrently (a registry batch holds the commands of up to ten connections: their Redis round trips
/// overlap instead of adding up). Once a message of a group failed, the group's later messages are
/// reported failed without being applied, so they come back after it and in order: what a FIFO queue's
/// consumer must do (a connection's `send` never applies before its failed `join`), and harmless on a
/// standard queue.
pub async fn consume_batch<T>(consumer: &dyn Consumer<T>, batch: &[Body<T>]) -> BatchReport
where
    T: DeserializeOwned + MessageGroup + Send + Sync,
{
    let mut report = BatchReport::default();
    let mut decoded = Vec::new();
    for (position, body) in batch.iter().enumerate() {
        if let Body::Json(json) = body {
            match serde_json::from_str::<T>(json) {
                Ok(item) => decoded.push((position, item)),
                Err(error) => {
                    tracing::error!(position, %error, "queue message unreadable");
                    report.failed.push(position);
                }
            }
        }
    }
    let mut parsed: Vec<(usize, &T)> = batch
        .iter()
        .enumerate()
        .filter_map(|(position, body)| match body {
            Body::Item(item) => Some((position, item)),
            Body::Json(_) => None,
        })
        .chain(decoded.iter().map(|(position, item)| (*position, item)))
        .collect();
    parsed.sort_unstable_by_key(|(position, _)| *position);
    // Each group's messages, in batch order; groups in the order of their first message.
    let mut groups: Vec<(String, Vec<(usize, &T)>)> = Vec::new();
    for (position, item) in parsed {
        let group = item.message_group();
        match groups.iter_mut().find(|(name, _)| *name == group) {
            Some((_, items)) => items.push((position, item)),
            None => groups.push((group, vec![(position, item)])),
        }
    }
    let outcomes = join_all(
        groups
            .iter()
            .map(|(_, items)| consume_group(consumer, items)),
    )
    .await;
    for (failed, counts) in outcomes {
        report.failed.extend(failed);
        report.counts.merge(&counts);
    }
    report.failed.sort_unstable();
    report
        .counts
        .add(metrics::BATCH_ITEM_FAILURES, report.failed.len());
    report
}

/// One group's messages, in order, until one fails: the positions that failed (that one and every later
/// one, unapplied) and what the applied ones did.
async fn consume_group<T: Sync>(
    consumer: &dyn Consumer<T>,
    items: &[(usize, &T)],
) -> (Vec<usize>, Counts) {
    let mut counts = Counts::default();
    for (index, (position, item)) in items.iter().enumerate() {
        if let Err(error) = consumer.consume(item, &mut counts).await {
            tracing::error!(position, %error, "queue message failed");
            return (items[index..].iter().map(|(p, _)| *p).collect(), counts);
        }
    }
    (Vec::new(), counts)
}

/// The registry function's consumer: applies each command (see [`registry::apply`]).
#[derive(Clone)]
pub struct RegistryConsumer {
    pub registry: Arc<dyn Registry>,
    pub deliveries: Arc<dyn Queue<Delivery>>,
    pub clock: Arc<dyn Clock>,
    /// Which per-person rates apply (enforced, except for benchmarks).
    pub rate_limits: registry::RateLimits,
}

#[async_trait]
impl Consumer<Command> for RegistryConsumer {
    async fn consume(&self, command: &Command, counts: &mut Counts) -> Result<(), ConsumeError> {
        let ports = registry::Ports {
            registry: &*self.registry,
            deliveries: &*self.deliveries,
            clock: &*self.clock,
            rate_limits: self.rate_limits,
        };
        if registry::apply(ports, command).await? == registry::Handled::MessageSent {
            counts.add(metrics::MESSAGES_SENT, 1);
        }
        Ok(())
    }
}

/// The sender function's consumer: delivers each delivery (see [`sender::deliver`]).
#[derive(Clone)]
pub struct SenderConsumer {
    pub pusher: Arc<dyn Pusher>,
    pub commands: Arc<dyn Queue<Command>>,
    pub deliveries: Arc<dyn Queue<Delivery>>,
    pub policy: sender::SendPolicy,
}

#[async_trait]
impl Consumer<Delivery> for SenderConsumer {
    async fn consume(&self, delivery: &Delivery, counts: &mut Counts) -> Result<(), ConsumeError> {
        let ports = sender::Ports {
            pusher: &*self.pusher,
            commands: &*self.commands,
            deliveries: &*self.deliveries,
        };
        let report = sender::deliver(ports, delivery, self.policy).await?;
        tracing::debug!(
            delivered = report.delivered,
            gone = report.gone.len(),
            retried = report.retried.len(),
            abandoned = report.abandoned.len(),
            retries = delivery.retries,
            "delivery done"
        );
        counts.add(metrics::DELIVERED, report.delivered);
        counts.add(metrics::GONE, report.gone.len());
        counts.add(metrics::RETRIED, report.retried.len());
        counts.add(metrics::ABANDONED, report.abandoned.len());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use protocol::ConnectionId;

    use super::*;

    /// Records what it applied; fails the commands of `failing` connections.
    struct Recorder {
        failing: &'static str,
        applied: Mutex<Vec<Command>>,
    }

    #[async_trait]
    impl Consumer<Command> for Recorder {
        async fn consume(&self, command: &Command, _: &mut Counts) -> Result<(), ConsumeError> {
            if command.connection_id().is_some_and(|c| c.0 == self.failing) {
                return Err(QueueError::Closed.into());
            }
            self.applied.lock().unwrap().push(command.clone());
            Ok(())
        }
    }

    fn forget(id: &str) -> Body<Command> {
        Body::Item(Command::Forget {
            connection_id: ConnectionId(id.into()),
        })
    }

    fn disconnect(id: &str) -> Body<Command> {
        Body::Item(Command::Disconnect {
            connection_id: ConnectionId(id.into()),
        })
    }

    /// Once a connection's command failed, its later commands in the batch fail unapplied (they come back
    /// after it, in order); other connections' commands apply, and an unreadable body fails alone.
    #[tokio::test]
    async fn a_failed_command_holds_back_its_connections_later_ones() {
        let consumer = Recorder {
            failing: "a",
            applied: Mutex::new(Vec::new()),
        };
        let batch = [
            forget("a"),
            forget("b"),
            Body::Json("not json".into()),
            disconnect("a"),
            disconnect("b"),
        ];
        let report = consume_batch(&consumer, &batch).await;
        assert_eq!(report.failed, [0, 2, 3]);
        let applied = consumer.applied.into_inner().unwrap();
        assert_eq!(applied.len(), 2);
        assert!(applied
            .iter()
            .all(|c| c.connection_id().is_some_and(|c| c.0 == "b")));
    }

    /// Waits, on connection "a"'s first command, until connection "b"'s has been applied.
    struct Gate {
        b_applied: tokio::sync::Notify,
        applied: Mutex<Vec<Command>>,
    }

    #[async_trait]
    impl Consumer<Command> for Gate {
        async fn consume(
            &self,
            command: &Command,
            counts: &mut Counts,
        ) -> Result<(), ConsumeError> {
            let connection = command.connection_id().map(|c| c.0.clone());
            let first_of_a =
                connection.as_deref() == Some("a") && self.applied.lock().unwrap().is_empty();
            if first_of_a {
                self.b_applied.notified().await;
            }
            self.applied.lock().unwrap().push(command.clone());
            if connection.as_deref() == Some("b") {
                self.b_applied.notify_one();
            }
            counts.add("Applied", 1);
            Ok(())
        }
    }

    /// Different connections' commands apply concurrently (one waiting on another's round trip does not
    /// hold the other up), each connection's in batch order, and every group's counts are reported.
    #[tokio::test]
    async fn groups_apply_concurrently_each_in_its_own_order() {
        let consumer = Gate {
            b_applied: tokio::sync::Notify::new(),
            applied: Mutex::new(Vec::new()),
        };
        let batch = [forget("a"), disconnect("a"), forget("b")];
        let report = tokio::time::timeout(
            std::time::Duration::from_secs(5),
            consume_batch(&consumer, &batch),
        )
        .await
        .expect("a's first command waits for b's: applied one after the other, it never ends");
        assert!(report.failed.is_empty());
        assert_eq!(report.counts.get("Applied"), 3);
        let applied = consumer.applied.into_inner().unwrap();
        let expected: Vec<Command> = [&batch[2], &batch[0], &batch[1]]
            .into_iter()
            .map(|body| match body {
                Body::Item(command) => command.clone(),
                Body::Json(_) => unreachable!(),
            })
            .collect();
        assert_eq!(applied, expected);
    }
}
