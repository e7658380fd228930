//! The `redis` interface as the plugin sees it: one short function per WIT
//! function, each `args → check → call` through
//! [`crate::sandbox::RunContext::audited`]; the checks and the node
//! connections are in `client.rs`, the Sentinel calls in `sentinel.rs`,
//! the reply parsing in `replies.rs`.

use std::time::Instant;

use serde_json::json;
use wasmtime::component::Resource;

use super::client::{self, Node};
use super::{redacted_args, replies, sentinel, Connection, RedisAccess, SentinelSet};
use crate::bindings::drhost::runbook::redis::{
    Address, AddressAnswer, Host, HostConnection, HostSentinel, PeersAnswer, QuorumAnswer, ReplicasAnswer,
    ReplicationInfo, Reply, StateAnswer,
};
use crate::caps::kit::call::error_parts;
use crate::caps::kit::Answer;
use crate::sandbox::RunState;

impl Host for RunState {}

/// `host:port`, as the journal shows an address.
fn addr_json(a: &Address) -> String {
    format!("{}:{}", a.host, a.port)
}

/// The journal's summary of an opened connection: the node it reached.
fn opened(c: &Connection) -> serde_json::Value {
    json!({ "node": c.node() })
}

impl HostConnection for RunState {
    async fn open(&mut self, label: String) -> Answer<Resource<Connection>> {
        let ctx = self.ctx.clone();
        let conn = ctx
            .audited("redis.open", json!({ "target": label }), opened, async {
                Ok(client::open(&ctx, &label, Node::Url).await?)
            })
            .await?;
        Ok(self.table.push(conn)?)
    }

    async fn open_master(&mut self, label: String) -> Answer<Resource<Connection>> {
        let ctx = self.ctx.clone();
        let conn = ctx
            .audited("redis.open-master", json!({ "target": label }), opened, async {
                Ok(client::open(&ctx, &label, Node::Master).await?)
            })
            .await?;
        Ok(self.table.push(conn)?)
    }

    async fn open_node(&mut self, label: String, node: Address) -> Answer<Resource<Connection>> {
        let ctx = self.ctx.clone();
        let args = json!({ "target": label, "node": addr_json(&node) });
        let conn = ctx
            .audited("redis.open-node", args, opened, async {
                Ok(client::open(&ctx, &label, Node::Given(node.host, node.port)).await?)
            })
            .await?;
        Ok(self.table.push(conn)?)
    }

    async fn address(&mut self, conn: Resource<Connection>) -> wasmtime::Result<Address> {
        let conn = self.table.get(&conn)?;
        Ok(Address {
            host: conn.host.clone(),
            port: conn.port,
        })
    }

    async fn command(&mut self, conn: Resource<Connection>, args: Vec<String>) -> Answer<Reply> {
        let ctx = self.ctx.clone();
        let c = self.table.get_mut(&conn)?;
        let journal_args = json!({ "target": c.label, "node": c.node(), "args": redacted_args(&args) });
        let summary = |r: &Reply| json!({ "reply": replies::reply_kind(r) });
        let label = c.label.clone();
        ctx.audited_checked(
            "redis.command",
            journal_args,
            summary,
            async {
                client::check_command(&ctx, &label, &args)?;
                Ok(())
            },
            |()| async {
                let value = client::query(&ctx, c, client::build(&args)).await?;
                Ok(replies::reply(value))
            },
        )
        .await
    }

    async fn ping(&mut self, conn: Resource<Connection>) -> Answer<u64> {
        let started = Instant::now();
        let ctx = self.ctx.clone();
        let c = self.table.get_mut(&conn)?;
        let args = json!({ "target": c.label, "node": c.node() });
        ctx.audited("redis.ping", args, |us| json!({ "round_trip_us": us }), async {
            client::check(&ctx, &c.label, "PING", RedisAccess::Read)?;
            client::query(&ctx, c, redis::cmd("PING")).await?;
            Ok(started.elapsed().as_micros() as u64)
        })
        .await
    }

