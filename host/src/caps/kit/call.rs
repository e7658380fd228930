//! The one path every capability call takes, spelled the same everywhere:
//!
//! ```text
//! async fn stop_container(&mut self, name: String, timeout: Option<u32>) -> Answer<()> {
//!     let ctx = self.ctx.clone();
//!     ctx.audited("docker.stop-container", json!({ "name": name }), |_| json!(null), async {
//!         let (docker, raw) = self.granted_container(&name, Write).await?; // check
//!         docker.stop_container(..).await.map_err(engine_error)?;        // call
//!         Ok(())
//!     })
//!     .await
//! }
//! ```
//!
//! The arguments (redacted by the caller: never a secret's value) are
//! written first, then the grant is checked and the real call made inside
//! the `async` block; [`RunContext::audited`] times it and is the only
//! writer of the call's journal event and of its line on the console, so
//! the journal budgets and the console's sanitising apply to every call.
//!
//! A call ends in a value, a typed [`CapError`] the plugin handles, or a
//! trap ([`CallError::Trap`]: a full resource table, a host bug) that stops
//! the run. Both travel as [`CallError`], so `?` works on either.

use std::future::Future;
use std::time::Instant;

use serde_json::{json, Value};

use crate::bindings::types::Error as CapError;
use crate::caps::kit::plan;
use crate::caps::kit::replay::{self, Replay, Replayable};
use crate::sandbox::{RunContext, RunState};

/// What a capability function returns.
pub type Answer<T> = Result<T, CallError>;

/// Why a capability call did not return a value.
#[derive(Debug)]
pub enum CallError {
    /// A typed error the plugin sees and may handle.
    Typed(CapError),
    /// The plugin is stopped (a host fault, a resource limit).
    Trap(wasmtime::Error),
}

impl From<CapError> for CallError {
    fn from(error: CapError) -> Self {
        CallError::Typed(error)
    }
}

impl From<wasmtime::component::ResourceTableError> for CallError {
    fn from(error: wasmtime::component::ResourceTableError) -> Self {
        CallError::Trap(error.into())
    }
}

impl From<wasmtime::Error> for CallError {
    fn from(error: wasmtime::Error) -> Self {
        CallError::Trap(error)
    }
}

impl crate::bindings::types::Host for RunState {
    fn convert_error(&mut self, error: CallError) -> wasmtime::Result<CapError> {
        match error {
            CallError::Typed(error) => Ok(error),
            CallError::Trap(trap) => Err(trap),
        }
    }
}

/// Changes a plan keeps for its report.
pub const MAX_PLANNED: usize = 1000;

/// The changes plan mode recorded instead of making, in order.
#[derive(Debug, Default, Clone)]
pub struct Plan {
    /// What would have changed, as [`plan::describe`] says it.
    pub changes: Vec<String>,
    /// Every change, including those past [`MAX_PLANNED`].
    pub total: usize,
}

/// The journal's name for a typed capability error, and its text.
pub(crate) fn error_parts(error: &CapError) -> (&'static str, &str) {
    match error {
        CapError::AccessDenied(m) => ("access-denied", m),
        CapError::NotFound(m) => ("not-found", m),
        CapError::InvalidArgument(m) => ("invalid-argument", m),
        CapError::Unavailable(m) => ("unavailable", m),
        CapError::Timeout(m) => ("timeout", m),
        CapError::Conflict(m) => ("conflict", m),
        CapError::Failed(m) => ("failed", m),
        CapError::Planned(m) => ("planned", m),
    }
}

