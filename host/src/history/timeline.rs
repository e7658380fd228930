//! `drhost show`: a journal as a timeline people read. Each event becomes
//! one line, stamped with the time since the run started: steps (indented
//! by nesting, with their duration and ✓/✗), each capability call (its
//! name, key arguments, outcome or error kind, duration), logs, notes,
//! confirmation answers, and the end with its status, summary and facts.
//!
//! Polling is collapsed: consecutive calls with the same name, the same
//! arguments and the same kind of outcome (ok, or one error kind) become
//! one line, "polled 162× over 38 s, last: …". Every text is cleaned and
//! cut by [`clip`] where it is formatted, and every line once more by
//! [`plugin_text`] on its way out, so nothing in a journal can reach the
//! terminal as a control sequence.

use std::time::SystemTime;

use serde_json::Value;

use super::{clip, event_time, human_duration, list::status_text, wall_clock};
use crate::console::plugin_text;

/// Characters of one argument or outcome value shown.
const VALUE_CHARS: usize = 80;
/// Characters of a message (note, log, error) shown.
const MESSAGE_CHARS: usize = 300;
/// Lines of a plugin's captured stdout/stderr shown.
const OUTPUT_LINES: usize = 5;

/// Renders events as they come ([`Timeline::push`]); holds back a call
/// that may be the first of a polling run until a different event shows
/// it is not ([`Timeline::flush`]).
#[derive(Debug, Default)]
pub struct Timeline {
    /// When the run started: `run-start`'s time, else the first event's.
    start: Option<SystemTime>,
    /// How many steps are open (for indenting).
    depth: usize,
    /// Identical consecutive calls not yet shown.
    polling: Option<Polling>,
    /// Whether `run-end` was rendered.
    ended: bool,
}

/// A run of identical calls: the first, the last, how many.
#[derive(Debug)]
struct Polling {
    first: Value,
    last: Value,
    count: usize,
    depth: usize,
}

impl Timeline {
    /// A timeline that has seen nothing.
    pub fn new() -> Timeline {
        Timeline::default()
    }

    /// Whether the run's `run-end` has been rendered.
    pub fn ended(&self) -> bool {
        self.ended
    }

    /// The lines for one more event (none while it may be part of a polling run).
    pub fn push(&mut self, event: &Value) -> Vec<String> {
        if self.start.is_none() || event["event"] == "run-start" {
            self.start = event_time(event).or(self.start);
        }
        if event["event"] == "call" {
            if let Some(polling) = self.polling.as_mut().filter(|p| same_poll(&p.last, event)) {
                polling.count += 1;
                polling.last = event.clone();
                return Vec::new();
            }
            let lines = self.flush();
            self.polling = Some(Polling {
                first: event.clone(),
                last: event.clone(),
                count: 1,
                depth: self.depth,
            });
            return lines;
        }
        let mut lines = self.flush();
        lines.extend(self.render(event));
        lines
    }

    /// The held-back calls, if any, as one line (`polled N× …` for more than one).
    pub fn flush(&mut self) -> Vec<String> {
        let Some(p) = self.polling.take() else {
            return Vec::new();
        };
        let text = if p.count == 1 {
            call_line(&p.first)
        } else {
            // The first call began its duration before it was journaled.
            let took = p.first["duration_ms"].as_f64().unwrap_or(0.0) / 1000.0;
            let took = std::time::Duration::try_from_secs_f64(took).unwrap_or_default();
            let began = event_time(&p.first).and_then(|t| t.checked_sub(took));
            let over = match (began, event_time(&p.last)) {
                (Some(a), Some(b)) => human_duration(b.duration_since(a).unwrap_or_default().as_secs_f64() * 1000.0),
                _ => "?".into(),
            };
            format!(
                "{} {} — polled {}× over {over}, last: {}",
                clip(p.first["call"].as_str().unwrap_or("?"), 60),
                arguments(&p.first["args"]),
                p.count,
                outcome(&p.last["outcome"])
            )
        };
        vec![self.stamped(&p.first, p.depth, &text)]
    }

