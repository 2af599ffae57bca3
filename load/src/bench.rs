//! The one-command benchmark: every scenario against Chatty's local gateway and against the bare relay,
//! each server a fresh child process (this same release binary, `chatty-load gateway` / `chatty-load
//! relay`) so that its CPU and memory are its own, then one table: scenario, Chatty, baseline, ratio.
//! Given another build of this binary (`--before`, e.g. an earlier commit's), its gateway is measured in
//! the same run too, and the table adds Chatty ÷ before: a change's effect, on the same machine state.
//!
//! The server's CPU per message is what the server child and its store's processes (`redis-server`, every
//! cluster master) spent on a CPU from the first send to the last delivery ([`crate::cpu`]), divided by
//! the messages sent: it moves less than throughput with how much of the two cores the load generator
//! took, though a server that keeps up wakes for fewer messages at a time, so it still moves with load.
//! A small cost (the rate checks) is therefore read at one offered load for both servers ([`Checks`]),
//! as the median of `--repeat` rounds' ratios ([`Runs::paired_median`]).
//!
//! Memory per idle connection is the server's `VmRSS` (from `/proc/PID/status`) after opening the idle
//! connections, minus before, divided by their number; a small warm-up pool is opened first so that
//! one-off costs (allocator arenas, the first task's stack) are not charged to the idle connections.

use std::{
    fmt,
    net::SocketAddr,
    path::{Path, PathBuf},
    process::Stdio,
    time::Duration,
};

use anyhow::{bail, Context};
use serde::Serialize;
use tokio::{
    io::{AsyncBufReadExt, BufReader},
    net::TcpListener,
    process::{Child, Command},
};

use chatty_local::RateLimits;

use crate::{
    cpu::Processes,
    generator::{IdlePool, Joined, LoadConfig},
    relay,
    report::Report,
    servers::{RedisCluster, RedisServer},
    sizes::Sizes,
    tally::Plan,
    target::{ensure_loopback_addr, Target},
    tokens::TokenSource,
};

/// Connections opened before measuring memory, so start-up costs are not charged to idle connections.
const WARM_UP_CONNECTIONS: usize = 50;
/// Time given to the server to settle after the idle connections opened, before reading its memory.
const SETTLE: Duration = Duration::from_millis(500);
/// Bound on a child server announcing its address.
const START_TIMEOUT: Duration = Duration::from_secs(20);
/// How many times over the rates are checked in the "rate checks" run: far above any scenario's load, so
/// nothing is refused and the run measures the checks alone.
pub const CHECKS_SCALE: u32 = 1_000_000;
/// The offered load the checks are measured at, as a share of the messages per second this build took
/// unlimited in the same round (a scenario with its own rate keeps it): below either server's limit, so
/// both runs carry the same messages at the same pace and wake alike, and the difference in CPU per
/// message is the checks'; and near the limit, where a message costs least, so the checks' share is not
/// flattered (at 60 % a message costs a third more CPU).
pub const CHECKS_LOAD: f64 = 0.8;
/// The line a server child prints once it listens.
const LISTENING: &str = "listening on ";

/// Which server a child process runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerKind {
    /// `chatty_local::start`, the full handler pipeline; the registry in memory, or in the Redis at
    /// this URL.
    /// Chatty's local gateway, with its rates off (`--no-rate-limits`: one load generator speaks for many
    /// people, far faster than any person) or checked [`CHECKS_SCALE`] times over.
    Chatty {
        redis_url: Option<String>,
        /// `redis_url` is a seed node of a Redis Cluster.
        redis_cluster: bool,
        /// Batches each queue's consumers run at once (`--consumers`).
        consumers: usize,
        rate_limits: RateLimits,
    },
    /// The baseline relay ([`crate::relay`]).
    Relay,
}

/// Raises this process's open-file limit to its hard limit: 2,000+ sockets on each side.
pub fn raise_fd_limit() -> u64 {
    rlimit::increase_nofile_limit(u64::MAX).unwrap_or(0)
}

