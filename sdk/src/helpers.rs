//! Small helpers that make a plugin about twenty lines: typed parameters,
//! a step guard, builders, log functions, and error conversions.

use std::fmt;
use std::str::FromStr;

use crate::bindings::drhost::runbook::log::{write, Level};
use crate::bindings::drhost::runbook::progress;
use crate::{Access, Error, Fact, Failure, FollowUp, Manifest, Need, Outcome, Param, ParamSpec, Table};

/// The operator's parameters, with defaults applied by the host.
#[derive(Debug, Clone)]
pub struct Params(Vec<Param>);

impl Params {
    /// Wraps the parameters `run` received.
    pub fn new(params: Vec<Param>) -> Params {
        Params(params)
    }

    /// The value of `name`; a [`Failure`] when the plugin did not declare it.
    pub fn get(&self, name: &str) -> Result<&str, Failure> {
        self.0
            .iter()
            .find(|p| p.name == name)
            .map(|p| p.value.as_str())
            .ok_or_else(|| {
                fail(format!(
                    "this plugin reads a parameter `{name}` it does not declare, so drhost cannot pass it"
                ))
                .hint("a bug in the plugin: tell its author (`drhost inspect` lists the parameters it declares)")
            })
    }

    /// The value of `name` parsed as `T` (numbers, bools…).
    pub fn parse<T: FromStr>(&self, name: &str) -> Result<T, Failure>
    where
        T::Err: fmt::Display,
    {
        let text = self.get(name)?;
        text.trim().parse().map_err(|_| {
            fail(format!("--param {name}={text}: not {}", expected::<T>()))
                .hint(format!("pass --param {name}=VALUE with VALUE {}", expected::<T>()))
        })
    }

    /// The value of `name` as a duration: `250ms`, `30s` (or a bare number
    /// of seconds), `5m`, `1h`.
    pub fn duration(&self, name: &str) -> Result<std::time::Duration, Failure> {
        let text = self.get(name)?;
        let bad = || {
            fail(format!(
                "--param {name}={text}: not a duration like 500ms, 30s, 5m or 1h"
            ))
            .hint(format!("pass --param {name}=30s (ms, s, m or h)"))
        };
        parse_duration(text.trim()).ok_or_else(bad)
    }

    /// The value of `name`, or `None` when it is empty.
    pub fn optional(&self, name: &str) -> Result<Option<&str>, Failure> {
        self.get(name).map(|v| if v.is_empty() { None } else { Some(v) })
    }
}

/// A runbook step that closes itself: `ok()` or `fail()` end it, and
/// dropping it unfinished (an early `?` return) marks it failed.
pub struct Step {
    inner: progress::Step,
    name: String,
}

impl Step {
    /// Starts a step named for what it does.
    pub fn start(name: impl Into<String>) -> Step {
        let name = name.into();
        Step {
            inner: progress::Step::new(&name),
            name,
        }
    }

    /// Adds a line of detail.
    pub fn note(&self, message: impl AsRef<str>) {
        self.inner.note(message.as_ref());
    }

    /// The step's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Ends the step as achieved.
    pub fn ok(self) {
        self.inner.finish(true);
    }

    /// Ends the step as failed.
    pub fn fail(self) {
        self.inner.finish(false);
    }
}

/// Starts a [`Manifest`].
pub fn manifest(id: &str, version: &str, description: &str) -> ManifestBuilder {
    ManifestBuilder(Manifest {
        id: id.into(),
        version: version.into(),
        description: description.into(),
        params: Vec::new(),
        needs: Vec::new(),
    })
}

/// Builds a [`Manifest`] one parameter and need at a time.
pub struct ManifestBuilder(Manifest);

impl ManifestBuilder {
    /// Declares a parameter; `default: None` makes it required.
    pub fn param(mut self, name: &str, description: &str, default: Option<&str>) -> Self {
        self.0.params.push(ParamSpec {
            name: name.into(),
            description: description.into(),
            default: default.map(Into::into),
        });
        self
    }

    /// Declares a need, with the reason shown to the operator.
    pub fn need(mut self, capability: &str, target: &str, access: Access, why: &str) -> Self {
        self.0.needs.push(Need {
            capability: capability.into(),
            target: target.into(),
            access,
            why: why.into(),
        });
        self
    }