    /// The closing lines once no more events will come: held-back calls,
    /// and, without `run-end`, whether the run is still going (`writer`:
    /// [`crate::journal::writer_alive`]).
    pub fn finish(&mut self, writer: Option<bool>) -> Vec<String> {
        let mut lines = self.flush();
        if !self.ended {
            lines.push(match writer {
                Some(true) => "… still running: `drhost show --follow RUN` follows it to its end".into(),
                _ => "✗ the journal ends without run-end: the drhost that wrote it stopped first (crashed, killed, or the machine went down)".into(),
            });
        }
        lines
    }

    /// `text` after the time since the start and the step indent.
    fn stamped(&self, event: &Value, depth: usize, text: &str) -> String {
        let offset = match (self.start, event_time(event)) {
            (Some(start), Some(at)) => relative(at.duration_since(start).unwrap_or_default().as_secs_f64()),
            _ => format!("{:>10}", "?"),
        };
        plugin_text(&format!("{offset}  {}{text}", "  ".repeat(depth))).into_owned()
    }

    fn render(&mut self, event: &Value) -> Vec<String> {
        let name = event["event"].as_str().unwrap_or("?");
        let text = |key: &str, max: usize| clip(event[key].as_str().unwrap_or(""), max);
        let line = match name {
            "run-start" => return self.header(event),
            "run-end" => return self.end(event),
            "step-start" => {
                let line = self.stamped(event, self.depth, &format!("▸ {}", text("step", MESSAGE_CHARS)));
                self.depth += 1;
                return vec![line];
            }
            "step-end" => {
                self.depth = self.depth.saturating_sub(1);
                let ok = event["ok"] == true;
                let reason = event["reason"]
                    .as_str()
                    .map(|r| format!(": {}", clip(r, MESSAGE_CHARS)));
                format!(
                    "{} {} ({}){}",
                    if ok { "✓" } else { "✗" },
                    text("step", MESSAGE_CHARS),
                    human_duration(event["duration_ms"].as_f64().unwrap_or(0.0)),
                    reason.unwrap_or_default()
                )
            }
            "step-note" => format!("· {}", text("message", MESSAGE_CHARS)),
            "log" => format!("[{}] {}", text("level", 10), text("message", MESSAGE_CHARS)),
            "guest-output" => return self.guest_output(event),
            "journal-truncated" => format!("! {}", text("message", MESSAGE_CHARS)),
            "lock" => {
                let names = |list: &Value, key: Option<&str>| {
                    let items = list.as_array().into_iter().flatten();
                    let items = items.map(|v| key.map_or(v, |k| &v[k]).as_str().unwrap_or("?"));
                    clip(&items.collect::<Vec<_>>().join(", "), MESSAGE_CHARS)
                };
                let took_over = names(&event["took_over"], Some("run"));
                format!(
                    "locked {}{}",
                    names(&event["targets"], None),
                    if took_over.is_empty() {
                        String::new()
                    } else {
                        format!(" (taken over from the dead run {took_over})")
                    }
                )
            }
            other => {
                let mut rest = event.clone();
                if let Value::Object(map) = &mut rest {
                    for key in ["ts", "run", "event", "prev"] {
                        map.remove(key);
                    }
                }
                format!("{} {}", clip(other, 40), arguments(&rest))
            }
        };
        vec![self.stamped(event, self.depth, &line)]
    }

