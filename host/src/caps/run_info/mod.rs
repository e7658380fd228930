//! `run-info`: what a plugin may know about the run it is in — whether it
//! makes changes, and how long it has left before the deadline stops it, so
//! its own waits can end first and leave a message the operator can act on.
//! Nothing to grant: it reveals nothing outside the run.

use crate::bindings::drhost::runbook::run_info::{Host, RunMode};
use crate::sandbox::RunState;

impl Host for RunState {
    async fn mode(&mut self) -> wasmtime::Result<RunMode> {
        Ok(if self.ctx.plan.is_some() {
            RunMode::Plan
        } else {
            RunMode::Live
        })
    }

    async fn time_left_ms(&mut self) -> wasmtime::Result<u64> {
        Ok(u64::try_from(self.ctx.time_left().as_millis()).unwrap_or(u64::MAX))
    }
}
