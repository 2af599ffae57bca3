//! `chatty-load cost`: what a message costs on AWS, measured rather than guessed. Each scenario gets its
//! own `moto_server` (the SQS queues), its own Redis (a three-master cluster, as ElastiCache Serverless is,
//! or one `redis-server`) and a `chatty-local` gateway in this process, in the production shape: the SQS
//! pipeline (`--aws-endpoint`, FIFO queues, posts through the SDK's management client to `@connections`),
//! [`PRODUCTION_CONSUMERS`] consumers per queue, every per-person rate enforced, and a [`Meter`] counting
//! every billable call. The generator opens the scenario's connections and joins its rooms; once the
//! pipeline is quiet the meter and Redis's counters are read, the messages are sent at a steady total rate
//! (a person's pace, not a benchmark's), and once the pipeline is quiet again they are read a second time.
//! What happened between the two readings, over the messages sent, is what a message costs
//! ([`crate::bill`], priced by [`crate::prices`]); connecting and joining are left out.
//!
//! Each figure is also given against the floor measured in the same run: API Gateway's charge for the
//! frames the messages were delivered as.

use std::{
    fmt,
    path::Path,
    sync::Arc,
    time::{Duration, Instant},
};

use anyhow::Context;
use chatty_local::{RateLimits, Settings, SqsSettings};
use lambdas::meter::{Meter, Usage};
use serde::Serialize;
use tokio::net::TcpListener;

use crate::{
    bench::PRODUCTION_CONSUMERS,
    bill::{Bill, Sent},
    generator::{Joined, LoadConfig},
    prices::{Prices, US_EAST_1},
    report::Report,
    servers::{MotoServer, RedisCluster, RedisInfo, RedisNodes, RedisServer},
    tally::Plan,
    target::Target,
    tokens::TokenSource,
};

/// People in each scenario (a room of 100 needs them all).
pub const PEOPLE: usize = 100;
/// Messages a second across every room: each of the 100 people writing once every ten seconds.
pub const RATE: f64 = 10.0;
/// Messages per scenario: enough that the queues' idle polling is spread thin.
pub const MESSAGES: u64 = 300;
/// The pipeline counts as quiet once nothing billable but idle polling happened for this long.
const QUIET: Duration = Duration::from_secs(1);
/// Bound on waiting for quiet.
const QUIET_LIMIT: Duration = Duration::from_secs(30);
/// Message bodies: a short sentence.
const BODY_BYTES: usize = 80;

/// Where the registry lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum CostStore {
    /// A three-master Redis Cluster, as ElastiCache Serverless speaks it.
    Cluster,
    /// One `redis-server`.
    Standalone,
}

/// One scenario: rooms of one size, every member writing at the same pace.
#[derive(Debug, Clone)]
pub struct Scenario {
    pub name: String,
    pub plan: Plan,
    /// Messages a second, across every room.
    pub rate: f64,
}

/// Rooms of 2, 10 and 100, with `people` in rooms of 2 and 10 (a room of 100 has 100), sending `messages`
/// at `rate` a second in all.
pub fn scenarios(people: usize, messages: u64, rate: f64) -> Vec<Scenario> {
    [2, 10, 100]
        .into_iter()
        .map(|size| {
            let members = if size == 100 { 100 } else { people.max(size) };
            let rooms = members / size;
            Scenario {
                name: if rooms == 1 {
                    format!("1 room of {size}")
                } else {
                    format!("{rooms} rooms of {size}")
                },
                plan: Plan {
                    members: rooms * size,
                    rooms,
                    messages,
                },
                rate,
            }
        })
        .collect()
}

/// How to measure.
#[derive(Debug, Clone)]
pub struct CostOptions {
    pub scenarios: Vec<Scenario>,
    pub store: CostStore,
    /// Batches each queue's consumers run at once.
    pub consumers: usize,
    pub prices: Prices,
    /// Show the generator's progress bars.
    pub progress: bool,
}

/// One scenario, measured.
#[derive(Debug, Clone, Serialize)]
pub struct Measured {
    pub scenario: String,
    /// What the generator saw: every message must have reached every member of its room once.
    pub report: Report,
    /// The meter's counts between the two readings.
    pub usage: Usage,
    /// Redis's counters between the two readings, every node summed.
    pub redis: RedisInfo,
    /// The time between the two readings, in seconds.
    pub window_secs: f64,
    pub bill: Bill,
}

/// Every scenario measured, and how.
#[derive(Debug, Clone, Serialize)]
pub struct CostReport {
    pub store: CostStore,
    pub consumers: usize,
    pub rows: Vec<Measured>,
}

