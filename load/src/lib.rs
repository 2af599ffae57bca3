//! `chatty-load`: a WebSocket load generator for Chatty, the bare relay it is compared against, and the
//! benchmark that runs both in one go.
//!
//! # Layout
//! - [`target`]: where traffic may go — loopback addresses only, checked before any socket opens.
//! - [`tokens`]: how connections get their `?token=` (the local gateway's `POST /dev/token`, or none).
//! - [`generator`]: opens N connections, joins them to R rooms, sends M messages (at a rate or as fast as
//!   the server takes them) and measures every delivered frame: latency, throughput, lost, duplicated.
//! - [`tally`]: the per-receiver bookkeeping behind "lost" and "duplicated", with no I/O.
//! - [`report`]: what a run measured, as a table for people and JSON for machines.
//! - [`relay`]: the baseline, a minimal `tokio-tungstenite` fan-out relay speaking just enough of Chatty's
//!   frames for the same generator to drive it.
//! - [`bench`]: every scenario against Chatty and the relay, each server a child process, one table.
//! - [`cpu`]: the CPU time a set of server processes spent, from Linux's per-thread scheduler statistics.
//! - [`servers`]: the throwaway servers beside Chatty: `redis-server`, a Redis Cluster, `moto_server`.
//! - [`cost`]: what a message costs on AWS: Chatty in the production shape with every billable call
//!   counted, rooms of 2, 10 and 100; [`bill`] prices the counts by the one table in [`prices`].
//! - [`sizes`]: the shipped artefacts' sizes (app `.wasm`/JS gzip and brotli, Lambda `bootstrap`s).
//!
//! `main.rs` only parses the command line and calls these.

pub mod bench;
pub mod bill;
pub mod cost;
pub mod cpu;
pub mod generator;
pub mod prices;
pub mod relay;
pub mod report;
pub mod servers;
pub mod sizes;
pub mod tally;
pub mod target;
pub mod tokens;
