//! The `drhost` binary's own modules: what the command line accepts
//! ([`args`]), what the commands print ([`output`]), and the completion
//! scripts and manual page generated from the command line ([`docs`]). They belong to
//! `main.rs`, not to the library (`lib.rs` does not declare them).

pub mod args;
pub mod docs;
pub mod output;