impl CostReport {
    /// Every scenario sent every message and delivered each to every member of its room, and nowhere
    /// else. A message delivered twice is not a failure here: moto's receive is not atomic across
    /// concurrent long polls and now and then hands one message to two of them, which SQS FIFO queues do
    /// not; the second copy's frames are priced beyond the floor, and shown.
    pub fn is_clean(&self) -> bool {
        self.rows.iter().all(|row| {
            let report = &row.report;
            report.lost == 0
                && report.unexpected == 0
                && report.messages_sent == report.messages_planned
        })
    }
}

/// Measures every scenario of `options`, each on fresh servers; `root` is where moto's `.venv` is looked
/// for.
pub async fn run(options: &CostOptions, root: &Path) -> anyhow::Result<CostReport> {
    let mut rows = Vec::new();
    for scenario in &options.scenarios {
        eprintln!("{}…", scenario.name);
        rows.push(measure(scenario, options, root).await?);
    }
    Ok(CostReport {
        store: options.store,
        consumers: options.consumers,
        rows,
    })
}

/// A Redis started for one scenario, stopped when dropped.
enum Store {
    Cluster(RedisCluster),
    Standalone(RedisServer),
}

impl Store {
    async fn start(store: CostStore) -> anyhow::Result<Self> {
        Ok(match store {
            CostStore::Cluster => Self::Cluster(RedisCluster::start().await?),
            CostStore::Standalone => Self::Standalone(RedisServer::start().await?),
        })
    }

    fn nodes(&self) -> RedisNodes {
        match self {
            Self::Cluster(cluster) => RedisNodes(cluster.ports.clone()),
            Self::Standalone(server) => RedisNodes(vec![server.port]),
        }
    }
}

/// Measures one scenario on its own moto, Redis and gateway.
pub async fn measure(
    scenario: &Scenario,
    options: &CostOptions,
    root: &Path,
) -> anyhow::Result<Measured> {
    let moto = MotoServer::start(root).await?;
    let store = Store::start(options.store).await?;
    let (url, cluster) = match &store {
        Store::Cluster(cluster) => (cluster.url.clone(), true),
        Store::Standalone(server) => (server.url.clone(), false),
    };
    let meter = Arc::new(Meter::default());
    let settings = Settings {
        redis_url: Some(url),
        redis_cluster: cluster,
        sqs: Some(SqsSettings {
            endpoint: moto.url.clone(),
            command_queue_url: None,
            delivery_queue_url: None,
        }),
        consumers: options.consumers,
        rate_limits: RateLimits::Enforced,
        meter: Some(meter.clone()),
        ..Settings::default()
    };
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let gateway = chatty_local::start(listener, settings)
        .await
        .context("starting the gateway")?;
    let target = Target::parse(&gateway.ws_url())?;
    let measured = exchange(scenario, options, &target, &meter, &store.nodes()).await;
    gateway.stop();
    measured
}

/// Joins, reads the counters, sends, reads them again.
async fn exchange(
    scenario: &Scenario,
    options: &CostOptions,
    target: &Target,
    meter: &Meter,
    redis: &RedisNodes,
) -> anyhow::Result<Measured> {
    let plan = scenario.plan;
    let sending = Duration::from_secs_f64(plan.messages as f64 / scenario.rate);
    let config = LoadConfig {
        plan,
        rate: Some(scenario.rate),
        window: 2,
        body_bytes: BODY_BYTES,
        max_send: sending + Duration::from_secs(30),
        drain: Duration::from_secs(30),
        progress: options.progress,
    };
    let joined = Joined::open(target, &TokenSource::dev_token(target), &config).await?;
    quiet(meter).await;
    let (usage_before, redis_before) = (meter.usage(), redis.info().await?);
    let started = Instant::now();
    let (report, joined) = joined.exchange().await?;
    quiet(meter).await;
    let (usage_after, redis_after) = (meter.usage(), redis.info().await?);
    let window_secs = started.elapsed().as_secs_f64();
    joined.close().await;
    // The disconnects go through the queues too; let them settle before the servers go.
    quiet(meter).await;
    let usage = usage_after.since(&usage_before);
    let redis = redis_after.since(&redis_before);
    let sent = Sent {
        messages: report.messages_sent,
        frames: report.deliveries_expected,
    };
    let bill = Bill::of(&usage, &redis, sent, &options.prices);
    Ok(Measured {
        scenario: scenario.name.clone(),
        report,
        usage,
        redis,
        window_secs,
        bill,
    })
}

/// Waits until nothing billable but idle polling happened for [`QUIET`] (at most [`QUIET_LIMIT`]): every
/// message delivered and every batch settled.
async fn quiet(meter: &Meter) {
    let deadline = Instant::now() + QUIET_LIMIT;
    let mut last = activity(&meter.usage());
    loop {
        tokio::time::sleep(QUIET).await;
        let now = activity(&meter.usage());
        if now == last || Instant::now() > deadline {
            return;
        }
        last = now;
    }
}