    fn header(&mut self, event: &Value) -> Vec<String> {
        let plugin = &event["plugin"];
        let who = match plugin["id"].as_str() {
            Some(id) => format!(
                "{} {}",
                clip(id, 60),
                clip(plugin["version"].as_str().unwrap_or(""), 30)
            ),
            None => format!("{} (not identified)", clip(plugin["path"].as_str().unwrap_or("?"), 200)),
        };
        let signers = plugin["signers"].as_array().map(|s| {
            let names: Vec<String> = s.iter().filter_map(Value::as_str).map(|n| clip(n, 40)).collect();
            format!(", signed by {}", names.join(", "))
        });
        let digest = plugin["digest"].as_str().map(|d| {
            let hex = d.strip_prefix("sha256:").unwrap_or(d);
            format!(" (sha256:{})", clip(&hex.chars().take(12).collect::<String>(), 12))
        });
        let mut lines = vec![plugin_text(&format!(
            "run {} — {who}{}{}, started {} UTC",
            clip(event["run"].as_str().unwrap_or("?"), 80),
            digest.unwrap_or_default(),
            signers.unwrap_or_default(),
            wall_clock(event["ts"].as_str().unwrap_or("?"))
        ))
        .into_owned()];
        if let Some(params) = event["params"].as_array().filter(|p| !p.is_empty()) {
            let shown: Vec<String> = params
                .iter()
                .map(|p| format!("{}={}", clip(p["name"].as_str().unwrap_or("?"), 40), value(&p["value"])))
                .collect();
            lines.push(plugin_text(&format!("  params: {}", shown.join(" "))).into_owned());
        }
        if let Some(config) = event["config"].as_str() {
            lines.push(plugin_text(&format!("  config: {}", clip(config, 200))).into_owned());
        }
        lines
    }

    fn end(&mut self, event: &Value) -> Vec<String> {
        self.ended = true;
        self.depth = 0;
        let status = event["status"].as_str().unwrap_or("?");
        let mark = if matches!(status, "recovered" | "follow-up") {
            "✓"
        } else {
            "✗"
        };
        let step = event["failed_step"]
            .as_str()
            .map(|s| format!(" in step `{}`", clip(s, MESSAGE_CHARS)))
            .unwrap_or_default();
        let exit = event["exit_code"]
            .as_i64()
            .map(|c| format!(" (exit {c})"))
            .unwrap_or_default();
        let took = event["wall_ms"]
            .as_f64()
            .map(|ms| format!(" after {}", human_duration(ms)))
            .unwrap_or_default();
        let summary = match event["summary"].as_str() {
            Some(summary) if !summary.is_empty() => format!(": {}", clip(summary, MESSAGE_CHARS * 4)),
            _ => String::new(),
        };
        let mut lines = vec![self.stamped(
            event,
            0,
            &format!("{mark} {}{exit}{took}{step}{summary}", status_text(status)),
        )];
        let indent = format!("{:>10}    ", "");
        if let Some(hint) = event["hint"].as_str() {
            lines.push(plugin_text(&format!("{indent}hint: {}", clip(hint, MESSAGE_CHARS))).into_owned());
        }
        for fact in event["facts"].as_array().into_iter().flatten() {
            lines.push(
                plugin_text(&format!(
                    "{indent}{}: {}",
                    clip(fact["name"].as_str().unwrap_or("?"), 60),
                    clip(fact["value"].as_str().unwrap_or(""), MESSAGE_CHARS)
                ))
                .into_owned(),
            );
        }
        for follow_up in event["follow_ups"].as_array().into_iter().flatten() {
            lines.push(
                plugin_text(&format!(
                    "{indent}FOLLOW-UP: {}",
                    clip(follow_up["action"].as_str().unwrap_or("?"), MESSAGE_CHARS)
                ))
                .into_owned(),
            );
        }
        if let Some(dropped) = event["journal_events_dropped"].as_u64() {
            lines.push(format!(
                "{indent}{dropped} events were not journaled (the journal reached its budget)"
            ));
        }
        lines
    }

    fn guest_output(&self, event: &Value) -> Vec<String> {
        let stream = clip(event["stream"].as_str().unwrap_or("output"), 10);
        let text = event["text"].as_str().unwrap_or("");
        let all: Vec<&str> = text.lines().collect();
        let mut lines = vec![self.stamped(event, self.depth, &format!("guest {stream}: {} lines", all.len()))];
        for line in all.iter().take(OUTPUT_LINES) {
            lines.push(self.stamped(event, self.depth + 1, &format!("| {}", clip(line, MESSAGE_CHARS))));
        }
        if all.len() > OUTPUT_LINES {
            lines.push(self.stamped(
                event,
                self.depth + 1,
                &format!("… {} more lines in the journal", all.len() - OUTPUT_LINES),
            ));
        }
        lines
    }
}

