//! The production message path, in process: gateway → command queue → registry consumer → delivery queue
//! → sender consumer → connections. The consumers are the Lambdas' own ([`RegistryConsumer`],
//! [`SenderConsumer`], run by [`consume_batch`]); what this module adds is what AWS's event source
//! mappings do: take a batch off a queue, hand it over, and settle it (done messages removed, failed ones
//! back on the queue after a visibility timeout). The one place the pipeline is wired, in one of three
//! shapes:
//!
//! - in memory (the default): in-memory registry and queues, posting straight to the connection table;
//! - with [`Settings::redis_url`](crate::Settings::redis_url): the same, over the production Redis
//!   registry;
//! - with [`Settings::sqs`](crate::Settings::sqs): the production adapters end to end — SQS queues (an
//!   emulator such as moto), long-polled, and posts through the SDK's management API client to this
//!   gateway's own `@connections` API.
//!
//! And in one of two topologies ([`Topology`]):
//!
//! - one consumer per queue (the default): batches of what is queued, in order, one at a time, so commands
//!   apply in arrival order and every connection receives frames in the order the registry produced them;
//! - AWS's ([`Settings::consumers`](crate::Settings::consumers) above 1, or
//!   [`Settings::chaos`](crate::Settings::chaos)): each queue runs up to N batches at once. The queues then
//!   hand out messages by group ([`MessageGroup`]), as an SQS FIFO queue does: a command's group is its
//!   connection, a delivery's is its room (or its one recipient). A batch holds at most one message of a group, and a
//!   group's next message is handed out only once its previous one settled (a failed one comes back first,
//!   after the visibility timeout), so a connection's commands apply in the order it sent them — its `send`
//!   never before its `join` — while different connections' commands apply concurrently. Under chaos the
//!   in-memory queues also reorder groups within a window, hand out some messages twice and fail some
//!   batches ([`crate::chaos`]); a message handed out twice comes back before its group's next one and
//!   keeps the group busy until then, as a FIFO queue's message whose deletion was lost does.

use std::{
    collections::{BTreeMap, HashMap, HashSet, VecDeque},
    sync::{Arc, Mutex, Weak},
    time::{Duration, Instant},
};

use async_trait::async_trait;
use aws_sdk_sqs::types::QueueAttributeName;
use lambdas::{
    adapters::{
        apigw::ManagementApiPusher,
        aws::sdk_config,
        memory::{memory_queue, MemoryRegistry},
        redis::RedisRegistry,
        sqs::SqsQueue,
    },
    consumer::{consume_batch, Body, Consumer, RegistryConsumer, SenderConsumer},
    core::{registry::RateLimits, sender::SendPolicy},
    meter::{FunctionMeter, Meter},
    ports::{Clock, MessageGroup, Pusher, Queue, Registry},
};
use protocol::{limits::MAX_QUEUE_BATCH, Command, Delivery};
use serde::de::DeserializeOwned;
use tokio::{
    runtime::Handle,
    sync::{mpsc, Notify},
    task::JoinHandle,
};

use crate::{
    chaos::{self, ChaosPusher, Faults},
    connections::Connections,
    Settings, SqsSettings,
};

/// How long a failed queue message stays away before it is handed over again (SQS's visibility timeout,
/// shortened: nothing here waits on a slow Lambda), unless [`Settings::visibility_timeout`] says.
const REDELIVERY_DELAY: Duration = Duration::from_secs(1);
/// The same under chaos, where failures are common and tests wait for them.
const CHAOS_REDELIVERY_DELAY: Duration = Duration::from_millis(500);

/// Each faulty part's own stream of chaos draws (see [`Faults::new`]).
const COMMAND_FAULTS: u64 = 1;
const DELIVERY_FAULTS: u64 = 2;
const POST_FAULTS: u64 = 3;

/// How long an SQS poll waits for messages: SQS's longest wait, as Lambda's event source mappings poll.
/// A poll returns as soon as a message is there, so the wait costs no latency; what it saves is the empty
/// receives, each a billed request (measured with `chatty-load cost`: with 1 s, a fifth of a request per
/// message in the room-of-10 scenario; docs/performance.md).
const POLL_WAIT: Duration = Duration::from_secs(20);
/// At most this many queued items are filed into an in-memory source at once.
const PUMP_BATCH: usize = 256;
/// Pause after a failed poll before the next.
const POLL_RETRY: Duration = Duration::from_secs(1);

