//! `redis-failover`: runbook scenario 2 (Redis failure).
//!
//! Diagnose (master ping, each Sentinel's view, replication) → Option A
//! (Sentinel already failed over: a quorum agrees on a new master that
//! answers as master) or Option B (master down, no failover: CKQUORUM and
//! replica offsets, refuse when a failover could lose data or split the
//! brain, else confirm and `SENTINEL FAILOVER`, wait for agreement) →
//! restart the failed node (a granted program; without one, the run ends
//! "recovered, follow-up required" naming the node to start) and wait until
//! it rejoins as a replica → restart backends when asked. Every wait ends
//! before the run's deadline.
//! A write probe (INCR on the master) runs through it all; the outcome
//! reports `time-to-recovery-ms` (RTO) and the acknowledged writes the
//! probe lost during the run. The probe starts with the plugin, after the
//! fault: the loss from before that (the RPO) is measured by `drhost drill`,
//! whose probe runs from before the fault.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use drhost_sdk::prelude::*;
use drhost_sdk::redis::{Address, Connection, Reply, Sentinel};
use drhost_sdk::{confirm, docker};

struct RedisFailover;

const POLL: Duration = Duration::from_millis(100);

impl Plugin for RedisFailover {
    fn describe() -> Manifest {
        manifest(
            "redis-failover",
            env!("CARGO_PKG_VERSION"),
            "Redis failure (runbook scenario 2): verify or trigger a Sentinel failover, restart the failed node, report RTO and RPO",
        )
        .param("target", "the Redis target label ([targets.redis.<label>] with sentinels and master_name)", Some("cache"))
        .param("auto-failover-wait", "how long to wait for Sentinel's own failover before Option B (e.g. 10s)", Some("10s"))
        .param("failover-timeout", "how long a failover may take until every Sentinel agrees", Some("60s"))
        .param("max-lag-bytes", "refuse a failover when the best replica is further behind the master than this", Some("1048576"))
        .param("max-link-down-seconds", "refuse a failover when the best replica lost its master longer ago than this", Some("60"))
        .param(
            "restart-command",
            "argv (space-separated) that restarts the failed node, e.g. `redis-server /etc/redis/{port}.conf`; `{host}` and `{port}` in it become the failed node's; needs a [[plugins.redis-failover.shell]] grant matching the result; empty: the run ends with a follow-up naming the node to start",
            Some(""),
        )
        .param("rejoin-timeout", "how long to wait for the failed node to rejoin as a replica", Some("60s"))
        .param(
            "restart-backends",
            "comma-separated containers to restart after the failover (docker restart); needs a [[plugins.redis-failover.docker]] write grant; empty: none",
            Some(""),
        )
        .param("probe-key", "the key the write probe INCRs on the master", Some("drhost:redis-failover:probe"))
        .need("redis", "cache", Access::Read, "pings nodes, reads replication info, asks the Sentinels")
        .need("redis", "cache", Access::Write, "the write probe INCRs one key to measure lost writes (RPO)")
        .need("redis", "cache:sentinel-failover", Access::Admin, "Option B: SENTINEL FAILOVER when no automatic failover happened")
        .build()
    }

    fn run(params: Params) -> Result<Outcome, Failure> {
        Runbook::new(&params)?.run()
    }
}

export_plugin!(RedisFailover);

/// Where a node that has not rejoined yet stands, as its INFO says.
fn rejoin_state(r: &drhost_sdk::redis::ReplicationInfo) -> String {
    if r.role != "slave" {
        return format!("it last reported role {} (Sentinel had not sent it REPLICAOF)", r.role);
    }
    let of = r.master.as_ref().map(addr).unwrap_or_else(|| "no master".to_string());
    let link = r.master_link_status.as_deref().unwrap_or("unknown");
    let sync = if r.master_sync_in_progress {
        ", full sync in progress"
    } else {
        ""
    };
    format!("it last reported replica of {of}, link {link}{sync}")
}

