//! What is posted: the plugin's notice made safe to show people — the
//! title one line, the text at most 4 KiB (cut with a note saying so) —
//! and the payload each format expects. Pure: no I/O.

use serde_json::{json, Value};

use super::grant::NotifyFormat;
use crate::bindings::drhost::runbook::notify::{Notice, Severity};
use crate::caps::kit::text::truncate;

/// The most text a notice carries, in bytes.
pub const MAX_TEXT: usize = 4 << 10;
/// The most title a notice carries, in bytes.
pub const MAX_TITLE: usize = 256;

/// A notice ready to post.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Message {
    /// One line, at most [`MAX_TITLE`] bytes.
    pub title: String,
    /// At most [`MAX_TEXT`] bytes of the plugin's text, then the note when cut.
    pub text: String,
    pub severity: Severity,
    /// The plugin's text was longer than [`MAX_TEXT`] (its length).
    pub cut_from: Option<usize>,
}

impl Message {
    /// `notice`, made safe to post.
    pub(crate) fn new(notice: &Notice) -> Message {
        let one_line: String = notice
            .title
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        let title = truncate(one_line.trim(), MAX_TITLE).to_string();
        let (text, cut_from) = if notice.text.len() > MAX_TEXT {
            let kept = truncate(&notice.text, MAX_TEXT);
            let note = format!(
                "\n[cut by drhost: the message had {} bytes; at most {MAX_TEXT} are sent]",
                notice.text.len()
            );
            (format!("{kept}{note}"), Some(notice.text.len()))
        } else {
            (notice.text.clone(), None)
        };
        Message {
            title,
            text,
            severity: notice.severity,
            cut_from,
        }
    }

    /// The payload for `format`, from plugin `plugin` in run `run_id`.
    pub(crate) fn payload(&self, format: NotifyFormat, plugin: &str, run_id: &str) -> Value {
        match format {
            NotifyFormat::Slack => json!({
                "text": format!(
                    "{} *{}*\n{}",
                    slack_mark(self.severity),
                    slack_escape(&self.title),
                    slack_escape(&self.text)
                ),
            }),
            NotifyFormat::Json => json!({
                "title": self.title,
                "text": self.text,
                "severity": severity_name(self.severity),
                "plugin": plugin,
                "run_id": run_id,
            }),
        }
    }
}

/// The contract's name of a severity.
pub(crate) fn severity_name(severity: Severity) -> &'static str {
    match severity {
        Severity::Info => "info",
        Severity::Warning => "warning",
        Severity::Critical => "critical",
        Severity::Resolved => "resolved",
    }
}

/// The emoji a Slack message starts with.
fn slack_mark(severity: Severity) -> &'static str {
    match severity {
        Severity::Info => ":information_source:",
        Severity::Warning => ":warning:",
        Severity::Critical => ":rotating_light:",
        Severity::Resolved => ":white_check_mark:",
    }
}

/// Slack's escaping of `&`, `<` and `>`, so a plugin's text can neither
/// mention (`<!channel>`, `<@U123>`) nor link (`<https://…|click>`): it is
/// shown as written.
fn slack_escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn notice(title: &str, text: &str, severity: Severity) -> Notice {
        Notice {
            title: title.into(),
            text: text.into(),
            severity,
        }
    }

    #[test]
    fn slack_gets_one_escaped_mrkdwn_text() {
        let m = Message::new(&notice(
            "DB\nfailover",
            "<!channel> see <https://x|here> & go",
            Severity::Critical,
        ));
        assert_eq!(
            m.payload(NotifyFormat::Slack, "p", "r"),
            json!({ "text": ":rotating_light: *DB failover*\n&lt;!channel&gt; see &lt;https://x|here&gt; &amp; go" })
        );
    }

    #[test]
    fn json_gets_the_fields_with_plugin_and_run() {
        let m = Message::new(&notice("Done", "all good", Severity::Resolved));
        assert_eq!(
            m.payload(NotifyFormat::Json, "db-restore", "run-1"),
            json!({ "title": "Done", "text": "all good", "severity": "resolved", "plugin": "db-restore", "run_id": "run-1" })
        );
    }

    #[test]
    fn long_text_is_cut_and_says_so() {
        let long = "é".repeat(3000);
        let m = Message::new(&notice(&"t".repeat(400), &long, Severity::Info));
        assert_eq!(m.cut_from, Some(6000));
        assert_eq!(m.title.len(), MAX_TITLE);
        let (kept, note) = m.text.split_once("\n[cut by drhost").unwrap();
        assert_eq!(kept.len(), MAX_TEXT);
        assert!(note.contains("6000 bytes"), "{note}");
        assert_eq!(Message::new(&notice("t", "short", Severity::Info)).cut_from, None);
    }
}
