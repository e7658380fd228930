//! `drhost resume RUN`: the journal of a run whose drhost died, used as a
//! replay log, so a recovery goes on from where it stopped and no change is
//! made twice.
//!
//! The plugin runs again from the start (same file, same digest, same
//! parameters). Every call that would change something, and every
//! question put to the operator, is matched in order against the ones the
//! journal has:
//!
//! - the same call with the same (journaled, redacted) arguments is
//!   answered from the journal — the value it returned, or the error it
//!   ended in — and not made again; its new journal event says
//!   `replayed_from`;
//! - reads are made again, live (they change nothing, and the world has
//!   moved on since: a plugin that polls "is it healthy yet?" may poll
//!   fewer times now), so they are not matched;
//! - past the journal's last change the run is live: a change that was in
//!   progress when drhost died has no result in the journal and is made
//!   again if the plugin asks for it;
//! - a change the journal does not have at that place is a divergence: the
//!   run stops there (nothing more is made) unless the operator chose to
//!   go on live (`--diverged live`, or yes at the terminal's question).
//!
//! A change's journal event carries `result`, the value it returned (see
//! [`Replayable`]), for this. Change results hold no secret value: a
//! secret reaches a change only as a handle, and no change returns one.

use std::sync::Mutex;

use serde_json::{json, Value};
use wasmtime::component::Resource;

use crate::bindings::drhost::runbook::{compose, docker, files, http, postgres, redis, s3, shell, vault};
use crate::bindings::types::Error as CapError;
use crate::caps::kit::call::{Answer, CallError};
use crate::caps::kit::plan;
use crate::journal::Journal;

/// Whether a call is matched against the journal while resuming: every
/// call that changes something, and every question to the operator (who
/// answered it already).
pub(crate) fn replayed(call: &str, args: &Value) -> bool {
    call == "confirm.ask" || plan::changes_state(call, args)
}

/// A value a call returns, as its journal event's `result` keeps it and as
/// `resume` gives it back. Calls whose values cannot be kept (handles,
/// rows read) have the default: no result, so they are never answered
/// from a journal (only changes are, and no change returns a handle).
pub trait Replayable: Sized {
    /// The value as JSON, for the journal.
    fn to_replay(&self) -> Option<Value> {
        None
    }
    /// The value back from the journal's JSON.
    fn from_replay(_: &Value) -> Option<Self> {
        None
    }
}

impl Replayable for () {
    fn to_replay(&self) -> Option<Value> {
        Some(Value::Null)
    }
    fn from_replay(_: &Value) -> Option<Self> {
        Some(())
    }
}

macro_rules! replay_as_json {
    ($($ty:ty),*) => {$(
        impl Replayable for $ty {
            fn to_replay(&self) -> Option<Value> {
                serde_json::to_value(self).ok()
            }
            fn from_replay(value: &Value) -> Option<Self> {
                serde_json::from_value(value.clone()).ok()
            }
        }
    )*};
}
replay_as_json!(bool, u16, u32, u64, i32, i64, f64, String);

impl<T: Replayable> Replayable for Option<T> {
    fn to_replay(&self) -> Option<Value> {
        match self {
            None => Some(Value::Null),
            Some(value) => value.to_replay(),
        }
    }
    fn from_replay(value: &Value) -> Option<Self> {
        match value {
            Value::Null => Some(None),
            value => T::from_replay(value).map(Some),
        }
    }
}

impl<T: Replayable> Replayable for Vec<T> {
    fn to_replay(&self) -> Option<Value> {
        self.iter()
            .map(T::to_replay)
            .collect::<Option<Vec<_>>>()
            .map(Value::Array)
    }
    fn from_replay(value: &Value) -> Option<Self> {
        value.as_array()?.iter().map(T::from_replay).collect()
    }
}

impl<A: Replayable, B: Replayable> Replayable for (A, B) {
    fn to_replay(&self) -> Option<Value> {
        Some(json!([self.0.to_replay()?, self.1.to_replay()?]))
    }
    fn from_replay(value: &Value) -> Option<Self> {
        Some((A::from_replay(value.get(0)?)?, B::from_replay(value.get(1)?)?))
    }
}

/// Handles are opened again, live.
impl<T: 'static> Replayable for Resource<T> {}

