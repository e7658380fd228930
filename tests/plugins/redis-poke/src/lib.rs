//! `redis-poke`: opens a node of target `target` (its url, the master
//! Sentinel reports, or a node the plugin names) and sends the Redis
//! commands in `args` (`;`-separated, each space-separated), reporting each
//! reply or typed error as facts — so tests can check what a grant allows
//! at the call, and what a hostile plugin gets.

use drhost_sdk::prelude::*;
use drhost_sdk::redis::{Address, Connection, Reply};

struct RedisPoke;

/// A reply as a fact: text when short, its size when long.
fn shown(reply: Reply) -> String {
    match reply {
        Reply::Nil => "nil".to_string(),
        Reply::Int(n) => n.to_string(),
        Reply::Text(t) => t,
        Reply::Bulk(b) if b.len() > 4096 => format!("{} bytes", b.len()),
        Reply::Bulk(b) => String::from_utf8_lossy(&b).into_owned(),
        Reply::Array(items) if items.len() > 64 => format!("{} elements", items.len()),
        other => format!("{other:?}"),
    }
}

impl Plugin for RedisPoke {
    fn describe() -> Manifest {
        manifest(
            "redis-poke",
            env!("CARGO_PKG_VERSION"),
            "Sends the Redis commands it is told to (tests only)",
        )
        .param("target", "the Redis target label", Some("cache"))
        .param(
            "open",
            "which node: url, master (as Sentinel reports it) or node:HOST:PORT",
            Some("url"),
        )
        .param("args", "commands separated by `;`, each space-separated", Some("PING"))
        .need("redis", "cache", Access::Read, "pokes the cache")
        .build()
    }

    fn run(params: Params) -> Result<Outcome, Failure> {
        let target = params.get("target")?;
        let how = params.get("open")?;
        let opened = if how == "master" {
            Connection::open_master(target)
        } else if let Some(node) = how.strip_prefix("node:") {
            let (host, port) = node.rsplit_once(':').unwrap_or((node, "0"));
            Connection::open_node(
                target,
                &Address {
                    host: host.to_string(),
                    port: port.parse().unwrap_or(0),
                },
            )
        } else {
            Connection::open(target)
        };
        let conn = match opened {
            Ok(conn) => conn,
            Err(e) => {
                return Ok(outcome("not opened")
                    .fact("open-error-kind", e.kind())
                    .fact("open-error", e.message()))
            }
        };
        let commands: Vec<Vec<String>> = params
            .get("args")?
            .split(';')
            .map(|c| c.split_whitespace().map(String::from).collect::<Vec<_>>())
            .filter(|c| !c.is_empty())
            .collect();
        let single = commands.len() == 1;
        let mut result = outcome("sent");
        for (i, args) in commands.iter().enumerate() {
            let suffix = if single { String::new() } else { format!(".{i}") };
            result = match conn.command(args) {
                Ok(reply) => result.fact(&format!("reply{suffix}"), shown(reply)),
                Err(e) => result
                    .fact(&format!("error-kind{suffix}"), e.kind())
                    .fact(&format!("error{suffix}"), e.message()),
            };
        }
        Ok(result)
    }
}

export_plugin!(RedisPoke);
