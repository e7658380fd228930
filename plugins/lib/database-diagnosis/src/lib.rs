//! The runbook's diagnosis for a database failure, before anything changes,
//! shared by `db-outage` (scenario 1 option A) and `db-restore` (option B):
//!
//! ```text
//! curl https://status.supabase.com/api/v2/status.json
//! psql "$SUPABASE_DATABASE_URL" -c "SELECT 1"
//! docker logs toolboxai-backend1 | grep -i "database\|connection"
//! ```
//!
//! Each answer is a note on the `diagnose` step and a fact on the outcome.
//! Only `SELECT 1` may decide what a plugin does next; the status page and
//! the logs are evidence for the operator, so neither failing to answer
//! fails the run. A plugin declares the params and needs with [`declare`],
//! reads them with [`Settings::read`] and runs [`diagnose`].

use drhost_sdk::docker;
use drhost_sdk::postgres::Database;
use drhost_sdk::prelude::*;
use drhost_sdk::ManifestBuilder;

/// What the log lines must mention (case-insensitive), as the runbook greps.
const LOG_WORDS: [&str; 2] = ["database", "connection"];
/// Log lines quoted per backend; the rest are counted.
const QUOTED: usize = 3;
/// Bytes of log read per backend.
const LOG_BYTES: u32 = 64 * 1024;

/// The diagnosis's params, as the operator set them.
pub struct Settings {
    /// The status page's URL; `None` skips it.
    pub status_page: Option<String>,
    /// Glob over the backends whose logs are searched; `None` skips them.
    pub backends: Option<String>,
    /// Recent log lines searched per backend.
    pub log_lines: u32,
}

impl Settings {
    /// Reads the params [`declare`] adds.
    pub fn read(params: &Params) -> Result<Settings, Failure> {
        Ok(Settings {
            status_page: params.optional("status-page")?.map(str::to_string),
            backends: params.optional("backends")?.map(str::to_string),
            log_lines: params.get("log-lines")?.parse().map_err(|_| {
                fail(format!(
                    "--param log-lines={} is not a number of lines",
                    params.get("log-lines").unwrap_or_default()
                ))
            })?,
        })
    }
}

/// Adds the diagnosis's params and needs to a plugin's manifest (the
/// database's `read` need is the plugin's own: it names its label).
pub fn declare(manifest: ManifestBuilder) -> ManifestBuilder {
    manifest
        .param("status-page", "the database provider's status page (Statuspage JSON); empty skips it", Some("https://status.supabase.com/api/v2/status.json"))
        .need("http", "status.supabase.com:443", Access::Read, "reads the provider's status page, as the runbook's diagnosis does")
        .param("backends", "glob over the backend containers whose logs are searched for database or connection errors; empty skips them", Some("toolboxai-backend*"))
        .param("log-lines", "how many recent log lines of each backend to search", Some("200"))
        .need("docker", "toolboxai-backend*", Access::Read, "reads the backends' recent logs (the runbook's docker logs | grep database)")
}

/// `Ok` when the database `label` answers `SELECT 1`; otherwise why not.
pub fn database_answers(label: &str) -> Result<(), Error> {
    Database::open(label)?.query("SELECT 1", &[]).map(|_| ())
}

/// What the diagnosis found.
pub struct Diagnosis {
    /// The status page's `status.indicator` (`none`, `minor`, `major`,
    /// `critical`), `unknown` when it did not answer, `skipped` without a URL.
    pub provider: String,
    /// `SELECT 1`: `Ok` when the database answers.
    pub database: Result<(), Error>,
    /// Log lines about the database or connections, over every backend.
    pub log_lines: usize,
}

impl Diagnosis {
    /// `outcome` with the diagnosis's facts.
    pub fn on_outcome(&self, mut outcome: Outcome) -> Outcome {
        for (name, value) in self.facts() {
            outcome = outcome.fact(name, value);
        }
        outcome
    }

    /// `failure` with the diagnosis's facts: a failed run still says what
    /// the diagnosis found.
    pub fn on_failure(&self, mut failure: Failure) -> Failure {
        for (name, value) in self.facts() {
            failure = failure.fact(name, value);
        }
        failure
    }