/// How the queues are consumed: by one in-order consumer each, or by several at once as on AWS.
#[derive(Debug, Clone, Copy)]
pub struct Topology {
    /// Batches each queue runs at once.
    pub consumers: usize,
    /// Messages are handed out by group (connection, room), as from an SQS FIFO queue.
    pub grouped: bool,
    /// How long a failed message stays away.
    pub visibility_timeout: Duration,
    /// Deterministic faults from this seed.
    pub chaos: Option<u64>,
}

impl Topology {
    pub fn of(settings: &Settings) -> Self {
        let consumers = settings.consumers.max(1);
        let default_delay = if settings.chaos.is_some() {
            CHAOS_REDELIVERY_DELAY
        } else {
            REDELIVERY_DELAY
        };
        Self {
            consumers,
            grouped: consumers > 1 || settings.chaos.is_some(),
            visibility_timeout: settings.visibility_timeout.unwrap_or(default_delay),
            chaos: settings.chaos,
        }
    }

    /// The faults for one part (`stream`), under chaos.
    fn faults(&self, stream: u64) -> Option<Faults> {
        self.chaos.map(|seed| Faults::new(seed, stream))
    }

    /// Posts through `pusher`, failing some posts under chaos.
    fn pusher(&self, pusher: Arc<dyn Pusher>) -> Arc<dyn Pusher> {
        match self.faults(POST_FAULTS) {
            Some(faults) => Arc::new(ChaosPusher::new(pusher, faults)),
            None => pusher,
        }
    }
}

pub struct Pipeline {
    commands: Arc<dyn Queue<Command>>,
    tasks: Vec<JoinHandle<()>>,
    /// The registry consumers' own runtime, on Redis (see [`RegistryRuntime`]).
    _registry_runtime: Option<RegistryRuntime>,
}

/// On Redis, the registry consumers and their connections run on a runtime of their own, as on AWS the
/// registry is a function of its own: a Redis reply then waits for the registry's thread, not behind
/// every socket task of the gateway.
struct RegistryRuntime(Option<tokio::runtime::Runtime>);

impl RegistryRuntime {
    fn start() -> std::io::Result<Self> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("chatty-registry")
            .enable_all()
            .build()?;
        Ok(Self(Some(runtime)))
    }

    fn handle(&self) -> &Handle {
        self.0
            .as_ref()
            .expect("the runtime is taken only when dropped")
            .handle()
    }
}

