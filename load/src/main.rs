//! `chatty-load`: the command line over the library (see `lib.rs`): `run`, `relay`, `gateway`, `bench`,
//! `cost`.

use std::{net::SocketAddr, path::PathBuf, process::ExitCode, time::Duration};

use chatty_load::{
    bench::{self, ServerKind, PRODUCTION_CONSUMERS},
    cost::{self, CostOptions, CostStore},
    generator::{self, IdlePool, LoadConfig},
    tally::Plan,
    target::Target,
    tokens::TokenSource,
};
use chatty_local::RateLimits;
use clap::{Parser, Subcommand};
use tracing_subscriber::EnvFilter;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Debug, Parser)]
#[command(
    version,
    about = "Load generator and benchmarks for Chatty (loopback targets only)"
)]
struct Args {
    #[command(subcommand)]
    command: Commands,
}

#[derive(Debug, Subcommand)]
enum Commands {
    /// Drive one server: N connections in R rooms send M messages; report latency, throughput, losses.
    Run(RunArgs),
    /// Serve the baseline relay (see the `relay` module docs for exactly what it does).
    Relay(ServeArgs),
    /// Serve Chatty's local gateway (no app) from this binary.
    Gateway(GatewayArgs),
    /// Run every scenario against Chatty and the relay, each in a child process, and print one table.
    Bench(BenchArgs),
    /// Measure what a message costs on AWS: every billable call counted, priced, per scenario.
    #[command(long_about = COST_ABOUT)]
    Cost(CostArgs),
}

const COST_ABOUT: &str = "\
Measure what a message costs on AWS: every billable call its path makes, counted, then priced.

Each scenario (rooms of 2, 10 and 100) starts its own moto_server (the SQS queues), its own Redis (a
three-master cluster by default) and Chatty's local gateway in this process in the production shape: SQS
FIFO queues consumed by 5 concurrent consumers each, posts through the AWS SDK's management client, every
per-person rate enforced. The people connect and join; then, between two readings of the counters, they
send at a person's pace (10 messages a second in all). Counted: API Gateway frames in and out (32 KB units)
and connection minutes; Lambda invocations (one per frame for the gateway, one per queue batch for the
registry and the sender) and their measured duration at the template's 256 MB; SQS requests by kind, empty
receives included (64 KB units); Redis commands and bytes (INFO), as an ECPU estimate.

Printed per scenario: each item per message and in US dollars per million messages sent (us-east-1 list
prices, the one table in load/src/prices.rs, with their sources), and everything as a multiple of the floor
measured in the same run: API Gateway's charge for the frames the messages were delivered as. Needs
redis-server, redis-cli and moto_server (scripts/setup test). Exits non-zero if a message was lost or
reached a room not its own (a message moto hands out twice is shown, and its second frames priced beyond
the floor).";

