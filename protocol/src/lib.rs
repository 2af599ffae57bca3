//! Chatty's wire contract: the one definition of every frame the browser and the backend exchange, and of
//! every envelope the backend's queues carry. Compiles for `wasm32-unknown-unknown` (the app) and native
//! (the Lambdas and the local gateway), so both ends serialise and validate with the same code.
//!
//! # Layout
//! - [`ids`]: the small identifier types (`RoomName`, `ClientId`, `MessageId`, `ConnectionId`, `InviteCode`)
//!   and their rules.
//! - [`client`]: [`ClientFrame`], browser → server, routed by `"action"`; [`ClientFrame::parse`] turns raw text
//!   into a validated frame or a [`FrameError`] that says which error frame to answer with.
//! - [`server`]: [`ServerFrame`], server → browser, tagged by `"type"`, and the payload types it carries.
//! - [`reaction`]: the emoji a person may react with ([`Emoji`]) and what a message carries about them.
//! - [`rfc3339`]: the reader of the dates and times in server frames (`time`'s own format writes them).
//! - [`sha256`]: the hash that names direct conversations (and the app's PKCE challenge).
//! - [`envelope`]: [`Command`] and [`Delivery`], the messages on the command and delivery queues.
//! - [`flat`]: the one reader of flat JSON objects (strings and numbers by key), shared by the small types
//!   the browser app reads.
//! - [`config`]: [`AppConfig`], the runtime `/config.json` the app reads at start.
//! - [`text`]: what text from people may carry: [`display_name`] cleans the name a token claims,
//!   [`strip_bidi_overrides`] cleans a message body.
//! - [`limits`]: every size and count limit, shared so both ends reject the same things.
//! - `variants` (feature `test-support`): every variant of a JSON object, the inputs that hold a
//!   hand-written reader to the derived one.
//!
//! Every frame is documented with a JSON example in `PROTOCOL.md` beside this crate; the tests in
//! `tests/examples.rs` parse each of those examples, so the document cannot drift from the types.

pub mod client;
pub mod config;
pub mod envelope;
pub mod flat;
pub mod ids;
pub mod limits;
pub mod reaction;
pub mod rfc3339;
pub mod server;
pub mod sha256;
pub mod text;
#[cfg(any(test, feature = "test-support"))]
pub mod variants;

pub use client::{ClientFrame, FrameError};
pub use config::{AppConfig, AuthConfig};
pub use envelope::{Command, Delivery};
pub use ids::{handle, ClientId, ConnectionId, IdError, InviteCode, MessageId, RoomName};
pub use limits::json_len;
pub use reaction::{Emoji, Reaction};
pub use server::{ChatMessage, ErrorCode, RoomEntry, ServerFrame, User};
pub use text::{display_name, strip_bidi_overrides};
