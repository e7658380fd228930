//! `shell`: runs allow-listed programs with argv only, never a shell string.
//!
//! The grant names the program and a glob per argument position; the child
//! gets an empty environment (PATH only), no stdin, the run's scratch
//! directory as its working directory, a timeout, and capped output.

mod grant;
mod host;

pub use grant::{glob_escape, grant_lines_any, toml_string, ArgPattern, ShellGrant};