impl Drop for RegistryRuntime {
    fn drop(&mut self) {
        // Dropped from async code: without waiting for its tasks.
        if let Some(runtime) = self.0.take() {
            runtime.shutdown_background();
        }
    }
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
        let topology = Topology::of(settings);
        // On Redis each consumer has its own connection, as each concurrent Lambda invocation has; in
        // memory they share the one registry.
        let (registries, registry_runtime) = match &settings.redis_url {
            Some(url) => {
                let runtime = RegistryRuntime::start()?;
                let (url, redis_topology, n) =
                    (url.clone(), settings.redis_topology(), topology.consumers);
                let opened = runtime
                    .handle()
                    .spawn(async move {
                        let mut registries: Vec<Arc<dyn Registry>> = Vec::new();
                        for _ in 0..n {
                            registries.push(Arc::new(
                                RedisRegistry::open_with(&url, redis_topology).await?,
                            ));
                        }
                        anyhow::Ok(registries)
                    })
                    .await??;
                (opened, Some(runtime))
            }
            None => {
                let shared: Arc<dyn Registry> = Arc::new(MemoryRegistry::default());
                (vec![shared; topology.consumers], None)
            }
        };
        let registry_handle = registry_runtime
            .as_ref()
            .map_or_else(Handle::current, |runtime| runtime.handle().clone());
        let rate_limits = settings.rate_limits;
        match rate_limits {
            RateLimits::Enforced => {}
            RateLimits::Scaled(factor) => tracing::warn!(
                factor,
                "per-person rates are {factor} times over (--rate-limit-scale): for benchmarks only"
            ),
            RateLimits::Off => tracing::warn!(
                "per-person rate limits are off (--no-rate-limits): for benchmarks only"
            ),
        }
        if let Some(seed) = topology.chaos {
            tracing::warn!(
                seed,
                consumers = topology.consumers,
                "chaos is on: queue messages reordered and duplicated, batches and posts failing"
            );
        }
        let registry_consumers = |deliveries: Arc<dyn Queue<Delivery>>| {
            registries
                .into_iter()
                .map(|registry| RegistryConsumer {
                    registry,
                    deliveries: deliveries.clone(),
                    clock: clock.clone(),
                    rate_limits,
                })
                .collect()
        };
        let meter = settings.meter.as_deref();
        let (commands, tasks) = match &settings.sqs {
            Some(sqs) => {
                Self::over_sqs(
                    registry_consumers,
                    &registry_handle,
                    sqs,
                    management_url,
                    topology,
                    meter,
                )
                .await?
            }
            None => Self::in_memory(
                registry_consumers,
                &registry_handle,
                connections,
                topology,
                meter,
            ),
        };
        Ok(Self {
            commands,
            tasks,
            _registry_runtime: registry_runtime,
        })
    }

    /// In-memory queues, posting through `pusher`; the registry's consumers run on `registry_runtime`.
    /// The command queue and the tasks.
    fn in_memory(
        registry_consumers: impl FnOnce(Arc<dyn Queue<Delivery>>) -> Vec<RegistryConsumer>,
        registry_runtime: &Handle,
        pusher: Arc<dyn Pusher>,
        topology: Topology,
        meter: Option<&Meter>,
    ) -> (Arc<dyn Queue<Command>>, Vec<JoinHandle<()>>) {
        let (commands, command_rx) = memory_queue::<Command>();
        let (deliveries, delivery_rx) = memory_queue::<Delivery>();
        let registry_consumers = registry_consumers(Arc::new(deliveries.clone()));
        let sender_consumer = SenderConsumer {
            pusher: topology.pusher(pusher),
            commands: Arc::new(commands.clone()),
            deliveries: Arc::new(deliveries.clone()),
            policy: SendPolicy::default(),
        };
        let (command_source, command_pump) =
            MemorySource::start(command_rx, topology, COMMAND_FAULTS);
        let (delivery_source, delivery_pump) =
            MemorySource::start(delivery_rx, topology, DELIVERY_FAULTS);
        let mut tasks = vec![command_pump, delivery_pump];
        tasks.extend(run(
            command_source,
            registry_consumers,
            meter.map(|m| m.registry.clone()),
            registry_runtime,
        ));
        tasks.extend(run(
            delivery_source,
            vec![sender_consumer; topology.consumers],
            meter.map(|m| m.sender.clone()),
            &Handle::current(),
        ));
        (Arc::new(commands), tasks)
    }

    /// SQS queues at `sqs.endpoint` (created by name unless their URLs are given), consumed by pollers;
    /// the registry's consumers run on `registry_runtime`. The command queue and the tasks.
    async fn over_sqs(
        registry_consumers: impl FnOnce(Arc<dyn Queue<Delivery>>) -> Vec<RegistryConsumer>,
        registry_runtime: &Handle,
        sqs: &SqsSettings,
        management_url: &str,
        topology: Topology,
        meter: Option<&Meter>,
    ) -> anyhow::Result<(Arc<dyn Queue<Command>>, Vec<JoinHandle<()>>)> {
        let sdk = sdk_config(Some(&sqs.endpoint)).await;
        let client = aws_sdk_sqs::Client::new(&sdk);
        let commands = SqsQueue::<Command>::new(
            client.clone(),
            queue_url(
                &client,
                sqs.command_queue_url.as_deref(),
                "chatty-commands.fifo",
            )
            .await?,
        )
        .metered(meter.map(|m| m.commands.clone()));
        let deliveries = SqsQueue::<Delivery>::new(
            client.clone(),
            queue_url(
                &client,
                sqs.delivery_queue_url.as_deref(),
                "chatty-deliveries.fifo",
            )
            .await?,
        )
        .metered(meter.map(|m| m.deliveries.clone()));
        let registry_consumers = registry_consumers(Arc::new(deliveries.clone()));
        let sender_consumer = SenderConsumer {
            pusher: topology.pusher(Arc::new(ManagementApiPusher::new(&sdk, management_url))),
            commands: Arc::new(commands.clone()),
            deliveries: Arc::new(deliveries.clone()),
            policy: SendPolicy::default(),
        };
        let mut tasks = run(
            Arc::new(SqsSource::new(
                commands.clone(),
                topology.faults(COMMAND_FAULTS),
            )),
            registry_consumers,
            meter.map(|m| m.registry.clone()),
            registry_runtime,
        );
        tasks.extend(run(
            Arc::new(SqsSource::new(deliveries, topology.faults(DELIVERY_FAULTS))),
            vec![sender_consumer; topology.consumers],
            meter.map(|m| m.sender.clone()),
            &Handle::current(),
        ));
        Ok((Arc::new(commands), tasks))
    }

    /// Where the gateway queues commands.
    pub fn commands(&self) -> Arc<dyn Queue<Command>> {
        self.commands.clone()
    }

    pub fn stop(&self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// The queue's URL: `given`, or that of the FIFO queue `name`, created if missing.
async fn queue_url(
    client: &aws_sdk_sqs::Client,
    given: Option<&str>,
    name: &str,
) -> anyhow::Result<String> {
    if let Some(url) = given {
        return Ok(url.to_owned());
    }
    // FIFO queues as template.yaml makes them: ordered per message group, high throughput mode, and
    // deduplication ids from the SQS adapter rather than from the content.
    let created = client
        .create_queue()
        .queue_name(name)
        .attributes(QueueAttributeName::FifoQueue, "true")
        .attributes(QueueAttributeName::ContentBasedDeduplication, "false")
        .attributes(QueueAttributeName::DeduplicationScope, "messageGroup")
        .attributes(QueueAttributeName::FifoThroughputLimit, "perMessageGroupId")
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
/// miniature. Shared by every consumer of the queue.
#[async_trait]
trait Source<T>: Send + Sync + 'static {
    /// What settling a batch needs besides its messages (SQS: their receipt handles).
    type Lease: Send;
    /// The next batch of at most [`MAX_QUEUE_BATCH`] messages, waiting until there is one.
    async fn next_batch(&self) -> (Vec<Body<T>>, Self::Lease);
    /// Removes the batch's handled messages; the `failed` positions come back after a visibility timeout.
    async fn settle(&self, batch: Vec<Body<T>>, lease: Self::Lease, failed: &[usize]);
}

/// Starts a task per consumer on `runtime`, each handing batches from `source` to its consumer for as
/// long as the process runs: one task is today's in-order consumer; several are AWS's concurrent
/// invocations. Each batch is one invocation of the function, counted in `meter` with the time its consumer
/// took (settling it is the event source mapping's work, not the function's).
fn run<T, S, C>(
    source: Arc<S>,
    consumers: Vec<C>,
    meter: Option<Arc<FunctionMeter>>,
    runtime: &Handle,
) -> Vec<JoinHandle<()>>
where
    T: DeserializeOwned + MessageGroup + Send + Sync + 'static,
    S: Source<T>,
    C: Consumer<T> + 'static,
{
    consumers
        .into_iter()
        .map(|consumer| {
            let (source, meter) = (source.clone(), meter.clone());
            runtime.spawn(async move {
                loop {
                    let (batch, lease) = source.next_batch().await;
                    let started = meter.as_ref().map(|_| Instant::now());
                    let report = consume_batch(&consumer, &batch).await;
                    if let (Some(meter), Some(started)) = (&meter, started) {
                        meter.invoked(started.elapsed());
                    }
                    source.settle(batch, lease, &report.failed).await;
                }
            })
        })
        .collect()
}

/// An in-memory queue's consuming side. Without grouping (the default topology) it hands out what is
/// queued, up to a batch, in order. With grouping it hands out messages as an SQS FIFO queue does: per
/// group in order, one message of a group at a time (see the module docs). Under chaos each message shows
/// up after a random delay within [`chaos::REORDER_WINDOW`], so messages of different groups overtake one
/// another as on SQS; a group's messages never do.
struct MemorySource<T> {
    /// Itself, for the redeliveries it schedules.
    me: Weak<Self>,
    state: Mutex<Waiting<T>>,
    /// Wakes one waiting consumer whenever a message arrives or a group is free again (see [`Self::take`]).
    changed: Notify,
    topology: Topology,
    faults: Option<Faults>,
}

/// The messages waiting to be handed out. Ungrouped, one queue in arrival order. Grouped, a queue per
/// group and, by the age of its first message, each group that is free to hand one out: taking a batch
/// looks at as many groups as it takes (and at any not visible yet), however many messages wait behind
/// them.
struct Waiting<T> {
    /// Ungrouped: every waiting message, oldest first (visible at once: only a grouped queue delays).
    queue: VecDeque<T>,
    /// Grouped: each group's waiting messages, oldest first (a group with none has no entry).
    groups: HashMap<String, VecDeque<Queued<T>>>,
    /// Grouped: the first message's [`Queued::order`] of each group that is not busy and has one waiting.
    /// Entries go stale when their group is taken or gets a new first message; [`MemorySource::take`]
    /// drops those as it meets them.
    free: BTreeMap<i64, String>,
    /// Groups with a message out.
    busy: HashSet<String>,
    /// The next [`Queued::order`] for a message arriving, and for one put back ahead of all.
    next_last: i64,
    next_first: i64,
}

struct Queued<T> {
    item: T,
    /// Not handed out before this.
    visible_at: Instant,
    /// Its place in the hand-out order (smaller first).
    order: i64,
}

impl<T: MessageGroup> Waiting<T> {
    fn new() -> Self {
        Self {
            queue: VecDeque::new(),
            groups: HashMap::new(),
            free: BTreeMap::new(),
            busy: HashSet::new(),
            next_last: 0,
            next_first: -1,
        }
    }

    /// Grouped: `item` at the end of its group's queue, or (`first`) at its front, ahead of every message
    /// waiting anywhere.
    fn add_to_group(&mut self, item: T, visible_at: Instant, first: bool) {
        let group = item.message_group();
        let order = if first {
            self.next_first -= 1;
            self.next_first + 1
        } else {
            self.next_last += 1;
            self.next_last - 1
        };
        let queued = Queued {
            item,
            visible_at,
            order,
        };
        let waiting = self.groups.entry(group.clone()).or_default();
        if first {
            waiting.push_front(queued);
        } else {
            waiting.push_back(queued);
        }
        self.mark_free_if_ready(group);
    }

    /// Lists `group` as free, by its first message, unless it is busy or has nothing waiting.
    fn mark_free_if_ready(&mut self, group: String) {
        if self.busy.contains(&group) {
            return;
        }
        if let Some(first) = self.groups.get(&group).and_then(VecDeque::front) {
            self.free.insert(first.order, group);
        }
    }
}

/// What [`MemorySource::take`] found.
enum Taken<T> {
    Batch(Vec<T>),
    /// Nothing to hand out before this instant (or, without one, before something changes).
    Wait(Option<Instant>),
}

impl<T: MessageGroup + Clone + Send + Sync + 'static> MemorySource<T> {
    /// The source for the queue `receiver` reads, and the task moving queued items into it.
    fn start(
        mut receiver: mpsc::UnboundedReceiver<T>,
        topology: Topology,
        stream: u64,
    ) -> (Arc<Self>, JoinHandle<()>) {
        let source = Arc::new_cyclic(|me| Self {
            me: me.clone(),
            state: Mutex::new(Waiting::new()),
            changed: Notify::new(),
            topology,
            faults: topology.faults(stream),
        });
        let pump = {
            let source = source.clone();
            tokio::spawn(async move {
                // Whatever arrived together is filed under one lock and announced once.
                let mut arrived = Vec::new();
                while receiver.recv_many(&mut arrived, PUMP_BATCH).await > 0 {
                    let mut waiting = source.waiting();
                    for item in arrived.drain(..) {
                        let delay = match &source.faults {
                            Some(faults) => faults.up_to(chaos::REORDER_WINDOW),
                            None => Duration::ZERO,
                        };
                        if source.topology.grouped {
                            waiting.add_to_group(item, Instant::now() + delay, false);
                        } else {
                            waiting.queue.push_back(item);
                        }
                    }
                    drop(waiting);
                    source.changed.notify_one();
                }
            })
        };
        (source, pump)
    }

    fn waiting(&self) -> std::sync::MutexGuard<'_, Waiting<T>> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// A batch, if one can be handed out now. One waiting consumer is woken per change (not all of
    /// them); one that takes a batch and leaves more behind wakes the next.
    fn take(&self) -> Taken<T> {
        let mut waiting = self.waiting();
        if !self.topology.grouped {
            let n = waiting.queue.len().min(MAX_QUEUE_BATCH);
            if n == 0 {
                return Taken::Wait(None);
            }
            let batch = waiting.queue.drain(..n).collect();
            if !waiting.queue.is_empty() {
                self.changed.notify_one();
            }
            return Taken::Batch(batch);
        }
        // The first message of each free group, oldest first, if it is visible yet.
        let now = Instant::now();
        let mut next_visible: Option<Instant> = None;
        let (mut picked, mut stale) = (Vec::new(), Vec::new());
        let Waiting {
            groups, free, busy, ..
        } = &mut *waiting;
        for (&order, group) in free.iter() {
            let first = groups.get(group).and_then(VecDeque::front);
            match first {
                Some(first) if first.order == order && !busy.contains(group) => {
                    if first.visible_at > now {
                        next_visible = Some(
                            next_visible.map_or(first.visible_at, |t| t.min(first.visible_at)),
                        );
                        continue;
                    }
                    picked.push(order);
                    if picked.len() == MAX_QUEUE_BATCH {
                        break;
                    }
                }
                _ => stale.push(order),
            }
        }
        for order in stale {
            free.remove(&order);
        }
        if picked.is_empty() {
            return Taken::Wait(next_visible);
        }
        let mut batch = Vec::with_capacity(picked.len());
        for order in picked {
            let Some(group) = free.remove(&order) else {
                continue;
            };
            let Some(queue) = groups.get_mut(&group) else {
                continue;
            };
            batch.extend(queue.pop_front().map(|queued| queued.item));
            if queue.is_empty() {
                groups.remove(&group);
            }
            busy.insert(group);
        }
        if !free.is_empty() {
            self.changed.notify_one();
        }
        if let Some(faults) = &self.faults {
            faults.shuffle(&mut batch);
        }
        Taken::Batch(batch)
    }

    /// Puts `items` back to be handed out now, ahead of their groups' later messages, and frees their
    /// groups (an unordered queue puts them at the end).
    fn put_back(&self, items: Vec<T>) {
        let now = Instant::now();
        let mut waiting = self.waiting();
        if self.topology.grouped {
            for item in items.into_iter().rev() {
                waiting.busy.remove(&item.message_group());
                waiting.add_to_group(item, now, true);
            }
        } else {
            waiting.queue.extend(items);
        }
        drop(waiting);
        self.changed.notify_one();
    }

    /// Frees the groups of `items`, settled for good.
    fn release(&self, items: &[T]) {
        if !self.topology.grouped || items.is_empty() {
            return;
        }
        let mut waiting = self.waiting();
        for item in items {
            let group = item.message_group();
            waiting.busy.remove(&group);
            waiting.mark_free_if_ready(group);
        }
        drop(waiting);
        self.changed.notify_one();
    }
}

