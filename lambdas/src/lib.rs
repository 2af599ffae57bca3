//! Chatty's backend, as a library: the core the Lambda functions and the local gateway both run.
//!
//! # Layout
//! - [`ports`]: the small traits the core is written against (`Registry`, `Queue`, `Pusher`, `Clock`) and
//!   their typed errors. The core never sees an SDK type.
//! - [`core`]: the pure core, one module per production function: [`core::gateway`] (frames in, commands
//!   out), [`core::registry`] (commands in, state changes and deliveries out; one `on_*` function per
//!   action), [`core::sender`] (deliveries in, posts to connections out, every delivery retry).
//! - [`consumer`]: the one batch loop the registry and sender run over their queues, in every mode: the
//!   Lambdas' SQS events and the local gateway's queues alike (per-message failures, metrics counts).
//! - [`auth`]: ID-token verification (RS256 against a JWKS; `iss`, `aud`, `token_use`, `exp`, `nbf`), the
//!   one code path for Cognito's tokens and the local sign-in's.
//! - [`metrics`]: counts of what a batch did, and their CloudWatch embedded-metric-format log line.
//! - [`meter`]: counts of the calls AWS bills for (API Gateway frames and connection time, function
//!   invocations and their duration, SQS requests), off unless a [`meter::Meter`] is handed in.
//! - [`adapters`]: implementations of the ports. [`adapters::memory`] keeps everything in process; with the
//!   `aws` feature, [`adapters`] also holds Redis, SQS, API Gateway management and JWKS.
//! - [`lambda`] (feature `aws`): Lambda event translation, which the four thin binaries in `src/bin/`
//!   (`authorizer`, `gateway`, `registry`, `sender`) call.
//!
//! The flow mirrors production: gateway → command queue → registry → delivery queue → sender.

pub mod adapters;
pub mod auth;
pub mod consumer;
pub mod core;
#[cfg(feature = "aws")]
pub mod lambda;
pub mod meter;
pub mod metrics;
pub mod ports;
