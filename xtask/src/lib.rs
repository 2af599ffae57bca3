//! The project's commands, in Rust: `cargo xtask deploy`, `cargo xtask smoke`, `cargo xtask kick` (see `docs/deploy.md`)
//! and `cargo xtask size` (see `app/README.md`, "Size").
//!
//! # Layout
//! - [`samconfig`]: what the deploy reads from samconfig.toml: the saved region, which every `aws` call uses,
//!   and the saved parameter overrides.
//! - [`account`]: whether the stack should set API Gateway's account-wide CloudWatch role (only if nothing
//!   else does).
//! - [`outputs`]: the stack's outputs, read from `aws cloudformation describe-stacks` JSON.
//! - [`app_config`]: those outputs → the app's `/config.json` ([`protocol::AppConfig`]), the one place that knows
//!   which output feeds which field.
//! - [`site`]: what publishing `app/dist` needs: trunk's inline loader moved into a file (the CSP allows only
//!   scripts from the app's origin), the `Cache-Control`/`Content-Type` of each file, and a brotli copy (quality
//!   11) of each text and WebAssembly file, which CloudFront serves to browsers that accept it.
//! - [`size`]: `cargo xtask size`, what a first visit downloads as the deploy publishes it, against the budget.
//! - [`shrink`]: `cargo xtask shrink-app`, run by trunk after every build: the wasm's imports renamed short in it
//!   and its JS glue, wasm-streams' unused classes and the code only they reach dropped, the page's integrity
//!   hashes rewritten.
//! - [`deploy`]: the deploy as a list of [`deploy::Step`]s (commands) built from the options and the outputs, so
//!   everything up to the AWS calls is tested here; `main.rs` runs them.
//! - [`kick`]: signs a person out everywhere: Cognito's global sign-out, then the registry's `kick` command on
//!   the stack's command queue.
//! - [`smoke`]: after a deploy (or against `chatty-local`), two test clients sign in and check the chat end to
//!   end over the real WebSocket API, one line per check.
//!
//! The deploy calls no AWS API itself: the SAM and AWS CLIs do, with the caller's credentials. The kick calls
//! Cognito and SQS through the SDK (with the same credentials and region), since it is tested against moto.
//! The smoke only opens WebSockets, with ID tokens it is given (or mints from the local gateway).

pub mod account;
pub mod app_config;
pub mod deploy;
pub mod kick;
pub mod outputs;
pub mod samconfig;
pub mod shrink;
pub mod site;
pub mod size;
pub mod smoke;