/// Runs a server in this process on `addr` (loopback only), prints [`LISTENING`] and its WebSocket URL
/// on stdout, and serves until stdin closes (the parent benchmark went away) or `max_time` passes.
pub async fn serve(kind: ServerKind, addr: SocketAddr, max_time: Duration) -> anyhow::Result<()> {
    ensure_loopback_addr(addr)?;
    let listener = TcpListener::bind(addr)
        .await
        .with_context(|| format!("binding {addr}"))?;
    let parent_gone = async {
        let mut stdin = BufReader::new(tokio::io::stdin());
        let mut line = String::new();
        while stdin.read_line(&mut line).await.is_ok_and(|n| n > 0) {
            line.clear();
        }
    };
    match kind {
        ServerKind::Chatty {
            redis_url,
            redis_cluster,
            consumers,
            rate_limits,
        } => {
            let settings = chatty_local::Settings {
                redis_url,
                redis_cluster,
                consumers,
                rate_limits,
                ..chatty_local::Settings::default()
            };
            let running = chatty_local::start(listener, settings).await?;
            println!("{LISTENING}{}", running.ws_url());
            tokio::select! {
                () = parent_gone => {}
                () = tokio::time::sleep(max_time) => {}
            }
            running.stop();
        }
        ServerKind::Relay => {
            let running = relay::start(listener)?;
            println!("{LISTENING}{}", running.ws_url());
            tokio::select! {
                () = parent_gone => {}
                () = tokio::time::sleep(max_time) => {}
            }
            running.stop();
        }
    }
    Ok(())
}

/// A server running as a child of this process, stopped when dropped.
pub struct ChildServer {
    child: Child,
    pub target: Target,
    pub pid: u32,
}

impl ChildServer {
    /// Starts `kind` as `<program> gateway|relay --addr 127.0.0.1:0` and waits for its address;
    /// `program` is a build of this binary.
    pub async fn spawn(
        program: &Path,
        kind: &ServerKind,
        max_time: Duration,
    ) -> anyhow::Result<Self> {
        let (subcommand, redis, rate_limits) = match kind {
            ServerKind::Chatty {
                redis_url,
                rate_limits,
                ..
            } => ("gateway", redis_url.as_deref(), *rate_limits),
            ServerKind::Relay => ("relay", None, RateLimits::Enforced),
        };
        let mut command = Command::new(program);
        command
            .args([subcommand, "--addr", "127.0.0.1:0", "--max-secs"])
            .arg(max_time.as_secs().to_string());
        if let Some(url) = redis {
            command.args(["--redis-url", url]);
        }
        if let ServerKind::Chatty {
            redis_cluster,
            consumers,
            ..
        } = kind
        {
            if *redis_cluster {
                command.arg("--redis-cluster");
            }
            if *consumers > 1 {
                command.args(["--consumers", &consumers.to_string()]);
            }
        }
        match rate_limits {
            RateLimits::Enforced => {}
            RateLimits::Scaled(factor) => {
                command.args(["--rate-limit-scale", &factor.to_string()]);
            }
            RateLimits::Off => {
                command.arg("--no-rate-limits");
            }
        }
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("starting {}", program.display()))?;
        let pid = child.id().context("the child has no pid")?;
        let stdout = child.stdout.take().context("no stdout")?;
        let mut lines = BufReader::new(stdout).lines();
        let url = tokio::time::timeout(START_TIMEOUT, async {
            while let Some(line) = lines.next_line().await? {
                if let Some(url) = line.strip_prefix(LISTENING) {
                    return anyhow::Ok(url.to_owned());
                }
            }
            bail!("the {subcommand} child exited before listening")
        })
        .await
        .context("the server child did not start in time")??;
        Ok(Self {
            child,
            target: Target::parse(&url)?,
            pid,
        })
    }

    /// The child's resident memory, in KiB.
    pub fn rss_kib(&self) -> anyhow::Result<u64> {
        rss_kib(self.pid)
    }

    pub async fn stop(mut self) {
        drop(self.child.stdin.take());
        if tokio::time::timeout(Duration::from_secs(5), self.child.wait())
            .await
            .is_err()
        {
            let _ = self.child.kill().await;
        }
    }
}

/// `VmRSS` of a process, in KiB, from `/proc/PID/status`.
pub fn rss_kib(pid: u32) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .context("no VmRSS line")
}

