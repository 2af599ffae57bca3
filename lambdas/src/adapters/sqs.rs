//! The production queues: SQS, through `aws-sdk-sqs`. Items travel as their `protocol` JSON, sent in
//! `SendMessageBatch` calls of at most [`MAX_QUEUE_BATCH`] entries and [`MAX_QUEUE_MESSAGE_BYTES`] in total.
//! A body over the limit is refused loudly (an error, nothing sent) rather than cut; entries SQS reports as
//! failed through no fault of ours are retried, with backoff, and only they. A FIFO queue (a `.fifo` URL)
//! gets each item's [`MessageGroup`] as its `MessageGroupId` and a fresh deduplication id.
//!
//! Consuming is the Lambda event source mapping's job in production; [`SqsQueue::receive`] and
//! [`SqsQueue::delete`] let the local gateway (and the tests) poll a queue the same way.
//!
//! Given a [`QueueMeter`] ([`SqsQueue::metered`]), every call is counted by kind with the requests SQS bills
//! for it, empty receives included.

use std::{marker::PhantomData, sync::Arc, time::Duration};

use async_trait::async_trait;
use aws_sdk_sqs::{types::SendMessageBatchRequestEntry, Client};
use protocol::limits::{MAX_QUEUE_BATCH, MAX_QUEUE_MESSAGE_BYTES};
use serde::Serialize;

use crate::{
    meter::QueueMeter,
    ports::{BoxError, MessageGroup, Queue, QueueError},
};

/// Attempts per batch entry that SQS failed on its side (the first included).
const ATTEMPTS: u32 = 4;
/// Pause before the first retry of failed entries; doubled for each further one.
const FIRST_BACKOFF: Duration = Duration::from_millis(100);

/// One SQS queue carrying `T`s.
pub struct SqsQueue<T> {
    client: Client,
    url: String,
    meter: Option<Arc<QueueMeter>>,
    items: PhantomData<fn(T)>,
}

impl<T> Clone for SqsQueue<T> {
    fn clone(&self) -> Self {
        Self {
            client: self.client.clone(),
            url: self.url.clone(),
            meter: self.meter.clone(),
            items: PhantomData,
        }
    }
}

/// A message taken from the queue; hidden from other consumers until deleted or its visibility ends.
#[derive(Debug, Clone)]
pub struct Received {
    pub message_id: String,
    /// The item's JSON.
    pub body: String,
    pub receipt_handle: String,
}

impl<T> SqsQueue<T> {
    pub fn new(client: Client, url: impl Into<String>) -> Self {
        Self {
            client,
            url: url.into(),
            meter: None,
            items: PhantomData,
        }
    }

