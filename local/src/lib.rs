//! `chatty-local`: the whole chat in one process, running the same handler code as the Lambdas.
//!
//! # Layout
//! - [`websocket`]: `GET /ws?token=…`, the API Gateway WebSocket stand-in (authorizer, connection ids,
//!   `$connect`/`$disconnect`, routing frames to the gateway handler, API Gateway's limits).
//! - [`chaos`]: `--chaos SEED`, deterministic faults (reordered, duplicated and failed queue messages,
//!   failed posts) to run the chat as AWS runs it.
//! - [`connections`]: the connection table; the in-process [`lambdas::ports::Pusher`].
//! - [`management`]: the `@connections` HTTP API in API Gateway's shape.
//! - [`pipeline`]: the command and delivery queues and their consumers (registry and sender handlers): in
//!   memory by default, over Redis ([`Settings::redis_url`]) and SQS + the management API
//!   ([`Settings::sqs`]) to run the production adapters end to end.
//! - [`signin`]: the Cognito Hosted UI stand-in and `POST /dev/token`; never part of an AWS build.
//! - [`kick`]: `POST /dev/kick`, signing a person out everywhere (the local `cargo xtask kick`).
//! - [`spa`]: the built app, `/config.json`, and a helpful page when the app is not built.
//! - [`security`]: what keeps the gateway to this machine: loopback only unless `--insecure-listen`, the
//!   `Host` check every request passes first (DNS rebinding protection), and CloudFront's security headers
//!   and Content-Security-Policy on every response.
//!
//! [`start`] takes a bound listener and its settings, and returns a handle to stop it: tests start as many
//! gateways as they like on ephemeral ports.

pub mod chaos;
pub mod connections;
pub mod kick;
pub mod management;
pub mod pipeline;
pub mod security;
pub mod signin;
pub mod spa;
pub mod websocket;

use std::{net::SocketAddr, path::PathBuf, sync::Arc, time::Duration};

use axum::{
    middleware,
    routing::{get, post},
    Router,
};
use lambdas::{
    adapters::redis::Topology,
    auth::{IdTokenVerifier, StaticKeys, VerifierConfig},
    meter::Meter,
    ports::{Clock, Queue, SystemClock},
};
use protocol::Command;
use tokio::{net::TcpListener, task::JoinHandle};

pub use lambdas::core::registry::RateLimits;

use crate::{
    connections::Connections,
    security::{AllowedHosts, Reach},
    signin::SignIn,
};

/// API Gateway's connection limits, shortened by tests.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    /// A connection with no client traffic for this long is closed (API Gateway: 10 minutes).
    pub idle: Duration,
    /// Every connection is closed after this long (API Gateway: 2 hours).
    pub max_connection: Duration,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        Self {
            idle: Duration::from_secs(10 * 60),
            max_connection: Duration::from_secs(2 * 60 * 60),
        }
    }
}

/// Everything the local gateway can be told.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    /// The built SPA (`app/dist`); `None` or a missing folder serves a page saying how to build it.
    pub dist: Option<PathBuf>,
    pub limits: ConnectionLimits,
    /// Keep the registry in Redis (`redis://…` or `rediss://…`) instead of in memory.
    pub redis_url: Option<String>,
    /// [`Settings::redis_url`] is a seed node of a Redis Cluster (as ElastiCache Serverless is), not one
    /// server.
    pub redis_cluster: bool,
    /// Run the queues through SQS and post through the SDK's management API client, as on AWS.
    pub sqs: Option<SqsSettings>,
    /// Keep the local sign-in's signing key in this file (created if missing), so a restart on the same
    /// address does not sign everyone out. `None`: a fresh key for every start.
    pub signing_key: Option<PathBuf>,
    /// Which per-person rates apply: enforced, except for benchmarks (`--no-rate-limits`,
    /// `--rate-limit-scale`), where one load generator speaks for many people from few accounts.
    pub rate_limits: RateLimits,
    /// Batches each queue's consumers run at once (`--consumers`): 0 or 1 is one in-order consumer per
    /// queue; more is AWS's topology, several registry and sender invocations at once, with the queues
    /// handing out messages by group as SQS FIFO queues do (see [`pipeline`]).
    pub consumers: usize,
    /// Deterministic faults from this seed (`--chaos`): queue messages reordered within a window, about 2 %
    /// handed out twice, about 1 % of batches failing, about 1 % of posts answering 429 or 500 (see
    /// [`chaos`]). Implies grouped queues, as with several consumers.
    pub chaos: Option<u64>,
    /// How long a failed queue message stays away before it comes back (`--visibility-timeout-ms`);
    /// default 1 s, 500 ms under chaos. In-memory queues only: SQS queues keep their own.
    pub visibility_timeout: Option<Duration>,
    /// Allow a listening address beyond loopback (`--insecure-listen`). Without it, [`start`] refuses one:
    /// `POST /dev/token` mints a token for any name to anyone who can reach the gateway.
    pub insecure_listen: bool,
    /// Count every call AWS would bill for in this meter (`chatty-load cost` reads it): frames in and
    /// out and connection time at the WebSocket stand-in and `@connections`, an invocation per frame,
    /// connect and disconnect (the gateway function) and per queue batch (registry, sender), SQS calls.
    /// `None` counts nothing.
    pub meter: Option<Arc<Meter>>,
}

