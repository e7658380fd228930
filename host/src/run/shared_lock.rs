//! One recovery at a time across machines: the run's targets also locked as
//! PostgreSQL advisory locks on a server the operator already runs.
//!
//! ```toml
//! [run.shared_lock]
//! postgres = "primary"   # a [targets.postgres.<label>]
//! ```
//!
//! After the local lock files ([`super::lock`]), a live run opens one
//! session to that target (as its owner, `application_name` naming the
//! run, pid and host) and takes `pg_try_advisory_lock(key)` for each target,
//! `key` the first 8 bytes of SHA-256 of `drhost-lock:<target>`. The session
//! stays open for the run; the server drops its locks when the session ends,
//! however drhost ends (a killed drhost's locks go with its TCP connection,
//! so there is nothing stale to take over). A held key is refused like a
//! held lock file, naming the holder from `pg_locks` and
//! `pg_stat_activity`.
//!
//! Fencing: if the session is cut mid-run (the server restarts, the
//! network drops, someone terminates it), the lock is gone and another run
//! may take it. The run notices at its next change (a closed session) or
//! within about 3 s (a `SELECT 1` every second that must answer within 2 s),
//! and from then on the host refuses every change the plugin asks for
//! (`conflict`, [`crate::caps::kit::fence`]); reads go on. A change already
//! running then is not stopped.

use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;

use super::lock::Holder;
use crate::caps::kit::call::error_parts;
use crate::caps::kit::fence::Fence;
use crate::caps::postgres::PostgresTarget;
use crate::caps::vault::VaultTarget;
use crate::journal::Journal;

/// `[run.shared_lock]` resolved against the config's targets.
#[derive(Clone)]
pub struct SharedLock {
    /// The `[targets.postgres.<label>]` label.
    pub label: String,
    target: PostgresTarget,
    vaults: BTreeMap<String, VaultTarget>,
}

/// The session holding a run's shared locks; dropping it lets them go.
pub struct Session {
    client: Arc<tokio_postgres::Client>,
    /// The Postgres target label.
    pub label: String,
}

impl Session {
    /// Ends the session, which releases its locks on the server.
    pub fn close(self) {
        drop(self.client);
    }

    /// The fence of a run holding this session: closed as soon as a change
    /// finds the session ended, or a check (every [`WATCH_EVERY`], a
    /// `SELECT 1` answered within [`WATCH_TIMEOUT`]) finds it gone or
    /// silent; journaled once as `lock-lost` and said on stderr.
    pub fn fence(&self, journal: Arc<Journal>) -> Arc<Fence> {
        let fence = Arc::new(Fence::default());
        let client = Arc::downgrade(&self.client);
        fence.watch(&self.label, client.clone());
        let (watched, label) = (fence.clone(), self.label.clone());
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return fence;
        };
        runtime.spawn(async move {
            loop {
                tokio::time::sleep(WATCH_EVERY).await;
                // Released at the end of the run: nothing more to watch.
                let Some(session) = client.upgrade() else { break };
                let trouble = if session.is_closed() {
                    Some("has ended".to_string())
                } else {
                    match tokio::time::timeout(WATCH_TIMEOUT, session.simple_query("SELECT 1")).await {
                        Ok(Ok(_)) => None,
                        Ok(Err(e)) => Some(format!("failed ({e})")),
                        Err(_) => Some(format!("did not answer within {}s", WATCH_TIMEOUT.as_secs())),
                    }
                };
                drop(session);
                if let Some(trouble) = trouble {
                    watched.lose(format!("the shared lock's session on Postgres target `{label}` {trouble}"));
                }
                if let Some(why) = watched.lost() {
                    journal.record("lock-lost", json!({ "postgres": label, "reason": why }));
                    eprintln!("drhost: warning: {why}: this run makes no more changes (the one in progress, if any, was not stopped)");
                    break;
                }
            }
        });
        fence
    }
}

/// How often a run checks that its shared lock's session is alive.
pub const WATCH_EVERY: Duration = Duration::from_secs(1);
/// How long that check waits for `SELECT 1`.
pub const WATCH_TIMEOUT: Duration = Duration::from_secs(2);

/// Why the shared locks could not be taken.
pub enum SharedBusy {
    /// Another run (maybe on another machine) holds a target.
    Held(Holder),
    /// The server cannot be used; the text says why and what to fix.
    Unusable(String),
}

