//! `confirm.ask`: the question's id, who answers it (see the module doc),
//! the journal and the report.

use std::io::IsTerminal;

use serde_json::json;

use super::{question_id, ConfirmPolicy, ConfirmReport, Decision, QUESTION_BYTES};
use crate::bindings::drhost::runbook::confirm::Host;
use crate::bindings::drhost::runbook::notify::Severity;
use crate::bindings::types::Error as CapError;
use crate::caps::kit::Answer;
use crate::caps::notify::{HostNotice, RunEvent};
use crate::console::plugin_text;
use crate::sandbox::{RunContext, RunState};

impl Host for RunState {
    async fn ask(&mut self, question: String) -> Answer<bool> {
        let ctx = self.ctx.clone();
        // The id is the host's: the plugin's id and a hash of everything it asked.
        let id = question_id(&ctx.plugin_id, &question);
        let question = crate::caps::kit::text::truncate(&question, QUESTION_BYTES).to_string();
        let terminal = std::io::stdin().is_terminal();
        let decision = match &ctx.confirm {
            ConfirmPolicy::Run(approvals) => Some(approvals.decide(&id, terminal, &ctx.signer)),
            ConfirmPolicy::Nobody => None,
        };
        // A plan asks nobody: it answers yes to see what would follow, and
        // lists the question with who would answer it in the live run.
        let planning = ctx.plan.is_some();
        let live = match &ctx.confirm {
            ConfirmPolicy::Run(approvals) if planning => Some(approvals.live_answer(&id, terminal, &ctx.signer)),
            _ => None,
        };
        let by = match &decision {
            _ if planning => "plan".to_string(),
            Some(Decision::Approved(by)) => by.clone(),
            _ => "operator".to_string(),
        };
        let answer = async {
            match decision {
                _ if planning => {
                    ctx.console.planned(&format!(
                        "ask the operator [{id}]: {question} ({})",
                        live.as_deref().unwrap_or_default()
                    ));
                    Ok(true)
                }
                None => Err(CapError::AccessDenied(
                    "no confirmation is possible here (describe/inspect)".into(),
                )),
                Some(Decision::Approved(_)) => {
                    ctx.console.approved(&id, &by, &question);
                    Ok(true)
                }
                Some(Decision::NoAnswer(message)) => {
                    post_waiting(&ctx, &id, &question, false);
                    Err(CapError::Unavailable(message))
                }
                Some(Decision::AskOperator) => {
                    post_waiting(&ctx, &id, &question, true);
                    let text = super::prompt::text(&id, &ctx.plugin_id, &ctx.plugin_version, &ctx.signer, &question);
                    let console = ctx.console.clone();
                    tokio::task::spawn_blocking(move || console.prompting(|| super::prompt::ask(&text)))
                        .await
                        .unwrap_or_else(|e| Err(CapError::Failed(format!("prompt failed: {e}"))))
                }
            }
        };
        let summary = |ok: &bool| json!({ "approved": ok, "by": by });
        let args = json!({ "id": id, "question": question });
        let result = ctx
            .audited("confirm.ask", args, summary, async { Ok(answer.await?) })
            .await;
        let approved = result.as_ref().ok().copied();
        ctx.asked.push(ConfirmReport {
            id,
            question,
            approved,
            by: approved.map(|_| by.clone()),
            live,
        });
        result
    }
}

/// Tells `[run.notify]`'s channels that question `id` needs a person:
/// asked on the terminal now (`asked`), or refused because no one can
/// answer it here.
fn post_waiting(ctx: &RunContext, id: &str, question: &str, asked: bool) {
    let Some(notices) = &ctx.notices else { return };
    let how = if asked {
        "It is asked on the operator's terminal now; the run waits for the answer.".to_string()
    } else {
        format!("No one can answer it here, so the answer was no: run again with --approve {id}, or from a terminal.")
    };
    notices.post(
        RunEvent::Confirm,
        HostNotice {
            title: format!("drhost: {} waits for an operator", plugin_text(&ctx.plugin_id)),
            text: format!("Question [{id}]: {}\n{how}", plugin_text(question)),
            severity: Severity::Warning,
        },
    );
}
