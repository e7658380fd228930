//! `fault-stop-redis-master`: a drill's fault for runbook scenario 2 (Redis
//! failure). It asks the Sentinels which node is the master (a majority
//! must agree), stops that node with `redis-cli [OPTIONS] -h HOST -p PORT
//! SHUTDOWN NOSAVE` (a granted program: the plugin holds no Redis admin
//! grant), and checks that it no longer answers `PING`. OPTIONS is the
//! `redis-cli-options` param, e.g. `--tls --cacert /etc/redis/ca.crt`; the
//! password reaches redis-cli from the operator's grant
//! (`env = { REDISCLI_AUTH = "file:…" }`), never through the plugin.
//!
//! Undo: start the stopped node from its own config (`redis-server
//! CONF`); Sentinel then makes it a replica of the new master. The
//! recovery under test, `redis-failover` with a `restart-command`, does
//! both.

use drhost_sdk::prelude::*;
use drhost_sdk::redis::{Address, Sentinel};

struct FaultStopRedisMaster;

const FIND: &str = "find the master";
const STOP: &str = "stop the master";

impl Plugin for FaultStopRedisMaster {
    fn describe() -> Manifest {
        manifest(
            "fault-stop-redis-master",
            env!("CARGO_PKG_VERSION"),
            "Drill fault: stops the Redis master Sentinel names (undo: start it from its config; redis-failover does)",
        )
        .param("target", "the Redis target label ([targets.redis.<label>] with sentinels)", Some("cache"))
        .param(
            "redis-cli-options",
            "options redis-cli needs to reach the nodes, before -h, e.g. `--tls --cacert /etc/redis/ca.crt` (the password comes from the grant's env)",
            Some(""),
        )
        .need("redis", "cache", Access::Read, "asks the Sentinels which node is the master")
        .need("shell", "redis-cli", Access::Write, "SHUTDOWN NOSAVE on the master, then PING to see it is down")
        .build()
    }

    fn run(params: Params) -> Result<Outcome, Failure> {
        let label = params.get("target")?;
        let options: Vec<&str> = params.get("redis-cli-options")?.split_whitespace().collect();
        let step = Step::start(FIND);
        let master = agreed_master(label).map_err(|f| f.in_step(FIND))?;
        step.note(format!("master {}:{}", master.host, master.port));
        step.ok();

        let step = Step::start(STOP);
        let port = master.port.to_string();
        let host = master.host.as_str();
        let cli = |command: &[&str]| {
            let args: Vec<&str> = options.iter().copied().chain(["-h", host, "-p", &port]).chain(command.iter().copied()).collect();
            run_program("redis-cli", &args).map_err(|e| Failure::from(e).in_step(STOP))
        };
        let stopped = cli(&["SHUTDOWN", "NOSAVE"])?;
        step.note(format!("redis-cli SHUTDOWN NOSAVE: {}", exit_text(stopped.exit_code)));
        let ping = cli(&["PING"])?;
        if ping.exit_code == Some(0) && ping.stdout.trim() == "PONG" {
            step.fail();
            return Err(fail(format!("{host}:{port} still answers PING after SHUTDOWN NOSAVE"))
                .in_step(STOP)
                .hint("the node refused to shut down: see its log"));
        }
        step.ok();
        Ok(outcome(format!(
            "stopped the Redis master {host}:{port}; undo: start it from its config (redis-server CONF)"
        ))
        .fact("stopped", format!("{host}:{port}")))
    }
}

/// The master a majority of the Sentinels name.
fn agreed_master(label: &str) -> Result<Address, Failure> {
    let sentinel = Sentinel::open(label)?;
    let name = sentinel.master_name();
    let members = sentinel.members().len();
    let mut votes: Vec<(Address, usize)> = Vec::new();
    for answer in sentinel.master_address(&name, None)? {
        if let Ok(Some(m)) = answer.answer {
            match votes.iter_mut().find(|(v, _)| v.host == m.host && v.port == m.port) {
                Some((_, n)) => *n += 1,
                None => votes.push((m, 1)),
            }
        }
    }
    votes.sort_by_key(|v| std::cmp::Reverse(v.1));
    match votes.into_iter().next() {
        Some((master, n)) if n > members / 2 => Ok(master),
        _ => Err(fail(format!("no majority of the {members} Sentinels agrees on a master of `{name}`"))
            .hint("the set is already failing over or split: wait for it to settle before the drill")),
    }
}

export_plugin!(FaultStopRedisMaster);