/// A record, field by field.
macro_rules! replay_record {
    ($($ty:path { $($field:ident),* $(,)? })*) => {$(
        impl $crate::caps::kit::replay::Replayable for $ty {
            fn to_replay(&self) -> Option<serde_json::Value> {
                let mut fields = serde_json::Map::new();
                $( fields.insert(stringify!($field).into(), self.$field.to_replay()?); )*
                Some(serde_json::Value::Object(fields))
            }
            fn from_replay(value: &serde_json::Value) -> Option<Self> {
                use $crate::caps::kit::replay::Replayable;
                Some(Self { $( $field: Replayable::from_replay(value.get(stringify!($field))?)?, )* })
            }
        }
    )*};
}
pub(crate) use replay_record;

/// What reads return, and the host's own handles: never answered from a
/// journal (reads are made again).
macro_rules! not_replayed {
    ($($ty:ty),* $(,)?) => {$( impl $crate::caps::kit::replay::Replayable for $ty {} )*};
}
pub(crate) use not_replayed;

not_replayed!(
    docker::ContainerSummary,
    docker::LogOutput,
    docker::StatsSample,
    http::Response,
    postgres::Rows,
    postgres::TargetInfo,
    redis::AddressAnswer,
    redis::PeersAnswer,
    redis::QuorumAnswer,
    redis::ReplicasAnswer,
    redis::ReplicationInfo,
    redis::StateAnswer,
    s3::ObjectHead,
    vault::Metadata,
    zeroize::Zeroizing<String>,
    crate::caps::blob::Blob,
    crate::caps::compose::Project,
    crate::caps::files::Directory,
    crate::caps::postgres::Database,
    crate::caps::redis::Connection,
    crate::caps::redis::SentinelSet,
    crate::caps::s3::Bucket,
    crate::caps::secret::Secret,
    crate::caps::vault::Store,
);

replay_record! {
    docker::ContainerInfo {
        id, name, image, image_id, state, running, health, restart_count, exit_code, oom_killed,
        error, started_at, finished_at, memory_limit, networks, ports, labels, compose_project,
        compose_service,
    }
    docker::Endpoint { network, aliases, ip_address }
    docker::PortBinding { container_port, host_ip, host_port }
    docker::Label { key, value }
    docker::NetworkInfo { id, name, driver, scope, internal, attachable, ipam_driver, ipam, labels, options, containers }
    docker::IpamPool { subnet, gateway, ip_range }
    docker::NetworkMember { container, ipv4_address }
    docker::SwarmInfo { node_id, cluster_id, created_at, managers, nodes }
    docker::SecretInfo { id, name, created_at, labels }
    docker::ExecResult { exit_code, stdout, stderr, truncated, duration_ms }
    shell::Completed { exit_code, stdout, stderr, truncated, duration_ms }
    files::Entry { path, kind, size, mode, modified }
    s3::ObjectInfo { key, size, last_modified, etag }
    redis::Address { host, port }
    postgres::RestoreReport { database, duration_ms, warnings }
    vault::SealStatus { initialized, sealed, progress, threshold }
    compose::ServiceState { service, container, state, health, exit_code }
}

impl Replayable for files::Kind {
    fn to_replay(&self) -> Option<Value> {
        Some(
            match self {
                files::Kind::File => "file",
                files::Kind::Directory => "directory",
                files::Kind::Symlink => "symlink",
                files::Kind::Other => "other",
            }
            .into(),
        )
    }
    fn from_replay(value: &Value) -> Option<Self> {
        Some(match value.as_str()? {
            "file" => files::Kind::File,
            "directory" => files::Kind::Directory,
            "symlink" => files::Kind::Symlink,
            "other" => files::Kind::Other,
            _ => return None,
        })
    }
}