#[async_trait]
impl<T: MessageGroup + Clone + Send + Sync + 'static> Source<T> for MemorySource<T> {
    type Lease = ();

    async fn next_batch(&self) -> (Vec<Body<T>>, ()) {
        loop {
            let changed = self.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            match self.take() {
                Taken::Batch(batch) => return (batch.into_iter().map(Body::Item).collect(), ()),
                Taken::Wait(None) => changed.await,
                Taken::Wait(Some(visible_at)) => {
                    tokio::select! {
                        () = changed => {}
                        () = tokio::time::sleep_until(visible_at.into()) => {}
                    }
                }
            }
        }
    }

    async fn settle(&self, batch: Vec<Body<T>>, (): (), failed: &[usize]) {
        // Chaos: the whole batch fails after its consumer ran (a Lambda timing out after the work).
        let all_failed = self
            .faults
            .as_ref()
            .is_some_and(|f| f.chance(chaos::FAILED_BATCH));
        let (mut again, mut done) = (Vec::new(), Vec::new());
        for (position, body) in batch.into_iter().enumerate() {
            let Body::Item(item) = body else { continue };
            if all_failed || failed.contains(&position) {
                again.push(item);
            } else {
                done.push(item);
            }
        }
        // Chaos: a done message handed out again (its deletion lost), before its group's later messages:
        // its group stays busy until it is back, as SQS FIFO holds a group until its message is deleted,
        // so nothing of the group is handed out beside it.
        let (twice, once): (Vec<T>, Vec<T>) = match &self.faults {
            Some(faults) => done
                .into_iter()
                .partition(|_| faults.chance(chaos::DUPLICATE)),
            None => (Vec::new(), done),
        };
        self.release(&once);
        if !twice.is_empty() {
            self.put_back(twice);
        }
        if again.is_empty() {
            return;
        }
        // Failed messages keep their groups busy until they are back, so nothing of the group overtakes
        // them.
        let source = self.me.clone();
        let delay = self.topology.visibility_timeout;
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            if let Some(source) = source.upgrade() {
                source.put_back(again);
            }
        });
    }
}