    async fn info(&mut self, conn: Resource<Connection>, section: String) -> Answer<Vec<(String, String)>> {
        let ctx = self.ctx.clone();
        let c = self.table.get_mut(&conn)?;
        let args = json!({ "target": c.label, "node": c.node(), "section": section });
        let summary = |pairs: &Vec<(String, String)>| json!({ "fields": pairs.len() });
        ctx.audited("redis.info", args, summary, async {
            client::check(&ctx, &c.label, "INFO", RedisAccess::Read)?;
            let mut cmd = redis::cmd("INFO");
            if !section.is_empty() {
                cmd.arg(&section);
            }
            let value = client::query(&ctx, c, cmd).await?;
            Ok(replies::info_pairs(&replies::text(&value)))
        })
        .await
    }

    async fn replication(&mut self, conn: Resource<Connection>) -> Answer<ReplicationInfo> {
        let ctx = self.ctx.clone();
        let c = self.table.get_mut(&conn)?;
        let args = json!({ "target": c.label, "node": c.node() });
        let summary = |r: &ReplicationInfo| json!({ "role": r.role, "replicas": r.replicas.len(), "offset": r.master_repl_offset, "link": r.master_link_status });
        ctx.audited("redis.replication", args, summary, async {
            client::check(&ctx, &c.label, "INFO replication", RedisAccess::Read)?;
            let value = client::query(&ctx, c, redis::cmd("INFO").arg("replication").clone()).await?;
            Ok(replies::replication(&replies::info_pairs(&replies::text(&value))))
        })
        .await
    }

    async fn drop(&mut self, conn: Resource<Connection>) -> wasmtime::Result<()> {
        self.table.delete(conn)?;
        Ok(())
    }
}

impl HostSentinel for RunState {
    async fn open(&mut self, label: String) -> Answer<Resource<SentinelSet>> {
        let ctx = self.ctx.clone();
        let summary = |s: &SentinelSet| json!({ "sentinels": s.members.iter().map(|(h, p)| format!("{h}:{p}")).collect::<Vec<_>>() });
        let set = ctx
            .audited("redis.sentinel.open", json!({ "target": label }), summary, async {
                Ok(sentinel::open_sentinels(&ctx, &label)?)
            })
            .await?;
        Ok(self.table.push(set)?)
    }

    async fn members(&mut self, set: Resource<SentinelSet>) -> wasmtime::Result<Vec<Address>> {
        let set = self.table.get(&set)?;
        Ok(set
            .members
            .iter()
            .map(|(host, port)| Address {
                host: host.clone(),
                port: *port,
            })
            .collect())
    }

    async fn master_name(&mut self, set: Resource<SentinelSet>) -> wasmtime::Result<String> {
        Ok(self.table.get(&set)?.master_name.clone())
    }

    async fn master_address(
        &mut self,
        set: Resource<SentinelSet>,
        name: String,
        only: Option<Address>,
    ) -> Answer<Vec<AddressAnswer>> {
        let ctx = self.ctx.clone();
        let s = self.table.get(&set)?;
        let args = json!({ "target": s.label, "name": name, "only": only.as_ref().map(addr_json) });
        let summary = |answers: &Vec<AddressAnswer>| {
            json!(answers
                .iter()
                .map(|a| match &a.answer {
                    Ok(Some(addr)) => json!({ "sentinel": addr_json(&a.sentinel), "master": addr_json(addr) }),
                    Ok(None) => json!({ "sentinel": addr_json(&a.sentinel), "master": null }),
                    Err(e) => json!({ "sentinel": addr_json(&a.sentinel), "error": error_parts(e).0 }),
                })
                .collect::<Vec<_>>())
        };
        ctx.audited("redis.sentinel.master-address", args, summary, async {
            Ok(sentinel::master_address(&ctx, s, &name, only.as_ref()).await?)
        })
        .await
    }

