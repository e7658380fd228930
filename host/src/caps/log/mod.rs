//! `log`: plugin log lines, shown on the console and journaled.
//!
//! Bounded: each message is cut at 4 KiB and a run keeps at most 10,000
//! lines, so a chatty or hostile plugin cannot fill the disk.

use crate::bindings::drhost::runbook::log::{Host, Level};
use crate::caps::kit::text::truncate;
use crate::sandbox::RunState;

const MESSAGE_CAP: usize = 4 * 1024;
const LINES_CAP: usize = 10_000;

/// Log lines the plugin wrote this run.
#[derive(Default)]
struct LinesWritten(usize);

impl Host for RunState {
    async fn write(&mut self, level: Level, message: String) -> wasmtime::Result<()> {
        let LinesWritten(lines) = self.kept::<LinesWritten>();
        *lines += 1;
        let lines = *lines;
        if lines > LINES_CAP {
            if lines == LINES_CAP + 1 {
                self.ctx.journal.record("log", serde_json::json!({ "level": "warn", "message": "log limit reached: further plugin log lines are dropped" }));
            }
            return Ok(());
        }
        let level = match level {
            Level::Debug => "debug",
            Level::Info => "info",
            Level::Warn => "warn",
            Level::Error => "error",
        };
        let message = truncate(&message, MESSAGE_CAP);
        self.ctx
            .journal
            .record("log", serde_json::json!({ "level": level, "message": message }));
        self.ctx.console.log(level, message);
        Ok(())
    }
}
