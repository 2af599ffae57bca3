//! One page per route; the route table itself is in [`crate::App`].

pub mod callback;
pub mod landing;
pub mod not_found;
pub mod room;