fn addr(a: &Address) -> String {
    format!("{}:{}", a.host, a.port)
}

fn same(a: &Address, b: &Address) -> bool {
    a.host == b.host && a.port == b.port
}

/// What the Sentinels say the master is.
struct View {
    /// Sentinels that answered.
    answered: usize,
    /// The address most of them give, and how many give it.
    majority: Option<(Address, usize)>,
}

/// Writes through the master as the Sentinels name it; records every
/// acknowledged value so lost writes can be counted after the failover.
struct Probe {
    key: String,
    conn: Option<(Address, Connection)>,
    /// A master that failed a write; not retried while it is still named.
    dead: Option<Address>,
    /// (node, value acknowledged), in order.
    acks: Vec<(String, i64)>,
    failed_writes: u32,
}

impl Probe {
    fn tick(&mut self, label: &str, master: Option<&Address>) {
        let Some(master) = master else { return };
        if self.dead.as_ref().is_some_and(|d| same(d, master)) {
            return;
        }
        if !self.conn.as_ref().is_some_and(|(a, _)| same(a, master)) {
            match Connection::open_node(label, master) {
                Ok(c) => self.conn = Some((master.clone(), c)),
                Err(_) => {
                    self.dead = Some(master.clone());
                    self.failed_writes += 1;
                    return;
                }
            }
        }
        let Some((a, c)) = &self.conn else { return };
        match c.command(&["INCR".to_string(), self.key.clone()]) {
            Ok(Reply::Int(v)) => self.acks.push((addr(a), v)),
            _ => {
                self.failed_writes += 1;
                self.dead = Some(master.clone());
                self.conn = None;
            }
        }
    }

    /// Acknowledged writes lost: values acknowledged by an earlier master
    /// above what the next master continued from.
    fn lost(&self) -> (i64, usize) {
        let mut lost = 0;
        let mut switches = 0;
        for pair in self.acks.windows(2) {
            let ((node_a, _), (node_b, first_new)) = (&pair[0], &pair[1]);
            if node_a != node_b {
                switches += 1;
                let base = first_new - 1;
                let max_old = self
                    .acks
                    .iter()
                    .filter(|(n, _)| n == node_a)
                    .map(|(_, v)| *v)
                    .max()
                    .unwrap_or(base);
                lost += (max_old - base).max(0);
            }
        }
        (lost, switches)
    }
}

struct Runbook<'p> {
    params: &'p Params,
    label: String,
    name: String,
    sentinel: Sentinel,
    members: usize,
    quorum: usize,
    started: Instant,
    probe: Probe,
    facts: BTreeMap<&'static str, String>,
    /// (action, why) the operator must still do by hand.
    follow_ups: Vec<(String, String)>,
}

impl<'p> Runbook<'p> {
    fn new(params: &'p Params) -> Result<Self, Failure> {
        let label = params.get("target")?.to_string();
        let sentinel = Sentinel::open(&label).map_err(|e| Failure::from(e).in_step("diagnose"))?;
        let name = sentinel.master_name();
        let members = sentinel.members().len();
        Ok(Runbook {
            params,
            label,
            name,
            sentinel,
            members,
            quorum: members / 2 + 1,
            started: Instant::now(),
            probe: Probe {
                key: params.get("probe-key")?.to_string(),
                conn: None,
                dead: None,
                acks: Vec::new(),
                failed_writes: 0,
            },
            facts: BTreeMap::new(),
            follow_ups: Vec::new(),
        })
    }

    fn ms(&self) -> u128 {
        self.started.elapsed().as_millis()
    }

