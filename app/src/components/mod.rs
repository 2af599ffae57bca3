//! The pieces of the chat screen. Each takes what it shows as props and reads the shared
//! [`crate::client::ChatClient`] context for live data and actions; it changes the client's state only
//! through the client's methods. [`panel::Panel`] is the narrow-screen panel they share with the room
//! page.

pub mod alerts;
pub mod autocomplete;
pub mod avatar;
pub mod clock;
pub mod composer;
pub mod members;
pub mod message_list;
pub mod panel;
pub mod sidebar;
pub mod sign_in;
pub mod status;
pub mod typing;
