//! The Postgres write probe: one heartbeat row per attempt in the drill's
//! own table `drhost_drill.heartbeat` (run id, sequence number, host time);
//! after recovery, the rows still there show which acknowledged heartbeats
//! a restore or failover lost. It touches no other table, and removes its
//! own rows when the drill is judged (and the table and its schema, once
//! the table is empty).
//!
//! The table has a schema of its own, not `public`: a backup (`pg_dump`)
//! and a restore carry it like any table, but the application's tables and
//! the row counts `db-backup` records for `db-restore` to check (those of
//! `public`) never include a table the probe keeps writing to.

use std::collections::{BTreeMap, HashSet};
use std::time::{Duration, SystemTime};

use crate::caps::postgres::PostgresTarget;
use crate::caps::vault::VaultTarget;

/// The probe's own schema.
pub const HEARTBEAT_SCHEMA: &str = "drhost_drill";
/// The probe's own table, in its own schema.
pub const HEARTBEAT_TABLE: &str = "drhost_drill.heartbeat";

/// Probes one `[targets.postgres.<label>]`.
pub(crate) struct PostgresProbe {
    label: String,
    target: PostgresTarget,
    vaults: BTreeMap<String, VaultTarget>,
    run: String,
    seq: i64,
    timeout: Duration,
    client: Option<tokio_postgres::Client>,
}

impl PostgresProbe {
    /// A probe of target `label`, writing rows of drill run `run`.
    pub(crate) fn new(
        label: &str,
        target: &PostgresTarget,
        vaults: &BTreeMap<String, VaultTarget>,
        run: &str,
        timeout: Duration,
    ) -> PostgresProbe {
        PostgresProbe {
            label: label.to_string(),
            target: target.clone(),
            vaults: vaults.clone(),
            run: run.to_string(),
            seq: 0,
            timeout,
            client: None,
        }
    }

    async fn client(&mut self) -> Result<&tokio_postgres::Client, String> {
        if self.client.is_none() {
            let connected =
                crate::caps::postgres::connect_for_host(&self.label, &self.target, &self.vaults, "drhost-drill-probe")
                    .await
                    .map_err(|e| crate::caps::kit::call::error_parts(&e).1.to_string())?;
            self.client = Some(connected);
        }
        self.client.as_ref().ok_or_else(|| "not connected".to_string())
    }

    /// Creates the heartbeat table (and its schema) when it is missing.
    pub(crate) async fn prepare(&mut self) -> Result<(), String> {
        let sql = format!(
            "CREATE SCHEMA IF NOT EXISTS {HEARTBEAT_SCHEMA}; CREATE TABLE IF NOT EXISTS {HEARTBEAT_TABLE} (run text NOT NULL, seq bigint NOT NULL, at_ms bigint NOT NULL, PRIMARY KEY (run, seq))"
        );
        let client = self.client().await?;
        client.batch_execute(&sql).await.map_err(|e| db_error(&e))
    }

    /// One attempt: the heartbeat's sequence number once the insert is committed.
    pub(crate) async fn attempt(&mut self) -> Result<Option<i64>, String> {
        self.seq += 1;
        let (run, seq) = (self.run.clone(), self.seq);
        let at_ms = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64);
        let sql = format!("INSERT INTO {HEARTBEAT_TABLE} (run, seq, at_ms) VALUES ($1, $2, $3)");
        let timeout = self.timeout;
        let client = self.client().await?;
        match tokio::time::timeout(timeout, client.execute(&sql, &[&run, &seq, &at_ms])).await {
            Ok(Ok(_)) => Ok(Some(seq)),
            Ok(Err(e)) => {
                self.client = None;
                Err(format!("heartbeat insert: {}", db_error(&e)))
            }
            Err(_) => {
                self.client = None;
                Err("heartbeat insert: no answer in time".to_string())
            }
        }
    }

    /// The sequence numbers of this run's heartbeats still in the table
    /// (none when the table itself is gone), then those rows removed.
    pub(crate) async fn read_back(&mut self) -> Result<HashSet<i64>, String> {
        self.client = None;
        let run = self.run.clone();
        let client = self.client().await?;
        let exists: bool = client
            .query_one("SELECT to_regclass($1) IS NOT NULL", &[&HEARTBEAT_TABLE])
            .await
            .map_err(|e| db_error(&e))?
            .get(0);
        if !exists {
            return Ok(HashSet::new());
        }
        let rows = client
            .query(&format!("SELECT seq FROM {HEARTBEAT_TABLE} WHERE run = $1"), &[&run])
            .await
            .map_err(|e| db_error(&e))?;
        let kept = rows.iter().map(|r| r.get::<_, i64>(0)).collect();
        let _ = client
            .execute(&format!("DELETE FROM {HEARTBEAT_TABLE} WHERE run = $1"), &[&run])
            .await;
        // The last drill using the table removes it and its schema: nothing
        // is left behind.
        let _ = client
            .batch_execute(&format!(
                "DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM {HEARTBEAT_TABLE}) THEN DROP TABLE {HEARTBEAT_TABLE}; DROP SCHEMA IF EXISTS {HEARTBEAT_SCHEMA}; END IF; END $$"
            ))
            .await;
        Ok(kept)
    }
}

fn db_error(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => db.message().to_string(),
        None => crate::caps::kit::text::root_cause(e),
    }
}
