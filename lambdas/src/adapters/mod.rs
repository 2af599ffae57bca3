//! Implementations of the [`crate::ports`]. Each adapter lives in its own module and is the only code that
//! knows its backend.

pub mod memory;