    async fn master_state(
        &mut self,
        set: Resource<SentinelSet>,
        name: String,
        only: Option<Address>,
    ) -> Answer<Vec<StateAnswer>> {
        let ctx = self.ctx.clone();
        let s = self.table.get(&set)?;
        let args = json!({ "target": s.label, "name": name, "only": only.as_ref().map(addr_json) });
        let summary = |answers: &Vec<StateAnswer>| {
            json!(answers
                .iter()
                .map(|a| match &a.answer {
                    Ok(s) => json!({ "sentinel": addr_json(&a.sentinel), "master": addr_json(&s.address), "flags": s.flags }),
                    Err(e) => json!({ "sentinel": addr_json(&a.sentinel), "error": error_parts(e).0 }),
                })
                .collect::<Vec<_>>())
        };
        ctx.audited("redis.sentinel.master-state", args, summary, async {
            Ok(sentinel::master_state(&ctx, s, &name, only.as_ref()).await?)
        })
        .await
    }

    async fn replicas(
        &mut self,
        set: Resource<SentinelSet>,
        name: String,
        only: Option<Address>,
    ) -> Answer<Vec<ReplicasAnswer>> {
        let ctx = self.ctx.clone();
        let s = self.table.get(&set)?;
        let args = json!({ "target": s.label, "name": name, "only": only.as_ref().map(addr_json) });
        let summary = |answers: &Vec<ReplicasAnswer>| json!({ "answers": answers.len() });
        ctx.audited("redis.sentinel.replicas", args, summary, async {
            Ok(sentinel::replicas(&ctx, s, &name, only.as_ref()).await?)
        })
        .await
    }

    async fn sentinels(
        &mut self,
        set: Resource<SentinelSet>,
        name: String,
        only: Option<Address>,
    ) -> Answer<Vec<PeersAnswer>> {
        let ctx = self.ctx.clone();
        let s = self.table.get(&set)?;
        let args = json!({ "target": s.label, "name": name, "only": only.as_ref().map(addr_json) });
        let summary = |answers: &Vec<PeersAnswer>| json!({ "answers": answers.len() });
        ctx.audited("redis.sentinel.sentinels", args, summary, async {
            Ok(sentinel::peers(&ctx, s, &name, only.as_ref()).await?)
        })
        .await
    }

    async fn ckquorum(
        &mut self,
        set: Resource<SentinelSet>,
        name: String,
        only: Option<Address>,
    ) -> Answer<Vec<QuorumAnswer>> {
        let ctx = self.ctx.clone();
        let s = self.table.get(&set)?;
        let args = json!({ "target": s.label, "name": name, "only": only.as_ref().map(addr_json) });
        let summary = |answers: &Vec<QuorumAnswer>| {
            json!(answers
                .iter()
                .map(|a| match &a.answer {
                    Ok(text) => json!({ "sentinel": addr_json(&a.sentinel), "ok": text }),
                    Err(e) => json!({ "sentinel": addr_json(&a.sentinel), "error": error_parts(e) }),
                })
                .collect::<Vec<_>>())
        };
        ctx.audited("redis.sentinel.ckquorum", args, summary, async {
            Ok(sentinel::ckquorum(&ctx, s, &name, only.as_ref()).await?)
        })
        .await
    }

    async fn failover(&mut self, set: Resource<SentinelSet>, name: String, only: Option<Address>) -> Answer<Address> {
        let ctx = self.ctx.clone();
        let s = self.table.get(&set)?;
        let args = json!({ "target": s.label, "name": name, "only": only.as_ref().map(addr_json) });
        let summary = |a: &Address| json!({ "accepted_by": addr_json(a) });
        ctx.audited_checked(
            "redis.sentinel.failover",
            args,
            summary,
            async {
                client::check(&ctx, &s.label, "SENTINEL FAILOVER", RedisAccess::SentinelFailover)?;
                Ok(())
            },
            |()| async { Ok(sentinel::failover(&ctx, s, &name, only.as_ref()).await?) },
        )
        .await
    }

    async fn drop(&mut self, set: Resource<SentinelSet>) -> wasmtime::Result<()> {
        self.table.delete(set)?;
        Ok(())
    }
}