impl Replayable for redis::Scalar {
    fn to_replay(&self) -> Option<Value> {
        use redis::Scalar as S;
        Some(match self {
            S::Nil => json!({ "nil": null }),
            S::Int(n) => json!({ "int": n }),
            S::Text(t) => json!({ "text": t }),
            S::Bulk(b) => json!({ "bulk": b }),
            S::Double(d) => json!({ "double": d }),
            S::Boolean(b) => json!({ "boolean": b }),
            S::Error(e) => json!({ "error": e }),
            S::Nested(n) => json!({ "nested": n }),
        })
    }
    fn from_replay(value: &Value) -> Option<Self> {
        use redis::Scalar as S;
        let (kind, inner) = value.as_object()?.iter().next()?;
        Some(match kind.as_str() {
            "nil" => S::Nil,
            "int" => S::Int(Replayable::from_replay(inner)?),
            "text" => S::Text(Replayable::from_replay(inner)?),
            "bulk" => S::Bulk(serde_json::from_value(inner.clone()).ok()?),
            "double" => S::Double(Replayable::from_replay(inner)?),
            "boolean" => S::Boolean(Replayable::from_replay(inner)?),
            "error" => S::Error(Replayable::from_replay(inner)?),
            "nested" => S::Nested(Replayable::from_replay(inner)?),
            _ => return None,
        })
    }
}

/// A reply as the scalar of the same name; `array` apart.
impl Replayable for redis::Reply {
    fn to_replay(&self) -> Option<Value> {
        use redis::{Reply as R, Scalar as S};
        let scalar = match self {
            R::Array(items) => return Some(json!({ "array": items.to_replay()? })),
            R::Nil => S::Nil,
            R::Int(n) => S::Int(*n),
            R::Text(t) => S::Text(t.clone()),
            R::Bulk(b) => S::Bulk(b.clone()),
            R::Double(d) => S::Double(*d),
            R::Boolean(b) => S::Boolean(*b),
        };
        scalar.to_replay()
    }
    fn from_replay(value: &Value) -> Option<Self> {
        use redis::{Reply as R, Scalar as S};
        if let Some(items) = value.get("array") {
            return Some(R::Array(Replayable::from_replay(items)?));
        }
        Some(match S::from_replay(value)? {
            S::Nil => R::Nil,
            S::Int(n) => R::Int(n),
            S::Text(t) => R::Text(t),
            S::Bulk(b) => R::Bulk(b),
            S::Double(d) => R::Double(d),
            S::Boolean(b) => R::Boolean(b),
            S::Error(_) | S::Nested(_) => return None,
        })
    }
}

/// One change (or answer) a journal has, in the order it was made.
#[derive(Debug, Clone, PartialEq)]
pub struct JournaledCall {
    /// Its line in the journal (1-based).
    pub line: usize,
    /// `docker.restart-container`.
    pub call: String,
    /// Its journaled (redacted) arguments.
    pub args: Value,
    /// `{"ok": summary}` or `{"error": {"kind", "message"}}`.
    pub outcome: Value,
    /// What it returned (see [`Replayable`]), when it returned.
    pub result: Option<Value>,
}

impl JournaledCall {
    /// The answer it gave, for a call returning `T`; `None` when the
    /// journal does not hold enough to give it again.
    fn answer<T: Replayable>(&self) -> Option<Answer<T>> {
        if let Some(error) = self.outcome.get("error") {
            let message = error["message"].as_str().unwrap_or_default().to_string();
            let typed = match error["kind"].as_str()? {
                "access-denied" => CapError::AccessDenied(message),
                "not-found" => CapError::NotFound(message),
                "invalid-argument" => CapError::InvalidArgument(message),
                "unavailable" => CapError::Unavailable(message),
                "timeout" => CapError::Timeout(message),
                "conflict" => CapError::Conflict(message),
                "failed" => CapError::Failed(message),
                // A trap ended that run; a plan's answers are not a run's.
                _ => return None,
            };
            return Some(Err(CallError::Typed(typed)));
        }
        T::from_replay(self.result.as_ref()?).map(Ok)
    }

    /// How the journal's line reads to the operator.
    pub fn describe(&self) -> String {
        format!(
            "{} (journal line {})",
            plan::describe(&self.call, &self.args),
            self.line
        )
    }
}

/// What to do when the plugin asks for a change the journal does not have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnDivergence {
    /// Stop replaying and go on live from there.
    Live,
    /// End the run there; nothing more is made.
    Stop,
    /// Ask the operator at the terminal (without one: stop).
    Ask,
}

/// The run being resumed, as a replay log (see the module's documentation).
#[derive(Debug)]
pub struct Resumed {
    /// The run id resumed.
    pub from: String,
    /// The plugin's digest, as that run's `run-start` has it.
    pub digest: String,
    /// Its changes and answers, in order.
    pub calls: Vec<JournaledCall>,
    /// What to do on a divergence.
    pub on_divergence: OnDivergence,
    cursor: Mutex<Cursor>,
}

