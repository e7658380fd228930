//! `confirm`: human approval gates, each question with a stable id.
//!
//! A question's id is derived by the host, never supplied by the plugin:
//! `<plugin-id>:<first 8 hex digits of sha256(question)>`, e.g.
//! `db-restore:1a2b3c4d`. The plugin id is the one `describe` reported (and
//! the signature vouches for), so no plugin can ask under another's id. The
//! id covers the question's whole text: a question that embeds values that
//! change from run to run (a backup's size, a replication offset) gets a new
//! id whenever they change, so an `--approve ID` approves exactly the
//! question the operator read and nothing else.
//!
//! Who answers, first match wins ([`grant::Approvals::decide`]):
//!
//! 1. `--plan`: the plan answers yes and lists the question with its id and
//!    who would answer it in a live run;
//! 2. `--yes`: every question (journaled `by: --yes`);
//! 3. `--approve ID`: exactly that question (`by: --approve`);
//! 4. an operator at a terminal (stdin is a terminal): a `[y/N]` prompt
//!    showing the id, the plugin's id, version and signing key
//!    (`by: operator`);
//! 5. `[run] approve = ["ID", "plugin:*"]` in drhost.toml, only without a
//!    terminal (drills, cron) and only for a plugin with a trusted
//!    signature — never one run with `--allow-unsigned`, whose id is only
//!    its own claim (`by: config <path>`);
//! 6. otherwise the answer is `unavailable`, never a silent yes: the message
//!    names the id and the flag that would approve it.

mod grant;
mod host;
pub(crate) mod prompt;

use std::sync::Mutex;

use serde::Serialize;
use sha2::{Digest, Sha256};

pub use grant::{ApprovalPattern, Approvals, Decision};

/// How `confirm.ask` is answered.
#[derive(Debug, Clone)]
pub enum ConfirmPolicy {
    /// A run: the approvals it was given, else the operator (see the module doc).
    Run(Approvals),
    /// Nobody may approve (e.g. `describe`, `inspect`).
    Nobody,
}

/// Who vouches for the plugin that asks, as every question shows it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Signer {
    /// The trusted keys that signed it.
    Keys(Vec<String>),
    /// Run with `--allow-unsigned`: no trusted signature.
    #[default]
    Unsigned,
}

impl Signer {
    /// `signed by key lab-dev`, or `UNSIGNED (--allow-unsigned)`.
    pub fn describe(&self) -> String {
        match self {
            Signer::Keys(keys) if !keys.is_empty() => {
                let keys: Vec<String> = keys
                    .iter()
                    .map(|k| crate::console::plugin_text(k).into_owned())
                    .collect();
                format!("signed by key {}", keys.join(", "))
            }
            _ => "UNSIGNED (--allow-unsigned)".to_string(),
        }
    }

    /// Whether a trusted key signed it.
    pub fn is_signed(&self) -> bool {
        matches!(self, Signer::Keys(keys) if !keys.is_empty())
    }
}

/// The stable id of `question` asked by plugin `plugin`:
/// `<plugin>:<first 8 hex digits of sha256(question)>`.
pub fn question_id(plugin: &str, question: &str) -> String {
    let digest = Sha256::digest(question.as_bytes());
    format!("{plugin}:{}", &hex::encode(digest)[..8])
}

/// Whether `text` is shaped like a question id (`<plugin-id>:<8 hex>`).
pub fn is_question_id(text: &str) -> bool {
    text.split_once(':').is_some_and(|(plugin, hash)| {
        crate::plugin::is_valid_id(plugin)
            && hash.len() == 8
            && hash.chars().all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c))
    })
}

/// One question a run asked, for its report (`--json`, the plan).
#[derive(Debug, Clone, Serialize)]
pub struct ConfirmReport {
    /// The question's id (see [`question_id`]).
    pub id: String,
    /// The question, as journaled (at most [`QUESTION_BYTES`]).
    pub question: String,
    /// The answer, when there was one.
    pub approved: Option<bool>,
    /// Who answered: `--yes`, `--approve`, `config <path>`, `operator`, `plan`.
    pub by: Option<String>,
    /// Plan mode: who would answer it in a live run with the same flags
    /// and config.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub live: Option<String>,
}

/// Bytes of a question kept for the journal, the prompt and the report.
pub const QUESTION_BYTES: usize = 1024;
/// Questions kept for a run's report (the journal has them all).
pub const MAX_REPORTED: usize = 100;

/// The questions a run asked, in order (the first [`MAX_REPORTED`]).
#[derive(Debug, Default)]
pub struct Asked(Mutex<Vec<ConfirmReport>>);

impl Asked {
    /// Keeps one question for the report.
    pub fn push(&self, report: ConfirmReport) {
        let mut asked = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if asked.len() < MAX_REPORTED {
            asked.push(report);
        }
    }

    /// Every question kept.
    pub fn all(&self) -> Vec<ConfirmReport> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_id_is_the_plugin_and_a_hash_of_the_whole_question() {
        let id = question_id("db-restore", "restore?");
        assert!(id.starts_with("db-restore:") && is_question_id(&id), "{id}");
        assert_eq!(id, question_id("db-restore", "restore?"), "stable");
        assert_ne!(id, question_id("db-restore", "restore? "), "one byte changes it");
        assert_ne!(id, question_id("db-backup", "restore?"), "another plugin's differs");
        assert_eq!(
            question_id("misbehave", "drop the pretend table?"),
            format!(
                "misbehave:{}",
                &hex::encode(Sha256::digest(b"drop the pretend table?"))[..8]
            )
        );
    }

    #[test]
    fn only_a_well_formed_id_is_one() {
        for bad in [
            "",
            "db-restore",
            "db-restore:",
            "db-restore:1a2b3c4",
            "db-restore:1a2b3c4d5",
            "db-restore:1A2B3C4D",
            "db-restore:*",
            "Db:1a2b3c4d",
            ":1a2b3c4d",
            "a:b:1a2b3c4d",
        ] {
            assert!(!is_question_id(bad), "{bad}");
        }
        assert!(is_question_id("db-restore:1a2b3c4d"));
    }

    #[test]
    fn the_signer_is_named_or_the_override_is() {
        assert_eq!(Signer::Keys(vec!["lab-dev".into()]).describe(), "signed by key lab-dev");
        assert_eq!(Signer::Unsigned.describe(), "UNSIGNED (--allow-unsigned)");
        assert_eq!(Signer::Keys(vec![]).describe(), "UNSIGNED (--allow-unsigned)");
        assert!(!Signer::Keys(vec![]).is_signed());
    }
}
