//! What every capability needs and none owns: the audited call path
//! ([`call`]), grant globs ([`pattern`]), operator-facing text and the
//! refusal sentence ([`text`]), child processes ([`process`]). The time a
//! call may still take is [`crate::sandbox::RunContext::time_left`].

pub mod call;
pub mod pattern;
pub mod process;
pub mod text;

pub use call::{Answer, CallError};