impl RunContext {
    /// A refusal as the operator reads it: naming the config file this run
    /// read, where the plugin's copy says `drhost.toml`.
    pub(crate) fn for_operator<'a>(&self, message: &'a str) -> std::borrow::Cow<'a, str> {
        match &self.config_file {
            Some(path) if message.contains(crate::caps::kit::text::ADD_TO_CONFIG) => message
                .replace(
                    crate::caps::kit::text::ADD_TO_CONFIG,
                    &format!("to allow it add to {}:", path.display()),
                )
                .into(),
            _ => message.into(),
        }
    }

    /// Records one change plan mode did not make (the first
    /// [`MAX_PLANNED`] are kept for the report; the journal has them all).
    fn plan_change(&self, change: &str) {
        if let Some(plan) = &self.plan {
            let mut plan = plan.lock().unwrap_or_else(|p| p.into_inner());
            plan.total += 1;
            if plan.changes.len() < MAX_PLANNED {
                plan.changes.push(change.to_string());
            }
        }
    }

    /// Runs one capability call `work` (grant check, then the real call)
    /// unless the run is over its disk budget (then the call traps), and
    /// journals it: `call`, its `args`, how long it took, and its outcome
    /// (`summarize` of the value, or the error); a typed error also goes to
    /// the operator's console.
    pub(crate) async fn audited<T: Replayable>(
        &self,
        call: &str,
        args: Value,
        summarize: impl FnOnce(&T) -> Value,
        work: impl Future<Output = Answer<T>>,
    ) -> Answer<T> {
        // The check is inside `work`: in plan mode it does not run.
        self.audited_checked(call, args, summarize, async { Ok(()) }, |()| work)
            .await
    }

    /// As [`RunContext::audited`], for a call whose grant `check` runs
    /// apart from its effect `work`: the check runs in plan mode too, so a
    /// plan never lists a change the live run would be refused.
    pub(crate) async fn audited_checked<G, T: Replayable, F>(
        &self,
        call: &str,
        args: Value,
        summarize: impl FnOnce(&T) -> Value,
        check: impl Future<Output = Result<G, CapError>>,
        work: impl FnOnce(G) -> F,
    ) -> Answer<T>
    where
        F: Future<Output = Answer<T>>,
    {
        let started = Instant::now();
        // The scratch directory is measured at every call: a run its
        // plugin took over the disk budget stops here (exit 4).
        self.disk.measure_scratch();
        let mut replayed = false;
        let result = match self.disk.exceeded() {
            Some(over) => Err(CallError::Trap(over.into())),
            None => match check.await {
                Err(refused) => Err(CallError::Typed(refused)),
                Ok(grant) => match self.resumed(call, &args).await {
                    Replay::Answered(answer) => {
                        replayed = true;
                        answer
                    }
                    Replay::Stop(why) => Err(CallError::Trap(wasmtime::Error::msg(why))),
                    Replay::Live => match self.fenced(call, &args).or_else(|| self.planned_instead(call, &args)) {
                        Some(refused) => Err(refused),
                        None => work(grant).await,
                    },
                },
            },
        };
        self.journal_call(call, args, started, &result, summarize, replayed);
        result
    }

    /// While resuming a dead run (`drhost resume`), a change or an answer
    /// the journal has is answered from it (see [`replay`]).
    async fn resumed<T: Replayable>(&self, call: &str, args: &Value) -> Replay<T> {
        match &self.resumed {
            Some(resumed) if replay::replayed(call, args) => {
                resumed.replay(call, args, &self.journal, &self.console).await
            }
            _ => Replay::Live,
        }
    }

    /// For a call that would change something after the run lost its
    /// shared lock ([`super::fence`]): the refusal, instead of the change.
    fn fenced(&self, call: &str, args: &Value) -> Option<CallError> {
        let why = self.fence.as_ref()?.lost()?;
        if !plan::changes_state(call, args) {
            return None;
        }
        Some(CallError::Typed(CapError::Conflict(format!(
            "{call} not made: {why}, so another run may hold this run's targets now; this run makes no more changes. Look at what else is running (drhost history), then run again"
        ))))
    }

    /// In plan mode, for a call that would change something: the change
    /// recorded, and the `planned` error the plugin gets instead.
    fn planned_instead(&self, call: &str, args: &Value) -> Option<CallError> {
        if self.plan.is_none() || !plan::changes_state(call, args) {
            return None;
        }
        let change = plan::describe(call, args);
        self.plan_change(&change);
        Some(CallError::Typed(CapError::Planned(change)))
    }

    /// Journals one finished call (see [`RunContext::audited`]): with the
    /// value a change returned (`result`), and whether it was answered from
    /// a dead run's journal (`replayed_from`).
    fn journal_call<T: Replayable>(
        &self,
        call: &str,
        args: Value,
        started: Instant,
        result: &Answer<T>,
        summarize: impl FnOnce(&T) -> Value,
        replayed: bool,
    ) {
        let duration_ms = started.elapsed().as_secs_f64() * 1000.0;
        // What a change returned, so `drhost resume` can answer it again.
        let kept = match result {
            Ok(value) if replay::replayed(call, &args) => value.to_replay(),
            _ => None,
        };
        let outcome = match result {
            Ok(value) => json!({ "ok": summarize(value) }),
            Err(CallError::Typed(error)) => {
                let (kind, message) = error_parts(error);
                json!({ "error": { "kind": kind, "message": message } })
            }
            Err(CallError::Trap(trap)) => json!({ "error": { "kind": "trap", "message": format!("{trap:#}") } }),
        };
        let mut event = json!({ "call": call, "args": args, "duration_ms": duration_ms, "outcome": outcome });
        if let Some(kept) = kept {
            event["result"] = kept;
        }
        if let (true, Some(resumed)) = (replayed, &self.resumed) {
            event["replayed_from"] = resumed.from.clone().into();
            self.console
                .replayed(&plan::describe(call, &event["args"]), &resumed.from);
        }
        self.journal.record("call", event);
        match result {
            Err(CallError::Typed(CapError::Planned(change))) => self.console.planned(change),
            Err(CallError::Typed(error)) => {
                let (kind, message) = error_parts(error);
                self.console.call_error(call, kind, &self.for_operator(message));
            }
            _ => {}
        }
    }
}
