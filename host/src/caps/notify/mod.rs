//! `notify`: notices to channels the operator configured —
//! `[targets.notify.<label>]` is a Slack-compatible or a generic JSON
//! webhook whose URL the plugin never sees (it is a credential: read in the
//! host, at each post, from `env:`/`file:`/`vault:`, and never journaled,
//! printed or put in an error); `[[plugins.<id>.notify]]` grants labels.
//!
//! A post is one JSON `POST` (`message.rs` makes the payload; the text is
//! cut at 4 KiB with a note saying so), with no redirect followed and no
//! proxy from the environment, waiting at most 10 s (or the target's
//! `timeout`) and never past the run's deadline (`webhook.rs`). A dead
//! channel is a typed error — `unavailable`, `timeout`, or `failed` with
//! the HTTP status — that the plugin reports and goes on from: a notice is
//! never worth failing a recovery for, and whether it is, is the plugin's
//! choice. A run posts at most 100 notices.

use crate::caps::kit::gate::{Gate, TargetTable};
use crate::config::PluginGrants;

mod about_runs;
mod grant;
mod host;
mod message;
mod webhook;

pub use about_runs::{unknown_labels, HostNotice, RunEvent, RunNotices, RunNotify};
pub use grant::{allows_label, covers, denial, grant_lines, Labels, NotifyFormat, NotifyGrant, NotifyTarget};
pub use message::{MAX_TEXT, MAX_TITLE};
pub use webhook::MAX_POSTS;

/// `[targets.notify.LABEL]`.
pub(crate) const TARGETS: TargetTable = TargetTable {
    capability: "notify",
    title: "notify",
    keys: "url = \"env:WEBHOOK_URL\"\nformat = \"slack\"",
};

/// `notify` needs: a channel label.
pub(crate) const GATE: Gate = Gate {
    capability: "notify",
    covers,
    advice: need_lines,
    // A message sent changes no recovery target: two runs may both notify.
    changes: crate::caps::kit::gate::changes_nothing,
};

/// The TOML that would cover a `notify` need: the grant, and the target
/// when it is not configured.
fn need_lines(grants: &PluginGrants, id: &str, label: &str, _access: crate::bindings::types::Access) -> String {
    TARGETS.with_table(grant_lines(id, label), &grants.notify_targets, label)
}

/// Posts made in this run, kept in [`crate::sandbox::RunState::kept`].
#[derive(Default)]
struct Posted(u32);

impl Posted {
    /// Counts one more post; its number in the run.
    fn next(&mut self) -> u32 {
        self.0 = self.0.saturating_add(1);
        self.0
    }
}
