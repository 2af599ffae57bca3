//! The load generator: opens the connections of a [`Plan`], joins them to their rooms, has every member
//! send its share of the messages, and measures every delivered frame.
//!
//! Phases, each bounded in time: tokens → connect → join (each member waits for the `presence` frame its
//! join causes) → send (at a total rate, or as fast as the server takes them: each member keeps at most
//! `window` of its own messages unconfirmed, its own copy coming back being the confirmation) → drain
//! (wait until every owed delivery arrived, or the drain time ran out) → close. [`run`] does them all;
//! [`Joined`] stops between them, for a caller that measures the server around the sending alone.
//!
//! A message's body carries its send time (nanoseconds since the run's epoch, zero-padded, then padding),
//! so a receiver computes the latency without any shared map; its `client_id` is its number (`m{g}`).

use std::{
    borrow::Cow,
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

use anyhow::{bail, Context};
use futures_util::{
    stream::{SplitSink, SplitStream},
    SinkExt, StreamExt, TryStreamExt,
};
use hdrhistogram::Histogram;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use protocol::{ClientFrame, ClientId, RoomName};
use serde::Deserialize;
use tokio::{
    net::TcpStream,
    sync::{watch, Semaphore},
    task::JoinHandle,
};
use tokio_tungstenite::{connect_async, tungstenite::Message, MaybeTlsStream, WebSocketStream};

use crate::{
    report::{Latency, Report},
    tally::{client_id, message_number, Plan, Seen, Tally},
    target::Target,
    tokens::TokenSource,
};

pub type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// WebSocket handshakes in flight at once: enough to be quick, few enough not to overflow the
/// server's accept backlog.
const CONCURRENT_CONNECTS: usize = 32;
/// Bound on one handshake, and on one member's join confirmation.
const STEP_TIMEOUT: Duration = Duration::from_secs(20);
/// Bound on politely closing the sockets at the end.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(2);
/// Latencies are kept in microseconds, up to a minute, to three significant figures.
const MAX_LATENCY_MICROS: u64 = 60_000_000;

/// How hard and how long to push.
#[derive(Debug, Clone)]
pub struct LoadConfig {
    pub plan: Plan,
    /// Total messages per second across every member; `None` for as fast as the server takes them.
    pub rate: Option<f64>,
    /// Unconfirmed messages each member may have in flight when the rate is unlimited.
    pub window: usize,
    /// Length of each message body (at least the 20 digits of its timestamp).
    pub body_bytes: usize,
    /// The send phase stops after this long, sent or not.
    pub max_send: Duration,
    /// After the last send, how long to wait for what is still owed.
    pub drain: Duration,
    /// Draw a progress bar on a terminal.
    pub progress: bool,
}

impl LoadConfig {
    /// A run of `plan` as fast as the server goes, with the default bounds.
    pub fn unlimited(plan: Plan) -> Self {
        Self {
            plan,
            rate: None,
            window: 2,
            body_bytes: 32,
            max_send: Duration::from_secs(30),
            drain: Duration::from_secs(10),
            progress: false,
        }
    }
}

/// Connects to `target` once per token, a few handshakes at a time.
pub async fn connect_many(target: &Target, tokens: Vec<String>) -> anyhow::Result<Vec<Socket>> {
    futures_util::stream::iter(tokens)
        .map(|token| {
            let url = format!("{}?token={token}", target.ws_url);
            async move {
                let (socket, _) = tokio::time::timeout(STEP_TIMEOUT, connect_async(url.as_str()))
                    .await
                    .context("WebSocket handshake timed out")?
                    .with_context(|| {
                        format!("connecting to {}", url.split('?').next().unwrap_or(""))
                    })?;
                anyhow::Ok(socket)
            }
        })
        .buffered(CONCURRENT_CONNECTS)
        .try_collect()
        .await
}

/// Connections that join nothing and read whatever comes, held open while a run happens beside them.
pub struct IdlePool {
    readers: Vec<JoinHandle<()>>,
    stop: watch::Sender<bool>,
}

impl IdlePool {
    /// Opens `count` idle connections, all holding one token (they never join a room, so nobody sees
    /// who they are).
    pub async fn open(target: &Target, tokens: &TokenSource, count: usize) -> anyhow::Result<Self> {
        let (stop, stopped) = watch::channel(false);
        if count == 0 {
            return Ok(Self {
                readers: Vec::new(),
                stop,
            });
        }
        let token = tokens.tokens(vec!["load-idle".to_owned()]).await?.remove(0);
        let sockets = connect_many(target, vec![token; count]).await?;
        let readers = sockets
            .into_iter()
            .map(|mut socket| {
                let mut stopped = stopped.clone();
                tokio::spawn(async move {
                    loop {
                        tokio::select! {
                            _ = stopped.changed() => break,
                            next = socket.next() => if !matches!(next, Some(Ok(_))) { return },
                        }
                    }
                    let _ = tokio::time::timeout(CLOSE_TIMEOUT, socket.close(None)).await;
                })
            })
            .collect();
        Ok(Self { readers, stop })
    }

    pub fn len(&self) -> usize {
        self.readers.len()
    }

    pub fn is_empty(&self) -> bool {
        self.readers.is_empty()
    }

    /// Closes every idle connection.
    pub async fn close(self) {
        let _ = self.stop.send(true);
        for reader in self.readers {
            let _ = reader.await;
        }
    }
}

/// The fields of a server frame the generator reads; everything else is skipped unparsed.
#[derive(Deserialize)]
struct Incoming<'a> {
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
    #[serde(default, borrow)]
    room: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    client_id: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    body: Option<Cow<'a, str>>,
}

