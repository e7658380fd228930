//! Who may approve a question without asking anyone: `--yes`, `--approve
//! ID` and the config's `[run] approve` policy, and the one decision
//! ([`Approvals::decide`]) of who answers.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::Signer;

/// One `[run] approve` entry: `<plugin-id>:<glob over the question's
/// hash>`, e.g. `"db-restore:1a2b3c4d"` or `"db-restore:*"`. The plugin id
/// is literal (no glob): an entry approves one plugin's questions, never
/// another's.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ApprovalPattern {
    text: String,
    plugin: String,
    hash: globset::GlobMatcher,
}

impl TryFrom<String> for ApprovalPattern {
    type Error = String;
    fn try_from(text: String) -> Result<Self, String> {
        let shape =
            "each entry is `<plugin-id>:<question hash or glob>`, e.g. \"db-restore:1a2b3c4d\" or \"db-restore:*\"";
        let Some((plugin, hash)) = text.split_once(':') else {
            return Err(format!("`{text}` names no plugin: {shape}"));
        };
        if !crate::plugin::is_valid_id(plugin) {
            return Err(format!(
                "`{text}`: `{plugin}` is not a plugin id (1-64 lowercase letters, digits and dashes; no glob): {shape}"
            ));
        }
        if hash.is_empty() || hash.contains(':') {
            return Err(format!("`{text}` is not a question id or glob: {shape}"));
        }
        let matcher = crate::caps::kit::pattern::grant_glob(hash)
            .ok_or_else(|| format!("`{text}`: `{hash}` is not a valid glob: {shape}"))?;
        Ok(ApprovalPattern {
            plugin: plugin.to_string(),
            hash: matcher,
            text,
        })
    }
}

impl From<ApprovalPattern> for String {
    fn from(pattern: ApprovalPattern) -> String {
        pattern.text
    }
}

impl ApprovalPattern {
    /// Whether this entry approves the question with id `id`.
    pub fn matches(&self, id: &str) -> bool {
        id.split_once(':')
            .is_some_and(|(plugin, hash)| plugin == self.plugin && self.hash.is_match(hash))
    }

    /// The entry as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

/// What a run was told about approving questions.
#[derive(Debug, Clone, Default)]
pub struct Approvals {
    /// `--yes`: every question.
    pub yes: bool,
    /// `--approve ID`, each exactly one question.
    pub ids: Vec<String>,
    /// `[run] approve` in the config: only without a terminal, only for a
    /// plugin with a trusted signature.
    pub config: Vec<ApprovalPattern>,
    /// The config file those came from (named in the journal's `by`).
    pub config_file: Option<PathBuf>,
}

/// Who answers one question.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Approved without asking; `by` as the journal says it.
    Approved(String),
    /// Ask the operator at the terminal.
    AskOperator,
    /// Nobody may answer: the answer is `unavailable`, with this message.
    NoAnswer(String),
}

impl Approvals {
    /// Who answers question `id` from a plugin signed as `signer`, with or
    /// without an operator at a `terminal` (see the module doc's order).
    pub fn decide(&self, id: &str, terminal: bool, signer: &Signer) -> Decision {
        if self.yes {
            return Decision::Approved("--yes".into());
        }
        if self.ids.iter().any(|approved| approved == id) {
            return Decision::Approved("--approve".into());
        }
        if terminal {
            return Decision::AskOperator;
        }
        let file = self.config_file.as_ref().map_or_else(
            || crate::config::DEFAULT_CONFIG_FILE.to_string(),
            |p| p.display().to_string(),
        );
        let fix = format!("rerun with --approve {id} to approve this question (or --yes to approve every question)");
        match self.config.iter().find(|p| p.matches(id)) {
            Some(_) if signer.is_signed() => Decision::Approved(format!("config {file}")),
            Some(entry) => Decision::NoAnswer(format!(
                "no operator to confirm question `{id}` (stdin is not a terminal), and the [run] approve entry \"{}\" in {file} does not apply to a plugin run with --allow-unsigned; {fix}",
                entry.as_str()
            )),
            None => Decision::NoAnswer(format!(
                "no operator to confirm question `{id}` (stdin is not a terminal); {fix}"
            )),
        }
    }

    /// Plan mode: who would answer question `id` in a live run with these
    /// approvals, in words.
    pub fn live_answer(&self, id: &str, terminal: bool, signer: &Signer) -> String {
        match self.decide(id, terminal, signer) {
            Decision::Approved(by) => format!("approved by {by}"),
            Decision::AskOperator => "asked at the terminal".into(),
            Decision::NoAnswer(_) => format!("not approved: pass --approve {id}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pattern(text: &str) -> Result<ApprovalPattern, String> {
        ApprovalPattern::try_from(text.to_string())
    }

    fn signed() -> Signer {
        Signer::Keys(vec!["lab-dev".into()])
    }

    #[test]
    fn an_entry_names_one_plugin_literally() {
        let all = pattern("db-restore:*").unwrap();
        assert!(all.matches("db-restore:1a2b3c4d"));
        assert!(!all.matches("db-restore-evil:1a2b3c4d"));
        assert!(!all.matches("db:1a2b3c4d"));
        assert!(!all.matches("misbehave:1a2b3c4d"));
        let one = pattern("db-restore:1a2b3c4d").unwrap();
        assert!(one.matches("db-restore:1a2b3c4d"));
        assert!(!one.matches("db-restore:1a2b3c4e"));
        for bad in [
            "*:*",
            "db*:*",
            "*",
            "db-restore",
            "db-restore:",
            "Db:*",
            "db-restore:a:b",
            "db-restore:[",
            ":*",
        ] {
            assert!(pattern(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn yes_then_approve_then_the_terminal_then_the_config() {
        let id = "misbehave:1a2b3c4d";
        let mut approvals = Approvals {
            config: vec![pattern("misbehave:*").unwrap()],
            config_file: Some("/etc/drhost.toml".into()),
            ..Default::default()
        };
        assert_eq!(
            approvals.decide(id, false, &signed()),
            Decision::Approved("config /etc/drhost.toml".into())
        );
        assert_eq!(
            approvals.decide(id, true, &signed()),
            Decision::AskOperator,
            "an operator is asked"
        );
        approvals.ids.push(id.into());
        assert_eq!(
            approvals.decide(id, true, &signed()),
            Decision::Approved("--approve".into())
        );
        approvals.yes = true;
        assert_eq!(
            approvals.decide(id, false, &signed()),
            Decision::Approved("--yes".into())
        );
    }

    #[test]
    fn without_an_approval_the_answer_names_the_id_and_the_flag() {
        let approvals = Approvals {
            ids: vec!["misbehave:00000000".into()],
            config: vec![pattern("db-restore:*").unwrap()],
            ..Default::default()
        };
        let Decision::NoAnswer(message) = approvals.decide("misbehave:1a2b3c4d", false, &signed()) else {
            panic!("approved");
        };
        assert!(message.contains("`misbehave:1a2b3c4d`"), "{message}");
        assert!(message.contains("--approve misbehave:1a2b3c4d"), "{message}");
    }

    #[test]
    fn the_config_never_approves_an_unsigned_plugin() {
        let approvals = Approvals {
            config: vec![pattern("misbehave:*").unwrap()],
            ..Default::default()
        };
        let Decision::NoAnswer(message) = approvals.decide("misbehave:1a2b3c4d", false, &Signer::Unsigned) else {
            panic!("approved");
        };
        assert!(message.contains("--allow-unsigned"), "{message}");
    }
}