#[derive(Debug, Default)]
struct Cursor {
    /// The next journaled call to match.
    next: usize,
    /// Replaying is over: every call is made live.
    live: bool,
    /// Why the run stopped at a divergence.
    stopped: Option<String>,
}

/// What the host does with one change while resuming.
pub(crate) enum Replay<T> {
    /// Answered from the journal: not made.
    Answered(Answer<T>),
    /// Made live.
    Live,
    /// The plugin diverged from the journal and the operator did not want
    /// to go on live: the run ends (the reason).
    Stop(String),
}

/// What [`Resumed::next`] found for one call.
enum Matched {
    Same(JournaledCall),
    Live,
    /// Every journaled call was answered.
    End,
    Diverged(String),
}

impl Resumed {
    /// A replay log of `calls` from run `from`.
    pub fn new(from: String, digest: String, calls: Vec<JournaledCall>, on_divergence: OnDivergence) -> Resumed {
        Resumed {
            from,
            digest,
            calls,
            on_divergence,
            cursor: Mutex::default(),
        }
    }

    fn cursor(&self) -> std::sync::MutexGuard<'_, Cursor> {
        self.cursor.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Why the run stopped at a divergence, if it did.
    pub fn stopped(&self) -> Option<String> {
        self.cursor().stopped.clone()
    }

    /// How many journaled calls were answered from the journal, and how
    /// many the plugin did not ask for again.
    pub fn tally(&self) -> (usize, usize) {
        let cursor = self.cursor();
        (cursor.next, self.calls.len() - cursor.next)
    }

    fn next(&self, call: &str, args: &Value) -> Matched {
        let mut cursor = self.cursor();
        if cursor.live {
            return Matched::Live;
        }
        let Some(expected) = self.calls.get(cursor.next) else {
            return Matched::End;
        };
        let mut asked = args.clone();
        crate::journal::cap_value(&mut asked);
        if expected.call == call && expected.args == asked {
            cursor.next += 1;
            return Matched::Same(expected.clone());
        }
        Matched::Diverged(format!(
            "the plugin asked for `{}` where run {}'s journal has `{}` (change {} of {})",
            plan::describe(call, args),
            self.from,
            expected.describe(),
            cursor.next + 1,
            self.calls.len()
        ))
    }

    /// Answers `call` from the journal, or says to make it live, or to
    /// stop (journaling the divergence and the decision).
    pub(crate) async fn replay<T: Replayable>(
        &self,
        call: &str,
        args: &Value,
        journal: &Journal,
        console: &crate::console::Console,
    ) -> Replay<T> {
        let why = match self.next(call, args) {
            Matched::Live => return Replay::Live,
            Matched::End => {
                self.went_live(journal, console);
                return Replay::Live;
            }
            Matched::Same(journaled) => match journaled.answer::<T>() {
                Some(answer) => {
                    if self.tally().1 == 0 {
                        self.went_live(journal, console);
                    }
                    return Replay::Answered(answer);
                }
                None => format!(
                    "run {}'s journal has `{}` but not what it returned, so it cannot be answered without making it again",
                    self.from,
                    journaled.describe()
                ),
            },
            Matched::Diverged(why) => why,
        };
        let live = match self.on_divergence {
            OnDivergence::Live => true,
            OnDivergence::Stop => false,
            OnDivergence::Ask => ask_to_go_live(&why, console).await,
        };
        journal.record(
            "resume-diverged",
            json!({
                "from": self.from,
                "reason": why,
                "decision": if live { "live" } else { "stop" },
            }),
        );
        let mut cursor = self.cursor();
        if live {
            cursor.live = true;
            console.notice(&format!("{why}; going on live from here, as the operator chose"));
            return Replay::Live;
        }
        let stopped = format!(
            "resume of run {from} stopped: {why}. Nothing was changed from there on. Look at what the plugin saw (drhost show {from}, and this run's journal); to go on live from that change: drhost resume {from} --diverged live",
            from = self.from
        );
        cursor.stopped = Some(stopped.clone());
        Replay::Stop(stopped)
    }