    fn view(&self) -> Result<View, Failure> {
        let answers = self.sentinel.master_address(&self.name, None)?;
        let mut votes: Vec<(Address, usize)> = Vec::new();
        let mut answered = 0;
        for a in answers {
            if let Ok(Some(m)) = a.answer {
                answered += 1;
                match votes.iter_mut().find(|(v, _)| same(v, &m)) {
                    Some((_, n)) => *n += 1,
                    None => votes.push((m, 1)),
                }
            }
        }
        votes.sort_by_key(|v| std::cmp::Reverse(v.1));
        Ok(View {
            answered,
            majority: votes.into_iter().next(),
        })
    }

    /// The node's replication info, or why it could not be read.
    fn replication(&self, node: &Address) -> Result<drhost_sdk::redis::ReplicationInfo, Error> {
        Connection::open_node(&self.label, node)?.replication()
    }

    fn run(mut self) -> Result<Outcome, Failure> {
        // --- diagnose ---------------------------------------------------------
        let step = Step::start("diagnose");
        let states = self.sentinel.master_state(&self.name, None)?;
        let mut reachable = 0;
        for s in &states {
            match &s.answer {
                Ok(state) => {
                    reachable += 1;
                    self.quorum = self.quorum.max(state.quorum as usize);
                    step.note(format!(
                        "sentinel {}: master {} flags {} quorum {} other sentinels {} replicas {}",
                        addr(&s.sentinel),
                        addr(&state.address),
                        state.flags.join(","),
                        state.quorum,
                        state.num_other_sentinels,
                        state.num_replicas
                    ));
                }
                Err(e) => step.note(format!("sentinel {}: {}", addr(&s.sentinel), e.describe())),
            }
        }
        if reachable == 0 {
            step.fail();
            return Err(fail(format!(
                "none of the {} Sentinels of `{}` answers: nothing is safe to change",
                self.members, self.label
            ))
            .in_step("diagnose")
            .hint("start the Sentinels (check their logs), then rerun"));
        }
        let view = self.view()?;
        let Some((old_master, votes)) = view.majority.clone() else {
            step.fail();
            return Err(fail(format!("no Sentinel knows master `{}`", self.name)).in_step("diagnose"));
        };
        step.note(format!(
            "{votes} of {} answering Sentinels name {} as master",
            view.answered,
            addr(&old_master)
        ));
        let master_health = self.replication(&old_master);
        let healthy = matches!(&master_health, Ok(r) if r.role == "master");
        match &master_health {
            Ok(r) => step.note(format!(
                "master {} answers: role {}, {} replica(s), offset {}",
                addr(&old_master),
                r.role,
                r.replicas.len(),
                r.master_repl_offset
            )),
            Err(e) => step.note(format!(
                "master {} does not answer: {}",
                addr(&old_master),
                e.describe()
            )),
        }
        self.facts
            .insert("sentinels-answering", format!("{reachable}/{}", self.members));
        step.ok();
        if healthy {
            self.probe.tick(&self.label, Some(&old_master));
        } else {
            // Writes to a master that does not answer would only stall the run.
            self.probe.dead = Some(old_master.clone());
        }

        // --- which path -------------------------------------------------------
        let (new_master, path, failed) = if healthy {
            // Option A after the fact: Sentinel already promoted this master.
            let failed = self.down_nodes()?;
            if failed.is_empty() {
                return Ok(self.finish(
                    "Redis is healthy: the master answers, the Sentinels agree, no node is down",
                    "none",
                    &old_master,
                ));
            }
            (old_master.clone(), "A", failed)
        } else {
            let step = Step::start("wait for Sentinel's automatic failover");
            let wait = Wait::up_to(self.params.duration("auto-failover-wait")?);
            match self.wait_new_master(&old_master, &wait, false)? {
                Some(m) => {
                    step.note(format!(
                        "Sentinel promoted {} after {}",
                        addr(&m),
                        duration_text(self.started.elapsed())
                    ));
                    step.ok();
                    (m, "A", vec![old_master.clone()])
                }
                None => {
                    step.note(format!("no automatic failover within {}", wait.waited_text()));
                    step.ok();
                    let m = self.option_b(&old_master, master_health.ok())?;
                    (m, "B", vec![old_master.clone()])
                }
            }
        };
        let to_new_master = self.ms();
        self.facts.insert("path", path.to_string());
        self.facts.insert("time-to-new-master-ms", to_new_master.to_string());

        // --- verify the new master --------------------------------------------
        let step = Step::start(format!("verify new master {}", addr(&new_master)));
        let view = self.view()?;
        let agreeing = view
            .majority
            .as_ref()
            .filter(|(m, _)| same(m, &new_master))
            .map_or(0, |(_, n)| *n);
        if agreeing < self.quorum {
            step.fail();
            return Err(fail(format!(
                "only {agreeing} Sentinel(s) name {} as master; the quorum is {}",
                addr(&new_master),
                self.quorum
            ))
            .in_step("verify new master"));
        }
        let before = self.replication(&new_master)?;
        if before.role != "master" {
            step.fail();
            return Err(fail(format!(
                "{} reports role {}, not master",
                addr(&new_master),
                before.role
            ))
            .in_step("verify new master"));
        }
        self.probe.tick(&self.label, Some(&new_master));
        self.probe.tick(&self.label, Some(&new_master));
        let after = self.replication(&new_master)?;
        step.note(format!(
            "{agreeing}/{} Sentinels agree; role master; offset {} → {}; {} replica(s) attached",
            self.members,
            before.master_repl_offset,
            after.master_repl_offset,
            after.replicas.len()
        ));
        if after.master_repl_offset <= before.master_repl_offset {
            step.fail();
            return Err(fail(format!(
                "the new master's replication offset does not advance ({})",
                after.master_repl_offset
            ))
            .in_step("verify new master"));
        }
        self.facts
            .insert("sentinels-agreeing", format!("{agreeing}/{}", self.members));
        step.ok();

        // --- the failed node ----------------------------------------------------
        let mut rejoined = Vec::new();
        for node in &failed {
            if let Some(follow_up) = self.restart_failed(node, &new_master)? {
                self.follow_ups.push(follow_up);
            } else {
                rejoined.push(addr(node));
            }
        }
        self.facts
            .insert("failed-node", failed.iter().map(addr).collect::<Vec<_>>().join(","));
        self.facts.insert(
            "rejoined-as-replica",
            if rejoined.is_empty() {
                "no".into()
            } else {
                rejoined.join(",")
            },
        );

        // --- backends -----------------------------------------------------------
        let backends: Vec<String> = self
            .params
            .get("restart-backends")?
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect();
        if !backends.is_empty() {
            let step = Step::start("restart backends");
            for b in &backends {
                docker::restart_container(b, Some(10)).map_err(|e| Failure::from(e).in_step("restart backends"))?;
                let info = docker::inspect_container(b).map_err(|e| Failure::from(e).in_step("restart backends"))?;
                step.note(format!("{b}: {}", info.state));
            }
            step.ok();
            self.facts.insert("backends-restarted", backends.join(","));
        }
        Ok(self.finish(
            &format!(
                "Redis recovered (Option {path}): {} is master, agreed by the Sentinels",
                addr(&new_master)
            ),
            path,
            &new_master,
        ))
    }