/// Where Chatty keeps its registry in a scenario, and how its queues are consumed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Store {
    /// In memory; one in-order consumer per queue.
    Memory,
    /// One `redis-server` and [`PRODUCTION_CONSUMERS`] consumers per queue.
    Redis,
    /// A three-master Redis Cluster and [`PRODUCTION_CONSUMERS`] consumers per queue: the production shape.
    RedisCluster,
}

/// Consumers per queue in the production shape: the registry's `MaximumConcurrency` in template.yaml.
pub const PRODUCTION_CONSUMERS: usize = 5;

/// A store started for one measurement, stopped when dropped.
enum RunningStore {
    Memory,
    Redis(RedisServer),
    Cluster(RedisCluster),
}

impl RunningStore {
    async fn start(store: Store) -> anyhow::Result<Self> {
        Ok(match store {
            Store::Memory => Self::Memory,
            Store::Redis => Self::Redis(RedisServer::start().await?),
            Store::RedisCluster => Self::Cluster(RedisCluster::start().await?),
        })
    }

    /// The gateway serving on this store.
    fn chatty(&self, rate_limits: RateLimits) -> ServerKind {
        let (redis_url, redis_cluster, consumers) = match self {
            Self::Memory => (None, false, 1),
            Self::Redis(server) => (Some(server.url.clone()), false, PRODUCTION_CONSUMERS),
            Self::Cluster(cluster) => (Some(cluster.url.clone()), true, PRODUCTION_CONSUMERS),
        };
        ServerKind::Chatty {
            redis_url,
            redis_cluster,
            consumers,
            rate_limits,
        }
    }

    /// Stops the store's processes and waits until they are gone.
    async fn stop(self) {
        match self {
            Self::Memory => {}
            Self::Redis(server) => server.stop().await,
            Self::Cluster(cluster) => cluster.stop().await,
        }
    }

    /// The store's own processes, whose CPU is the server's too.
    fn processes(&self) -> Vec<u32> {
        match self {
            Self::Memory => Vec::new(),
            Self::Redis(server) => vec![server.pid],
            Self::Cluster(cluster) => cluster.pids.clone(),
        }
    }
}

/// One row group of the table.
#[derive(Debug, Clone)]
pub struct Scenario {
    pub name: &'static str,
    pub plan: Plan,
    pub rate: Option<f64>,
    /// Idle connections held open (and measured) while the plan runs.
    pub idle: usize,
    /// Where Chatty keeps its registry (the baseline has no store either way).
    pub store: Store,
    /// The in-memory scenario with the same traffic, which a Redis row is compared with ("vs memory").
    pub memory_twin: Option<&'static str>,
}

const ROOM_OF_100: &str = "1 room of 100, all sending, unlimited";
const ROOMS_OF_10: &str = "100 rooms of 10, all sending, unlimited";
const IDLE: &str = "2,000 idle + 1 room of 100, unlimited";

/// The scenarios of issues 7 and 16: each traffic in memory (one in-order consumer per queue), and again
/// on Redis with the production topology's concurrency (5 consumers per queue): on one `redis-server`, and
/// on a three-master cluster (the production shape). `quick` cuts messages and idle connections tenfold
/// for a trial run.
pub fn scenarios(quick: bool) -> Vec<Scenario> {
    let cut = |n: u64| if quick { n / 10 } else { n };
    let room_of_100 = Plan {
        members: 100,
        rooms: 1,
        messages: cut(3_000),
    };
    let rooms_of_10 = Plan {
        members: 1_000,
        rooms: 100,
        messages: cut(50_000),
    };
    let idle = if quick { 200 } else { 2_000 };
    let scenario = |name, plan, idle, store, memory_twin| Scenario {
        name,
        plan,
        rate: None,
        idle,
        store,
        memory_twin,
    };
    vec![
        scenario(ROOM_OF_100, room_of_100, 0, Store::Memory, None),
        Scenario {
            name: "1 room of 100 at 1,000 deliveries/s",
            plan: Plan {
                messages: 60,
                ..room_of_100
            },
            rate: Some(10.0),
            idle: 0,
            store: Store::Memory,
            memory_twin: None,
        },
        scenario(ROOMS_OF_10, rooms_of_10, 0, Store::Memory, None),
        scenario(IDLE, room_of_100, idle, Store::Memory, None),
        scenario(
            "Redis, 5 consumers: 1 room of 100",
            room_of_100,
            0,
            Store::Redis,
            Some(ROOM_OF_100),
        ),
        scenario(
            "Redis, 5 consumers: 100 rooms of 10",
            rooms_of_10,
            0,
            Store::Redis,
            Some(ROOMS_OF_10),
        ),
        scenario(
            "Cluster, 5 consumers: 1 room of 100",
            room_of_100,
            0,
            Store::RedisCluster,
            Some(ROOM_OF_100),
        ),
        scenario(
            "Cluster, 5 consumers: 100 rooms of 10",
            rooms_of_10,
            0,
            Store::RedisCluster,
            Some(ROOMS_OF_10),
        ),
        scenario(
            "Redis, 5 consumers: 2,000 idle + 100",
            room_of_100,
            idle,
            Store::Redis,
            Some(IDLE),
        ),
    ]
}