    /// The same queue, counting its calls in `meter` (this handle and its clones).
    pub fn metered(self, meter: Option<Arc<QueueMeter>>) -> Self {
        Self { meter, ..self }
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// A FIFO queue (its name ends in `.fifo`): every message carries its group and a deduplication id.
    pub fn is_fifo(&self) -> bool {
        self.url.ends_with(".fifo")
    }

    /// Long-polls for up to `max` messages (1 to 10), waiting at most `wait`.
    pub async fn receive(&self, max: usize, wait: Duration) -> Result<Vec<Received>, QueueError> {
        let max = i32::try_from(max.clamp(1, MAX_QUEUE_BATCH)).unwrap_or(1);
        let output = self
            .client
            .receive_message()
            .queue_url(&self.url)
            .max_number_of_messages(max)
            .wait_time_seconds(i32::try_from(wait.as_secs()).unwrap_or(20).min(20))
            .send()
            .await
            .map_err(|e| sqs_error("receive", e))?;
        let messages = output.messages.unwrap_or_default();
        if let Some(meter) = &self.meter {
            let bytes = messages
                .iter()
                .map(|m| m.body.as_deref().map_or(0, str::len))
                .sum();
            meter.receive(messages.len(), bytes);
        }
        Ok(messages
            .into_iter()
            .filter_map(|m| {
                Some(Received {
                    message_id: m.message_id?,
                    body: m.body.unwrap_or_default(),
                    receipt_handle: m.receipt_handle?,
                })
            })
            .collect())
    }

    /// Deletes handled messages (up to 10 receipt handles per call).
    pub async fn delete(&self, receipt_handles: Vec<String>) -> Result<(), QueueError> {
        for chunk in receipt_handles.chunks(MAX_QUEUE_BATCH) {
            let entries = chunk
                .iter()
                .enumerate()
                .map(|(i, handle)| {
                    aws_sdk_sqs::types::DeleteMessageBatchRequestEntry::builder()
                        .id(i.to_string())
                        .receipt_handle(handle)
                        .build()
                        .map_err(|e| backend("build a delete entry", e))
                })
                .collect::<Result<Vec<_>, _>>()?;
            let output = self
                .client
                .delete_message_batch()
                .queue_url(&self.url)
                .set_entries(Some(entries))
                .send()
                .await
                .map_err(|e| sqs_error("delete", e))?;
            if let Some(meter) = &self.meter {
                meter.delete();
            }
            if let Some(failure) = output.failed.first() {
                return Err(backend(
                    "delete",
                    format!(
                        "{} of {} failed: {}",
                        output.failed.len(),
                        chunk.len(),
                        failure.message.as_deref().unwrap_or(&failure.code)
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Sends one batch, retrying the entries SQS failed on its side; errors on a sender fault at once.
    async fn send_batch(&self, bodies: &[String], fifo: Option<&[Fifo]>) -> Result<(), QueueError> {
        let mut pending: Vec<usize> = (0..bodies.len()).collect();
        let mut backoff = FIRST_BACKOFF;
        for attempt in 1..=ATTEMPTS {
            let entries = pending
                .iter()
                .map(|&i| {
                    let entry = SendMessageBatchRequestEntry::builder()
                        .id(i.to_string())
                        .message_body(&bodies[i]);
                    match fifo.map(|f| &f[i]) {
                        Some(Fifo {
                            group,
                            deduplication,
                        }) => entry
                            .message_group_id(group)
                            .message_deduplication_id(deduplication),
                        None => entry,
                    }
                    .build()
                    .map_err(|e| backend("build a send entry", e))
                })
                .collect::<Result<Vec<_>, _>>()?;
            let output = self
                .client
                .send_message_batch()
                .queue_url(&self.url)
                .set_entries(Some(entries))
                .send()
                .await
                .map_err(|e| sqs_error("send", e))?;
            if let Some(meter) = &self.meter {
                meter.send(
                    pending.len(),
                    pending.iter().map(|&i| bodies[i].len()).sum(),
                );
            }
            if let Some(fault) = output.failed.iter().find(|f| f.sender_fault) {
                return Err(backend(
                    "send",
                    format!(
                        "SQS refused a message ({}): {}",
                        fault.code,
                        fault.message.as_deref().unwrap_or("no message")
                    ),
                ));
            }
            pending = output
                .failed
                .iter()
                .filter_map(|f| f.id.parse().ok())
                .collect();
            if pending.is_empty() {
                return Ok(());
            }
            tracing::warn!(
                failed = pending.len(),
                attempt,
                "sqs failed some batch entries; retrying them"
            );
            if attempt < ATTEMPTS {
                tokio::time::sleep(backoff).await;
                backoff *= 2;
            }
        }
        Err(backend(
            "send",
            format!(
                "SQS kept failing {} message(s) after {ATTEMPTS} attempts",
                pending.len()
            ),
        ))
    }
}

/// An SDK call's error, with its whole context (the SDK's own `Display` says only "service error").
fn sqs_error(
    operation: &'static str,
    error: impl std::error::Error + Send + Sync + 'static,
) -> QueueError {
    backend(
        operation,
        aws_sdk_sqs::error::DisplayErrorContext(error).to_string(),
    )
}

fn backend(operation: &'static str, source: impl Into<BoxError>) -> QueueError {
    QueueError::Backend {
        operation,
        source: source.into(),
    }
}

/// Groups bodies into batches of at most [`MAX_QUEUE_BATCH`] entries and [`MAX_QUEUE_MESSAGE_BYTES`] in
/// total, in order.
fn batches(bodies: &[String]) -> Vec<&[String]> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut bytes = 0;
    for (i, body) in bodies.iter().enumerate() {
        if i > start
            && (i - start == MAX_QUEUE_BATCH || bytes + body.len() > MAX_QUEUE_MESSAGE_BYTES)
        {
            out.push(&bodies[start..i]);
            start = i;
            bytes = 0;
        }
        bytes += body.len();
    }
    if start < bodies.len() {
        out.push(&bodies[start..]);
    }
    out
}

#[async_trait]
impl<T: Serialize + MessageGroup + Send + 'static> Queue<T> for SqsQueue<T> {
    async fn send_all(&self, items: Vec<T>) -> Result<(), QueueError> {
        let bodies = items
            .iter()
            .map(|item| serde_json::to_string(item).map_err(|e| backend("serialise an item", e)))
            .collect::<Result<Vec<_>, _>>()?;
        if let Some(big) = bodies.iter().find(|b| b.len() > MAX_QUEUE_MESSAGE_BYTES) {
            tracing::error!(
                bytes = big.len(),
                limit = MAX_QUEUE_MESSAGE_BYTES,
                queue = %self.url,
                "refusing a message over the SQS size limit"
            );
            return Err(QueueError::TooLarge {
                bytes: big.len(),
                limit: MAX_QUEUE_MESSAGE_BYTES,
            });
        }
        // A FIFO queue orders by group and drops a second message with the same deduplication id within
        // five minutes: each item gets a fresh one, kept across this call's retries of its entry, so a
        // retried entry is stored once while two equal items (the same presence twice) both arrive.
        let fifo = self.is_fifo().then(|| {
            items
                .iter()
                .map(|item| Fifo {
                    group: item.message_group(),
                    deduplication: deduplication_id(),
                })
                .collect::<Vec<_>>()
        });
        let mut start = 0;
        for batch in batches(&bodies) {
            let fifo = fifo.as_deref().map(|f| &f[start..start + batch.len()]);
            start += batch.len();
            self.send_batch(batch, fifo).await?;
        }
        Ok(())
    }
}

/// A FIFO queue's ordering attributes for one entry.
struct Fifo {
    group: String,
    deduplication: String,
}

/// A deduplication id no other item gets: this process's random key, the time and a counter.
fn deduplication_id() -> String {
    use std::hash::{BuildHasher, Hasher};
    use std::sync::{atomic::AtomicU64, OnceLock};
    static PROCESS: OnceLock<u64> = OnceLock::new();
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let process = *PROCESS.get_or_init(|| {
        std::collections::hash_map::RandomState::new()
            .build_hasher()
            .finish()
    });
    let count = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("{process:016x}-{nanos:x}-{count:x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_hold_at_most_ten_entries_in_order() {
        let bodies: Vec<String> = (0..25).map(|i| i.to_string()).collect();
        let sizes: Vec<usize> = batches(&bodies).iter().map(|b| b.len()).collect();
        assert_eq!(sizes, [10, 10, 5]);
        assert_eq!(batches(&bodies).concat(), bodies);
    }

    #[test]
    fn batches_stay_under_the_total_size_limit() {
        let big = "x".repeat(MAX_QUEUE_MESSAGE_BYTES / 2);
        let bodies = vec![big.clone(), big.clone(), big, "y".into()];
        let sizes: Vec<usize> = batches(&bodies).iter().map(|b| b.len()).collect();
        assert_eq!(sizes, [2, 2]);
    }
}