    /// Nodes the Sentinels list as replicas but flag down.
    fn down_nodes(&self) -> Result<Vec<Address>, Failure> {
        let mut down: Vec<Address> = Vec::new();
        for answer in self.sentinel.replicas(&self.name, None)? {
            if let Ok(replicas) = answer.answer {
                for r in replicas {
                    let is_down = r
                        .flags
                        .iter()
                        .any(|f| f == "s_down" || f == "o_down" || f == "disconnected");
                    if is_down && !down.iter().any(|d| same(d, &r.address)) {
                        down.push(r.address);
                    }
                }
                break;
            }
        }
        Ok(down)
    }

    /// Polls until a quorum of Sentinels names a master other than `old`
    /// that answers as master (and, with `all`, every answering Sentinel
    /// agrees); `None` when `wait` is over first.
    fn wait_new_master(&mut self, old: &Address, wait: &Wait, all: bool) -> Result<Option<Address>, Failure> {
        loop {
            let view = self.view()?;
            self.probe.tick(&self.label, view.majority.as_ref().map(|(m, _)| m));
            if let Some((m, n)) = &view.majority {
                let agreed = *n >= self.quorum && (!all || *n == view.answered);
                if agreed && !same(m, old) && matches!(self.replication(m), Ok(r) if r.role == "master") {
                    return Ok(Some(m.clone()));
                }
            }
            if wait.over() {
                return Ok(None);
            }
            wait.sleep(POLL);
        }
    }