    /// The finished manifest.
    pub fn build(self) -> Manifest {
        self.0
    }
}

/// A successful [`Outcome`] with a summary; add facts with [`OutcomeExt::fact`].
pub fn outcome(summary: impl Into<String>) -> Outcome {
    Outcome {
        summary: summary.into(),
        facts: Vec::new(),
        tables: Vec::new(),
        follow_ups: Vec::new(),
    }
}

/// A [`Table`] with a title and column names; add rows with [`Table::row`].
pub fn table(title: &str, columns: &[&str]) -> Table {
    Table {
        title: title.into(),
        columns: columns.iter().map(|c| c.to_string()).collect(),
        rows: Vec::new(),
    }
}

impl Table {
    /// Adds a row, one cell per column.
    pub fn row<S: ToString>(mut self, cells: &[S]) -> Self {
        self.rows.push(cells.iter().map(ToString::to_string).collect());
        self
    }
}

/// Adds facts, tables and follow-ups to an [`Outcome`].
pub trait OutcomeExt {
    /// Adds `name = value`.
    fn fact(self, name: &str, value: impl ToString) -> Self;
    /// Adds a table for the operator.
    fn table(self, table: Table) -> Self;
    /// Adds something the operator must still do by hand, and why; the run
    /// then ends "recovered, follow-up required" (exit 5).
    fn follow_up(self, action: impl Into<String>, why: impl Into<String>) -> Self;
}

impl OutcomeExt for Outcome {
    fn fact(mut self, name: &str, value: impl ToString) -> Self {
        self.facts.push(Fact {
            name: name.into(),
            value: value.to_string(),
        });
        self
    }
    fn table(mut self, table: Table) -> Self {
        self.tables.push(table);
        self
    }
    fn follow_up(mut self, action: impl Into<String>, why: impl Into<String>) -> Self {
        self.follow_ups.push(FollowUp {
            action: action.into(),
            why: why.into(),
        });
        self
    }
}

/// A [`Failure`] with a summary; add the step and a hint with [`FailureExt`].
pub fn fail(summary: impl Into<String>) -> Failure {
    Failure {
        summary: summary.into(),
        step: None,
        hint: None,
        facts: Vec::new(),
        tables: Vec::new(),
    }
}

/// Adds context to a [`Failure`].
pub trait FailureExt {
    /// Names the step that failed.
    fn in_step(self, step: &str) -> Self;
    /// Tells the operator what to do next.
    fn hint(self, hint: impl Into<String>) -> Self;
    /// Adds what was measured or seen before the failure.
    fn fact(self, name: &str, value: impl ToString) -> Self;
    /// Adds a table for the operator (e.g. the checks that failed).
    fn table(self, table: Table) -> Self;
}

impl FailureExt for Failure {
    fn in_step(mut self, step: &str) -> Self {
        self.step = Some(step.into());
        self
    }
    fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
    fn fact(mut self, name: &str, value: impl ToString) -> Self {
        self.facts.push(Fact {
            name: name.into(),
            value: value.to_string(),
        });
        self
    }
    fn table(mut self, table: Table) -> Self {
        self.tables.push(table);
        self
    }
}

impl Error {
    /// The error's kind as the host names it (`access-denied`, `timeout`, …).
    pub fn kind(&self) -> &'static str {
        match self {
            Error::AccessDenied(_) => "access-denied",
            Error::NotFound(_) => "not-found",
            Error::InvalidArgument(_) => "invalid-argument",
            Error::Unavailable(_) => "unavailable",
            Error::Timeout(_) => "timeout",
            Error::Conflict(_) => "conflict",
            Error::Failed(_) => "failed",
            Error::Planned(_) => "planned",
        }
    }

    /// Whether this is plan mode's answer to a change: recorded, not made
    /// (`drhost run --plan`). Treat the change as done and skip waits that
    /// only make sense after a real one.
    pub fn is_planned(&self) -> bool {
        matches!(self, Error::Planned(_))
    }

    /// `kind: message`, the way the operator should read it.
    pub fn describe(&self) -> String {
        format!("{}: {}", self.kind(), self.message())
    }

    /// The host's message.
    pub fn message(&self) -> &str {
        match self {
            Error::AccessDenied(m)
            | Error::NotFound(m)
            | Error::InvalidArgument(m)
            | Error::Unavailable(m)
            | Error::Timeout(m)
            | Error::Conflict(m)
            | Error::Failed(m)
            | Error::Planned(m) => m,
        }
    }
}

