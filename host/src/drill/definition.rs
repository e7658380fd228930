//! What the operator configures for a drill: `[drills.<name>]` in
//! drhost.toml — the fault plugin, the recovery plugin, the host probes by
//! target label, the RTO/RPO targets and how often the drill is due.
//!
//! This module parses and resolves paths; it runs nothing.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

/// The runbook's recovery time objective: 15 minutes.
pub const DEFAULT_RTO: Duration = Duration::from_secs(15 * 60);
/// The runbook's recovery point objective: 5 minutes.
pub const DEFAULT_RPO: Duration = Duration::from_secs(5 * 60);
/// How long the probes run before the fault, to show the system healthy.
pub const DEFAULT_BASELINE: Duration = Duration::from_secs(2);
/// How long every probe must stay healthy to count as recovered.
pub const DEFAULT_SUSTAIN: Duration = Duration::from_secs(3);
/// How long the probes keep going after the recovery plugin, waiting for
/// sustained health, before the drill is judged not recovered.
pub const DEFAULT_SETTLE: Duration = Duration::from_secs(120);

/// `[drills.<name>]`: one drill.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DrillDefinition {
    /// What the drill proves, in a few words (shown by `drhost schedule`).
    #[serde(default)]
    pub description: Option<String>,
    /// A plugin run after the baseline and before the fault, with the
    /// probes running (e.g. `db-backup`, so a database drill restores a
    /// backup holding the probe's own heartbeats); then the probes run for
    /// `baseline` again before the fault. A relative path is relative to
    /// drhost.toml's directory.
    #[serde(default)]
    pub before: Option<PathBuf>,
    /// `--param`s of the `before` plugin.
    #[serde(default)]
    pub before_params: BTreeMap<String, String>,
    /// The fault plugin (a signed, granted plugin like any other); a
    /// relative path is relative to drhost.toml's directory. None: a drill
    /// that breaks nothing and proves a recovery procedure works (e.g.
    /// restoring the latest backup into a scratch database); then the RTO is
    /// measured from the recovery's start to its successful end with every
    /// probe healthy, and the probes prove the live service was not hurt.
    #[serde(default)]
    pub fault: Option<PathBuf>,
    /// `--param`s of the fault plugin.
    #[serde(default)]
    pub fault_params: BTreeMap<String, String>,
    /// The recovery plugin under test.
    pub recovery: PathBuf,
    /// `--param`s of the recovery plugin.
    #[serde(default)]
    pub recovery_params: BTreeMap<String, String>,
    /// For a fault that lasts and ends by itself (an outage the provider
    /// repairs, as in runbook 1A): the recovery starts this long after the
    /// fault started, while the fault plugin still runs, e.g. "3s". Unset:
    /// the recovery starts when the fault plugin has ended.
    #[serde(default, with = "crate::caps::kit::text::duration_text")]
    pub recovery_after: Option<Duration>,
    /// `[drills.<name>.probes]`: what the host probes, by target.
    #[serde(default)]
    pub probes: ProbeTargets,
    /// The recovery time objective, e.g. "15m" (default: the runbook's 15 min).
    #[serde(default, with = "crate::caps::kit::text::duration_text")]
    pub rto: Option<Duration>,
    /// The recovery point objective, e.g. "5m" (default: the runbook's 5 min).
    #[serde(default, with = "crate::caps::kit::text::duration_text")]
    pub rpo: Option<Duration>,
    /// How often the drill is due, e.g. "30d" (monthly) or "90d"
    /// (quarterly); unset: only when run by hand.
    #[serde(default, with = "crate::caps::kit::text::duration_text")]
    pub every: Option<Duration>,
    /// Probing before the fault (default 2s).
    #[serde(default, with = "crate::caps::kit::text::duration_text")]
    pub baseline: Option<Duration>,
    /// How long all probes must stay healthy to count as recovered (default 3s).
    #[serde(default, with = "crate::caps::kit::text::duration_text")]
    pub sustain: Option<Duration>,
    /// The longest wait for sustained health after the recovery plugin ends (default 2m).
    #[serde(default, with = "crate::caps::kit::text::duration_text")]
    pub settle: Option<Duration>,
}