    /// Waits until `master` has settled: every answering Sentinel (at least
    /// the quorum) names it with no flag but `master` (no `s_down`,
    /// `o_down`, `disconnected`, failover in progress) and it answers as
    /// master, without a break for twice the Sentinels' down-after period
    /// (at least 2 s). `Ok(note)` once settled, `Err(what was wrong last)`
    /// when the wait ends first.
    fn wait_settled(&mut self, master: &Address, wait: &Wait) -> Result<Result<String, String>, Failure> {
        let mut settled_since: Option<Instant> = None;
        loop {
            let mut down_after = Duration::ZERO;
            let mut answered = 0;
            let mut wrong = None;
            for s in self.sentinel.master_state(&self.name, None)? {
                let Ok(state) = s.answer else { continue };
                answered += 1;
                let ms = state
                    .fields
                    .iter()
                    .find(|(k, _)| k == "down-after-milliseconds")
                    .and_then(|(_, v)| v.parse().ok())
                    .unwrap_or(0);
                down_after = down_after.max(Duration::from_millis(ms));
                if !same(&state.address, master) || state.flags != ["master"] {
                    wrong.get_or_insert(format!(
                        "Sentinel {} names {} with flags {}",
                        addr(&s.sentinel),
                        addr(&state.address),
                        state.flags.join(",")
                    ));
                }
            }
            if answered < self.quorum {
                wrong.get_or_insert(format!(
                    "only {answered} Sentinel(s) answer; the quorum is {}",
                    self.quorum
                ));
            }
            if wrong.is_none() {
                match self.replication(master) {
                    Ok(r) if r.role == "master" => {}
                    Ok(r) => wrong = Some(format!("{} reports role {}", addr(master), r.role)),
                    Err(e) => wrong = Some(format!("{} does not answer: {}", addr(master), e.describe())),
                }
            }
            self.probe.tick(&self.label, Some(master));
            let needed = (down_after * 2).max(Duration::from_secs(2));
            match wrong {
                Some(w) => {
                    settled_since = None;
                    if wait.over() {
                        return Ok(Err(w));
                    }
                }
                None => {
                    let since = *settled_since.get_or_insert_with(Instant::now);
                    if since.elapsed() >= needed {
                        return Ok(Ok(format!(
                            "{answered} Sentinel(s) name {} with no down flag, and it answers as master, for {} (2 × down-after, at least 2 s)",
                            addr(master),
                            duration_text(since.elapsed())
                        )));
                    }
                    if wait.over() {
                        return Ok(Err(format!(
                            "it was steady for only {} of the {} needed",
                            duration_text(since.elapsed()),
                            duration_text(needed)
                        )));
                    }
                }
            }
            wait.sleep(POLL);
        }
    }

