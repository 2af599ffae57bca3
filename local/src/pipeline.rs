//! The production message path, in process: gateway → command queue → registry handler → delivery queue
//! → sender handler → connections. The one place the pipeline is wired, in one of three shapes:
//!
//! - in memory (the default): in-memory registry and queues, posting straight to the connection table.
//!   Each queue has one consumer task, so commands apply in arrival order and every connection receives
//!   frames in the order the registry produced them;
//! - with [`Settings::redis_url`](crate::Settings::redis_url): the same, over the production Redis
//!   registry;
//! - with [`Settings::sqs`](crate::Settings::sqs): the production adapters end to end — SQS queues (an
//!   emulator such as moto), polled by consumers that run the same batch logic as the registry and sender
//!   Lambdas, and posts through the SDK's management API client to this gateway's own `@connections` API.

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
    consumers::{registry_batch, sender_batch, QueueMessage},
    handlers::{registry, sender},
    ports::{Pusher, Queue, Registry},
};
use protocol::{Command, Delivery};
use tokio::task::JoinHandle;

use crate::{connections::Connections, SqsSettings};

pub struct Pipeline {
    commands: Arc<dyn Queue<Command>>,
    consumers: Vec<JoinHandle<()>>,
}

impl Pipeline {
    /// The pipeline `settings` ask for. `management_url` is this gateway's own address, where the SQS
    /// pipeline's sender reaches `@connections`.
    pub async fn start(
        redis_url: Option<&str>,
        sqs: Option<&SqsSettings>,
        connections: Arc<Connections>,
        management_url: &str,
    ) -> anyhow::Result<Self> {
        let store: Arc<dyn Registry> = match redis_url {
            Some(url) => Arc::new(RedisRegistry::open(url).await?),
            None => Arc::new(MemoryRegistry::default()),
        };
        Ok(match sqs {
            Some(sqs) => Self::over_sqs(store, sqs, management_url).await?,
            None => Self::new(store, connections),
        })
    }

    /// In-memory queues over `store`, posting through `pusher`.
    pub fn new(store: Arc<dyn Registry>, pusher: Arc<dyn Pusher>) -> Self {
        let (commands, mut command_rx) = memory_queue::<Command>();
        let (deliveries, mut delivery_rx) = memory_queue::<Delivery>();

        let registry_consumer = tokio::spawn(async move {
            while let Some(command) = command_rx.recv().await {
                if let Err(error) = registry::handle(&*store, &deliveries, command).await {
                    tracing::error!(%error, "registry handler failed");
                }
            }
        });
        let forget: MemoryQueue<Command> = commands.clone();
        let sender_consumer = tokio::spawn(async move {
            while let Some(delivery) = delivery_rx.recv().await {
                match sender::deliver(&*pusher, &forget, delivery, sender::SendPolicy::default())
                    .await
                {
                    Ok(report) if !report.failed.is_empty() => {
                        tracing::warn!(
                            failed = report.failed.len(),
                            "some recipients were not reached"
                        );
                    }
                    Ok(_) => {}
                    Err(error) => tracing::error!(%error, "sender failed"),
                }
            }
        });
        Self {
            commands: Arc::new(commands),
            consumers: vec![registry_consumer, sender_consumer],
        }
    }

    /// SQS queues at `sqs.endpoint` (created by name unless their URLs are given), consumed by pollers.
    async fn over_sqs(
        store: Arc<dyn Registry>,
        sqs: &SqsSettings,
        management_url: &str,
    ) -> anyhow::Result<Self> {
        let sdk = sdk_config(Some(&sqs.endpoint)).await;
        let client = aws_sdk_sqs::Client::new(&sdk);
        let queue_url = |given: &Option<String>, name: &'static str| {
            let client = client.clone();
            let given = given.clone();
            async move {
                match given {
                    Some(url) => anyhow::Ok(url),
                    None => Ok(client
                        .create_queue()
                        .queue_name(name)
                        .send()
                        .await
                        .map_err(|e| {
                            anyhow::anyhow!(
                                "creating queue {name}: {}",
                                aws_sdk_sqs::error::DisplayErrorContext(e)
                            )
                        })?
                        .queue_url
                        .unwrap_or_default()),
                }
            }
        };
        let commands = SqsQueue::<Command>::new(
            client.clone(),
            queue_url(&sqs.command_queue_url, "chatty-commands").await?,
        );
        let deliveries = SqsQueue::<Delivery>::new(
            client.clone(),
            queue_url(&sqs.delivery_queue_url, "chatty-deliveries").await?,
        );
        let registry_consumer = tokio::spawn(poll(
            commands.clone(),
            RegistryConsumer {
                store,
                deliveries: deliveries.clone(),
            },
        ));
        let sender_consumer = tokio::spawn(poll(
            deliveries.clone(),
            SenderConsumer {
                pusher: ManagementApiPusher::new(&sdk, management_url),
                commands: commands.clone(),
                deliveries,
            },
        ));
        Ok(Self {
            commands: Arc::new(commands),
            consumers: vec![registry_consumer, sender_consumer],
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

/// What a poller does with a batch: the ids of the messages to leave on the queue for redelivery.
#[async_trait]
trait BatchConsumer: Send + Sync + 'static {
    async fn consume(&self, messages: Vec<QueueMessage>) -> Vec<String>;
}

struct RegistryConsumer {
    store: Arc<dyn Registry>,
    deliveries: SqsQueue<Delivery>,
}

#[async_trait]
impl BatchConsumer for RegistryConsumer {
    async fn consume(&self, messages: Vec<QueueMessage>) -> Vec<String> {
        registry_batch(&*self.store, &self.deliveries, messages)
            .await
            .failed
    }
}

struct SenderConsumer {
    pusher: ManagementApiPusher,
    commands: SqsQueue<Command>,
    deliveries: SqsQueue<Delivery>,
}

#[async_trait]
impl BatchConsumer for SenderConsumer {
    async fn consume(&self, messages: Vec<QueueMessage>) -> Vec<String> {
        sender_batch(
            &self.pusher,
            &self.commands,
            &self.deliveries,
            messages,
            sender::SendPolicy::default(),
        )
        .await
        .failed
    }
}

/// An SQS event source mapping in miniature: long-poll, hand the batch over, delete what succeeded. Failed
/// messages stay on the queue and come back when their visibility timeout ends, as on AWS.
async fn poll<T: Send + Sync + 'static>(queue: SqsQueue<T>, consumer: impl BatchConsumer) {
    loop {
        let received = match queue.receive(10, Duration::from_secs(1)).await {
            Ok(received) => received,
            Err(error) => {
                tracing::error!(queue = %queue.url(), %error, "polling failed");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        if received.is_empty() {
            continue;
        }
        let messages = received.iter().map(|r| r.message.clone()).collect();
        let failed = consumer.consume(messages).await;
        let done = received
            .into_iter()
            .filter(|r| !failed.contains(&r.message.id))
            .map(|r| r.receipt_handle)
            .collect();
        if let Err(error) = queue.delete(done).await {
            tracing::error!(queue = %queue.url(), %error, "deleting handled messages failed");
        }
    }
}
