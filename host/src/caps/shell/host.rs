//! The `shell` interface: one function, `run` (the check and the child
//! process are in `program.rs`).

use serde_json::json;

use super::program;
use crate::bindings::drhost::runbook::shell::{Command, Completed, Host};
use crate::caps::kit::Answer;
use crate::sandbox::RunState;

impl Host for RunState {
    async fn run(&mut self, cmd: Command) -> Answer<Completed> {
        let ctx = self.ctx.clone();
        let args = json!({ "program": cmd.program, "args": cmd.args, "timeout_ms": cmd.timeout_ms });
        let summary = |c: &Completed| json!({ "exit_code": c.exit_code, "truncated": c.truncated });
        ctx.audited_checked(
            "shell.run",
            args,
            summary,
            async { program::check(&ctx, &cmd) },
            |grant| program::run(&ctx, grant, &cmd),
        )
        .await
    }
}