/// Every count that moves only when something happens (empty receives move on their own).
fn activity(usage: &Usage) -> [u64; 12] {
    [
        usage.api.frames_in,
        usage.api.frames_out,
        usage.api.posts,
        usage.gateway.invocations,
        usage.registry.invocations,
        usage.sender.invocations,
        usage.commands.sent,
        usage.commands.received,
        usage.commands.delete_calls,
        usage.deliveries.sent,
        usage.deliveries.received,
        usage.deliveries.delete_calls,
    ]
}

impl Default for CostOptions {
    fn default() -> Self {
        Self {
            scenarios: scenarios(PEOPLE, MESSAGES, RATE),
            store: CostStore::Cluster,
            consumers: PRODUCTION_CONSUMERS,
            prices: US_EAST_1,
            progress: false,
        }
    }
}

impl fmt::Display for CostReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for row in &self.rows {
            write!(f, "{row}")?;
            writeln!(f)?;
        }
        writeln!(
            f,
            "{:<28} {:>10} {:>10} {:>9}",
            "scenario", "floor $/M", "total $/M", "× floor"
        )?;
        writeln!(f, "{}", "-".repeat(60))?;
        for row in &self.rows {
            writeln!(
                f,
                "{:<28} {:>10.3} {:>10.3} {:>8.2}×",
                row.scenario,
                row.bill.floor,
                row.bill.total,
                row.bill.ratio()
            )?;
        }
        writeln!(
            f,
            "\n$/M = US dollars per million messages sent (us-east-1 list prices, load/src/prices.rs); \
             floor = API Gateway's charge for the frames the messages were delivered as, measured in the \
             same run; Redis: {}, {} consumers per queue, per-person rates enforced",
            match self.store {
                CostStore::Cluster => "a three-master cluster",
                CostStore::Standalone => "one redis-server",
            },
            self.consumers
        )
    }
}

impl fmt::Display for Measured {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let report = &self.report;
        let per = |n: u64| {
            if report.messages_sent == 0 {
                0.0
            } else {
                n as f64 / report.messages_sent as f64
            }
        };
        writeln!(
            f,
            "{}: {} people, {} messages at {}/s; {:.0} s measured; lost/dup/unexpected {}/{}/{}",
            self.scenario,
            report.members,
            report.messages_sent,
            report.rate_per_sec.unwrap_or(0.0),
            self.window_secs,
            report.lost,
            report.duplicated,
            report.unexpected
        )?;
        writeln!(
            f,
            "{:<40} {:>12} {:<9} {:>10} {:>9}",
            "item", "per message", "unit", "$/M", "× floor"
        )?;
        writeln!(f, "{}", "-".repeat(84))?;
        let floor = self.bill.floor;
        for line in &self.bill.lines {
            writeln!(
                f,
                "{:<40} {:>12.4} {:<9} {:>10.4} {:>8.3}×",
                line.item,
                line.per_message,
                line.unit,
                line.dollars_per_million,
                if floor > 0.0 {
                    line.dollars_per_million / floor
                } else {
                    0.0
                }
            )?;
        }
        writeln!(
            f,
            "{:<40} {:>12} {:<9} {:>10.4} {:>8.3}×",
            "total",
            "",
            "",
            self.bill.total,
            self.bill.ratio()
        )?;
        let usage = &self.usage;
        for (name, queue, function) in [
            ("command", &usage.commands, &usage.registry),
            ("delivery", &usage.deliveries, &usage.sender),
        ] {
            writeln!(
                f,
                "  {name} queue, calls per message: send {:.2}, receive {:.2} (empty {:.2}), delete {:.2}; \
                 {:.2} messages per consumed batch",
                per(queue.send_calls),
                per(queue.receive_calls),
                per(queue.empty_receives),
                per(queue.delete_calls),
                if function.invocations == 0 {
                    0.0
                } else {
                    queue.received as f64 / function.invocations as f64
                },
            )?;
        }
        writeln!(
            f,
            "  Redis per message: {:.1} commands, {:.0} bytes in, {:.0} bytes out; @connections posts {:.2}",
            per(self.redis.commands()),
            per(self.redis.bytes_in),
            per(self.redis.bytes_out),
            per(usage.api.posts),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scenarios_are_rooms_of_2_10_and_100() {
        let sizes: Vec<(String, usize, usize)> = scenarios(100, 300, 10.0)
            .into_iter()
            .map(|s| (s.name, s.plan.members, s.plan.rooms))
            .collect();
        assert_eq!(
            sizes,
            [
                ("50 rooms of 2".to_owned(), 100, 50),
                ("10 rooms of 10".to_owned(), 100, 10),
                ("1 room of 100".to_owned(), 100, 1),
            ]
        );
        let small = scenarios(20, 30, 10.0);
        assert_eq!((small[0].plan.rooms, small[1].plan.rooms), (10, 2));
        assert_eq!(small[2].plan.members, 100);
    }
}