/// An SQS queue's consumer side: long-polls, and deletes what succeeded. Failed messages stay on the queue
/// and come back when their visibility timeout ends, as on AWS. Under chaos some batches fail as a whole.
/// SQS itself decides the order: a FIFO queue (`.fifo`) hands out messages by group, a standard one in
/// no promised order.
struct SqsSource<T> {
    queue: SqsQueue<T>,
    faults: Option<Faults>,
}

impl<T> SqsSource<T> {
    fn new(queue: SqsQueue<T>, faults: Option<Faults>) -> Self {
        Self { queue, faults }
    }
}

#[async_trait]
impl<T: Send + Sync + 'static> Source<T> for SqsSource<T> {
    /// The receipt handles of the batch, by position.
    type Lease = Vec<String>;

    async fn next_batch(&self) -> (Vec<Body<T>>, Vec<String>) {
        loop {
            match self.queue.receive(MAX_QUEUE_BATCH, POLL_WAIT).await {
                Ok(received) if received.is_empty() => {}
                Ok(received) => {
                    let (receipts, batch) = received
                        .into_iter()
                        .map(|r| (r.receipt_handle, Body::Json(r.body)))
                        .unzip();
                    return (batch, receipts);
                }
                Err(error) => {
                    tracing::error!(queue = %self.queue.url(), %error, "polling failed");
                    tokio::time::sleep(POLL_RETRY).await;
                }
            }
        }
    }

    async fn settle(&self, _batch: Vec<Body<T>>, receipts: Vec<String>, failed: &[usize]) {
        if self
            .faults
            .as_ref()
            .is_some_and(|f| f.chance(chaos::FAILED_BATCH))
        {
            return;
        }
        let done = receipts
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A queue item of group `.0`, numbered `.1`.
    #[derive(Debug, Clone, PartialEq, Eq)]
    struct Item(&'static str, u32);

    impl MessageGroup for Item {
        fn message_group(&self) -> String {
            self.0.to_owned()
        }
    }

    fn topology(consumers: usize, chaos: Option<u64>) -> Topology {
        Topology {
            visibility_timeout: Duration::from_millis(50),
            ..Topology::of(&Settings {
                consumers,
                chaos,
                ..Settings::default()
            })
        }
    }

    async fn source(topology: Topology, items: &[Item]) -> Arc<MemorySource<Item>> {
        let (queue, receiver) = memory_queue();
        let (source, _pump) = MemorySource::start(receiver, topology, 1);
        queue.send_all(items.to_vec()).await.unwrap();
        // Let the pump move them in.
        tokio::time::sleep(Duration::from_millis(20)).await;
        source
    }

    async fn next(source: &MemorySource<Item>) -> Vec<Item> {
        let (batch, ()) = tokio::time::timeout(Duration::from_secs(2), source.next_batch())
            .await
            .expect("a batch");
        batch
            .into_iter()
            .map(|body| match body {
                Body::Item(item) => item,
                Body::Json(_) => unreachable!(),
            })
            .collect()
    }

    fn bodies(items: &[Item]) -> Vec<Body<Item>> {
        items.iter().cloned().map(Body::Item).collect()
    }

    /// The default topology is today's: one consumer, ungrouped, batches of up to ten in arrival order
    /// (several of one connection together), failed messages back at the end.
    #[tokio::test]
    async fn the_default_topology_hands_out_in_order() {
        let topology = topology(1, None);
        assert_eq!((topology.consumers, topology.grouped), (1, false));
        let items: Vec<Item> = (0..12).map(|n| Item("a", n)).collect();
        let source = source(topology, &items).await;
        let first = next(&source).await;
        assert_eq!(first, items[..10]);
        source.settle(bodies(&first), (), &[0]).await;
        assert_eq!(next(&source).await, items[10..]);
        assert_eq!(next(&source).await, [Item("a", 0)]);
    }

    /// With several consumers a batch holds at most one message of a group, a group's next message waits
    /// until its previous one settled, and a failed one comes back, after the visibility timeout, before
    /// its group's later ones; other groups go on meanwhile.
    #[tokio::test]
    async fn several_consumers_take_one_message_of_a_group_at_a_time() {
        let topology = topology(5, None);
        assert!(topology.grouped);
        let items = [Item("a", 1), Item("a", 2), Item("b", 1), Item("b", 2)];
        let source = source(topology, &items).await;
        let first = next(&source).await;
        assert_eq!(first, [Item("a", 1), Item("b", 1)]);
        assert!(matches!(source.take(), Taken::Wait(_)), "a and b are busy");
        // a's first message fails; b's succeeds.
        source.settle(bodies(&first), (), &[0]).await;
        assert_eq!(next(&source).await, [Item("b", 2)]);
        assert_eq!(next(&source).await, [Item("a", 1)], "the failed one first");
        assert!(matches!(source.take(), Taken::Wait(_)));
        source.settle(bodies(&[Item("a", 1)]), (), &[]).await;
        assert_eq!(next(&source).await, [Item("a", 2)]);
    }

    /// Under chaos a group's messages still come in order, one at a time, whatever else is reordered,
    /// duplicated or failed.
    #[tokio::test]
    async fn chaos_keeps_each_group_in_order() {
        let groups = ["a", "b", "c", "d"];
        let items: Vec<Item> = (0..40).map(|n| Item(groups[n as usize % 4], n)).collect();
        let source = source(topology(5, Some(13)), &items).await;
        let mut last: std::collections::HashMap<&str, u32> = std::collections::HashMap::new();
        let mut seen = std::collections::HashSet::new();
        while seen.len() < items.len() {
            let batch = next(&source).await;
            let mut batch_groups = HashSet::new();
            for item in &batch {
                assert!(
                    batch_groups.insert(item.0),
                    "two of {} in one batch",
                    item.0
                );
                // A duplicate or a redelivery repeats the last one; nothing goes back further.
                let previous = last.insert(item.0, item.1);
                assert!(
                    previous.is_none_or(|p| p <= item.1),
                    "{item:?} after {previous:?}"
                );
                seen.insert(item.1);
            }
            source.settle(bodies(&batch), (), &[]).await;
        }
    }

    /// Five consumers at once on several threads, under chaos, as the production shape runs them: a group
    /// never has two messages out at once (SQS FIFO holds a group until its message is deleted, so even a
    /// duplicate, whose deletion was lost, comes back before the group's next message, never beside it),
    /// its messages come in order, and every message is handed out, none waiting on a wake-up that never
    /// comes (the run finishes well inside its deadline).
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_consumers_under_chaos_take_one_message_of_a_group_at_a_time() {
        const GROUPS: [&str; 24] = [
            "a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l", "m", "n", "o", "p", "q",
            "r", "s", "t", "u", "v", "w", "x",
        ];
        let items: Vec<Item> = (0..3_000)
            .map(|n| Item(GROUPS[n as usize % GROUPS.len()], n))
            .collect();
        let source = source(topology(5, Some(7)), &items).await;
        #[derive(Default)]
        struct Seen {
            out: HashSet<&'static str>,
            last: HashMap<&'static str, u32>,
            handed_out: HashSet<u32>,
            problems: Vec<String>,
        }
        let seen = Arc::new(Mutex::new(Seen::default()));
        // Set once every message was handed out: the consumers then stop waiting for more.
        let (finished, _) = tokio::sync::watch::channel(false);
        let consumers = (0..5).map(|_| {
            let (source, seen, finished) = (source.clone(), seen.clone(), finished.clone());
            let total = items.len();
            tokio::spawn(async move {
                let mut all_out = finished.subscribe();
                loop {
                    let (batch, ()) = tokio::select! {
                        _ = all_out.wait_for(|all| *all) => return,
                        next = source.next_batch() => next,
                    };
                    let batch: Vec<Item> = batch
                        .into_iter()
                        .map(|body| match body {
                            Body::Item(item) => item,
                            Body::Json(_) => unreachable!(),
                        })
                        .collect();
                    {
                        let mut seen = seen.lock().unwrap();
                        for item in &batch {
                            if !seen.out.insert(item.0) {
                                seen.problems
                                    .push(format!("{item:?} out beside another of its group"));
                            }
                            let previous = seen.last.insert(item.0, item.1);
                            if previous.is_some_and(|p| p > item.1) {
                                seen.problems.push(format!("{item:?} after {previous:?}"));
                            }
                            seen.handed_out.insert(item.1);
                        }
                        if seen.handed_out.len() == total {
                            finished.send_replace(true);
                        }
                    }
                    // The consumer's work: long enough for the others to come for more meanwhile.
                    tokio::time::sleep(Duration::from_micros(200)).await;
                    {
                        let mut seen = seen.lock().unwrap();
                        for item in &batch {
                            seen.out.remove(item.0);
                        }
                    }
                    source.settle(bodies(&batch), (), &[]).await;
                }
            })
        });
        let all = futures_util::future::join_all(consumers);
        tokio::time::timeout(Duration::from_secs(30), all)
            .await
            .expect("every message handed out within the deadline");
        let seen = seen.lock().unwrap();
        assert_eq!(seen.problems, Vec::<String>::new());
        assert_eq!(seen.handed_out.len(), items.len());
    }
}