    /// Option B: check that a failover is safe, confirm, trigger it, wait.
    fn option_b(
        &mut self,
        old: &Address,
        master: Option<drhost_sdk::redis::ReplicationInfo>,
    ) -> Result<Address, Failure> {
        let step = Step::start("check quorum and replicas");
        let answers = self.sentinel.ckquorum(&self.name, None)?;
        let mut ok = 0;
        let mut lines = Vec::new();
        for a in &answers {
            match &a.answer {
                Ok(text) => {
                    ok += 1;
                    lines.push(format!("{}: {text}", addr(&a.sentinel)));
                }
                Err(e) => lines.push(format!("{}: {}", addr(&a.sentinel), e.describe())),
            }
        }
        for l in &lines {
            step.note(l);
        }
        if ok == 0 || ok < self.quorum {
            step.fail();
            return Err(fail(format!(
                "refusing to fail over: the Sentinels are below quorum ({ok} of {} confirm a usable quorum of {}); a failover now could split the brain. CKQUORUM: {}",
                self.members,
                self.quorum,
                lines.join("; ")
            ))
            .in_step("check quorum and replicas")
            .hint("bring the stopped Sentinels back (at least the quorum must run and see each other), then rerun"));
        }
        let mut best: Option<(Address, i64, i64)> = None;
        for answer in self.sentinel.replicas(&self.name, None)? {
            let Ok(replicas) = answer.answer else {
                continue;
            };
            for r in replicas {
                if r.flags
                    .iter()
                    .any(|f| f == "s_down" || f == "o_down" || f == "disconnected")
                {
                    continue;
                }
                let Ok(conn) = Connection::open_node(&self.label, &r.address) else {
                    continue;
                };
                let Ok(info) = conn.info("replication") else {
                    continue;
                };
                let get = |k: &str| info.iter().find(|(key, _)| key == k).map(|(_, v)| v.clone());
                let offset = get("slave_repl_offset")
                    .or(get("master_repl_offset"))
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0);
                let down_since = get("master_link_down_since_seconds")
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0);
                step.note(format!(
                    "replica {}: offset {offset}, link down for {down_since}s",
                    addr(&r.address)
                ));
                if best.as_ref().is_none_or(|(_, o, _)| offset > *o) {
                    best = Some((r.address.clone(), offset, down_since));
                }
            }
            break;
        }
        let Some((candidate, offset, down_since)) = best else {
            step.fail();
            return Err(
                fail("refusing to fail over: no healthy replica answers, so there is nothing safe to promote")
                    .in_step("check quorum and replicas")
                    .hint("restart the master or a replica first"),
            );
        };
        let max_lag: i64 = self.params.parse("max-lag-bytes")?;
        if let Some(m) = &master {
            let lag = m.master_repl_offset - offset;
            if lag > max_lag {
                step.fail();
                return Err(fail(format!(
                    "refusing to fail over: the best replica {} is {lag} bytes behind the master (limit {max_lag}); promoting it would lose acknowledged writes",
                    addr(&candidate)
                ))
                .in_step("check quorum and replicas")
                .hint("wait for the replica to catch up, or raise --param max-lag-bytes if losing them is acceptable"));
            }
        }
        let max_down: i64 = self.params.parse("max-link-down-seconds")?;
        if down_since > max_down {
            step.fail();
            return Err(fail(format!(
                "refusing to fail over: the best replica {} lost its master {down_since}s ago (limit {max_down}s); writes since then would be lost",
                addr(&candidate)
            ))
            .in_step("check quorum and replicas"));
        }
        step.ok();

        let question = format!(
            "Fail over `{}` from {} (down) to a replica (best: {} at offset {offset})? {ok}/{} Sentinels confirm the quorum.",
            self.name,
            addr(old),
            addr(&candidate),
            self.members
        );
        if !confirm::ask(&question)? {
            return Err(fail("the operator declined the failover; nothing was changed").in_step("confirm failover"));
        }
        let step = Step::start("SENTINEL FAILOVER");
        let by = self
            .sentinel
            .failover(&self.name, None)
            .map_err(|e| Failure::from(e).in_step("SENTINEL FAILOVER"))?;
        step.note(format!("accepted by sentinel {}", addr(&by)));
        step.ok();
        self.facts
            .insert("failover-by", format!("drhost via sentinel {}", addr(&by)));

        let step = Step::start("wait for the Sentinels to agree");
        let wait = Wait::up_to(self.params.duration("failover-timeout")?);
        match self.wait_new_master(old, &wait, true)? {
            Some(m) => {
                step.note(format!(
                    "every answering Sentinel names {} after {}",
                    addr(&m),
                    duration_text(self.started.elapsed())
                ));
                step.ok();
                Ok(m)
            }
            None => {
                step.fail();
                Err(fail(format!(
                    "the Sentinels did not agree on a new master within {}; the failover was requested",
                    wait.waited_text()
                ))
                .in_step("wait for the Sentinels to agree")
                .hint("check the Sentinel logs for +failover-end or -failover-abort, then rerun redis-failover"))
            }
        }
    }

    /// What the operator must do when `node` stays down, and why it
    /// matters: what the set lacks until then.
    fn follow_up_for(&self, node: &Address, master: &Address) -> (String, String) {
        let action = format!(
            "start the Redis node at {} again (redis-server with its redis.conf, or docker start its container); Sentinel then makes it a replica of {}",
            addr(node),
            addr(master)
        );
        let replicas = self.replication(master).map(|m| {
            m.replicas
                .iter()
                .filter(|r| r.state == "online" && !same(&r.address, node))
                .count()
        });
        let why = match replicas {
            Ok(0) => format!(
                "until then {} has no replica: Sentinel has no failover target, and if {} fails too, Redis is down",
                addr(master),
                addr(master)
            ),
            Ok(n) => format!("until then the set has one replica fewer ({n} online)"),
            Err(_) => "until then the set has one replica fewer, and maybe no failover target".to_string(),
        };
        (action, why)
    }

    /// Restarts (when granted) and waits for `node` to rejoin as a replica of
    /// `master`. `Some((action, why))` when it stays down: what the operator
    /// must still do by hand.
    fn restart_failed(&mut self, node: &Address, master: &Address) -> Result<Option<(String, String)>, Failure> {
        let step = Step::start(format!("restart failed node {}", addr(node)));
        let answers = Connection::open_node(&self.label, node).and_then(|c| c.ping()).is_ok();
        if !answers {
            let command = self.params.get("restart-command")?.to_string();
            if command.trim().is_empty() {
                step.note(
                    "not restarted: no --param restart-command was given; starting it is the operator's follow-up",
                );
                step.ok();
                return Ok(Some(self.follow_up_for(node, master)));
            }
            // A restarted node answers as a master (with persistence off, an
            // empty one) until Sentinel sends it REPLICAOF; a second failover
            // in that window promotes it. So restart only once the new master
            // has settled: every Sentinel names it, none flags it down.
            let settle = Wait::up_to(Duration::from_secs(30));
            match self.wait_settled(master, &settle)? {
                Ok(note) => step.note(note),
                Err(last) => {
                    step.fail();
                    return Err(fail(format!(
                        "the new master {} has not settled after {}: {last}; not restarting {} yet",
                        addr(master),
                        settle.waited_text(),
                        addr(node)
                    ))
                    .in_step("restart failed node")
                    .hint(format!(
                        "rerun redis-failover once every Sentinel names {} without s_down or o_down flags, or start {} by hand then",
                        addr(master),
                        addr(node)
                    )));
                }
            }
            // Placeholders are filled per argument, after the split: a value
            // never becomes a second argument.
            let argv: Vec<String> = command
                .split_whitespace()
                .map(|token| {
                    token
                        .replace("{host}", &node.host)
                        .replace("{port}", &node.port.to_string())
                })
                .collect();
            let command = argv.join(" ");
            let args: Vec<&str> = argv[1..].iter().map(String::as_str).collect();
            let done = run_program(&argv[0], &args).map_err(|e| Failure::from(e).in_step("restart failed node"))?;
            step.note(format!("`{command}` {}", exit_text(done.exit_code)));
            if done.exit_code != Some(0) {
                step.fail();
                // redis-server prints its fatal errors on stdout.
                let said = [done.stderr.trim(), done.stdout.trim()]
                    .into_iter()
                    .find(|s| !s.is_empty())
                    .unwrap_or("no output");
                return Err(
                    fail(format!("`{command}` {}: {said}", exit_text(done.exit_code))).in_step("restart failed node")
                );
            }
        }
        step.ok();

        let step = Step::start(format!("wait for {} to rejoin as a replica", addr(node)));
        let wait = Wait::up_to(self.params.duration("rejoin-timeout")?);
        // What the node said last, for the failure when it never rejoins.
        let mut last_seen: String;
        loop {
            self.probe.tick(&self.label, Some(master));
            let view = self.view()?;
            if let Some((now, n)) = view
                .majority
                .as_ref()
                .filter(|(m, n)| *n >= self.quorum && !same(m, master))
            {
                step.fail();
                return Err(fail(format!(
                    "while {} was rejoining, the Sentinels failed over again: {n} of {} now name {} as master instead of {}",
                    addr(node),
                    view.answered,
                    addr(now),
                    addr(master)
                ))
                .in_step("wait for rejoin")
                .hint(format!(
                    "before clients write again, compare DBSIZE on {} and {}: a node restarted without persistence is empty, and the other one resyncs from it; read the Sentinels' logs (+switch-master) for why",
                    addr(now),
                    addr(master)
                )));
            }
            match self.replication(node) {
                Ok(r) => {
                    let following = r.master.as_ref().is_some_and(|m| same(m, master));
                    if r.role == "slave"
                        && following
                        && r.master_link_status.as_deref() == Some("up")
                        && !r.master_sync_in_progress
                    {
                        step.note(format!(
                            "replica of {} at offset {}",
                            addr(master),
                            r.replica_repl_offset.unwrap_or(r.master_repl_offset)
                        ));
                        break;
                    }
                    last_seen = rejoin_state(&r);
                }
                Err(e) => last_seen = format!("it last did not answer: {}", e.describe()),
            }
            if wait.over() {
                step.fail();
                return Err(fail(format!(
                    "{} did not rejoin as a replica of {} within {}; {} is master; {last_seen}",
                    addr(node),
                    addr(master),
                    wait.waited_text(),
                    addr(master)
                ))
                .in_step("wait for rejoin")
                .hint("check the node's and the Sentinels' logs: Sentinel sends the node REPLICAOF about 10 s after it answers as a master; `redis-cli -h HOST -p PORT REPLICAOF NEW-MASTER-HOST NEW-MASTER-PORT` does it by hand"));
            }
            wait.sleep(POLL);
        }
        // Replication carries the probe's writes to the rejoined node.
        let m = self.replication(master)?;
        let attached = m.replicas.iter().any(|r| same(&r.address, node) && r.state == "online");
        step.note(format!(
            "master lists it: {attached}; master offset {}",
            m.master_repl_offset
        ));
        step.ok();
        self.facts.insert("time-to-replica-rejoined-ms", self.ms().to_string());
        Ok(None)
    }

    fn finish(&mut self, summary: &str, path: &str, master: &Address) -> Outcome {
        self.probe.tick(&self.label, Some(master));
        let (lost, switches) = self.probe.lost();
        let mut result = outcome(summary)
            .fact("path", path)
            .fact("master", addr(master))
            .fact("time-to-recovery-ms", self.ms())
            .fact("rpo-lost-writes", lost)
            .fact("probe-acked-writes", self.probe.acks.len())
            .fact("probe-failed-writes", self.probe.failed_writes)
            .fact("probe-master-switches", switches);
        for (k, v) in &self.facts {
            if *k != "path" {
                result = result.fact(k, v);
            }
        }
        for (action, why) in &self.follow_ups {
            result = result.follow_up(action, why);
        }
        result
    }
}
