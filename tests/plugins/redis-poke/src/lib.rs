//! `redis-poke`: sends the Redis command in `args` (space-separated) to the
//! node of target `target` and reports the reply or the typed error as
//! facts — so tests can check what a grant allows at the call.

use drhost_sdk::prelude::*;
use drhost_sdk::redis::{Connection, Reply};

struct RedisPoke;

impl Plugin for RedisPoke {
    fn describe() -> Manifest {
        manifest(
            "redis-poke",
            env!("CARGO_PKG_VERSION"),
            "Sends the Redis command it is told to (tests only)",
        )
        .param("target", "the Redis target label", Some("cache"))
        .param("args", "the command, space-separated", Some("PING"))
        .need("redis", "cache", Access::Read, "pokes the cache")
        .build()
    }

    fn run(params: Params) -> Result<Outcome, Failure> {
        let conn = Connection::open(params.get("target")?)?;
        let args: Vec<String> = params.get("args")?.split_whitespace().map(String::from).collect();
        match conn.command(&args) {
            Ok(reply) => {
                let text = match reply {
                    Reply::Nil => "nil".to_string(),
                    Reply::Int(n) => n.to_string(),
                    Reply::Text(t) => t,
                    Reply::Bulk(b) => String::from_utf8_lossy(&b).into_owned(),
                    other => format!("{other:?}"),
                };
                Ok(outcome("sent").fact("reply", text))
            }
            Err(e) => Ok(outcome("refused")
                .fact("error-kind", e.kind())
                .fact("error", e.message())),
        }
    }
}

export_plugin!(RedisPoke);