#[derive(Debug, clap::Args)]
struct RunArgs {
    /// The server's WebSocket URL (loopback only).
    #[arg(default_value = "ws://127.0.0.1:8080/ws")]
    url: String,
    /// Connections that join rooms and send.
    #[arg(short = 'n', long, default_value_t = 10)]
    connections: usize,
    /// Rooms; connections are spread over them round-robin.
    #[arg(short, long, default_value_t = 1)]
    rooms: usize,
    /// Messages to send in all.
    #[arg(short, long, default_value_t = 1_000)]
    messages: u64,
    /// Total messages per second; omit to send as fast as the server takes them.
    #[arg(long)]
    rate: Option<f64>,
    /// Unconfirmed messages per connection when the rate is unlimited.
    #[arg(long, default_value_t = 2)]
    window: usize,
    /// Message body length in bytes (at least 20).
    #[arg(long, default_value_t = 32)]
    body_bytes: usize,
    /// Idle connections to hold open beside the run.
    #[arg(long, default_value_t = 0)]
    idle: usize,
    /// Stop sending after this many seconds.
    #[arg(long, default_value_t = 30)]
    max_secs: u64,
    /// Wait at most this many seconds for deliveries after the last send.
    #[arg(long, default_value_t = 10)]
    drain_secs: u64,
    /// Connect without tokens (`?token=none`), e.g. to the relay. Default: the server's `/dev/token`.
    #[arg(long)]
    no_token: bool,
    /// Print the report as JSON instead of a table.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, clap::Args)]
struct ServeArgs {
    /// Address to listen on (loopback only; port 0 picks one).
    #[arg(long, default_value = "127.0.0.1:9001")]
    addr: SocketAddr,
    /// Stop after this many seconds (or when stdin closes).
    #[arg(long, default_value_t = 3_600)]
    max_secs: u64,
}

#[derive(Debug, clap::Args)]
struct GatewayArgs {
    #[command(flatten)]
    serve: ServeArgs,
    /// Keep the registry in this Redis (`redis://127.0.0.1:6379`) instead of in memory.
    #[arg(long)]
    redis_url: Option<String>,
    /// `--redis-url` is a seed node of a Redis Cluster.
    #[arg(long, requires = "redis_url")]
    redis_cluster: bool,
    /// Batches each queue's consumers run at once, as chatty-local's `--consumers`.
    #[arg(long, default_value_t = 1)]
    consumers: usize,
    /// Serve without the per-person rate limits (the caps stay), as `bench` does.
    #[arg(long, conflicts_with = "rate_limit_scale")]
    no_rate_limits: bool,
    /// Check the rates this many times over, as `bench`'s "rate checks" run does.
    #[arg(long)]
    rate_limit_scale: Option<u32>,
}

#[derive(Debug, clap::Args)]
struct BenchArgs {
    /// A tenth of the messages and idle connections: a trial run.
    #[arg(long)]
    quick: bool,
    /// Only the scenarios whose name contains this.
    #[arg(long)]
    only: Option<String>,
    /// The workspace root, where `app/dist` and `target/lambda` are looked for.
    #[arg(long, default_value = ".")]
    root: PathBuf,
    /// Print the results as JSON instead of a table.
    #[arg(long)]
    json: bool,
    /// Also measure the gateway of another build of chatty-load (e.g. an earlier commit's
    /// `target/release/chatty-load`, copied aside), in the same run: the table adds Chatty ÷ before.
    #[arg(long)]
    before: Option<PathBuf>,
    /// Measure every server this many times per scenario, in rotating order, and report the medians:
    /// a single run moves about 20 % on a shared two-core machine.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=9))]
    repeat: u32,
}

#[derive(Debug, clap::Args)]
struct CostArgs {
    /// Messages per scenario.
    #[arg(long, default_value_t = cost::MESSAGES)]
    messages: u64,
    /// Messages a second, across every room of a scenario.
    #[arg(long, default_value_t = cost::RATE)]
    rate: f64,
    /// People in the rooms of 2 and of 10 (the room of 100 always has 100).
    #[arg(long, default_value_t = cost::PEOPLE)]
    people: usize,
    /// Only the scenarios whose name contains this (e.g. "rooms of 10").
    #[arg(long)]
    only: Option<String>,
    /// Keep the registry in one redis-server instead of a three-master cluster.
    #[arg(long)]
    standalone: bool,
    /// Batches each queue's consumers run at once (template.yaml's MaximumConcurrency).
    #[arg(long, default_value_t = PRODUCTION_CONSUMERS)]
    consumers: usize,
    /// The workspace root, where moto_server is looked for in `.venv/bin` (else on PATH).
    #[arg(long, default_value = ".")]
    root: PathBuf,
    /// Print the results as JSON instead of tables.
    #[arg(long)]
    json: bool,
}

#[tokio::main]
async fn main() -> anyhow::Result<ExitCode> {
    bench::raise_fd_limit();
    let clean = match Args::parse().command {
        Commands::Run(args) => run(args).await?,
        Commands::Relay(args) => serve(ServerKind::Relay, args).await?,
        Commands::Gateway(args) => {
            let kind = ServerKind::Chatty {
                redis_url: args.redis_url,
                redis_cluster: args.redis_cluster,
                consumers: args.consumers,
                rate_limits: RateLimits::from_flags(args.no_rate_limits, args.rate_limit_scale),
            };
            serve(kind, args.serve).await?
        }
        Commands::Bench(args) => {
            let options = bench::BenchOptions {
                quick: args.quick,
                only: args.only,
                before: args.before,
                repeat: args.repeat,
                progress: !args.json,
            };
            let report = bench::run(&options, &args.root).await?;
            if args.json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                println!("{report}");
            }
            report.is_clean()
        }
        Commands::Cost(args) => {
            anyhow::ensure!(
                args.rate > 0.0 && args.messages > 0,
                "--rate and --messages must be above 0"
            );
            // What goes wrong in the pipeline (a failed poll, delete or post) shows on stderr.
            tracing_subscriber::fmt()
                .with_writer(std::io::stderr)
                .with_env_filter(
                    EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn")),
                )
                .init();
            let scenarios = cost::scenarios(args.people, args.messages, args.rate)
                .into_iter()
                .filter(|s| {
                    args.only
                        .as_deref()
                        .is_none_or(|only| s.name.contains(only))
                })
                .collect();
            let options = CostOptions {
                scenarios,
                store: if args.standalone {
                    CostStore::Standalone
                } else {
                    CostStore::Cluster
                },
                consumers: args.consumers,
                progress: !args.json,
                ..CostOptions::default()
            };
            let report = cost::run(&options, &args.root).await?;
            if args.json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                println!("{report}");
            }
            report.is_clean()
        }
    };
    Ok(if clean {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

async fn run(args: RunArgs) -> anyhow::Result<bool> {
    let target = Target::parse(&args.url)?;
    let tokens = if args.no_token {
        TokenSource::None
    } else {
        TokenSource::dev_token(&target)
    };
    let config = LoadConfig {
        plan: Plan {
            members: args.connections,
            rooms: args.rooms,
            messages: args.messages,
        },
        rate: args.rate,
        window: args.window,
        body_bytes: args.body_bytes,
        max_send: Duration::from_secs(args.max_secs),
        drain: Duration::from_secs(args.drain_secs),
        progress: !args.json,
    };
    let idle = IdlePool::open(&target, &tokens, args.idle).await?;
    let report = generator::run(&target, &tokens, &config).await;
    let idle_count = idle.len();
    idle.close().await;
    let mut report = report?;
    report.idle = idle_count;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{report}");
    }
    Ok(report.is_clean())
}

async fn serve(kind: ServerKind, args: ServeArgs) -> anyhow::Result<bool> {
    bench::serve(kind, args.addr, Duration::from_secs(args.max_secs)).await?;
    Ok(true)
}
