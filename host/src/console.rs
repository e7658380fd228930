//! What the operator sees while a plugin runs: steps, logs and refusals on
//! stderr (stdout is kept for the result, and for `--json`).

use std::io::Write;
use std::time::Duration;

/// Draws progress on stderr, or nothing when quiet.
#[derive(Debug, Clone, Copy)]
pub struct Console {
    quiet: bool,
}

impl Console {
    /// A console that prints (`quiet = false`) or stays silent.
    pub fn new(quiet: bool) -> Console {
        Console { quiet }
    }

    fn line(&self, text: std::fmt::Arguments<'_>) {
        if !self.quiet {
            let _ = writeln!(std::io::stderr().lock(), "{text}");
        }
    }

    /// A step began.
    pub fn step_start(&self, name: &str) {
        self.line(format_args!("  ▸ {name}"));
    }

    /// A detail line for the current step.
    pub fn step_note(&self, message: &str) {
        self.line(format_args!("      {message}"));
    }

    /// A step ended.
    pub fn step_end(&self, name: &str, ok: bool, elapsed: Duration) {
        let mark = if ok { "✓" } else { "✗" };
        self.line(format_args!("  {mark} {name} ({:.1}s)", elapsed.as_secs_f64()));
    }

    /// A plugin log line.
    pub fn log(&self, level: &str, message: &str) {
        self.line(format_args!("    [{level}] {message}"));
    }

    /// A capability call that returned an error.
    pub fn call_error(&self, call: &str, kind: &str, message: &str) {
        let first = message.lines().next().unwrap_or_default();
        self.line(format_args!("    ! {call}: {kind}: {first}"));
    }
}
