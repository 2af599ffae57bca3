//! Chatty's backend, as a library: the handlers the Lambda functions and the local gateway both run.
//!
//! # Layout
//! - [`ports`]: the small traits the handlers are written against (`Registry`, `Queue`, `Pusher`, `Clock`),
//!   and their error types. Handlers never see an SDK type.
//! - [`handlers`]: the pure core, one module per production function:
//!   [`handlers::gateway`] (frames in, commands out), [`handlers::registry`] (commands in, state changes
//!   and deliveries out), [`handlers::sender`] (deliveries in, posts to connections out).
//! - [`auth`]: ID-token verification (RS256 against a JWKS; `iss`, `aud`, `token_use`, `exp`, `nbf`), the
//!   one code path for Cognito's tokens and the local sign-in's.
//! - [`consumers`]: the registry and sender functions' batch logic (one queue message at a time, failures
//!   reported per message), shared by the Lambda binaries and the local gateway's SQS pipeline.
//! - [`metrics`]: counts of what a batch did, and their CloudWatch embedded-metric-format log line.
//! - [`adapters`]: implementations of the ports. [`adapters::memory`] keeps everything in process; with the
//!   `aws` feature, [`adapters`] also holds Redis, SQS, API Gateway management and JWKS, and
//!   `src/bin/` the four Lambda functions (`authorizer`, `gateway`, `registry`, `sender`).
//! - [`functions`] (feature `aws`): each Lambda function's event translation, which its thin binary calls.
//!
//! The flow mirrors production: gateway → command queue → registry → delivery queue → sender.

pub mod adapters;
pub mod auth;
pub mod consumers;
#[cfg(feature = "aws")]
pub mod functions;
pub mod handlers;
pub mod metrics;
pub mod ports;
