//! The production message path, in process: gateway → command queue → registry consumer → delivery queue
//! → sender consumer → connections. The consumers are the Lambdas' own ([`RegistryConsumer`],
//! [`SenderConsumer`], run by [`consume_batch`]); what this module adds is what AWS's event source
//! mappings do: take a batch off a queue, hand it over, and settle it (done messages removed, failed ones
//! back on the queue after a visibility timeout). The one place the pipeline is wired, in one of three
//! shapes:
//!
//! - in memory (the default): in-memory registry and queues, posting straight to the connection table.
//!   Each queue has one consumer task taking batches of what is queued, so commands apply in arrival order
//!   and every connection receives frames in the order the registry produced them;
//! - with [`Settings::redis_url`](crate::Settings::redis_url): the same, over the production Redis
//!   registry;
//! - with [`Settings::sqs`](crate::Settings::sqs): the production adapters end to end — SQS queues (an
//!   emulator such as moto), long-polled, and posts through the SDK's management API client to this
//!   gateway's own `@connections` API.

use std::{sync::Arc, time::Duration};

use async_trait::async_trait;
use lambdas::{
    adapters::{
        apigw::ManagementApiPusher,
        aws::sdk_config,
        memory::{memory_queue, MemoryQueue, MemoryRegistry},
        redis::RedisRegistry,
        sqs::SqsQueue,
    },
    consumer::{consume_batch, Body, Consumer, RegistryConsumer, SenderConsumer},
    core::sender::SendPolicy,
    ports::{Clock, Pusher, Queue, Registry},
};
use protocol::{limits::MAX_QUEUE_BATCH, Command, Delivery};
use serde::de::DeserializeOwned;
use tokio::{sync::mpsc, task::JoinHandle};

use crate::{connections::Connections, Settings, SqsSettings};

/// How long a failed in-memory queue message stays away before it is handed over again (SQS's visibility
/// timeout, shortened: nothing here waits on a slow Lambda).
const REDELIVERY_DELAY: Duration = Duration::from_secs(1);

/// How long an SQS poll waits for messages.
const POLL_WAIT: Duration = Duration::from_secs(1);

pub struct Pipeline {
    commands: Arc<dyn Queue<Command>>,
    consumers: Vec<JoinHandle<()>>,
}

impl Pipeline {
    /// The pipeline `settings` ask for. `management_url` is this gateway's own address, where the SQS
    /// pipeline's sender reaches `@connections`.
    pub async fn start(
        settings: &Settings,
        connections: Arc<Connections>,
        clock: Arc<dyn Clock>,
        management_url: &str,
    ) -> anyhow::Result<Self> {
        let registry: Arc<dyn Registry> = match &settings.redis_url {
            Some(url) => Arc::new(RedisRegistry::open_with(url, settings.redis_topology()).await?),
            None => Arc::new(MemoryRegistry::default()),
        };
        let rate_limits = !settings.no_rate_limits;
        if !rate_limits {
            tracing::warn!(
                "per-person rate limits are off (--no-rate-limits): for benchmarks only"
            );
        }
        let registry_consumer = |deliveries: Arc<dyn Queue<Delivery>>| RegistryConsumer {
            registry,
            deliveries,
            clock,
            rate_limits,
        };
        Ok(match &settings.sqs {
            Some(sqs) => Self::over_sqs(registry_consumer, sqs, management_url).await?,
            None => Self::in_memory(registry_consumer, connections),
        })
    }

    /// In-memory queues, posting through `pusher`.
    fn in_memory(
        registry_consumer: impl FnOnce(Arc<dyn Queue<Delivery>>) -> RegistryConsumer,
        pusher: Arc<dyn Pusher>,
    ) -> Self {
        let (commands, command_rx) = memory_queue::<Command>();
        let (deliveries, delivery_rx) = memory_queue::<Delivery>();
        let registry_consumer = registry_consumer(Arc::new(deliveries.clone()));
        let sender_consumer = SenderConsumer {
            pusher,
            commands: Arc::new(commands.clone()),
            deliveries: Arc::new(deliveries.clone()),
            policy: SendPolicy::default(),
        };
        Self {
            commands: Arc::new(commands.clone()),
            consumers: vec![
                tokio::spawn(run(
                    MemorySource::new(commands, command_rx),
                    registry_consumer,
                )),
                tokio::spawn(run(
                    MemorySource::new(deliveries, delivery_rx),
                    sender_consumer,
                )),
            ],
        }
    }

    /// SQS queues at `sqs.endpoint` (created by name unless their URLs are given), consumed by pollers.
    async fn over_sqs(
        registry_consumer: impl FnOnce(Arc<dyn Queue<Delivery>>) -> RegistryConsumer,
        sqs: &SqsSettings,
        management_url: &str,
    ) -> anyhow::Result<Self> {
        let sdk = sdk_config(Some(&sqs.endpoint)).await;
        let client = aws_sdk_sqs::Client::new(&sdk);
        let commands = SqsQueue::<Command>::new(
            client.clone(),
            queue_url(&client, sqs.command_queue_url.as_deref(), "chatty-commands").await?,
        );
        let deliveries = SqsQueue::<Delivery>::new(
            client.clone(),
            queue_url(
                &client,
                sqs.delivery_queue_url.as_deref(),
                "chatty-deliveries",
            )
            .await?,
        );
        let registry_consumer = registry_consumer(Arc::new(deliveries.clone()));
        let sender_consumer = SenderConsumer {
            pusher: Arc::new(ManagementApiPusher::new(&sdk, management_url)),
            commands: Arc::new(commands.clone()),
            deliveries: Arc::new(deliveries.clone()),
            policy: SendPolicy::default(),
        };
        Ok(Self {
            commands: Arc::new(commands.clone()),
            consumers: vec![
                tokio::spawn(run(SqsSource::new(commands), registry_consumer)),
                tokio::spawn(run(SqsSource::new(deliveries), sender_consumer)),
            ],
        })
    }

