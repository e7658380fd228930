//! `drhost report --json`: the [`IncidentReport`] as one JSON object, for
//! machines (its `schema` is [`super::REPORT_SCHEMA`]). Its texts are the
//! report's, already cleaned ([`super::super::clip`]); JSON escapes the rest.

use super::IncidentReport;

/// `report` as pretty-printed JSON, ending in a newline.
pub fn render(report: &IncidentReport) -> String {
    let mut text = serde_json::to_string_pretty(report).unwrap_or_else(|e| {
        // Serializing plain data cannot fail; say so rather than print nothing.
        format!(
            "{{\"schema\":{},\"error\":\"cannot serialize the report: {e}\"}}",
            super::REPORT_SCHEMA
        )
    });
    text.push('\n');
    text
}
