//! `confirm`: human approval gates. `--yes` approves every question (and the
//! journal says so); a terminal gets a prompt; otherwise the answer is
//! `unavailable`, never a silent yes.

use std::io::{BufRead, IsTerminal, Write};

use serde_json::json;

use crate::bindings::drhost::runbook::confirm::Host;
use crate::bindings::types::Error as CapError;
use crate::caps::kit::Answer;
use crate::sandbox::RunState;

/// How `confirm.ask` is answered in this run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfirmPolicy {
    /// `--yes`: every question is approved.
    ApproveAll,
    /// Ask on the terminal when there is one.
    AskOperator,
    /// Nobody may approve (e.g. `inspect`).
    Nobody,
}

impl Host for RunState {
    async fn ask(&mut self, question: String) -> Answer<bool> {
        let question = crate::caps::kit::text::truncate(&question, 1024).to_string();
        // A plan asks nobody: it answers yes to see what would follow, and
        // lists the question (the live run asks it).
        let planning = self.ctx.plan.is_some();
        let how = match self.ctx.confirm {
            _ if planning => "plan",
            ConfirmPolicy::ApproveAll => "--yes",
            _ => "operator",
        };
        let summary = |ok: &bool| json!({ "approved": ok, "by": how });
        let answer = async {
            match self.ctx.confirm {
                _ if planning => {
                    self.ctx.console.planned(&format!("ask the operator: {question}"));
                    Ok(true)
                }
                ConfirmPolicy::ApproveAll => Ok(true),
                ConfirmPolicy::Nobody => Err(CapError::AccessDenied(
                    "no confirmation is possible here (describe/inspect)".into(),
                )),
                ConfirmPolicy::AskOperator if std::io::stdin().is_terminal() => {
                    let (q, console) = (question.clone(), self.ctx.console.clone());
                    tokio::task::spawn_blocking(move || console.prompting(|| prompt(&q)))
                        .await
                        .unwrap_or_else(|e| Err(CapError::Failed(format!("prompt failed: {e}"))))
                }
                ConfirmPolicy::AskOperator => Err(CapError::Unavailable(
                    "no operator to confirm (stdin is not a terminal); rerun with --yes to approve".into(),
                )),
            }
        };
        let args = json!({ "question": question });
        self.ctx
            .audited("confirm.ask", args, summary, async { Ok(answer.await?) })
            .await
    }
}

fn prompt(question: &str) -> Result<bool, CapError> {
    let mut stderr = std::io::stderr();
    let _ = write!(stderr, "\n? {question} [y/N] ");
    let _ = stderr.flush();
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| CapError::Unavailable(format!("cannot read the answer: {e}")))?;
    Ok(matches!(line.trim().to_ascii_lowercase().as_str(), "y" | "yes"))
}
