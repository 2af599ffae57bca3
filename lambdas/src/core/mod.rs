//! The pure core: one module per production function, each written against the [`crate::ports`] only
//! (never an SDK type). Each action takes its event and the ports it needs and returns when its effects
//! are done; none holds state of its own.
//!
//! - [`gateway`]: frames in, commands out (and the sender's immediate answer).
//! - [`registry`]: commands in, state changes and deliveries out; one `on_*` function per action.
//! - [`sender`]: deliveries in, posts to connections out, with every delivery retry.

pub mod gateway;
pub mod registry;
pub mod sender;
