//! Shared helpers for drhost's integration tests: where the built binary and
//! plugins are, how to run them, and how to reach the lab's real services.

pub mod cli;
pub mod lab;