/// Whether `next` repeats `last`: same call, same arguments, same kind of outcome.
fn same_poll(last: &Value, next: &Value) -> bool {
    last["call"] == next["call"] && last["args"] == next["args"] && outcome_kind(last) == outcome_kind(next)
}

/// `ok`, or the error's kind.
fn outcome_kind(call: &Value) -> &str {
    match call["outcome"]["error"]["kind"].as_str() {
        Some(kind) => kind,
        None => "ok",
    }
}

/// One capability call: `name args → outcome (duration)`; a confirmation as
/// its question and answer.
fn call_line(call: &Value) -> String {
    let name = call["call"].as_str().unwrap_or("?");
    let took = human_duration(call["duration_ms"].as_f64().unwrap_or(0.0));
    if name == "confirm.ask" {
        let question = clip(call["args"]["question"].as_str().unwrap_or("?"), MESSAGE_CHARS);
        let answer = match &call["outcome"]["ok"] {
            Value::Object(ok) => format!(
                "{} (by {})",
                if ok.get("approved") == Some(&Value::Bool(true)) {
                    "approved"
                } else {
                    "declined"
                },
                clip(ok.get("by").and_then(Value::as_str).unwrap_or("?"), 120)
            ),
            _ => outcome(&call["outcome"]),
        };
        // Journals before question ids have none.
        let id = match call["args"]["id"].as_str() {
            Some(id) => format!(" [{}]", clip(id, 80)),
            None => String::new(),
        };
        return format!("? confirm{id}: {question} → {answer} ({took})");
    }
    format!(
        "{} {} → {} ({took})",
        clip(name, 60),
        arguments(&call["args"]),
        outcome(&call["outcome"])
    )
}

/// `ok k=v …`, or `KIND: message` (its first line).
fn outcome(outcome: &Value) -> String {
    if let Some(error) = outcome.get("error") {
        let message = error["message"].as_str().unwrap_or("").lines().next().unwrap_or("");
        return format!(
            "{}: {}",
            clip(error["kind"].as_str().unwrap_or("error"), 30),
            clip(message, MESSAGE_CHARS)
        );
    }
    match arguments(&outcome["ok"]) {
        summary if summary.is_empty() => "ok".into(),
        summary => format!("ok {summary}"),
    }
}

/// Argument names that say what a call acts on, shown first (the journal
/// keeps an object's keys sorted, not in the order the host wrote them).
const LEADING_KEYS: &[&str] = &[
    "target",
    "program",
    "name",
    "container",
    "network",
    "url",
    "database",
    "path",
    "key",
    "sql",
    "command",
];

/// An object's fields as `key=value`, the [`LEADING_KEYS`] first, nulls
/// left out; anything else as one value.
fn arguments(args: &Value) -> String {
    match args {
        Value::Object(map) => {
            let lead = |k: &str| LEADING_KEYS.iter().position(|l| *l == k).unwrap_or(LEADING_KEYS.len());
            let mut fields: Vec<(&String, &Value)> = map.iter().filter(|(_, v)| !v.is_null()).collect();
            fields.sort_by_key(|(k, _)| lead(k));
            fields
                .iter()
                .map(|(k, v)| format!("{}={}", clip(k, 40), value(v)))
                .collect::<Vec<_>>()
                .join(" ")
        }
        Value::Null => String::new(),
        other => value(other),
    }
}

/// One value: a string as is (quoted when it has spaces or is empty), anything else as JSON.
fn value(v: &Value) -> String {
    match v {
        Value::String(s) if s.is_empty() || s.contains(char::is_whitespace) => clip(&format!("\"{s}\""), VALUE_CHARS),
        Value::String(s) => clip(s, VALUE_CHARS),
        other => clip(&other.to_string(), VALUE_CHARS),
    }
}