/// What the members share while the run is on.
struct Shared {
    plan: Plan,
    epoch: Instant,
    /// Distinct deliveries so far.
    delivered: AtomicU64,
    /// Nanoseconds since `epoch` of the latest first-copy delivery.
    last_delivery: AtomicU64,
    /// Per member: permits to send (the unlimited mode's window).
    windows: Vec<Semaphore>,
}

/// What one member's reader found.
struct Received {
    tally: Tally,
    latency: Histogram<u64>,
}

/// Runs `config` against `target` and reports what happened. Fails only if the connections cannot be
/// set up; losses are measured, not errors.
pub async fn run(
    target: &Target,
    tokens: &TokenSource,
    config: &LoadConfig,
) -> anyhow::Result<Report> {
    let joined = Joined::open(target, tokens, config).await?;
    let (report, joined) = joined.exchange().await?;
    joined.close().await;
    Ok(report)
}

/// The connections of a run, each joined to its room: between [`Joined::open`] and
/// [`Joined::exchange`], and after it until [`Joined::close`], nothing is sent, so a caller can read the
/// server's state around the exchange alone.
pub struct Joined {
    target: String,
    config: LoadConfig,
    sockets: Vec<Socket>,
}

impl Joined {
    /// Opens the connections of `config`'s plan and joins each to its room, waiting until each has seen
    /// the `presence` frame its join caused.
    pub async fn open(
        target: &Target,
        tokens: &TokenSource,
        config: &LoadConfig,
    ) -> anyhow::Result<Self> {
        let plan = config.plan;
        if plan.members == 0 || plan.rooms == 0 || plan.rooms > plan.members {
            bail!(
                "need at least one member per room (members {}, rooms {})",
                plan.members,
                plan.rooms
            );
        }
        let names = (0..plan.members).map(|i| format!("load-{i}")).collect();
        let sockets = connect_many(target, tokens.tokens(names).await?).await?;
        Ok(Self {
            target: target.ws_url.clone(),
            config: config.clone(),
            sockets: join_rooms(&plan, sockets).await?,
        })
    }

