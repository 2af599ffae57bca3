//! The production message path, in process: gateway → command queue → registry handler → delivery queue
//! → sender handler → connections. Each queue has one consumer task, so commands apply in arrival order
//! and every connection receives frames in the order the registry produced them.

use std::sync::Arc;

use lambdas::{
    adapters::memory::{memory_queue, MemoryQueue, MemoryRegistry},
    handlers::{registry, sender},
    ports::{Pusher, Queue, Registry},
};
use protocol::{Command, Delivery};
use tokio::task::JoinHandle;

pub struct Pipeline {
    commands: MemoryQueue<Command>,
    consumers: Vec<JoinHandle<()>>,
}

impl Pipeline {
    /// The default local pipeline: in-memory registry and queues, posting through `pusher`.
    pub fn in_memory(pusher: Arc<dyn Pusher>) -> Self {
        Self::new(Arc::new(MemoryRegistry::default()), pusher)
    }

    pub fn new(registry: Arc<dyn Registry>, pusher: Arc<dyn Pusher>) -> Self {
        let (commands, mut command_rx) = memory_queue::<Command>();
        let (deliveries, mut delivery_rx) = memory_queue::<Delivery>();

        let registry_consumer = tokio::spawn(async move {
            while let Some(command) = command_rx.recv().await {
                if let Err(error) = registry::handle(&*registry, &deliveries, command).await {
                    tracing::error!(%error, "registry handler failed");
                }
            }
        });
        let forget = commands.clone();
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
            commands,
            consumers: vec![registry_consumer, sender_consumer],
        }
    }

    /// Where the gateway queues commands.
    pub fn commands(&self) -> Arc<dyn Queue<Command>> {
        Arc::new(self.commands.clone())
    }

    pub fn stop(&self) {
        for consumer in &self.consumers {
            consumer.abort();
        }
    }
}