/// `[drills.<name>.probes]`: every probe runs in the host, every 200 ms,
/// from before the fault until the drill is judged.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProbeTargets {
    /// URLs that must answer 2xx (e.g. the proxy's `/health`).
    #[serde(default)]
    pub http: Vec<String>,
    /// `[targets.redis.<label>]`s: acknowledged `INCR`s of the drill's own
    /// key on Sentinel's current master; lost writes are counted after.
    #[serde(default)]
    pub redis: Vec<String>,
    /// `[targets.postgres.<label>]`s: heartbeat rows in the drill's own table
    /// `drhost_drill.heartbeat`; lost rows give the data-loss window.
    #[serde(default)]
    pub postgres: Vec<String>,
}

impl ProbeTargets {
    /// Whether no probe is configured.
    pub fn is_empty(&self) -> bool {
        self.http.is_empty() && self.redis.is_empty() && self.postgres.is_empty()
    }
}

impl DrillDefinition {
    /// The RTO target.
    pub fn rto(&self) -> Duration {
        self.rto.unwrap_or(DEFAULT_RTO)
    }

    /// The RPO target.
    pub fn rpo(&self) -> Duration {
        self.rpo.unwrap_or(DEFAULT_RPO)
    }

    /// The plugins the drill runs, by role, in the order it starts them:
    /// `before` (when set), `fault` (when set), `recovery`.
    pub fn plugins(&self) -> Vec<(&'static str, &Path)> {
        let mut plugins: Vec<(&'static str, &Path)> = Vec::new();
        if let Some(before) = &self.before {
            plugins.push(("before", before));
        }
        if let Some(fault) = &self.fault {
            plugins.push(("fault", fault));
        }
        plugins.push(("recovery", &self.recovery));
        plugins
    }

    /// A plugin path as configured, made absolute against the directory of
    /// `config_file` when it is relative.
    pub fn plugin_path(path: &Path, config_file: Option<&Path>) -> PathBuf {
        if path.is_absolute() {
            return path.to_owned();
        }
        match config_file.and_then(Path::parent) {
            Some(dir) if !dir.as_os_str().is_empty() => dir.join(path),
            _ => path.to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_before_plugin_runs_first_and_is_optional() {
        let with: DrillDefinition = toml::from_str(
            "before = \"b.wasm\"\nbefore_params = { prefix = \"p/\" }\nfault = \"f.wasm\"\nrecovery = \"r.wasm\"",
        )
        .unwrap();
        let roles: Vec<(&str, &Path)> = with.plugins();
        assert_eq!(
            roles,
            [
                ("before", Path::new("b.wasm")),
                ("fault", Path::new("f.wasm")),
                ("recovery", Path::new("r.wasm"))
            ]
        );
        assert_eq!(with.before_params.get("prefix").map(String::as_str), Some("p/"));
        let without: DrillDefinition = toml::from_str("fault = \"f.wasm\"\nrecovery = \"r.wasm\"").unwrap();
        assert_eq!(without.plugins().len(), 2);
        assert!(without.before.is_none());
    }

    #[test]
    fn a_drill_may_break_nothing_and_a_lasting_fault_may_overlap_the_recovery() {
        let restore_test: DrillDefinition = toml::from_str("recovery = \"r.wasm\"").unwrap();
        assert_eq!(restore_test.plugins(), [("recovery", Path::new("r.wasm"))]);
        let outage: DrillDefinition =
            toml::from_str("fault = \"f.wasm\"\nrecovery = \"r.wasm\"\nrecovery_after = \"3s\"").unwrap();
        assert_eq!(outage.recovery_after, Some(Duration::from_secs(3)));
        assert!(
            toml::from_str::<DrillDefinition>("fault = \"f.wasm\"").is_err(),
            "a recovery is required"
        );
    }
}