impl From<Error> for Failure {
    fn from(error: Error) -> Failure {
        let hint = match &error {
            Error::AccessDenied(_) => Some("add the grant the message names to drhost.toml, then run again".to_string()),
            Error::Unavailable(_) => Some("check that the service is running and reachable, then run again".to_string()),
            Error::Timeout(_) => Some("the service may be overloaded: run again, or give the run more time".to_string()),
            Error::Planned(_) => Some(
                "this run is a plan (drhost run --plan): the change was recorded, not made, and the plugin stopped there; run without --plan to make it"
                    .to_string(),
            ),
            _ => None,
        };
        Failure {
            summary: error.describe(),
            step: None,
            hint,
            facts: Vec::new(),
            tables: Vec::new(),
        }
    }
}

/// What a parameter of type `T` must be, for a message.
fn expected<T>() -> &'static str {
    match std::any::type_name::<T>() {
        "u8" | "u16" | "u32" | "u64" | "u128" | "usize" => "a whole number of 0 or more",
        "i8" | "i16" | "i32" | "i64" | "i128" | "isize" => "a whole number",
        "f32" | "f64" => "a number",
        "bool" => "true or false",
        _ => "a valid value",
    }
}

/// `250ms`, `30s`, `30` (seconds), `5m`, `1h`; `None` for anything else
/// (or a duration too long to hold).
fn parse_duration(text: &str) -> Option<std::time::Duration> {
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (digits, unit) = text.split_at(split);
    let n: u64 = digits.parse().ok()?;
    let secs = |factor: u64| n.checked_mul(factor).map(std::time::Duration::from_secs);
    match unit {
        "ms" => Some(std::time::Duration::from_millis(n)),
        "" | "s" => secs(1),
        "m" | "min" => secs(60),
        "h" => secs(3600),
        _ => None,
    }
}

/// How a program ended, for a message: `exited 0`, `exited 3`, or `was
/// killed by a signal` (no exit code).
pub fn exit_text(code: Option<i32>) -> String {
    match code {
        Some(code) => format!("exited {code}"),
        None => "was killed by a signal".to_string(),
    }
}

fn log(level: Level, message: &str) {
    write(level, message);
}

/// Logs at debug level.
pub fn debug(message: impl AsRef<str>) {
    log(Level::Debug, message.as_ref());
}
/// Logs at info level.
pub fn info(message: impl AsRef<str>) {
    log(Level::Info, message.as_ref());
}
/// Logs at warn level.
pub fn warn(message: impl AsRef<str>) {
    log(Level::Warn, message.as_ref());
}
/// Logs at error level.
pub fn error(message: impl AsRef<str>) {
    log(Level::Error, message.as_ref());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_in_every_unit_and_refuse_the_rest() {
        let d = std::time::Duration::from_millis;
        assert_eq!(parse_duration("250ms"), Some(d(250)));
        assert_eq!(parse_duration("30"), Some(d(30_000)));
        assert_eq!(parse_duration("30s"), Some(d(30_000)));
        assert_eq!(parse_duration("5m"), Some(d(300_000)));
        assert_eq!(parse_duration("1h"), Some(d(3_600_000)));
        for bad in [
            "",
            "s",
            "1.5s",
            "-1s",
            "10x",
            "99999999999999999999s",
            "18446744073709551615m",
        ] {
            assert_eq!(parse_duration(bad), None, "{bad}");
        }
    }

    #[test]
    fn exit_codes_and_types_read_as_words() {
        assert_eq!(exit_text(Some(0)), "exited 0");
        assert_eq!(exit_text(None), "was killed by a signal");
        assert_eq!(expected::<u32>(), "a whole number of 0 or more");
        assert_eq!(expected::<f64>(), "a number");
    }
}
