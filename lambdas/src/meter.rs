//! Counts of the calls AWS bills for, kept where each call is made, so that what a message costs is
//! measured rather than guessed (`chatty-load cost` prices them). Off unless asked for: every place that
//! counts holds an `Option` of its meter, so an unmetered gateway (the bench's) pays one branch.
//!
//! - [`ApiMeter`]: API Gateway's WebSocket side, which the local gateway stands in for: frames in and out
//!   in API Gateway's 32 KB billing units ([`api_units`]), `@connections` posts, and connection time.
//! - [`FunctionMeter`]: one Lambda function's invocations and their billed duration (each rounded up to
//!   the millisecond, as Lambda bills).
//! - [`QueueMeter`]: one SQS queue's API calls by kind, and the requests SQS bills for them (one per 64 KB
//!   of a call's payload, [`sqs_requests`]), kept by the SQS adapter.
//!
//! [`Meter::usage`] reads every counter into a plain [`Usage`]; [`Usage::since`] is what happened between
//! two readings. The counters are relaxed atomics, each exact; a reading taken while calls are under way
//! may see one counter of a call and not yet another.

use std::{
    sync::{
        atomic::{AtomicU64, Ordering::Relaxed},
        Arc,
    },
    time::{Duration, Instant},
};

use serde::Serialize;

/// API Gateway meters WebSocket messages in units of this many bytes: a 33 KB frame is two messages.
pub const API_MESSAGE_UNIT_BYTES: usize = 32 * 1024;
/// SQS bills every this many bytes of one call's payload as one request.
pub const SQS_REQUEST_UNIT_BYTES: usize = 64 * 1024;

/// The messages API Gateway bills for one frame of `bytes` (at least one).
pub fn api_units(bytes: usize) -> u64 {
    units(bytes, API_MESSAGE_UNIT_BYTES)
}

/// The requests SQS bills for one call carrying `bytes` of payload (at least one).
pub fn sqs_requests(bytes: usize) -> u64 {
    units(bytes, SQS_REQUEST_UNIT_BYTES)
}

fn units(bytes: usize, unit: usize) -> u64 {
    u64::try_from(bytes.div_ceil(unit).max(1)).unwrap_or(u64::MAX)
}

/// Every counter of one deployment: its API, its four functions and its two queues.
#[derive(Debug)]
pub struct Meter {
    pub api: ApiMeter,
    pub authorizer: Arc<FunctionMeter>,
    pub gateway: Arc<FunctionMeter>,
    pub registry: Arc<FunctionMeter>,
    pub sender: Arc<FunctionMeter>,
    pub commands: Arc<QueueMeter>,
    pub deliveries: Arc<QueueMeter>,
}

impl Default for Meter {
    fn default() -> Self {
        Self {
            api: ApiMeter::new(),
            authorizer: Arc::default(),
            gateway: Arc::default(),
            registry: Arc::default(),
            sender: Arc::default(),
            commands: Arc::default(),
            deliveries: Arc::default(),
        }
    }
}

impl Meter {
    /// What every counter says now.
    pub fn usage(&self) -> Usage {
        Usage {
            api: self.api.usage(),
            authorizer: self.authorizer.usage(),
            gateway: self.gateway.usage(),
            registry: self.registry.usage(),
            sender: self.sender.usage(),
            commands: self.commands.usage(),
            deliveries: self.deliveries.usage(),
        }
    }
}

/// API Gateway's WebSocket side.
#[derive(Debug)]
pub struct ApiMeter {
    frames_in: AtomicU64,
    frames_out: AtomicU64,
    posts: AtomicU64,
    /// Connection time: what closed connections were open for, plus, for the open ones, their count and
    /// the sum of their opening times (milliseconds since `epoch`), so that their time so far is
    /// `open × now − opened_sum` without a list.
    closed_ms: AtomicU64,
    open: AtomicU64,
    opened_sum_ms: AtomicU64,
    epoch: Instant,
}

/// When a connection opened, to hand back to [`ApiMeter::closed`].
#[derive(Debug, Clone, Copy)]
pub struct Opened(u64);

