//! The `drhost` binary's own modules: what the command line accepts
//! ([`args`]) and what the commands print ([`output`]). They belong to
//! `main.rs`, not to the library (`lib.rs` does not declare them).

pub mod args;
pub mod output;