    /// Journals (once) that every journaled call was answered and the run
    /// is live from here.
    fn went_live(&self, journal: &Journal, console: &crate::console::Console) {
        let mut cursor = self.cursor();
        if cursor.live {
            return;
        }
        cursor.live = true;
        journal.record("resume-live", json!({ "from": self.from, "answered": cursor.next }));
        console.notice(&format!(
            "the {} changes and answers run {} had made were answered from its journal; live from here",
            cursor.next, self.from
        ));
    }
}

/// Asks the operator whether to go on live after a divergence (no
/// terminal: no).
async fn ask_to_go_live(why: &str, console: &crate::console::Console) -> bool {
    use std::io::IsTerminal;
    if !std::io::stdin().is_terminal() {
        return false;
    }
    let text = format!("{why}.\nGo on live from this change (it is made for real)? [y/N] ");
    let console = console.clone();
    tokio::task::spawn_blocking(move || console.prompting(|| crate::caps::confirm::prompt::ask(&text)))
        .await
        .ok()
        .and_then(Result::ok)
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_change_result_comes_back_as_it_was() {
        let completed = shell::Completed {
            exit_code: Some(3),
            stdout: "out".into(),
            stderr: String::new(),
            truncated: false,
            duration_ms: 12,
        };
        let back = shell::Completed::from_replay(&completed.to_replay().unwrap()).unwrap();
        assert_eq!(format!("{back:?}"), format!("{completed:?}"));

        let reply = redis::Reply::Array(vec![redis::Scalar::Bulk(vec![0, 255]), redis::Scalar::Nil]);
        let back = redis::Reply::from_replay(&reply.to_replay().unwrap()).unwrap();
        assert_eq!(format!("{back:?}"), format!("{reply:?}"));

        let states = vec![compose::ServiceState {
            service: "db".into(),
            container: "lab-db-1".into(),
            state: "running".into(),
            health: None,
            exit_code: Some(0),
        }];
        let back = Vec::<compose::ServiceState>::from_replay(&states.to_replay().unwrap()).unwrap();
        assert_eq!(format!("{back:?}"), format!("{states:?}"));
        assert_eq!(<()>::from_replay(&Value::Null), Some(()));
        assert_eq!(u64::from_replay(&json!(7)), Some(7));
    }

    fn journaled(call: &str, args: Value, outcome: Value, result: Option<Value>) -> JournaledCall {
        JournaledCall {
            line: 3,
            call: call.into(),
            args,
            outcome,
            result,
        }
    }

    #[test]
    fn the_same_change_is_answered_and_a_different_one_diverges() {
        let restart = journaled(
            "docker.restart-container",
            json!({ "name": "b2" }),
            json!({ "ok": null }),
            Some(Value::Null),
        );
        let denied = journaled(
            "vault.patch",
            json!({ "path": "secret/x" }),
            json!({ "error": { "kind": "conflict", "message": "busy" } }),
            None,
        );
        let resumed = Resumed::new(
            "r1".into(),
            "sha256:x".into(),
            vec![restart, denied],
            OnDivergence::Stop,
        );
        let Matched::Same(first) = resumed.next("docker.restart-container", &json!({ "name": "b2" })) else {
            panic!("the journal's first change is answered")
        };
        assert!(matches!(first.answer::<()>(), Some(Ok(()))));
        match resumed.next("vault.patch", &json!({ "path": "secret/other" })) {
            Matched::Diverged(why) => assert!(why.contains("secret/other") && why.contains("change 2 of 2"), "{why}"),
            _ => panic!("different arguments diverge"),
        }
        let Matched::Same(second) = resumed.next("vault.patch", &json!({ "path": "secret/x" })) else {
            panic!("the same arguments are answered")
        };
        assert!(matches!(
            second.answer::<u64>(),
            Some(Err(CallError::Typed(CapError::Conflict(m)))) if m == "busy"
        ));
        assert!(matches!(
            resumed.next("docker.restart-container", &json!({})),
            Matched::End
        ));
        assert_eq!(resumed.tally(), (2, 0));
    }

    #[test]
    fn a_change_without_its_result_is_not_answered() {
        let old = journaled("postgres.execute", json!({ "sql": "x" }), json!({ "ok": 1 }), None);
        assert!(old.answer::<u64>().is_none());
        let trapped = journaled(
            "shell.run",
            json!({}),
            json!({ "error": { "kind": "trap", "message": "x" } }),
            None,
        );
        assert!(trapped.answer::<shell::Completed>().is_none());
    }
}
