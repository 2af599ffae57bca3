//! The pure handler core, one module per production function. Each handler takes its event and the ports
//! it needs, and returns when its effects are done; none holds state of its own.

pub mod gateway;
pub mod registry;
pub mod sender;
