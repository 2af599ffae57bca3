//! `chatty-local`: runs the whole chat on one machine. See the crate docs in `lib.rs`.

use std::{net::SocketAddr, path::PathBuf, time::Duration};

use anyhow::Context;
use chatty_local::{start, ConnectionLimits, RateLimits, Settings, SqsSettings};
use clap::Parser;
use tracing_subscriber::EnvFilter;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Debug, Parser)]
#[command(
    version,
    about = "Chatty on one machine: the app, the WebSocket API and a local sign-in"
)]
struct Args {
    /// Address to listen on. Loopback only (127.0.0.1, [::1]) unless --insecure-listen is given.
    #[arg(long, env = "CHATTY_ADDR", default_value = "127.0.0.1:8080")]
    addr: SocketAddr,
    /// Allow an --addr beyond loopback (e.g. 0.0.0.0:8080). INSECURE: anyone who can reach the address can
    /// mint a token for any name at POST /dev/token and chat as anyone; use it only on a network where you
    /// trust everyone.
    #[arg(long, env = "CHATTY_INSECURE_LISTEN")]
    insecure_listen: bool,
    /// The built app (trunk's output).
    #[arg(long, env = "CHATTY_DIST", default_value = "app/dist")]
    dist: PathBuf,
    /// Close connections with no client traffic after this many seconds (API Gateway: 600).
    #[arg(long, default_value_t = 600)]
    idle_timeout_secs: u64,
    /// Close every connection after this many seconds (API Gateway: 7200).
    #[arg(long, default_value_t = 7200)]
    max_connection_secs: u64,
    /// Keep the registry in Redis (`redis://host:port`, `rediss://…` for TLS) instead of in memory.
    #[arg(long, env = "REDIS_URL")]
    redis_url: Option<String>,
    /// --redis-url is a seed node of a Redis Cluster (cluster mode, as ElastiCache Serverless is): the
    /// client learns the slots from it and follows them.
    #[arg(long, env = "CHATTY_REDIS_CLUSTER", requires = "redis_url")]
    redis_cluster: bool,
    /// Run the queues through SQS at this endpoint (e.g. moto: `http://127.0.0.1:5000`) and post through the
    /// AWS SDK's management API client to this gateway's `@connections`, as on AWS. Credentials and region
    /// come from the usual `AWS_*` variables.
    #[arg(long, env = "CHATTY_AWS_ENDPOINT")]
    aws_endpoint: Option<String>,
    /// The command queue's URL (with --aws-endpoint); created as the FIFO queue `chatty-commands.fifo` when not given.
    #[arg(long, env = "COMMAND_QUEUE_URL", requires = "aws_endpoint")]
    command_queue_url: Option<String>,
    /// The delivery queue's URL (with --aws-endpoint); created as the FIFO queue `chatty-deliveries.fifo` when not given.
    #[arg(long, env = "DELIVERY_QUEUE_URL", requires = "aws_endpoint")]
    delivery_queue_url: Option<String>,
    /// Keep the sign-in's signing key in this PEM file (created, owner-only, if missing), so restarting on
    /// the same address keeps everyone signed in. Without it, every start makes a new key.
    #[arg(long, env = "CHATTY_SIGNING_KEY")]
    signing_key: Option<PathBuf>,
    /// Turn the per-person rate limits off (the caps on rooms, connections and members stay). For
    /// benchmarks only: never on a chat people use.
    #[arg(
        long,
        env = "CHATTY_NO_RATE_LIMITS",
        conflicts_with = "rate_limit_scale"
    )]
    no_rate_limits: bool,
    /// Check the per-person rates as always, but each this many times over (burst and refill), so a
    /// benchmark measures what the checks cost without being refused. For benchmarks only.
    #[arg(long, env = "CHATTY_RATE_LIMIT_SCALE", value_name = "FACTOR", value_parser = clap::value_parser!(u32).range(1..))]
    rate_limit_scale: Option<u32>,
    /// Run up to this many batches (of up to 10 messages) at once on each queue, as AWS runs several
    /// registry and sender invocations at once. Above 1 the queues hand out messages by group, as SQS FIFO
    /// queues do (a connection's commands in order; a room's deliveries in order). 1 is one in-order
    /// consumer per queue. Over SQS (--aws-endpoint), order per group needs FIFO queues.
    #[arg(long, env = "CHATTY_CONSUMERS", default_value_t = 1)]
    consumers: usize,
    /// Deterministic faults from this seed: queue messages reordered within a window, about 2 % handed out
    /// twice, about 1 % of batches failing and coming back after --visibility-timeout-ms, about 1 % of
    /// posts answering 429 or 500. For testing the chat as AWS runs it; never on a chat people use.
    #[arg(long, env = "CHATTY_CHAOS", value_name = "SEED")]
    chaos: Option<u64>,
    /// How long a failed queue message stays away before it is handed out again (default 1000, 500 under
    /// --chaos). In-memory queues only: SQS queues keep their own visibility timeout.
    #[arg(long, env = "CHATTY_VISIBILITY_TIMEOUT_MS")]
    visibility_timeout_ms: Option<u64>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .init();
    let args = Args::parse();
    // Refused before binding, so a refused address is never open, even for a moment.
    chatty_local::security::reach(args.addr, args.insecure_listen)?;
    let listener = tokio::net::TcpListener::bind(args.addr)
        .await
        .with_context(|| format!("binding {}", args.addr))?;
    let running = start(
        listener,
        Settings {
            dist: Some(args.dist.clone()),
            limits: ConnectionLimits {
                idle: Duration::from_secs(args.idle_timeout_secs),
                max_connection: Duration::from_secs(args.max_connection_secs),
            },
            redis_url: args.redis_url,
            redis_cluster: args.redis_cluster,
            sqs: args.aws_endpoint.map(|endpoint| SqsSettings {
                endpoint,
                command_queue_url: args.command_queue_url,
                delivery_queue_url: args.delivery_queue_url,
            }),
            signing_key: args.signing_key,
            rate_limits: RateLimits::from_flags(args.no_rate_limits, args.rate_limit_scale),
            consumers: args.consumers,
            chaos: args.chaos,
            visibility_timeout: args.visibility_timeout_ms.map(Duration::from_millis),
            insecure_listen: args.insecure_listen,
            meter: None,
        },
    )
    .await?;
    tracing::info!(
        "Chatty is running at {} (app from {})",
        running.http_url(),
        args.dist.display()
    );
    tokio::select! {
        () = running.wait() => {}
        _ = tokio::signal::ctrl_c() => tracing::info!("stopping"),
    }
    Ok(())
}