/// Seconds since the start as `+MM:SS.mmm` (`+H:MM:SS` past an hour), ten characters wide.
fn relative(seconds: f64) -> String {
    let ms = (seconds.max(0.0) * 1000.0).round() as u64;
    let text = if ms >= 3_600_000 {
        format!("+{}:{:02}:{:02}", ms / 3_600_000, ms / 60_000 % 60, ms / 1000 % 60)
    } else {
        format!("+{:02}:{:02}.{:03}", ms / 60_000, ms / 1000 % 60, ms % 1000)
    };
    format!("{text:>10}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn at(ms: u64) -> String {
        let t = humantime::parse_rfc3339("2026-11-30T10:00:00Z").unwrap() + std::time::Duration::from_millis(ms);
        humantime::format_rfc3339_millis(t).to_string()
    }

    fn render(events: &[Value]) -> Vec<String> {
        let mut timeline = Timeline::new();
        let mut lines: Vec<String> = events.iter().flat_map(|e| timeline.push(e)).collect();
        lines.extend(timeline.finish(Some(false)));
        lines
    }

    #[test]
    fn polling_repeats_collapse_into_one_line_and_different_calls_do_not() {
        let poll = |ms: u64, kind: &str| {
            json!({ "ts": at(ms), "event": "call", "call": "http.get", "args": { "url": "http://db/health" },
                    "duration_ms": 5.0, "outcome": { "error": { "kind": kind, "message": format!("down at {ms}") } } })
        };
        let mut events =
            vec![json!({ "ts": at(0), "event": "run-start", "run": "r", "plugin": { "id": "p", "version": "1" } })];
        events.extend((0..162).map(|i| poll(1000 + i * 236, "unavailable")));
        events.push(poll(40_000, "timeout"));
        events.push(json!({ "ts": at(41_000), "event": "run-end", "status": "recovered", "exit_code": 0, "wall_ms": 41000, "summary": "back" }));
        let lines = render(&events);
        let polled: Vec<&String> = lines.iter().filter(|l| l.contains("http.get")).collect();
        assert_eq!(polled.len(), 2, "{lines:#?}");
        assert!(
            polled[0].contains("polled 162× over 38.0 s, last: unavailable: down at 38996"),
            "{}",
            polled[0]
        );
        assert!(polled[0].starts_with("+00:01.000"), "{}", polled[0]);
        assert!(polled[1].contains("→ timeout: down at 40000 (5 ms)"), "{}", polled[1]);
        assert!(
            lines
                .last()
                .unwrap()
                .contains("✓ recovered (exit 0) after 41.0 s: back"),
            "{lines:#?}"
        );
    }

    #[test]
    fn steps_nest_texts_are_escaped_and_a_journal_without_run_end_says_so() {
        let events = [
            json!({ "ts": at(0), "event": "step-start", "step": "outer" }),
            json!({ "ts": at(10), "event": "log", "level": "info", "message": "evil \u{1b}[2J\r\nline" }),
            json!({ "ts": at(20), "event": "call", "call": "confirm.ask", "args": { "question": "go?" },
                    "duration_ms": 1.0, "outcome": { "ok": { "approved": true, "by": "--yes" } } }),
            json!({ "ts": at(25), "event": "call", "call": "confirm.ask",
                    "args": { "id": "x:1a2b3c4d", "question": "more?\n" },
                    "duration_ms": 1.0, "outcome": { "ok": { "approved": true, "by": "config /etc/drhost.toml" } } }),
            json!({ "ts": at(30), "event": "step-end", "step": "outer", "ok": false, "duration_ms": 30.0, "reason": "dropped" }),
        ];
        let lines = render(&events);
        assert_eq!(lines[0], "+00:00.000  ▸ outer");
        assert_eq!(lines[1], "+00:00.010    [info] evil \\u{1b}[2J\\u{d}\\nline");
        assert_eq!(lines[2], "+00:00.020    ? confirm: go? → approved (by --yes) (1 ms)");
        assert_eq!(
            lines[3],
            "+00:00.025    ? confirm [x:1a2b3c4d]: more?\\n → approved (by config /etc/drhost.toml) (1 ms)"
        );
        assert_eq!(lines[4], "+00:00.030  ✗ outer (30 ms): dropped");
        assert!(lines[5].contains("ends without run-end"), "{lines:#?}");
        assert!(lines.iter().all(|l| !l.contains('\u{1b}') && !l.contains('\r')));
    }
}
