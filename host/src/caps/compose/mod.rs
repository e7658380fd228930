//! `compose`: the application's Docker Compose project by label — `ps`,
//! `up`, `down`, `restart`, `logs` — through the real compose CLI.
//!
//! The operator's `[targets.compose.<label>]` names the compose file, the
//! project name and optionally the project directory; the plugin opens the
//! label and names services, never a file, a project or an option.
//! `[[plugins.<id>.compose]]` grants operations per label: `read` (`ps`,
//! `logs`), `restart`, `up`, `down`; `open` needs a grant naming the label.
//!
//! The CLI is `docker compose` when the Docker CLI has the plugin, else
//! `docker-compose` (found once per run; see `cli.rs` for the command
//! line, the child's environment and its limits). A service name must be
//! one of compose's names (`[a-zA-Z0-9._-]`, not starting with `-` or `.`)
//! and one the file defines (`config --services`, read when the label is
//! opened), so nothing a plugin sends becomes an option. `ps` lists the
//! project's containers from the Docker Engine by compose's project label
//! (as `ps -a -q` does, without a compose process) and reads each one (the
//! run's Docker client): typed states, not a parsed table, listed in the order `config --services` gives the
//! services (compose's dependency order: a service after the ones it
//! depends on). `up` is `up -d --no-build` (`--build` when the operator's
//! target says `build = true`) and then waits until each
//! named service (every one when none is named) runs; `down` is `down
//! --remove-orphans` (with `-v` when asked); `logs` is `logs --no-color
//! --no-log-prefix --timestamps --tail N`: each line starts with its RFC
//! 3339 time and a space. Every call is bounded by the target's
//! `timeout` (default 5m) and the run's deadline, and journaled with its
//! arguments.
//!
//! `describe` needs: `compose` with target `LABEL` asks by its access —
//! `read` → `read`, `write` → `restart` and `up`, `admin` → `restart`,
//! `up` and `down` — or `OP:LABEL` (`read:`, `restart:`, `up:`, `down:`)
//! for exactly that operation.
//!
//! The files: `host.rs` is the interface as the plugin sees it;
//! `grant.rs` what the operator configures and the checks; `cli.rs` the
//! CLI; `project.rs` the operations.

mod cli;
pub(crate) mod grant;
mod host;
mod project;

pub use grant::{ComposeAccess, ComposeGrant, ComposeTarget};

use crate::caps::kit::gate::{Gate, TargetTable};
use cli::ComposeCli;
use grant::{covers, need_lines};

/// One opened compose project, held in the run's resource table: the
/// label, the operator's target, the CLI that drives it and the services
/// its file defines (read at `open`).
#[derive(Debug, Clone)]
pub struct Project {
    label: String,
    target: ComposeTarget,
    cli: ComposeCli,
    services: Vec<String>,
}

/// `[targets.compose.LABEL]`.
pub(crate) const TARGETS: TargetTable = TargetTable {
    capability: "compose",
    title: "compose",
    keys: "file = \"/path/to/docker-compose.yml\"\nproject = \"project-name\"",
};

/// `compose` needs: `LABEL` (read / write / admin), `OP:LABEL`.
pub(crate) const GATE: Gate = Gate {
    capability: "compose",
    covers,
    advice: need_lines,
    changes: |grants| {
        crate::caps::kit::gate::changed_targets(
            &grants.compose,
            &[ComposeAccess::Restart, ComposeAccess::Up, ComposeAccess::Down],
        )
    },
};
