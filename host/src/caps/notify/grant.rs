//! What the operator configures for `notify`: webhooks by label
//! (`[targets.notify.<label>]`), grants per plugin (`[[plugins.<id>.notify]]`)
//! naming labels, and the check made at every post.
//!
//! This module never reads the webhook's URL; it only knows where it is.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::caps::kit::text::{not_granted, toml_string};
use crate::config::PluginGrants;
use crate::secret::SecretRef;

/// The longest a post may wait for the webhook (and the default).
pub const MAX_TIMEOUT: Duration = Duration::from_secs(10);

/// `[targets.notify.<label>]`: one channel a plugin may post to by label.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotifyTarget {
    /// Where the webhook's URL is: `env:NAME`, `file:PATH` or
    /// `vault:LABEL:MOUNT/PATH#FIELD` — never the URL itself, which holds
    /// the channel's credential.
    pub url: SecretRef,
    /// What the webhook expects.
    pub format: NotifyFormat,
    /// How long a post may wait for an answer: at most (and by default) 10 s,
    /// never beyond the run's deadline.
    #[serde(default, deserialize_with = "de_timeout")]
    pub timeout: Option<Duration>,
}

/// A webhook's payload format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum NotifyFormat {
    /// A Slack-compatible incoming webhook: `{"text": "…"}` in mrkdwn.
    Slack,
    /// A generic JSON webhook: `{"title", "text", "severity", "plugin", "run_id"}`.
    Json,
}

/// A duration in (0, 10 s].
fn de_timeout<'de, D: serde::Deserializer<'de>>(de: D) -> Result<Option<Duration>, D::Error> {
    let text = String::deserialize(de)?;
    let timeout = crate::config::parse_duration(&text).map_err(serde::de::Error::custom)?;
    if timeout.is_zero() || timeout > MAX_TIMEOUT {
        return Err(serde::de::Error::custom(format!(
            "a notify timeout is more than 0 and at most 10s (a dead channel must not hold up a recovery); got {}",
            toml_string(&text)
        )));
    }
    Ok(Some(timeout))
}

/// `[[plugins.<id>.notify]]`: the channels a plugin may post to.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct NotifyGrant {
    /// One label (`target = "ops"`) or several (`target = ["ops", "status"]`).
    pub target: Labels,
}

/// One label or a list of them.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(untagged)]
pub enum Labels {
    /// `target = "ops"`.
    One(String),
    /// `target = ["ops", "status"]`.
    Many(Vec<String>),
}

impl NotifyGrant {
    /// The labels this grant names.
    pub fn labels(&self) -> &[String] {
        self.target.labels()
    }
}

impl Labels {
    /// The labels, one or several.
    pub fn labels(&self) -> &[String] {
        match self {
            Labels::One(label) => std::slice::from_ref(label),
            Labels::Many(labels) => labels,
        }
    }
}

/// Whether `grants` name `label`.
pub fn allows_label(grants: &[NotifyGrant], label: &str) -> bool {
    grants.iter().any(|g| g.labels().iter().any(|l| l == label))
}

/// Whether a manifest need on `label` is covered (and the target configured).
pub fn covers(grants: &PluginGrants, label: &str, _access: crate::bindings::types::Access) -> bool {
    allows_label(&grants.notify, label) && grants.notify_targets.contains_key(label)
}

/// The TOML lines that would grant `label` to plugin `id`.
pub fn grant_lines(id: &str, label: &str) -> String {
    format!("[[plugins.{id}.notify]]\ntarget = {}", toml_string(label))
}

/// The refusal of a post to `label`.
pub fn denial(id: &str, label: &str) -> String {
    not_granted(&format!("notify channel `{label}`"), id, &grant_lines(id, label))
}

/// Where a reference points, for messages (never the value): `env:NAME`…
pub(crate) fn reference(place: &SecretRef) -> String {
    match place {
        SecretRef::Env(name) => format!("env:{name}"),
        SecretRef::File(path) => format!("file:{}", path.display()),
        SecretRef::Vault { target, path, field } => format!("vault:{target}:{path}#{field}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> crate::Result<crate::config::Config> {
        crate::config::Config::parse(std::path::Path::new("d.toml"), text)
    }

    #[test]
    fn targets_take_a_reference_a_format_and_a_bounded_timeout() {
        let config = parse(
            "[targets.notify.ops]\nurl = \"env:OPS_WEBHOOK\"\nformat = \"slack\"\n\n[targets.notify.status]\nurl = \"file:/run/secrets/hook\"\nformat = \"json\"\ntimeout = \"3s\"\n\n[[plugins.p.notify]]\ntarget = [\"ops\", \"status\"]\n[[plugins.q.notify]]\ntarget = \"ops\"\n",
        )
        .unwrap();
        let p = config.grants_for("p");
        assert!(covers(&p, "ops", crate::bindings::types::Access::Write));
        assert!(covers(&p, "status", crate::bindings::types::Access::Write));
        assert_eq!(p.notify_targets["status"].timeout, Some(Duration::from_secs(3)));
        assert_eq!(p.notify_targets["ops"].format, NotifyFormat::Slack);
        let q = config.grants_for("q");
        assert!(covers(&q, "ops", crate::bindings::types::Access::Write));
        assert!(!covers(&q, "status", crate::bindings::types::Access::Write));
        assert!(!q.notify_targets.contains_key("status"), "only granted targets travel");
    }

    #[test]
    fn a_url_written_in_the_config_is_refused() {
        let err = parse("[targets.notify.ops]\nurl = \"https://hooks.slack.com/services/T/B/x\"\nformat = \"slack\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("never as its value"), "{err}");
        assert!(!err.contains("hooks.slack.com"), "{err}");
        let err = parse("[targets.notify.ops]\nurl = \"env:X\"\nformat = \"slack\"\ntimeout = \"30s\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("at most 10s"), "{err}");
        let err = parse("[targets.notify.ops]\nurl = \"env:X\"\nformat = \"teams\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("teams"), "{err}");
    }

    #[test]
    fn the_refusal_names_the_grant() {
        assert_eq!(
            denial("p", "ops"),
            "notify channel `ops` is not granted to plugin `p`; to allow it add to drhost.toml:\n[[plugins.p.notify]]\ntarget = \"ops\""
        );
    }
}