    /// Where the gateway queues commands.
    pub fn commands(&self) -> Arc<dyn Queue<Command>> {
        self.commands.clone()
    }

    pub fn stop(&self) {
        for consumer in &self.consumers {
            consumer.abort();
        }
    }
}

/// The queue's URL: `given`, or that of the queue `name`, created if missing.
async fn queue_url(
    client: &aws_sdk_sqs::Client,
    given: Option<&str>,
    name: &str,
) -> anyhow::Result<String> {
    if let Some(url) = given {
        return Ok(url.to_owned());
    }
    let created = client
        .create_queue()
        .queue_name(name)
        .send()
        .await
        .map_err(|e| {
            anyhow::anyhow!(
                "creating queue {name}: {}",
                aws_sdk_sqs::error::DisplayErrorContext(e)
            )
        })?;
    Ok(created.queue_url.unwrap_or_default())
}

/// Where a consumer's batches come from, and where their outcome goes: an SQS event source mapping in
/// miniature.
#[async_trait]
trait Source<T>: Send + 'static {
    /// The next batch of at most [`MAX_QUEUE_BATCH`] messages, waiting until there is one.
    async fn next_batch(&mut self) -> Vec<Body<T>>;
    /// Removes the batch's handled messages; the `failed` positions come back after a visibility timeout.
    async fn settle(&mut self, batch: Vec<Body<T>>, failed: &[usize]);
}

/// Hands every batch from `source` to `consumer`, for as long as the process runs.
async fn run<T, C>(mut source: impl Source<T>, consumer: C)
where
    T: DeserializeOwned + Send + Sync,
    C: Consumer<T>,
{
    loop {
        let batch = source.next_batch().await;
        let report = consume_batch(&consumer, &batch).await;
        source.settle(batch, &report.failed).await;
    }
}

/// An in-memory queue's consuming side: takes what is queued, up to a batch, in order.
struct MemorySource<T> {
    queue: MemoryQueue<T>,
    receiver: mpsc::UnboundedReceiver<T>,
}

impl<T> MemorySource<T> {
    fn new(queue: MemoryQueue<T>, receiver: mpsc::UnboundedReceiver<T>) -> Self {
        Self { queue, receiver }
    }
}

#[async_trait]
impl<T: Send + Sync + 'static> Source<T> for MemorySource<T> {
    async fn next_batch(&mut self) -> Vec<Body<T>> {
        let mut batch = Vec::with_capacity(MAX_QUEUE_BATCH);
        // The source holds a sender itself, so the queue never closes while it runs.
        let Some(first) = self.receiver.recv().await else {
            return std::future::pending().await;
        };
        batch.push(Body::Item(first));
        while batch.len() < MAX_QUEUE_BATCH {
            match self.receiver.try_recv() {
                Ok(next) => batch.push(Body::Item(next)),
                Err(_) => break,
            }
        }
        batch
    }

    async fn settle(&mut self, batch: Vec<Body<T>>, failed: &[usize]) {
        if failed.is_empty() {
            return;
        }
        let again: Vec<T> = batch
            .into_iter()
            .enumerate()
            .filter(|(position, _)| failed.contains(position))
            .filter_map(|(_, body)| match body {
                Body::Item(item) => Some(item),
                Body::Json(_) => None,
            })
            .collect();
        let queue = self.queue.clone();
        tokio::spawn(async move {
            tokio::time::sleep(REDELIVERY_DELAY).await;
            if let Err(error) = queue.send_all(again).await {
                tracing::error!(%error, "redelivering failed queue messages");
            }
        });
    }
}

/// An SQS queue's consumer side: long-polls, and deletes what succeeded. Failed messages stay on the queue
/// and come back when their visibility timeout ends, as on AWS.
struct SqsSource<T> {
    queue: SqsQueue<T>,
    /// The receipt handles of the batch being consumed, by position.
    receipts: Vec<String>,
}

impl<T> SqsSource<T> {
    fn new(queue: SqsQueue<T>) -> Self {
        Self {
            queue,
            receipts: Vec::new(),
        }
    }
}

#[async_trait]
impl<T: Send + Sync + 'static> Source<T> for SqsSource<T> {
    async fn next_batch(&mut self) -> Vec<Body<T>> {
        loop {
            match self.queue.receive(MAX_QUEUE_BATCH, POLL_WAIT).await {
                Ok(received) if received.is_empty() => {}
                Ok(received) => {
                    let (receipts, batch) = received
                        .into_iter()
                        .map(|r| (r.receipt_handle, Body::Json(r.body)))
                        .unzip();
                    self.receipts = receipts;
                    return batch;
                }
                Err(error) => {
                    tracing::error!(queue = %self.queue.url(), %error, "polling failed");
                    tokio::time::sleep(POLL_WAIT).await;
                }
            }
        }
    }

    async fn settle(&mut self, _batch: Vec<Body<T>>, failed: &[usize]) {
        let done = std::mem::take(&mut self.receipts)
            .into_iter()
            .enumerate()
            .filter(|(position, _)| !failed.contains(position))
            .map(|(_, receipt)| receipt)
            .collect();
        if let Err(error) = self.queue.delete(done).await {
            tracing::error!(queue = %self.queue.url(), %error, "deleting handled messages failed");
        }
    }
}