    /// Sends the plan's messages (paced as configured), waits for what they owe, and reports; the
    /// connections stay open.
    pub async fn exchange(self) -> anyhow::Result<(Report, Self)> {
        let Self {
            target,
            config,
            sockets,
        } = self;
        let plan = config.plan;
        let shared = Arc::new(Shared {
            plan,
            epoch: Instant::now(),
            delivered: AtomicU64::new(0),
            last_delivery: AtomicU64::new(0),
            windows: (0..plan.members)
                .map(|_| Semaphore::new(config.window.max(1)))
                .collect(),
        });
        let (stop, stopped) = watch::channel(false);
        let mut readers = Vec::with_capacity(plan.members);
        let mut senders = Vec::with_capacity(plan.members);
        let start = tokio::time::Instant::now() + Duration::from_millis(50);
        let started_at = shared.epoch.elapsed() + Duration::from_millis(50);
        for (member, socket) in sockets.into_iter().enumerate() {
            let (sink, stream) = socket.split();
            readers.push(tokio::spawn(read(
                member,
                stream,
                shared.clone(),
                stopped.clone(),
            )));
            senders.push(tokio::spawn(send(
                member,
                sink,
                shared.clone(),
                config.clone(),
                start,
            )));
        }

        let all_sent: Vec<u64> = (0..plan.members)
            .map(|m| plan.messages_of(m).count() as u64)
            .collect();
        let progress = progress_bar(config.progress, plan.expected_deliveries(&all_sent));
        let ticker = {
            let (shared, progress) = (shared.clone(), progress.clone());
            tokio::spawn(async move {
                loop {
                    progress.set_position(shared.delivered.load(Ordering::Relaxed));
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            })
        };

        let mut sinks = Vec::with_capacity(plan.members);
        let mut sent = Vec::with_capacity(plan.members);
        let mut send_timed_out = false;
        for sender in senders {
            let outcome = sender.await.context("a sender panicked")?;
            sinks.push(outcome.sink);
            sent.push(outcome.sent);
            send_timed_out |= outcome.timed_out;
        }
        let expected = plan.expected_deliveries(&sent);
        let drain_until = Instant::now() + config.drain;
        while shared.delivered.load(Ordering::Relaxed) < expected && Instant::now() < drain_until {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        ticker.abort();
        progress.finish_and_clear();

        let _ = stop.send(true);
        let mut latency = new_histogram();
        let (mut delivered, mut lost, mut duplicated, mut unexpected) = (0, 0, 0, 0);
        let mut streams = Vec::with_capacity(plan.members);
        for (member, reader) in readers.into_iter().enumerate() {
            let (received, stream) = reader.await.context("a reader panicked")?;
            latency
                .add(&received.latency)
                .context("merging latencies")?;
            delivered += received.tally.unique;
            lost += plan.expected_by(member, &sent) - received.tally.unique;
            duplicated += received.tally.duplicated;
            unexpected += received.tally.unexpected;
            streams.push(stream);
        }

        let elapsed = Duration::from_nanos(shared.last_delivery.load(Ordering::Relaxed))
            .saturating_sub(started_at)
            .as_secs_f64();
        let report = Report {
            target: target.clone(),
            members: plan.members,
            rooms: plan.rooms,
            idle: 0,
            messages_planned: plan.messages,
            messages_sent: sent.iter().sum(),
            rate_per_sec: config.rate,
            deliveries_expected: expected,
            delivered,
            lost,
            duplicated,
            unexpected,
            elapsed_secs: elapsed,
            deliveries_per_sec: if elapsed > 0.0 {
                delivered as f64 / elapsed
            } else {
                0.0
            },
            latency_ms: Latency::from_micros(&latency),
            send_timed_out,
        };
        let sockets = sinks
            .into_iter()
            .zip(streams)
            .filter_map(|(sink, stream)| sink.reunite(stream).ok())
            .collect();
        Ok((
            report,
            Self {
                target,
                config,
                sockets,
            },
        ))
    }

    /// Closes every connection politely, all at once, each within [`CLOSE_TIMEOUT`].
    pub async fn close(self) {
        let closes = self.sockets.into_iter().map(|mut socket| async move {
            let _ = tokio::time::timeout(CLOSE_TIMEOUT, socket.close(None)).await;
        });
        futures_util::future::join_all(closes).await;
    }
}

/// Joins every member to its room and waits until each has seen the `presence` frame its join caused.
async fn join_rooms(plan: &Plan, sockets: Vec<Socket>) -> anyhow::Result<Vec<Socket>> {
    let mut joined: Vec<(usize, Socket)> =
        futures_util::stream::iter(sockets.into_iter().enumerate())
            .map(|(member, mut socket)| async move {
                let room = Plan::room_name(plan.room_of(member));
                let join = ClientFrame::Join {
                    room: RoomName::new(room.clone()).context("room name")?,
                };
                socket.send(Message::text(join.to_json())).await?;
                let confirmed = async {
                    while let Some(message) = socket.next().await {
                        if let Message::Text(text) = message? {
                            let frame: Incoming<'_> = serde_json::from_str(&text)?;
                            if frame.kind == "presence" && frame.room.as_deref() == Some(&room) {
                                return anyhow::Ok(());
                            }
                        }
                    }
                    bail!("the socket closed before the join was confirmed")
                };
                tokio::time::timeout(STEP_TIMEOUT, confirmed)
                    .await
                    .with_context(|| format!("member {member}: no presence frame for {room}"))??;
                anyhow::Ok((member, socket))
            })
            .buffer_unordered(CONCURRENT_CONNECTS)
            .try_collect()
            .await?;
    joined.sort_unstable_by_key(|(member, _)| *member);
    Ok(joined.into_iter().map(|(_, socket)| socket).collect())
}

/// One member's receiving side: tallies every `message` frame until told to stop.
async fn read(
    member: usize,
    mut stream: SplitStream<Socket>,
    shared: Arc<Shared>,
    mut stopped: watch::Receiver<bool>,
) -> (Received, SplitStream<Socket>) {
    let plan = shared.plan;
    let room = plan.room_of(member);
    let mut received = Received {
        tally: Tally::new(plan.messages),
        latency: new_histogram(),
    };
    loop {
        let message = tokio::select! {
            _ = stopped.changed() => break,
            next = stream.next() => match next {
                Some(Ok(message)) => message,
                _ => break,
            },
        };
        let Message::Text(text) = message else {
            continue;
        };
        let Ok(frame) = serde_json::from_str::<Incoming<'_>>(&text) else {
            received.tally.unexpected += 1;
            continue;
        };
        if frame.kind != "message" {
            continue;
        }
        let number = frame.client_id.as_deref().and_then(message_number);
        let seen = received
            .tally
            .record(number, |g| plan.room_of(plan.sender_of(g)) == room);
        if seen != Seen::First {
            continue;
        }
        let now = shared.epoch.elapsed();
        let sent_at = frame
            .body
            .as_deref()
            .and_then(|body| body.get(..20))
            .and_then(|digits| digits.parse::<u64>().ok())
            .map_or(now, Duration::from_nanos);
        let micros = u64::try_from(now.saturating_sub(sent_at).as_micros()).unwrap_or(u64::MAX);
        received
            .latency
            .saturating_record(micros.clamp(1, MAX_LATENCY_MICROS));
        shared.delivered.fetch_add(1, Ordering::Relaxed);
        shared.last_delivery.fetch_max(
            u64::try_from(now.as_nanos()).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
        if number.is_some_and(|g| plan.sender_of(g) == member) {
            shared.windows[member].add_permits(1);
        }
    }
    (received, stream)
}

/// What one member's sending side did.
struct Sent {
    sink: SplitSink<Socket, Message>,
    sent: u64,
    timed_out: bool,
}

/// One member's sending side: its share of the messages, paced by the rate or by its window, until done
/// or out of time.
async fn send(
    member: usize,
    sink: SplitSink<Socket, Message>,
    shared: Arc<Shared>,
    config: LoadConfig,
    start: tokio::time::Instant,
) -> Sent {
    let plan = shared.plan;
    let room = RoomName::new(Plan::room_name(plan.room_of(member))).expect("a valid room name");
    let deadline = start + config.max_send;
    let mut ticks = config.rate.map(|rate| {
        let period = Duration::from_secs_f64(plan.members as f64 / rate);
        // Members take turns, so the total rate is smooth rather than 'members' sends at once.
        let offset = Duration::from_secs_f64(member as f64 / rate);
        tokio::time::interval_at(start + offset, period)
    });
    let padding = "x".repeat(config.body_bytes.saturating_sub(20));
    let mut outcome = Sent {
        sink,
        sent: 0,
        timed_out: false,
    };
    tokio::time::sleep_until(start).await;
    for message in plan.messages_of(member) {
        let paced = async {
            match &mut ticks {
                Some(ticks) => {
                    ticks.tick().await;
                }
                None => {
                    if let Ok(permit) = shared.windows[member].acquire().await {
                        permit.forget();
                    }
                }
            }
        };
        if tokio::time::timeout_at(deadline, paced).await.is_err() {
            outcome.timed_out = true;
            break;
        }
        let frame = ClientFrame::Send {
            room: room.clone(),
            client_id: ClientId::new(client_id(message)).expect("a valid client id"),
            body: format!("{:020}{padding}", shared.epoch.elapsed().as_nanos()),
        };
        if outcome
            .sink
            .send(Message::text(frame.to_json()))
            .await
            .is_err()
        {
            break;
        }
        outcome.sent += 1;
    }
    outcome
}

fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_LATENCY_MICROS, 3).expect("valid histogram bounds")
}

fn progress_bar(show: bool, length: u64) -> ProgressBar {
    if !show {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(length), ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template("{elapsed:>4} [{bar:40}] {pos}/{len} deliveries ({per_sec})")
            .expect("a valid template")
            .progress_chars("=> "),
    );
    bar
}
