//! Shared helpers for drhost's integration tests and benches: where the
//! built binary and plugins are, how to run them, how to reach the lab's
//! real services, and small shared helpers ([`util`]).

pub mod cli;
pub mod lab;
pub mod util;