    /// The diagnosis as facts on the run's outcome.
    pub fn facts(&self) -> [(&'static str, String); 3] {
        [
            ("provider-status", self.provider.clone()),
            (
                "database",
                if self.database.is_ok() { "up" } else { "down" }.to_string(),
            ),
            ("backend-database-log-lines", self.log_lines.to_string()),
        ]
    }
}

/// Runs the three checks in one `diagnose` step, `SELECT 1` on the
/// database `label`.
pub fn diagnose(settings: &Settings, label: &str) -> Diagnosis {
    let step = Step::start("diagnose");
    let provider = match settings.status_page.as_deref() {
        Some(url) => provider_status(url, &step),
        None => {
            step.note("status page: skipped (no --param status-page)");
            "skipped".to_string()
        }
    };
    let answer = database_answers(label);
    match &answer {
        Ok(()) => step.note(format!("database `{label}`: SELECT 1 answered")),
        Err(e) => step.note(format!("database `{label}`: down: {}", e.describe())),
    }
    let lines = match settings.backends.as_deref() {
        Some(glob) => backend_log_lines(glob, settings.log_lines, &step),
        None => 0,
    };
    step.ok();
    Diagnosis {
        provider,
        database: answer,
        log_lines: lines,
    }
}

/// The status page's indicator and description (Atlassian Statuspage's
/// `/api/v2/status.json`, which Supabase serves).
fn provider_status(url: &str, step: &Step) -> String {
    let answer = match http::get(url, Some(5000)) {
        Ok(r) if r.status == 200 => r,
        Ok(r) => {
            step.note(format!("status page {url}: answered {}", r.status));
            return "unknown".to_string();
        }
        Err(e) => {
            step.note(format!("status page {url}: {}", e.describe()));
            return "unknown".to_string();
        }
    };
    match parse_status(&answer.body) {
        Some((indicator, description)) => {
            step.note(format!("status page: {indicator} ({description})"));
            indicator
        }
        None => {
            step.note(format!(
                "status page {url}: not a status.json (no status.indicator): {}",
                answer.body.trim().chars().take(80).collect::<String>()
            ));
            "unknown".to_string()
        }
    }
}

/// `status.indicator` and `status.description`, each cut to one short word
/// or line: the page is on the internet, and its text goes to the operator.
fn parse_status(body: &str) -> Option<(String, String)> {
    let json: serde_json::Value = serde_json::from_str(body).ok()?;
    let status = json.get("status")?;
    let indicator = status.get("indicator")?.as_str()?;
    if indicator.is_empty() || !indicator.chars().all(|c| c.is_ascii_lowercase() || c == '_') || indicator.len() > 20 {
        return None;
    }
    let description = status.get("description").and_then(|d| d.as_str()).unwrap_or("");
    let description = description.split_whitespace().collect::<Vec<_>>().join(" ");
    Some((indicator.to_string(), description.chars().take(100).collect()))
}

/// Counts (and quotes the last few of) each backend's recent log lines that
/// mention the database or connections. Returns the total.
fn backend_log_lines(glob: &str, tail: u32, step: &Step) -> usize {
    let containers = match docker::list_containers(&drhost_sdk::containers_named(glob)) {
        Ok(c) => c,
        Err(e) => {
            step.note(format!("backends {glob}: {}", e.describe()));
            return 0;
        }
    };
    let mut total = 0;
    for c in &containers {
        let logs = match docker::container_logs(&c.name, Some(tail), None, Some(LOG_BYTES)) {
            Ok(l) => l,
            Err(e) => {
                step.note(format!("{}: logs: {}", c.name, e.describe()));
                continue;
            }
        };
        let matching: Vec<&String> = logs.lines.iter().filter(|l| mentions_database(l)).collect();
        total += matching.len();
        step.note(format!(
            "{}: {} of the last {} log lines mention the database or connections",
            c.name,
            matching.len(),
            logs.lines.len()
        ));
        for line in matching.iter().rev().take(QUOTED).rev() {
            step.note(format!(
                "{}: {}",
                c.name,
                line.trim().chars().take(200).collect::<String>()
            ));
        }
    }
    total
}

fn mentions_database(line: &str) -> bool {
    let lower = line.to_lowercase();
    LOG_WORDS.iter().any(|w| lower.contains(w))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_statuspage_json() {
        let body = r#"{"page":{"id":"x"},"status":{"indicator":"major","description":"Partial\nSystem Outage"}}"#;
        assert_eq!(
            parse_status(body),
            Some(("major".to_string(), "Partial System Outage".to_string()))
        );
        assert_eq!(parse_status("<html>"), None);
        assert_eq!(parse_status(r#"{"status":{"indicator":"\u001b[2J"}}"#), None);
        assert_eq!(parse_status(r#"{"status":{}}"#), None);
    }

    #[test]
    fn greps_like_the_runbook() {
        assert!(mentions_database("ERROR: Database connection refused"));
        assert!(mentions_database("lost CONNECTION to db"));
        assert!(!mentions_database("GET /health 200"));
    }
}