impl SharedLock {
    /// `[run.shared_lock] postgres = label`, or why it names no target.
    pub fn resolve(
        label: &str,
        targets: &BTreeMap<String, PostgresTarget>,
        vaults: &BTreeMap<String, VaultTarget>,
    ) -> Result<SharedLock, String> {
        let target = targets.get(label).ok_or_else(|| {
            let known = targets.keys().map(|k| format!("`{k}`")).collect::<Vec<_>>().join(", ");
            format!(
                "[run.shared_lock] postgres = \"{label}\" names no [targets.postgres.{label}]; define it, or name one of: {}",
                if known.is_empty() { "(none defined)".to_string() } else { known }
            )
        })?;
        Ok(SharedLock {
            label: label.to_string(),
            target: target.clone(),
            vaults: vaults.clone(),
        })
    }

    /// Takes every target's advisory lock on one new session, or none.
    pub async fn take(&self, targets: &[String], me: &Holder) -> Result<Session, SharedBusy> {
        let unusable = |why: String| {
            SharedBusy::Unusable(format!(
                "cannot take the shared lock on Postgres target `{}`: {why}; fix [targets.postgres.{}] or remove [run.shared_lock] from the config",
                self.label, self.label
            ))
        };
        let client =
            crate::caps::postgres::connect_for_host(&self.label, &self.target, &self.vaults, &application_name(me))
                .await
                .map_err(|e| unusable(error_parts(&e).1.to_string()))?;
        for target in targets {
            let key = key(target);
            let row = client
                .query_one("SELECT pg_try_advisory_lock($1)", &[&key])
                .await
                .map_err(|e| unusable(e.to_string()))?;
            if !row.get::<_, bool>(0) {
                let holder = holder_of(&client, target, key).await;
                // Dropping the client ends the session and what it took.
                return Err(SharedBusy::Held(holder));
            }
        }
        Ok(Session {
            client: Arc::new(client),
            label: self.label.clone(),
        })
    }
}

/// The advisory lock key of `target`.
fn key(target: &str) -> i64 {
    let digest = Sha256::digest(format!("drhost-lock:{target}").as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    i64::from_be_bytes(first)
}

/// `drhost RUN PID HOST`, cut to the 63 bytes Postgres keeps.
fn application_name(me: &Holder) -> String {
    let mut name = format!("drhost {} {} {}", me.run, me.pid, me.host);
    let mut end = name.len().min(63);
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    name.truncate(end);
    name
}

/// Who holds `target`'s key: the session in `pg_locks` and its
/// `pg_stat_activity` row (`application_name` as [`application_name`]
/// wrote it; the client address when another program holds the key).
async fn holder_of(client: &tokio_postgres::Client, target: &str, key: i64) -> Holder {
    let class = (key >> 32) & 0xffff_ffff;
    let object = key & 0xffff_ffff;
    let row = client
        .query_opt(
            "SELECT coalesce(a.application_name, ''), coalesce(host(a.client_addr), 'local socket'), \
                    a.pid, coalesce(to_char(a.backend_start AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), '?') \
             FROM pg_locks l LEFT JOIN pg_stat_activity a ON a.pid = l.pid \
             WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1 \
               AND l.classid::bigint = $1 AND l.objid::bigint = $2 LIMIT 1",
            &[&class, &object],
        )
        .await
        .ok()
        .flatten();
    let Some(row) = row else {
        return Holder::unknown(target, "(unknown: the server did not say who)");
    };
    let name: String = row.get(0);
    let client_addr: String = row.get(1);
    let backend: i32 = row.get(2);
    let since: String = row.get(3);
    let mut words = name.split(' ');
    match (words.next(), words.next(), words.next().and_then(|p| p.parse().ok())) {
        (Some("drhost"), Some(run), Some(pid)) => Holder {
            target: target.to_string(),
            run: run.to_string(),
            host: words.collect::<Vec<_>>().join(" "),
            pid,
            pid_start: None,
            since,
        },
        _ => Holder {
            target: target.to_string(),
            run: format!("(not a drhost run: Postgres backend {backend}, application `{name}`)"),
            host: client_addr,
            pid: 0,
            pid_start: None,
            since,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_differ_per_target_and_names_fit_postgres() {
        assert_ne!(key("shell:sleep"), key("shell:echo"));
        assert_eq!(key("postgres:primary"), key("postgres:primary"));
        let me = Holder {
            target: "t".into(),
            run: "20261201T003933Z-redis-failover-1553".into(),
            host: "é".repeat(40),
            pid: 4_194_304,
            pid_start: None,
            since: "now".into(),
        };
        let name = application_name(&me);
        assert!(name.len() <= 63, "{name}");
        assert!(name.starts_with("drhost 20261201T003933Z-redis-failover-1553 4194304 é"));
    }
}