/// One scenario on one server.
#[derive(Debug, Clone, Serialize)]
pub struct Measured {
    pub report: Report,
    /// Microseconds the server and its store spent on a CPU per message sent, from the first send to the
    /// last delivery.
    pub cpu_us_per_message: f64,
    /// Resident memory per idle connection, in KiB, when the scenario holds idle connections.
    pub kib_per_idle: Option<f64>,
}

/// Every measurement of one scenario on one server ([`BenchOptions::repeat`] of them); the table shows
/// their medians.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(transparent)]
pub struct Runs(pub Vec<Measured>);

impl Runs {
    /// The median of `value` over the runs (of the middle two, their mean), if every run has it.
    pub fn median(&self, value: fn(&Measured) -> Option<f64>) -> Option<f64> {
        median(self.0.iter().map(value).collect::<Option<Vec<f64>>>()?)
    }

    /// The median over the rounds of `value` in this server's run ÷ in `other`'s run of the same round,
    /// if every run has it: two servers compared round by round, so a drift of the machine between rounds
    /// (runs minutes apart move ±10 %) falls out of the ratio instead of into it.
    pub fn paired_median(&self, other: &Runs, value: fn(&Measured) -> Option<f64>) -> Option<f64> {
        if self.0.len() != other.0.len() {
            return None;
        }
        let ratios = self
            .0
            .iter()
            .zip(&other.0)
            .map(|(mine, theirs)| Some(value(mine)? / value(theirs)?))
            .collect::<Option<Vec<f64>>>()?;
        median(ratios.into_iter().filter(|r| r.is_finite()).collect())
    }

    /// Nothing lost, duplicated or misdelivered in any run.
    pub fn is_clean(&self) -> bool {
        self.0.iter().all(|m| m.report.is_clean())
    }
}

/// The median of `values` (of the middle two, their mean), if there are any.
fn median(mut values: Vec<f64>) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let middle = values.len() / 2;
    Some(if values.len() % 2 == 1 {
        values[middle]
    } else {
        (values[middle - 1] + values[middle]) / 2.0
    })
}

/// One scenario on both servers (and on the `--before` build's gateway, when given).
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub scenario: String,
    /// The in-memory scenario of the same traffic ([`Scenario::memory_twin`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory_twin: Option<String>,
    pub chatty: Runs,
    /// What the rate checks cost, at one offered load per round.
    pub checks: Checks,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub before: Option<Runs>,
    pub baseline: Runs,
}

/// This build with and without the rate checks (checked [`CHECKS_SCALE`] times over), both at the same
/// offered load in each round ([`CHECKS_LOAD`]): `checked ÷ unchecked` is what the checks cost. Unlimited,
/// a costlier server also takes fewer messages at a time on each wake-up, which adds to its CPU per message
/// a cost that is the load's, not the checks': on one `redis-server`'s rooms of 10, seven unlimited rounds
/// read 0.96–1.19× where five rounds at equal load read 1.04–1.06×.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Checks {
    /// Each round's offered load, messages per second.
    pub rates: Vec<f64>,
    pub unchecked: Runs,
    pub checked: Runs,
}

/// Everything the benchmark measured.
#[derive(Debug, Clone, Serialize)]
pub struct BenchReport {
    pub rows: Vec<Row>,
    /// Runs per server and scenario.
    pub repeat: u32,
    pub sizes: Sizes,
}

