//! drhost's own notices about a run, to the channels `[run.notify]` names:
//! a recovery started, it waits for an operator's answer, it ended (how,
//! in how long, and the command that writes its report); and a drill's
//! verdict (scenario, RTO, RPO, met or missed).
//!
//! ```toml
//! [run.notify]
//! target = "incidents"                           # or ["incidents", "status"]
//! events = ["start", "confirm", "end", "drill"]  # the default: all four
//! ```
//!
//! They go through the same webhook code as a plugin's `notify.post` (the
//! URL read in the host at each post, never shown; Slack text escaped; no
//! redirects), but need no grant: the operator asked for them. A plan sends
//! none. A post never holds up the recovery: one worker sends them in the
//! background, in order, and the end of the run waits at most 11 s for
//! what is still in flight. A dead channel never fails a run: it is
//! journaled (`host-notice` with the error) and said on stderr.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::grant::{Labels, NotifyTarget, MAX_TIMEOUT};
use super::message::{severity_name, Message};
use super::webhook::{self, Sender};
use crate::bindings::drhost::runbook::notify::{Notice, Severity};
use crate::caps::vault::VaultTarget;
use crate::journal::Journal;

/// `[run.notify]`: where drhost itself posts about runs.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunNotify {
    /// One label of `[targets.notify.<label>]` or several.
    pub target: Labels,
    /// Which moments are posted; all three by default.
    #[serde(default = "RunEvent::all")]
    pub events: Vec<RunEvent>,
}

/// A moment of a run that drhost posts about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RunEvent {
    /// The plugin is identified and about to run.
    Start,
    /// The plugin asks a question that needs a person (asked on the
    /// terminal, or refused because no one can answer it here).
    Confirm,
    /// The run ended, however it ended.
    End,
    /// A drill was judged: its verdict (`drhost drill`).
    Drill,
}

impl RunEvent {
    fn all() -> Vec<RunEvent> {
        vec![RunEvent::Start, RunEvent::Confirm, RunEvent::End, RunEvent::Drill]
    }

    fn name(self) -> &'static str {
        match self {
            RunEvent::Start => "start",
            RunEvent::Confirm => "confirm",
            RunEvent::End => "end",
            RunEvent::Drill => "drill",
        }
    }
}

/// The labels of `notify` that `[targets.notify]` lacks, for `drhost check`.
pub fn unknown_labels(notify: &RunNotify, targets: &BTreeMap<String, NotifyTarget>) -> Vec<String> {
    notify
        .target
        .labels()
        .iter()
        .filter(|label| !targets.contains_key(*label))
        .cloned()
        .collect()
}

/// One run's notices: posted in order, in the background, by one worker;
/// awaited at the end.
pub struct RunNotices {
    events: Vec<RunEvent>,
    /// The plugin's id once it is known.
    plugin: Arc<Mutex<String>>,
    queue: Mutex<Option<tokio::sync::mpsc::UnboundedSender<(RunEvent, Message)>>>,
    worker: Mutex<Option<tokio::task::JoinHandle<Vec<String>>>>,
    /// Whether `start` was posted: `end` is posted only after it.
    started: std::sync::atomic::AtomicBool,
}

/// What the worker needs to post.
struct Channels {
    /// Each label with its target; `None` when `[targets.notify.<label>]`
    /// is missing (journaled as a failed notice, never fatal).
    channels: Vec<(String, Option<NotifyTarget>)>,
    vaults: BTreeMap<String, VaultTarget>,
    journal: Arc<Journal>,
    client: reqwest::Client,
    plugin: Arc<Mutex<String>>,
}

/// A notice drhost posts: what the plugin's `notify.post` would carry.
pub struct HostNotice {
    /// One line.
    pub title: String,
    /// The body.
    pub text: String,
    /// How bad it is.
    pub severity: Severity,
}