impl Settings {
    /// What [`Settings::redis_url`] points at.
    pub fn redis_topology(&self) -> Topology {
        if self.redis_cluster {
            Topology::Cluster
        } else {
            Topology::Standalone
        }
    }
}

/// The SQS pipeline: an SQS endpoint (an emulator, e.g. moto at `http://127.0.0.1:5000`; credentials and
/// region come from the usual `AWS_*` variables) and the two queues, created by name
/// (`chatty-commands.fifo`, `chatty-deliveries.fifo`, FIFO like production) when their URLs are not given.
#[derive(Debug, Clone)]
pub struct SqsSettings {
    pub endpoint: String,
    pub command_queue_url: Option<String>,
    pub delivery_queue_url: Option<String>,
}

/// What every request handler shares. Built once in [`start`] and passed in; there are no globals.
#[derive(Clone)]
pub struct AppState {
    pub connections: Arc<Connections>,
    pub commands: Arc<dyn Queue<Command>>,
    pub clock: Arc<dyn Clock>,
    pub verifier: Arc<IdTokenVerifier>,
    pub signin: Arc<SignIn>,
    pub limits: ConnectionLimits,
    pub dist: Option<PathBuf>,
    /// Where billable calls are counted, if anywhere ([`Settings::meter`]).
    pub meter: Option<Arc<Meter>>,
}

/// A running local gateway.
pub struct Running {
    pub addr: SocketAddr,
    pub signin: Arc<SignIn>,
    pub connections: Arc<Connections>,
    server: JoinHandle<()>,
    pipeline: pipeline::Pipeline,
}

impl Running {
    /// `http://127.0.0.1:PORT`
    pub fn http_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `ws://127.0.0.1:PORT/ws`
    pub fn ws_url(&self) -> String {
        format!("ws://{}/ws", self.addr)
    }

    /// Stops accepting and drops every connection.
    pub fn stop(self) {
        self.server.abort();
        self.pipeline.stop();
    }

    /// Runs until the server task ends.
    pub async fn wait(self) {
        let _ = self.server.await;
    }
}

/// Starts the local gateway on `listener`, refusing a listener beyond loopback unless
/// [`Settings::insecure_listen`] allows it ([`security::reach`]).
pub async fn start(listener: TcpListener, settings: Settings) -> anyhow::Result<Running> {
    let addr = listener.local_addr()?;
    let reach = security::reach(addr, settings.insecure_listen)?;
    if reach == Reach::Network {
        tracing::warn!(
            "INSECURE: listening on {addr}, beyond this machine (--insecure-listen). Anyone who can reach \
             it can mint a token for any name at POST /dev/token and chat as anyone; use it only on a \
             network where you trust everyone."
        );
    }
    let issuer = format!("http://{addr}");
    let signin = Arc::new(match &settings.signing_key {
        Some(path) => SignIn::load_or_create(issuer, path)?,
        None => SignIn::generate(issuer)?,
    });
    let verifier = Arc::new(IdTokenVerifier::new(
        VerifierConfig::new(signin.issuer(), signin::LOCAL_CLIENT_ID),
        Box::new(StaticKeys(signin.jwks().clone())),
    ));
    let connections = Arc::new(Connections::new(settings.meter.clone()));
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let pipeline = pipeline::Pipeline::start(
        &settings,
        connections.clone(),
        clock.clone(),
        &format!("http://{addr}"),
    )
    .await?;
    let state = AppState {
        connections: connections.clone(),
        commands: pipeline.commands(),
        clock,
        verifier,
        signin: signin.clone(),
        limits: settings.limits,
        dist: settings.dist,
        meter: settings.meter,
    };
    let router = router(state, AllowedHosts::new(addr, reach));
    let server = tokio::spawn(async move {
        let service = router.into_make_service_with_connect_info::<SocketAddr>();
        if let Err(error) = axum::serve(listener, service).await {
            tracing::error!(%error, "server stopped");
        }
    });
    Ok(Running {
        addr,
        signin,
        connections,
        server,
        pipeline,
    })
}

/// Every route. Each request passes the `Host` check first, then gets the security headers on its way
/// out; the sign-in's pages carry their own Content-Security-Policy.
fn router(state: AppState, hosts: AllowedHosts) -> Router {
    let sign_in_pages = Router::new()
        .route(
            "/oauth2/authorize",
            get(signin::authorize_page).post(signin::authorize_submit),
        )
        .route("/oauth2/token", post(signin::token))
        .route("/oauth2/revoke", post(signin::revoke))
        .route("/logout", get(signin::logout))
        .layer(middleware::map_response(signin::with_sign_in_csp));
    Router::new()
        .route("/ws", get(websocket::upgrade))
        .route(
            "/@connections/{id}",
            post(management::post)
                .get(management::get)
                .delete(management::delete),
        )
        .route("/config.json", get(spa::config))
        .merge(sign_in_pages)
        .route("/.well-known/jwks.json", get(signin::jwks))
        .route("/dev/token", post(signin::dev_token))
        .route("/dev/kick", post(kick::kick))
        .fallback(spa::serve)
        .layer(middleware::from_fn(security::security_headers))
        .layer(middleware::from_fn_with_state(
            Arc::new(hosts),
            security::check_host,
        ))
        .with_state(state)
}