/// Runs `scenario` against a fresh `kind` server run by `program`, whose store (if any) runs as
/// `store_processes`.
pub async fn measure(
    program: &Path,
    kind: &ServerKind,
    store_processes: Vec<u32>,
    scenario: &Scenario,
    progress: bool,
) -> anyhow::Result<Measured> {
    let server = ChildServer::spawn(program, kind, Duration::from_secs(600)).await?;
    let processes = Processes([vec![server.pid], store_processes].concat());
    let tokens = match kind {
        ServerKind::Chatty { .. } => TokenSource::dev_token(&server.target),
        ServerKind::Relay => TokenSource::None,
    };
    let mut kib_per_idle = None;
    let mut pools = Vec::new();
    if scenario.idle > 0 {
        pools.push(IdlePool::open(&server.target, &tokens, WARM_UP_CONNECTIONS).await?);
        tokio::time::sleep(SETTLE).await;
        let before = server.rss_kib()?;
        let idle = IdlePool::open(&server.target, &tokens, scenario.idle).await?;
        tokio::time::sleep(SETTLE).await;
        let after = server.rss_kib()?;
        kib_per_idle = Some(after.saturating_sub(before) as f64 / idle.len() as f64);
        pools.push(idle);
    }
    let config = LoadConfig {
        rate: scenario.rate,
        progress,
        ..LoadConfig::unlimited(scenario.plan)
    };
    let measured = async {
        let joined = Joined::open(&server.target, &tokens, &config).await?;
        let cpu_before = processes.cpu_ns()?;
        let (mut report, joined) = joined.exchange().await?;
        let cpu_ns = processes.cpu_ns()?.saturating_sub(cpu_before);
        joined.close().await;
        report.idle = scenario.idle;
        anyhow::Ok(Measured {
            cpu_us_per_message: cpu_ns as f64 / 1000.0 / report.messages_sent.max(1) as f64,
            report,
            kib_per_idle,
        })
    }
    .await;
    for pool in pools {
        pool.close().await;
    }
    server.stop().await;
    measured
}

/// What to run and how to report it.
#[derive(Debug, Clone, Default)]
pub struct BenchOptions {
    /// A tenth of the messages and idle connections: a trial run.
    pub quick: bool,
    /// Only the scenarios whose name contains this.
    pub only: Option<String>,
    /// Another build of this binary whose gateway is measured too, as "before".
    pub before: Option<PathBuf>,
    /// Runs per server and scenario (at least one), in rotating order (each round starts one server
    /// later): the table shows medians.
    pub repeat: u32,
    /// Show the generator's progress bars.
    pub progress: bool,
}

/// Runs every scenario (or those `options.only` names) on every server, then measures the sizes of what
/// is built under `root`.
pub async fn run(options: &BenchOptions, root: &Path) -> anyhow::Result<BenchReport> {
    let this = std::env::current_exe()?;
    let repeat = options.repeat.max(1);
    let mut rows = Vec::new();
    for scenario in scenarios(options.quick) {
        if options
            .only
            .as_deref()
            .is_some_and(|only| !scenario.name.contains(only))
        {
            continue;
        }
        let before = options.before.as_ref();
        let mut servers = vec![Server::Chatty];
        servers.extend(before.map(|_| Server::Before));
        servers.push(Server::Baseline);
        let mut row = Row {
            scenario: scenario.name.to_owned(),
            memory_twin: scenario.memory_twin.map(str::to_owned),
            chatty: Runs::default(),
            checks: Checks::default(),
            before: before.map(|_| Runs::default()),
            baseline: Runs::default(),
        };
        // Each round starts one server later, so that every server takes every place in the order (with as
        // many rounds as servers): a drift in the machine's state during the scenario (another process,
        // the page cache), or what one run leaves to the next, falls on each alike. (Alternating the order
        // kept a middle server in the middle, after another gateway on Redis in two rounds of three.)
        for round in 0..repeat {
            let mut order = servers.clone();
            order.rotate_left(round as usize % servers.len());
            for server in order {
                let measured = server
                    .measure(&scenario, &this, before, options.progress)
                    .await?;
                let runs = match server {
                    Server::Chatty => &mut row.chatty,
                    Server::Checked => &mut row.checks.checked,
                    Server::Before => row.before.get_or_insert_with(Runs::default),
                    Server::Baseline => &mut row.baseline,
                };
                runs.0.push(measured);
            }
            // The checks' pair, at one load, in alternating order.
            let rate = checks_rate(&scenario, &row.chatty.0[round as usize].report);
            let at_load = Scenario {
                rate: Some(rate),
                ..scenario.clone()
            };
            let mut pair = [Server::Chatty, Server::Checked];
            if round % 2 == 1 {
                pair.reverse();
            }
            for server in pair {
                let measured = server
                    .measure(&at_load, &this, before, options.progress)
                    .await?;
                let runs = match server {
                    Server::Checked => &mut row.checks.checked,
                    _ => &mut row.checks.unchecked,
                };
                runs.0.push(measured);
            }
            row.checks.rates.push(rate);
        }
        rows.push(row);
    }
    Ok(BenchReport {
        rows,
        repeat,
        sizes: Sizes::measure(root),
    })
}