impl RunNotices {
    /// The notices of a live run under `[run.notify]`; `None` without one
    /// (or outside a tokio runtime).
    pub fn new(
        notify: Option<&RunNotify>,
        targets: &BTreeMap<String, NotifyTarget>,
        vaults: &BTreeMap<String, VaultTarget>,
        journal: Arc<Journal>,
    ) -> Option<Arc<RunNotices>> {
        let notify = notify?;
        let runtime = tokio::runtime::Handle::try_current().ok()?;
        let client = crate::caps::http::new_client().ok()?;
        let plugin = Arc::new(Mutex::new(String::new()));
        let channels = Channels {
            channels: notify
                .target
                .labels()
                .iter()
                .map(|label| (label.clone(), targets.get(label).cloned()))
                .collect(),
            vaults: vaults.clone(),
            journal,
            client,
            plugin: plugin.clone(),
        };
        let (queue, mut queued) = tokio::sync::mpsc::unbounded_channel::<(RunEvent, Message)>();
        let worker = runtime.spawn(async move {
            let mut problems = Vec::new();
            while let Some((event, message)) = queued.recv().await {
                for (label, target) in &channels.channels {
                    if let Some(problem) = channels.send(event, label, target.as_ref(), &message).await {
                        problems.push(problem);
                    }
                }
            }
            problems
        });
        Some(Arc::new(RunNotices {
            events: notify.events.clone(),
            plugin,
            queue: Mutex::new(Some(queue)),
            worker: Mutex::new(Some(worker)),
            started: Default::default(),
        }))
    }

    /// The plugin the notices are about, once it has described itself.
    pub fn set_plugin(&self, id: &str) {
        *self.plugin.lock().unwrap_or_else(|p| p.into_inner()) = id.to_string();
    }

    /// Posts `notice` about `event` to every channel, in the background and
    /// in order, when `[run.notify]` asks for that event. `end` is posted
    /// only when `start` was; `drill` stands alone (a drill has no start
    /// notice of its own: its plugin runs post theirs).
    pub fn post(&self, event: RunEvent, notice: HostNotice) {
        use std::sync::atomic::Ordering;
        match event {
            RunEvent::Start => self.started.store(true, Ordering::SeqCst),
            RunEvent::End if !self.started.load(Ordering::SeqCst) => return,
            _ => {}
        }
        if !self.events.contains(&event) {
            return;
        }
        let message = Message::new(&Notice {
            title: notice.title,
            text: notice.text,
            severity: notice.severity,
        });
        if let Some(queue) = self.queue.lock().unwrap_or_else(|p| p.into_inner()).as_ref() {
            let _ = queue.send((event, message));
        }
    }

    /// Waits for the notices still in flight, at most [`MAX_TIMEOUT`] and a
    /// second past the run's end (a dead channel must not hold the operator
    /// up), and says on stderr which were not delivered.
    pub async fn finish(&self) {
        drop(self.queue.lock().unwrap_or_else(|p| p.into_inner()).take());
        let Some(worker) = self.worker.lock().unwrap_or_else(|p| p.into_inner()).take() else {
            return;
        };
        let abort = worker.abort_handle();
        let problems = match tokio::time::timeout(MAX_TIMEOUT + std::time::Duration::from_secs(1), worker).await {
            Ok(Ok(problems)) => problems,
            Ok(Err(_)) => vec!["the notices could not be sent (their task failed)".to_string()],
            Err(_) => {
                abort.abort();
                vec![format!(
                    "notices still being sent {}s after the run ended were given up",
                    MAX_TIMEOUT.as_secs() + 1
                )]
            }
        };
        for problem in problems {
            eprintln!("drhost: warning: {problem} (the run itself is not affected)");
        }
    }
}

impl Channels {
    /// One post; journals it; the problem, if it was not delivered.
    async fn send(
        &self,
        event: RunEvent,
        label: &str,
        target: Option<&NotifyTarget>,
        message: &Message,
    ) -> Option<String> {
        let plugin = self.plugin.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let result = match target {
            None => Err(format!(
                "notice `{}` to `{label}` not sent: there is no [targets.notify.{label}] in the config",
                event.name()
            )),
            Some(target) => {
                let sender = Sender {
                    vaults: &self.vaults,
                    plugin_id: &plugin,
                    run_id: self.journal.run_id(),
                    limit: target.timeout.unwrap_or(MAX_TIMEOUT),
                };
                webhook::post(&sender, &self.client, label, target, message)
                    .await
                    .map_err(|e| {
                        let (kind, why) = crate::caps::kit::call::error_parts(&e);
                        format!("notice `{}` not delivered ({kind}): {why}", event.name())
                    })
            }
        };
        let mut fields = json!({
            "notice": event.name(),
            "target": label,
            "title": message.title,
            "severity": severity_name(message.severity),
        });
        match &result {
            Ok(status) => fields["status"] = json!(status),
            Err(problem) => fields["error"] = json!(problem),
        }
        self.journal.record("host-notice", fields);
        result.err()
    }
}
