//! `shell`: runs allow-listed programs with argv only, never a shell string.
//!
//! The grant names the program and a glob per argument position, checked
//! under the argument rules of `caps::kit::pattern` (no NUL, no option through `*`,
//! normal paths only against a path pattern). The child gets an empty
//! environment (only `PATH=/usr/local/bin:/usr/bin:/bin`, so programs that
//! run others find them), no stdin, a fresh empty host-only working
//! directory (0700, removed afterwards; never the guest's scratch), its own
//! process group (killed whole on timeout), a timeout, and capped output.

mod grant;
mod host;

pub use grant::{grant_lines_any, ShellGrant};