/// The messages per second the checks' pair is offered: the scenario's own rate, else [`CHECKS_LOAD`] of
/// what this build took in the round's `unlimited` run.
fn checks_rate(scenario: &Scenario, unlimited: &Report) -> f64 {
    scenario.rate.unwrap_or_else(|| {
        CHECKS_LOAD * unlimited.messages_sent as f64 / unlimited.elapsed_secs.max(1e-3)
    })
}

/// The servers a scenario is measured on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Server {
    /// This build's gateway, serving with `--no-rate-limits`.
    Chatty,
    /// This build's gateway with the rates checked far above the load: what the checks cost.
    Checked,
    /// The `--before` build's gateway with `--no-rate-limits` too, so the two compare alike (it must know
    /// the flag).
    Before,
    /// The relay.
    Baseline,
}

impl Server {
    /// One measurement of `scenario` on this server, a gateway on a fresh store (so none inherits
    /// another's keys).
    async fn measure(
        self,
        scenario: &Scenario,
        this: &Path,
        before: Option<&PathBuf>,
        progress: bool,
    ) -> anyhow::Result<Measured> {
        let (label, program, rate_limits) = match self {
            Self::Chatty => ("Chatty", this, RateLimits::Off),
            Self::Checked => (
                "Chatty with rate checks",
                this,
                RateLimits::Scaled(CHECKS_SCALE),
            ),
            Self::Before => (
                "before",
                before.context("no --before build")?.as_path(),
                RateLimits::Off,
            ),
            Self::Baseline => {
                eprintln!("{}: baseline…", scenario.name);
                return measure(this, &ServerKind::Relay, Vec::new(), scenario, progress).await;
            }
        };
        match scenario.rate {
            Some(rate) => eprintln!("{}: {label} at {rate:.0} messages/s…", scenario.name),
            None => eprintln!("{}: {label}…", scenario.name),
        }
        let store = RunningStore::start(scenario.store).await?;
        let kind = store.chatty(rate_limits);
        let measured = measure(program, &kind, store.processes(), scenario, progress).await;
        store.stop().await;
        measured
    }
}

impl BenchReport {
    /// Every run of every scenario lost, duplicated and misdelivered nothing.
    pub fn is_clean(&self) -> bool {
        self.rows.iter().all(|r| {
            r.chatty.is_clean()
                && r.checks.unchecked.is_clean()
                && r.checks.checked.is_clean()
                && r.baseline.is_clean()
                && r.before.as_ref().is_none_or(Runs::is_clean)
        })
    }
}

/// One line of a scenario's rows in the table.
struct Metric {
    name: &'static str,
    /// The measurement, if the scenario has it.
    value: fn(&Measured) -> Option<f64>,
    decimals: usize,
}

const METRICS: &[Metric] = &[
    Metric {
        name: "deliveries/s",
        value: |m| Some(m.report.deliveries_per_sec),
        decimals: 0,
    },
    Metric {
        name: "server CPU µs/msg",
        value: |m| Some(m.cpu_us_per_message),
        decimals: 1,
    },
    Metric {
        name: "p50 latency (ms)",
        value: |m| Some(m.report.latency_ms.p50),
        decimals: 2,
    },
    Metric {
        name: "p99 latency (ms)",
        value: |m| Some(m.report.latency_ms.p99),
        decimals: 2,
    },
    Metric {
        name: "p99.9 latency (ms)",
        value: |m| Some(m.report.latency_ms.p99_9),
        decimals: 2,
    },
    Metric {
        name: "max latency (ms)",
        value: |m| Some(m.report.latency_ms.max),
        decimals: 2,
    },
    Metric {
        name: "KiB per idle conn",
        value: |m| m.kib_per_idle,
        decimals: 1,
    },
];

