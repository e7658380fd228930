//! The `notify` interface: one function, `post` (the check and the request
//! are in `webhook.rs`, the payload in `message.rs`).
//!
//! What is journaled: the label, the title (as posted), the severity, the
//! text's length and whether it was cut, and the webhook's HTTP status.
//! Never the URL, and not the text.

use serde_json::json;

use super::message::{severity_name, Message};
use super::{webhook, Posted};
use crate::bindings::drhost::runbook::notify::{Host, Notice};
use crate::caps::kit::Answer;
use crate::sandbox::RunState;

impl Host for RunState {
    async fn post(&mut self, label: String, notice: Notice) -> Answer<()> {
        let ctx = self.ctx.clone();
        let message = Message::new(&notice);
        let args = json!({
            "target": label,
            "title": message.title,
            "severity": severity_name(message.severity),
            "text_bytes": notice.text.len(),
            "cut": message.cut_from.is_some(),
        });
        let posted = self.kept::<Posted>().next();
        // The run's one HTTP client: no redirects followed, no proxies.
        let client = self.http_client()?;
        let summary = |status: &u16| json!({ "status": status });
        let (ctx, label, message) = (&ctx, &label, &message);
        ctx.audited_checked(
            "notify.post",
            args,
            summary,
            async {
                let target = webhook::check(ctx, label)?;
                webhook::check_count(label, posted)?;
                Ok(target)
            },
            |target| async move {
                let sender = webhook::Sender::plugin(ctx, target);
                Ok(webhook::post(&sender, &client, label, target, message).await?)
            },
        )
        .await
        .map(|_| ())
    }
}
