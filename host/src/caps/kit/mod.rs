//! What every capability needs and none owns: the audited call path
//! ([`call`]), grant globs ([`pattern`]), operator-facing text and the
//! refusal sentence ([`text`]), child processes ([`process`]), copying a
//! file while hashing it ([`copy`]), the run's
//! disk budget for blobs and scratch ([`disk`]), and what a capability tells
//! the up-front check ([`gate`]), and which calls plan mode records
//! instead of making ([`plan`]), and the cap on connections a run holds
//! open ([`slots`]), and how `drhost resume` answers a dead run's changes
//! from its journal ([`replay`]), and a target's private CA ([`tls`]). The time a
//! call may still take is [`crate::sandbox::RunContext::time_left`].

pub mod call;
pub mod capped;
pub mod copy;
pub mod disk;
pub mod fence;
pub mod gate;
pub mod pattern;
pub mod plan;
pub mod process;
pub mod replay;
pub mod slots;
pub mod text;
pub mod tls;

pub use call::{Answer, CallError};
