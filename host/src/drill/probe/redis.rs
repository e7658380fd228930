//! The Redis write probe: `INCR` of the drill's own key on the master
//! Sentinel names now; after recovery, the counter is read back to count
//! the acknowledged increments that were lost. It touches no other key,
//! and connects only to the target's `url`, `nodes` and Sentinels — the
//! Sentinels with `sentinel_password`, the data nodes with `password`, as
//! the `redis` capability does.

use std::time::Duration;

use redis::aio::MultiplexedConnection;

use crate::caps::redis::RedisTarget;

/// A target's secret (`what` names its field), read once when the probe starts.
async fn resolve(
    secret: Option<&crate::secret::SecretRef>,
    what: &str,
    vaults: &std::collections::BTreeMap<String, crate::caps::vault::VaultTarget>,
) -> Result<Option<String>, String> {
    match secret {
        Some(secret) => secret
            .resolve(vaults)
            .await
            .map(Some)
            .map_err(|e| format!("its {what} cannot be read: {e}")),
        None => Ok(None),
    }
}

/// Probes one `[targets.redis.<label>]`.
pub(crate) struct RedisProbe {
    label: String,
    target: RedisTarget,
    password: Option<String>,
    /// The Sentinels' password (`sentinel_password`), resolved once.
    sentinel_password: Option<String>,
    key: String,
    timeout: Duration,
    /// The Sentinel last asked, and its connection.
    sentinel: Option<(usize, MultiplexedConnection)>,
    /// The master last written to, and its connection.
    master: Option<((String, u16), MultiplexedConnection)>,
}

impl RedisProbe {
    /// A probe of target `label`, writing `key`.
    pub(crate) async fn new(
        label: &str,
        target: &RedisTarget,
        vaults: &std::collections::BTreeMap<String, crate::caps::vault::VaultTarget>,
        key: String,
        timeout: Duration,
    ) -> Result<RedisProbe, String> {
        let password = resolve(target.password.as_ref(), "password", vaults).await?;
        let sentinel_password = resolve(target.sentinel_password.as_ref(), "sentinel_password", vaults).await?;
        Ok(RedisProbe {
            label: label.to_string(),
            target: target.clone(),
            password,
            sentinel_password,
            key,
            timeout,
            sentinel: None,
            master: None,
        })
    }

    fn client(&self, host: &str, port: u16, sentinel: bool) -> Result<redis::Client, String> {
        let (db, password) = if sentinel {
            (0, self.sentinel_password.clone())
        } else {
            (self.target.url.db, self.password.clone())
        };
        crate::caps::redis::node_client(&self.target, host, port, db, sentinel, password)
    }

    async fn connect(&self, host: &str, port: u16, sentinel: bool) -> Result<MultiplexedConnection, String> {
        let client = self.client(host, port, sentinel)?;
        let config = redis::AsyncConnectionConfig::new()
            .set_connection_timeout(self.timeout)
            .set_response_timeout(self.timeout);
        client
            .get_multiplexed_async_connection_with_config(&config)
            .await
            .map_err(|e| format!("redis at {host}:{port}: {e}"))
    }

    /// The master the Sentinels name now (the target's `url` when it has
    /// no Sentinels), refused when it is not one of the target's nodes.
    async fn master_address(&mut self) -> Result<(String, u16), String> {
        let Some(name) = self
            .target
            .master_name
            .clone()
            .filter(|_| !self.target.sentinels.is_empty())
        else {
            return Ok((self.target.url.host.clone(), self.target.url.port));
        };
        let count = self.target.sentinels.len();
        let first = self.sentinel.as_ref().map_or(0, |(i, _)| *i);
        let mut last_error = String::new();
        for step in 0..count {
            let index = (first + step) % count;
            let con = match self.sentinel.take() {
                Some((i, con)) if i == index => con,
                _ => {
                    let (host, port) = crate::caps::redis::split_host_port(&self.target.sentinels[index], 26379)?;
                    match self.connect(&host, port, true).await {
                        Ok(con) => con,
                        Err(e) => {
                            last_error = e;
                            continue;
                        }
                    }
                }
            };
            let mut con = con;
            let answer: Result<Option<(String, u16)>, _> = redis::cmd("SENTINEL")
                .arg("get-master-addr-by-name")
                .arg(&name)
                .query_async(&mut con)
                .await;
            match answer {
                Ok(Some((host, port))) => {
                    self.sentinel = Some((index, con));
                    if !self.target.allows_node(&host, port) {
                        return Err(format!(
                            "Sentinel names {host}:{port} as master, which is not among [targets.redis.{}] nodes",
                            self.label
                        ));
                    }
                    return Ok((host, port));
                }
                Ok(None) => last_error = format!("Sentinel knows no master `{name}`"),
                Err(e) => last_error = format!("Sentinel {}: {e}", self.target.sentinels[index]),
            }
        }
        let hint = if !last_error.contains("NOAUTH") && !last_error.contains("WRONGPASS") {
            String::new()
        } else if self.sentinel_password.is_none() {
            format!(
                " (the Sentinels require a password: add sentinel_password = \"file:PATH\" or \"env:NAME\" to [targets.redis.{}])",
                self.label
            )
        } else {
            format!(
                " (the Sentinels refuse [targets.redis.{}] sentinel_password: check it against their requirepass)",
                self.label
            )
        };
        Err(format!("no Sentinel named the master: {last_error}{hint}"))
    }

    /// A connection to the current master.
    async fn master(&mut self) -> Result<MultiplexedConnection, String> {
        let addr = self.master_address().await?;
        if let Some((at, con)) = &self.master {
            if *at == addr {
                return Ok(con.clone());
            }
        }
        let con = self.connect(&addr.0, addr.1, false).await?;
        self.master = Some((addr, con.clone()));
        Ok(con)
    }

    /// Starts the probe's key from nothing.
    pub(crate) async fn reset(&mut self) -> Result<(), String> {
        let mut con = self.master().await?;
        redis::cmd("DEL")
            .arg(&self.key)
            .query_async::<i64>(&mut con)
            .await
            .map(|_| ())
            .map_err(|e| format!("DEL {}: {e}", self.key))
    }

    /// One attempt: the value `INCR` acknowledged.
    pub(crate) async fn attempt(&mut self) -> Result<Option<i64>, String> {
        let mut con = self.master().await?;
        match redis::cmd("INCR").arg(&self.key).query_async::<i64>(&mut con).await {
            Ok(value) => Ok(Some(value)),
            Err(e) => {
                self.master = None;
                Err(format!("INCR: {e}"))
            }
        }
    }

    /// The counter's value now (0 when the key is gone), then the key removed.
    pub(crate) async fn read_back(&mut self) -> Result<i64, String> {
        self.master = None;
        let mut con = self.master().await?;
        let value: Option<i64> = redis::cmd("GET")
            .arg(&self.key)
            .query_async(&mut con)
            .await
            .map_err(|e| format!("GET {}: {e}", self.key))?;
        let _ = redis::cmd("DEL").arg(&self.key).query_async::<i64>(&mut con).await;
        Ok(value.unwrap_or(0))
    }
}
