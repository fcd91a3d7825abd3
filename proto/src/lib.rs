//! Wire types and codecs shared by every axtlab binary.
//!
//! Nothing in this crate does I/O: it turns bytes into types and back, so the control plane,
//! the gateway, the agent and the CLI all agree on the wire by construction, and every decoder
//! can be table-tested and fuzzed on its own.

#![warn(missing_docs)]

pub mod openapi;
pub mod spec;