impl fmt::Display for BenchReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let with_before = self.rows.iter().any(|r| r.before.is_some());
        let twin = |row: &Row| {
            let name = row.memory_twin.as_deref()?;
            self.rows.iter().find(|r| r.scenario == name)
        };
        let with_twins = self.rows.iter().any(|r| twin(r).is_some());
        let ratio = |a: f64, b: f64| {
            if b > 0.0 {
                format!("{:.2}×", a / b)
            } else {
                "-".to_owned()
            }
        };
        write!(f, "{:<42} {:<22} {:>12}", "scenario", "metric", "Chatty")?;
        if with_before {
            write!(f, " {:>12}", "before")?;
        }
        write!(f, " {:>12} {:>8} {:>8}", "baseline", "ratio", "checks")?;
        if with_before {
            write!(f, " {:>10}", "vs before")?;
        }
        if with_twins {
            write!(f, " {:>10}", "vs memory")?;
        }
        writeln!(f)?;
        let width = 109 + if with_before { 24 } else { 0 } + if with_twins { 11 } else { 0 };
        writeln!(f, "{}", "-".repeat(width))?;
        for row in &self.rows {
            let servers: Vec<&Runs> = [Some(&row.chatty), row.before.as_ref(), Some(&row.baseline)]
                .into_iter()
                .flatten()
                .collect();
            let mut first = true;
            for &Metric {
                name: metric,
                value,
                decimals,
            } in METRICS
            {
                let Some(values) = servers
                    .iter()
                    .map(|runs| runs.median(value))
                    .collect::<Option<Vec<f64>>>()
                else {
                    continue;
                };
                let scenario = if first { row.scenario.as_str() } else { "" };
                first = false;
                write!(f, "{scenario:<42} {metric:<22}")?;
                for (i, value) in values.iter().enumerate() {
                    if i == 1 && with_before && row.before.is_none() {
                        write!(f, " {:>12}", "-")?;
                    }
                    write!(f, " {value:>12.decimals$}")?;
                }
                let (chatty, baseline) = (values[0], values[values.len() - 1]);
                write!(f, " {:>8}", ratio(chatty, baseline))?;
                // Two builds of the gateway, compared round by round.
                let paired = |mine: &Runs, theirs: &Runs| match mine.paired_median(theirs, value) {
                    Some(ratio) => format!("{ratio:.2}×"),
                    None => "-".to_owned(),
                };
                write!(
                    f,
                    " {:>8}",
                    paired(&row.checks.checked, &row.checks.unchecked)
                )?;
                if let Some(before) = &row.before {
                    write!(f, " {:>10}", paired(&row.chatty, before))?;
                } else if with_before && with_twins {
                    write!(f, " {:>10}", "")?;
                }
                if let Some(memory) = twin(row).and_then(|twin| twin.chatty.median(value)) {
                    write!(f, " {:>10}", ratio(chatty, memory))?;
                }
                writeln!(f)?;
            }
            write!(f, "{:<42} {:<22}", "", "lost/dup/unexpected")?;
            for runs in &servers {
                let sum = |count: fn(&Report) -> u64| -> u64 {
                    runs.0.iter().map(|m| count(&m.report)).sum()
                };
                write!(
                    f,
                    " {:>12}",
                    format!(
                        "{}/{}/{}",
                        sum(|r| r.lost),
                        sum(|r| r.duplicated),
                        sum(|r| r.unexpected)
                    )
                )?;
            }
            writeln!(f)?;
        }
        writeln!(
            f,
            "\nratio = Chatty ÷ baseline (higher is better for deliveries/s, lower for the rest); Chatty serves \
             with --no-rate-limits (a load generator is many people at a script's pace; the caps stay); \
             checks = Chatty checking every rate {CHECKS_SCALE} times over (--rate-limit-scale) ÷ Chatty, \
             two more runs of the same build at one offered load, {:.0} % of the messages/s Chatty took \
             unlimited in the round (a scenario with a rate at its rate): what the checks cost, read on the \
             server CPU row; checks and vs before are the median of each round's ratio (runs of one round \
             are minutes apart at most); server CPU = what the server and its store's processes spent on a \
             CPU from the first send to the last delivery, per message sent{}; {}{}\n",
            CHECKS_LOAD * 100.0,
            if with_before { "; vs before = Chatty ÷ before" } else { "" },
            if self.repeat > 1 {
                format!(
                    "each figure the median of {} runs in rotating order, lost/dup/unexpected their sum",
                    self.repeat
                )
            } else {
                "one run each".to_owned()
            },
            if with_twins {
                "; vs memory = Chatty on Redis ÷ Chatty in memory with the same traffic (its first row \
                 above); Redis = one redis-server, Cluster = a three-master Redis Cluster (the \
                 production shape); in memory one in-order consumer per queue"
            } else {
                ""
            }
        )?;
        write!(f, "{}", self.sizes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn measured(deliveries_per_sec: f64) -> Measured {
        Measured {
            report: Report {
                target: "ws://127.0.0.1:1/ws".to_owned(),
                members: 1,
                rooms: 1,
                idle: 0,
                messages_planned: 1,
                messages_sent: 1,
                rate_per_sec: None,
                deliveries_expected: 1,
                delivered: 1,
                lost: 0,
                duplicated: 0,
                unexpected: 0,
                elapsed_secs: 1.0,
                deliveries_per_sec,
                latency_ms: crate::report::Latency::default(),
                send_timed_out: false,
            },
            cpu_us_per_message: 1.0,
            kib_per_idle: None,
        }
    }

    /// The table shows each server's middle run: the middle one of an odd number, the mean of the middle
    /// two of an even number; a figure some run lacks is not shown.
    #[test]
    fn the_table_shows_the_median_run() {
        let runs = |values: &[f64]| Runs(values.iter().copied().map(measured).collect());
        let rate = |m: &Measured| Some(m.report.deliveries_per_sec);
        assert_eq!(runs(&[30.0, 10.0, 20.0]).median(rate), Some(20.0));
        assert_eq!(runs(&[40.0, 10.0, 30.0, 20.0]).median(rate), Some(25.0));
        assert_eq!(runs(&[7.0]).median(rate), Some(7.0));
        assert_eq!(runs(&[]).median(rate), None);
        assert_eq!(runs(&[1.0, 2.0]).median(|m| m.kib_per_idle), None);
    }

    /// The checks' two runs carry 80 % of the messages per second the unlimited run took in the same round;
    /// a scenario with its own rate keeps it.
    #[test]
    fn checks_run_at_most_of_the_rounds_unlimited_load() {
        let mut unlimited = measured(1.0).report;
        (unlimited.messages_sent, unlimited.elapsed_secs) = (50_000, 2.5);
        let scenarios = scenarios(false);
        let rooms_of_10 = scenarios.iter().find(|s| s.name == ROOMS_OF_10).unwrap();
        assert_eq!(checks_rate(rooms_of_10, &unlimited), 16_000.0);
        let at_1000_per_sec = scenarios.iter().find(|s| s.rate.is_some()).unwrap();
        assert_eq!(checks_rate(at_1000_per_sec, &unlimited), 10.0);
    }

    /// Two gateways are compared round by round: a machine that slows between rounds moves both runs of a
    /// round alike, and the median of the rounds' ratios keeps it out (the ratio of the medians would read
    /// twice the cost here).
    #[test]
    fn checks_compare_each_round_with_itself() {
        let runs = |values: &[f64]| Runs(values.iter().copied().map(measured).collect());
        let rate = |m: &Measured| Some(m.report.deliveries_per_sec);
        let chatty = runs(&[10.0, 20.0, 40.0]);
        let checked = runs(&[10.0, 40.0, 44.0]);
        assert_eq!(checked.paired_median(&chatty, rate), Some(1.1));
        assert_eq!(
            checked.median(rate).unwrap() / chatty.median(rate).unwrap(),
            2.0
        );
        assert_eq!(runs(&[1.0]).paired_median(&chatty, rate), None);
        assert_eq!(runs(&[]).paired_median(&runs(&[]), rate), None);
    }
}
