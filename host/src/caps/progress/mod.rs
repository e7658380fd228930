//! `progress`: runbook steps. The console draws them; the journal times them.
//!
//! A step dropped without `finish` is recorded as failed: a plugin that
//! crashes mid-step leaves an honest timeline.

use std::time::Instant;

use serde_json::json;
use wasmtime::component::Resource;

use crate::bindings::drhost::runbook::progress::{Host, HostStep};
use crate::caps::kit::text::truncate;
use crate::sandbox::RunState;

/// A step in progress, held in the run's resource table.
pub struct Step {
    name: String,
    started: Instant,
    finished: bool,
}

impl Host for RunState {}

impl HostStep for RunState {
    async fn new(&mut self, name: String) -> wasmtime::Result<Resource<Step>> {
        let name = truncate(&name, 256).to_string();
        self.ctx.journal.record("step-start", json!({ "step": name }));
        self.ctx.steps.lock().unwrap_or_else(|p| p.into_inner()).started(&name);
        self.ctx.console.step_start(&name);
        Ok(self.table.push(Step {
            name,
            started: Instant::now(),
            finished: false,
        })?)
    }

    async fn note(&mut self, step: Resource<Step>, message: String) -> wasmtime::Result<()> {
        let step = self.table.get(&step)?;
        let message = truncate(&message, 4096);
        self.ctx
            .journal
            .record("step-note", json!({ "step": step.name, "message": message }));
        self.ctx.console.step_note(message);
        Ok(())
    }

    async fn finish(&mut self, step: Resource<Step>, ok: bool) -> wasmtime::Result<()> {
        let step = self.table.get_mut(&step)?;
        if step.finished {
            return Ok(());
        }
        step.finished = true;
        let (name, elapsed) = (step.name.clone(), step.started.elapsed());
        self.end_step(&name, elapsed, ok, None);
        Ok(())
    }

    async fn drop(&mut self, step: Resource<Step>) -> wasmtime::Result<()> {
        let step = self.table.delete(step)?;
        if !step.finished {
            self.end_step(
                &step.name,
                step.started.elapsed(),
                false,
                Some("the plugin dropped the step without finishing it"),
            );
        }
        Ok(())
    }
}

impl RunState {
    fn end_step(&mut self, name: &str, elapsed: std::time::Duration, ok: bool, reason: Option<&str>) {
        let duration_ms = elapsed.as_secs_f64() * 1000.0;
        self.ctx
            .steps
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .ended(name, ok, elapsed);
        self.ctx.journal.record(
            "step-end",
            json!({ "step": name, "ok": ok, "duration_ms": duration_ms, "reason": reason }),
        );
        self.ctx.console.step_end(name, ok, elapsed);
    }
}