impl ApiMeter {
    fn new() -> Self {
        Self {
            frames_in: AtomicU64::new(0),
            frames_out: AtomicU64::new(0),
            posts: AtomicU64::new(0),
            closed_ms: AtomicU64::new(0),
            open: AtomicU64::new(0),
            opened_sum_ms: AtomicU64::new(0),
            epoch: Instant::now(),
        }
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// A client sent a frame of `bytes`.
    pub fn frame_in(&self, bytes: usize) {
        self.frames_in.fetch_add(api_units(bytes), Relaxed);
    }

    /// A frame of `bytes` went to a client (a post, or a route's answer).
    pub fn frame_out(&self, bytes: usize) {
        self.frames_out.fetch_add(api_units(bytes), Relaxed);
    }

    /// `POST @connections/{id}` was called.
    pub fn post(&self) {
        self.posts.fetch_add(1, Relaxed);
    }

    /// A connection opened; its time runs until [`ApiMeter::closed`].
    pub fn opened(&self) -> Opened {
        let now = self.now_ms();
        self.opened_sum_ms.fetch_add(now, Relaxed);
        self.open.fetch_add(1, Relaxed);
        Opened(now)
    }

    /// The connection that [`ApiMeter::opened`] returned `opened` for has closed.
    pub fn closed(&self, opened: Opened) {
        let now = self.now_ms();
        self.closed_ms
            .fetch_add(now.saturating_sub(opened.0), Relaxed);
        self.open.fetch_sub(1, Relaxed);
        self.opened_sum_ms.fetch_sub(opened.0, Relaxed);
    }

    fn usage(&self) -> ApiUsage {
        let now = self.now_ms();
        let open = self.open.load(Relaxed);
        let running = open
            .saturating_mul(now)
            .saturating_sub(self.opened_sum_ms.load(Relaxed));
        ApiUsage {
            frames_in: self.frames_in.load(Relaxed),
            frames_out: self.frames_out.load(Relaxed),
            posts: self.posts.load(Relaxed),
            connection_ms: self.closed_ms.load(Relaxed).saturating_add(running),
        }
    }
}

/// One Lambda function.
#[derive(Debug, Default)]
pub struct FunctionMeter {
    invocations: AtomicU64,
    billed_ms: AtomicU64,
}

impl FunctionMeter {
    /// The function ran once, for `duration` (billed rounded up to the millisecond).
    pub fn invoked(&self, duration: Duration) {
        let ms = duration.as_nanos().div_ceil(1_000_000).max(1);
        self.invocations.fetch_add(1, Relaxed);
        self.billed_ms
            .fetch_add(u64::try_from(ms).unwrap_or(u64::MAX), Relaxed);
    }

    fn usage(&self) -> FunctionUsage {
        FunctionUsage {
            invocations: self.invocations.load(Relaxed),
            billed_ms: self.billed_ms.load(Relaxed),
        }
    }
}

/// One SQS queue, as its adapter calls it.
#[derive(Debug, Default)]
pub struct QueueMeter {
    send_calls: AtomicU64,
    receive_calls: AtomicU64,
    empty_receives: AtomicU64,
    delete_calls: AtomicU64,
    requests: AtomicU64,
    sent: AtomicU64,
    received: AtomicU64,
}

impl QueueMeter {
    /// One `SendMessageBatch` of `messages` entries, `bytes` of bodies in all.
    pub fn send(&self, messages: usize, bytes: usize) {
        self.send_calls.fetch_add(1, Relaxed);
        self.sent.fetch_add(count(messages), Relaxed);
        self.requests.fetch_add(sqs_requests(bytes), Relaxed);
    }

    /// One `ReceiveMessage` that returned `messages`, `bytes` of bodies in all (none: an empty receive).
    pub fn receive(&self, messages: usize, bytes: usize) {
        self.receive_calls.fetch_add(1, Relaxed);
        if messages == 0 {
            self.empty_receives.fetch_add(1, Relaxed);
        }
        self.received.fetch_add(count(messages), Relaxed);
        self.requests.fetch_add(sqs_requests(bytes), Relaxed);
    }

    /// One `DeleteMessageBatch`.
    pub fn delete(&self) {
        self.delete_calls.fetch_add(1, Relaxed);
        self.requests.fetch_add(1, Relaxed);
    }

    fn usage(&self) -> QueueUsage {
        QueueUsage {
            send_calls: self.send_calls.load(Relaxed),
            receive_calls: self.receive_calls.load(Relaxed),
            empty_receives: self.empty_receives.load(Relaxed),
            delete_calls: self.delete_calls.load(Relaxed),
            requests: self.requests.load(Relaxed),
            sent: self.sent.load(Relaxed),
            received: self.received.load(Relaxed),
        }
    }
}

fn count(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

/// Every counter of a [`Meter`], read at one moment (or, from [`Usage::since`], between two).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Usage {
    pub api: ApiUsage,
    pub authorizer: FunctionUsage,
    pub gateway: FunctionUsage,
    pub registry: FunctionUsage,
    pub sender: FunctionUsage,
    pub commands: QueueUsage,
    pub deliveries: QueueUsage,
}

/// API Gateway's counters.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ApiUsage {
    /// Client frames, in 32 KB units.
    pub frames_in: u64,
    /// Frames to clients, in 32 KB units.
    pub frames_out: u64,
    /// `POST @connections/{id}` calls.
    pub posts: u64,
    /// Connection time, in milliseconds.
    pub connection_ms: u64,
}

