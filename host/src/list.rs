//! `drhost list`: the plugins in a directory, one line each — id, version,
//! who signed it (judged as `verify` judges it) and which runbook scenario
//! it serves, so the on-call engineer finds the right one at 3 a.m.
//!
//! The scenario comes from the plugin's manifest, adding nothing to the
//! contract: the shipped plugins by id ([`SHIPPED`]), any other by a
//! "scenario N" in its description. This module reads and judges; it
//! never runs a plugin beyond `describe` and never prints.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::error::Result;
use crate::plugin::PluginFile;
use crate::trust::{self, TrustError, TrustPaths};

/// The runbook's scenarios (RUNBOOK.md), by their number there.
pub const SCENARIOS: &[(&str, &str)] = &[
    ("1A", "database failure, wait for recovery"),
    ("1B", "database failure, restore from backup"),
    ("1", "database failure"),
    ("2", "Redis failure"),
    ("3", "complete infrastructure loss"),
    ("4", "application service failure"),
    ("5", "network partition"),
];

/// The shipped plugins and what they serve: a scenario number from
/// [`SCENARIOS`], or a line of the runbook's quick reference.
pub const SHIPPED: &[(&str, &str)] = &[
    ("db-outage", "1A"),
    ("db-restore", "1B"),
    ("redis-failover", "2"),
    ("service-recover", "4"),
    ("network-recover", "5"),
    ("status", "quick reference: check all service health"),
    ("db-backup", "quick reference: database backup"),
];

/// One plugin file, as `list` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct ListedPlugin {
    /// The file.
    pub path: PathBuf,
    /// From `describe` (none when the file could not be described).
    pub id: Option<String>,
    /// From `describe`.
    pub version: Option<String>,
    /// `trusted` or `refused`, as `drhost verify` judges it.
    pub trust: &'static str,
    /// The trusted keys that signed it.
    pub signers: Vec<String>,
    /// Why it is refused, in a few words.
    pub refused_because: Option<String>,
    /// The runbook scenario it serves, e.g. `2: Redis failure`; none when unknown.
    pub scenario: Option<String>,
    /// Why it could not be described (not a plugin, unreadable…).
    pub error: Option<String>,
    /// The exit code of that error; 0 when it was described.
    #[serde(skip)]
    pub exit_code: i32,
}

/// Every `*.wasm` in `dir`, sorted, described and judged against the trust
/// file and lock in `paths`.
pub async fn list(dir: &Path, paths: &TrustPaths, cache_dir: Option<PathBuf>) -> Result<Vec<ListedPlugin>> {
    let trust_file = paths.load_trust()?;
    let lock = paths.load_lock()?;
    let mut listed = Vec::new();
    for path in crate::plugin::plugin_files(&[dir.to_owned()])? {
        let mut entry = ListedPlugin {
            path: path.clone(),
            id: None,
            version: None,
            trust: "refused",
            signers: Vec::new(),
            refused_because: None,
            scenario: None,
            error: None,
            exit_code: 0,
        };
        match PluginFile::read(&path) {
            Ok(file) => {
                let (verdict, refusal) = trust::assess(&file, &trust_file, &lock, paths.lock.as_deref(), false);
                entry.signers = verdict.signers.clone();
                match refusal {
                    None => entry.trust = "trusted",
                    Some(refusal) => entry.refused_because = Some(why_refused(&refusal)),
                }
            }
            Err(error) => {
                entry.error = Some(error.to_string());
                entry.exit_code = error.exit_code();
            }
        }
        if entry.error.is_none() {
            match crate::inspect::inspect(&path, cache_dir.clone()).await {
                Ok(described) => {
                    entry.scenario = scenario(&described.id, &described.description);
                    entry.id = Some(described.id);
                    entry.version = Some(described.version);
                }
                Err(error) => {
                    entry.error = Some(error.to_string());
                    entry.exit_code = error.exit_code();
                }
            }
        }
        listed.push(entry);
    }
    Ok(listed)
}

