//! `chatty-local`: runs the whole chat on one machine. See the crate docs in `lib.rs`.

use std::{net::SocketAddr, path::PathBuf, time::Duration};

use anyhow::Context;
use chatty_local::{start, ConnectionLimits, Settings};
use clap::Parser;
use tracing_subscriber::EnvFilter;

#[derive(Debug, Parser)]
#[command(
    version,
    about = "Chatty on one machine: the app, the WebSocket API and a local sign-in"
)]
struct Args {
    /// Address to listen on.
    #[arg(long, env = "CHATTY_ADDR", default_value = "127.0.0.1:8080")]
    addr: SocketAddr,
    /// The built app (trunk's output).
    #[arg(long, env = "CHATTY_DIST", default_value = "app/dist")]
    dist: PathBuf,
    /// Close connections with no client traffic after this many seconds (API Gateway: 600).
    #[arg(long, default_value_t = 600)]
    idle_timeout_secs: u64,
    /// Close every connection after this many seconds (API Gateway: 7200).
    #[arg(long, default_value_t = 7200)]
    max_connection_secs: u64,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .init();
    let args = Args::parse();
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
