//! `shell`: runs allow-listed programs with argv only, never a shell string.
//!
//! The grant names the program and a glob per argument position, checked
//! under the argument rules of `caps::kit::pattern` (no NUL, no option through `*`,
//! normal paths only against a path pattern). The child gets an empty
//! environment (only `PATH=/usr/local/bin:/usr/bin:/bin`, so programs that
//! run others find them), no stdin, a fresh empty host-only working
//! directory (0700, removed afterwards; never the guest's scratch), its own
//! process group (killed whole on timeout), a timeout, and capped output.

use crate::caps::kit::gate::Gate;

pub(crate) mod grant;
mod host;
mod program;

pub use grant::{grant_lines_any, ShellGrant};

/// `shell` needs: the program, by name or path.
pub(crate) const GATE: Gate = Gate {
    capability: "shell",
    covers: |grants, program, _| grants.shell.iter().any(|g| g.program == program),
    advice: |_, id, program, _| {
        format!(
            "{}  # narrow the arguments to what you expect",
            grant_lines_any(id, program)
        )
    },
    // A program may change anything it reaches: every granted program is a target.
    changes: |grants| grants.shell.iter().map(|g| g.program.clone()).collect(),
};