/// One function's counters.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct FunctionUsage {
    pub invocations: u64,
    /// The invocations' durations, each rounded up to the millisecond.
    pub billed_ms: u64,
}

/// One queue's counters.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct QueueUsage {
    /// `SendMessageBatch` calls (each retry of failed entries is one more).
    pub send_calls: u64,
    /// `ReceiveMessage` calls, empty ones included.
    pub receive_calls: u64,
    /// `ReceiveMessage` calls that returned nothing.
    pub empty_receives: u64,
    /// `DeleteMessageBatch` calls.
    pub delete_calls: u64,
    /// What SQS bills for all of them: one request per call and per further 64 KB of its payload.
    pub requests: u64,
    /// Messages sent.
    pub sent: u64,
    /// Messages received.
    pub received: u64,
}

impl Usage {
    /// What happened between `earlier` and this reading.
    pub fn since(&self, earlier: &Usage) -> Usage {
        Usage {
            api: self.api.since(&earlier.api),
            authorizer: self.authorizer.since(&earlier.authorizer),
            gateway: self.gateway.since(&earlier.gateway),
            registry: self.registry.since(&earlier.registry),
            sender: self.sender.since(&earlier.sender),
            commands: self.commands.since(&earlier.commands),
            deliveries: self.deliveries.since(&earlier.deliveries),
        }
    }
}

impl ApiUsage {
    fn since(&self, earlier: &Self) -> Self {
        Self {
            frames_in: self.frames_in.saturating_sub(earlier.frames_in),
            frames_out: self.frames_out.saturating_sub(earlier.frames_out),
            posts: self.posts.saturating_sub(earlier.posts),
            connection_ms: self.connection_ms.saturating_sub(earlier.connection_ms),
        }
    }
}

impl FunctionUsage {
    fn since(&self, earlier: &Self) -> Self {
        Self {
            invocations: self.invocations.saturating_sub(earlier.invocations),
            billed_ms: self.billed_ms.saturating_sub(earlier.billed_ms),
        }
    }
}

impl QueueUsage {
    fn since(&self, earlier: &Self) -> Self {
        Self {
            send_calls: self.send_calls.saturating_sub(earlier.send_calls),
            receive_calls: self.receive_calls.saturating_sub(earlier.receive_calls),
            empty_receives: self.empty_receives.saturating_sub(earlier.empty_receives),
            delete_calls: self.delete_calls.saturating_sub(earlier.delete_calls),
            requests: self.requests.saturating_sub(earlier.requests),
            sent: self.sent.saturating_sub(earlier.sent),
            received: self.received.saturating_sub(earlier.received),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_gateway_bills_frames_in_32_kb_units_and_sqs_calls_in_64_kb_units() {
        assert_eq!(api_units(0), 1);
        assert_eq!(api_units(32 * 1024), 1);
        assert_eq!(api_units(32 * 1024 + 1), 2);
        assert_eq!(sqs_requests(10), 1);
        assert_eq!(sqs_requests(64 * 1024 + 1), 2);
        assert_eq!(sqs_requests(256 * 1024), 4);
    }

    /// A connection's time counts while it is open and stops when it closes; a reading between two shows
    /// only what happened in between.
    #[test]
    fn connection_time_runs_while_open() {
        let meter = Meter::default();
        let before = meter.usage();
        let opened = meter.api.opened();
        std::thread::sleep(Duration::from_millis(30));
        let running = meter.usage().since(&before).api.connection_ms;
        assert!(running >= 29, "{running} ms");
        meter.api.closed(opened);
        let closed = meter.usage();
        std::thread::sleep(Duration::from_millis(30));
        assert_eq!(meter.usage().api.connection_ms, closed.api.connection_ms);
        assert_eq!(meter.usage().since(&closed), Usage::default());
    }

    #[test]
    fn invocations_are_billed_by_the_millisecond_rounded_up() {
        let meter = FunctionMeter::default();
        meter.invoked(Duration::from_micros(1_200));
        meter.invoked(Duration::from_micros(10));
        assert_eq!(
            meter.usage(),
            FunctionUsage {
                invocations: 2,
                billed_ms: 3
            }
        );
    }

    #[test]
    fn a_queue_counts_calls_by_kind_and_bills_their_payload() {
        let meter = QueueMeter::default();
        meter.send(10, 100 * 1024);
        meter.receive(0, 0);
        meter.receive(3, 300);
        meter.delete();
        let usage = meter.usage();
        assert_eq!(
            (usage.send_calls, usage.receive_calls, usage.empty_receives),
            (1, 2, 1)
        );
        assert_eq!((usage.sent, usage.received, usage.delete_calls), (10, 3, 1));
        assert_eq!(usage.requests, 2 + 1 + 1 + 1);
    }
}
