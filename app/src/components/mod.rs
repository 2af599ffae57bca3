//! The pieces of the chat screen. Each takes what it shows as props and reads the shared
//! [`crate::client::ChatClient`] context for live data and actions.

pub mod avatar;
pub mod clock;
pub mod composer;
pub mod members;
pub mod message_list;
pub mod sidebar;
pub mod sign_in;
pub mod status;
pub mod typing;