/// The scenario plugin `id` serves: from [`SHIPPED`], else the first
/// "scenario N" (and "option A/B") its description mentions.
pub fn scenario(id: &str, description: &str) -> Option<String> {
    let number = match SHIPPED.iter().find(|(shipped, _)| *shipped == id) {
        Some((_, what)) if what.starts_with("quick reference") => return Some(what.to_string()),
        Some((_, number)) => number.to_string(),
        None => scenario_in(description)?,
    };
    let (number, title) = SCENARIOS.iter().find(|(n, _)| *n == number)?;
    Some(format!("{number}: {title}"))
}

/// "scenario 2", "scenario 1 option B", "scenario 1B" in `text`, as `2`, `1B`.
fn scenario_in(text: &str) -> Option<String> {
    let lower = text.to_lowercase();
    let (_, rest) = lower.split_once("scenario ")?;
    let mut chars = rest.chars();
    let digit = chars.next().filter(char::is_ascii_digit)?;
    let rest = chars.as_str();
    if rest.starts_with(|c: char| c.is_ascii_digit()) {
        return None;
    }
    let option = rest.strip_prefix(" option ").unwrap_or(rest);
    let mut letters = option.chars();
    let letter = letters.next().filter(|c| matches!(c, 'a' | 'b'));
    let whole_word = letters.next().is_none_or(|c| !c.is_ascii_alphanumeric());
    let letter = letter.filter(|_| whole_word).map(|c| c.to_ascii_uppercase());
    Some(format!("{digit}{}", letter.map(String::from).unwrap_or_default()))
}

/// A trust refusal in a few words, for one line of `list`.
fn why_refused(refusal: &TrustError) -> String {
    match refusal {
        TrustError::Unsigned { .. } => "unsigned".into(),
        TrustError::Tampered { .. } | TrustError::Corrupt { .. } => "tampered or damaged".into(),
        TrustError::Untrusted { reasons, .. } => format!("no trusted signature ({reasons})"),
        TrustError::RevokedDigest { .. } => "revoked".into(),
        TrustError::LockDiffers { .. } => "not the file the lock pins".into(),
        TrustError::Downgrade { pinned_version, .. } => format!("older than {pinned_version} pinned in the lock"),
        TrustError::IdentityMismatch { .. } => "does not match its signed identity".into(),
        TrustError::NoIdentity { .. } => "signed without a drhost identity".into(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_plugins_map_to_their_scenario() {
        assert_eq!(scenario("redis-failover", "").as_deref(), Some("2: Redis failure"));
        assert_eq!(
            scenario("db-restore", "").as_deref(),
            Some("1B: database failure, restore from backup")
        );
        assert_eq!(
            scenario("status", "").as_deref(),
            Some("quick reference: check all service health")
        );
        assert_eq!(scenario("hello", "Says hello").as_deref(), None);
    }

    #[test]
    fn other_plugins_by_the_scenario_their_description_names() {
        assert_eq!(
            scenario("my-restore", "Runbook scenario 1 option A: wait").as_deref(),
            Some("1A: database failure, wait for recovery")
        );
        assert_eq!(
            scenario("x", "for Scenario 5.").as_deref(),
            Some("5: network partition")
        );
        assert_eq!(
            scenario("x", "scenario 1b").as_deref(),
            Some("1B: database failure, restore from backup")
        );
        assert_eq!(
            scenario("x", "scenario 1 and more").as_deref(),
            Some("1: database failure")
        );
        assert_eq!(
            scenario("x", "scenario 1 about").as_deref(),
            Some("1: database failure")
        );
        assert_eq!(scenario("x", "scenario 9").as_deref(), None);
        assert_eq!(scenario("x", "scenario 12").as_deref(), None);
        assert_eq!(scenario("x", "scenario 1abc").as_deref(), Some("1: database failure"));
        assert_eq!(scenario("x", "no scenario here").as_deref(), None);
    }
}
