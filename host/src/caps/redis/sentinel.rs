//! The Sentinels of a target: the set a plugin opens (the target's
//! `sentinels` and `master_name`), the `SENTINEL` queries sent to every
//! member (or one) at once with each member's answer, and `FAILOVER`
//! asked of one member after another until one accepts.

use redis::Value;

use super::budget::{too_large, ReplyBudget};
use super::client::{call_timeout, check, client, connect, error, target};
use super::grant::split_host_port;
use super::replies::{address_of, field, flags, items, num, pairs, text};
use super::{RedisAccess, SentinelSet};
use crate::bindings::drhost::runbook::redis::{
    Address, AddressAnswer, MasterState, PeerState, PeersAnswer, QuorumAnswer, ReplicaState, ReplicasAnswer,
    StateAnswer,
};
use crate::bindings::types::Error as CapError;
use crate::sandbox::RunContext;

/// The Sentinel set of target `label` (which needs `read` access).
pub(crate) fn open_sentinels(ctx: &RunContext, label: &str) -> Result<SentinelSet, CapError> {
    let target = target(ctx, label)?;
    check(ctx, label, "SENTINEL queries", RedisAccess::Read)?;
    if target.sentinels.is_empty() {
        return Err(CapError::NotFound(format!(
            "redis target `{label}` has no `sentinels` in drhost.toml"
        )));
    }
    let master_name = target
        .master_name
        .clone()
        .ok_or_else(|| CapError::NotFound(format!("redis target `{label}` has no `master_name` in drhost.toml")))?;
    let members = target
        .sentinels
        .iter()
        .map(|s| split_host_port(s, 26379))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| CapError::Failed(format!("[targets.redis.{label}] sentinels: {e}")))?;
    Ok(SentinelSet {
        label: label.to_string(),
        master_name,
        members,
    })
}

/// Sends `SENTINEL args… name` to every member (or `only`) concurrently
/// and returns each answer, in the members' order.
async fn ask(
    ctx: &RunContext,
    set: &SentinelSet,
    name: &str,
    only: Option<&Address>,
    args: &[&str],
) -> Result<Vec<(Address, Result<Value, CapError>)>, CapError> {
    let SentinelSet {
        label,
        master_name: configured,
        members,
    } = set;
    if name != configured {
        return Err(CapError::InvalidArgument(format!(
            "target `{label}` monitors master `{configured}`, not `{name}`"
        )));
    }
    let target = target(ctx, label)?;
    let timeout = call_timeout(ctx, target)?;
    let chosen: Vec<(String, u16)> = match only {
        Some(a) => {
            let m = members.iter().find(|(h, p)| *h == a.host && *p == a.port).cloned();
            vec![m.ok_or_else(|| {
                CapError::InvalidArgument(format!("{}:{} is not a Sentinel of target `{label}`", a.host, a.port))
            })?]
        }
        None => members.to_vec(),
    };
    let mut tasks = tokio::task::JoinSet::new();
    for (i, (host, port)) in chosen.iter().enumerate() {
        let client = client(ctx, target, host, *port, 0, true).await?;
        let mut cmd = redis::cmd("SENTINEL");
        for a in args {
            cmd.arg(*a);
        }
        cmd.arg(name);
        let addr = format!("{host}:{port}");
        let ca_file = target.ca_file.clone();
        tasks.spawn(async move {
            let result = async {
                let reply_budget = ReplyBudget::full();
                let mut con = connect(&client, ca_file.as_deref(), &reply_budget, timeout).await?;
                let answer = tokio::time::timeout(timeout, cmd.query_async::<Value>(&mut con)).await;
                if reply_budget.exceeded() {
                    return Err(too_large(&addr));
                }
                match answer {
                    Err(_) => Err(CapError::Timeout(format!(
                        "sentinel {addr}: no reply within {}",
                        humantime::format_duration(timeout)
                    ))),
                    Ok(Err(e)) => Err(error(&format!("sentinel {addr}"), &e)),
                    Ok(Ok(v)) => Ok(v),
                }
            }
            .await;
            (i, result)
        });
    }
    let mut answers: Vec<Option<Result<Value, CapError>>> = chosen.iter().map(|_| None).collect();
    while let Some(joined) = tasks.join_next().await {
        if let Ok((i, result)) = joined {
            answers[i] = Some(result);
        }
    }
    Ok(chosen
        .into_iter()
        .zip(answers)
        .map(|((host, port), a)| {
            (
                Address { host, port },
                a.unwrap_or_else(|| Err(CapError::Failed("the query task failed".into()))),
            )
        })
        .collect())
}

/// A Sentinel's "No such master" as `not-found`.
fn not_found(name: &str, e: CapError) -> CapError {
    match e {
        CapError::Failed(m) if m.contains("No such master") => {
            CapError::NotFound(format!("no master named `{name}`: {m}"))
        }
        other => other,
    }
}

/// `SENTINEL GET-MASTER-ADDR-BY-NAME`: each member's master address.
pub(crate) async fn master_address(
    ctx: &RunContext,
    set: &SentinelSet,
    name: &str,
    only: Option<&Address>,
) -> Result<Vec<AddressAnswer>, CapError> {
    let answers = ask(ctx, set, name, only, &["GET-MASTER-ADDR-BY-NAME"]).await?;
    Ok(answers
        .into_iter()
        .map(|(sentinel, v)| AddressAnswer {
            sentinel,
            answer: v.map(|v| match items(v).as_slice() {
                [host, port] => Some(Address {
                    host: text(host),
                    port: text(port).parse().unwrap_or_default(),
                }),
                _ => None,
            }),
        })
        .collect())
}

/// `SENTINEL MASTER`: each member's view of the master.
pub(crate) async fn master_state(
    ctx: &RunContext,
    set: &SentinelSet,
    name: &str,
    only: Option<&Address>,
) -> Result<Vec<StateAnswer>, CapError> {
    let answers = ask(ctx, set, name, only, &["MASTER"]).await?;
    Ok(answers
        .into_iter()
        .map(|(sentinel, v)| StateAnswer {
            sentinel,
            answer: v.map_err(|e| not_found(name, e)).map(|v| {
                let p = pairs(v);
                MasterState {
                    address: address_of(&p, "ip", "port"),
                    flags: flags(&p),
                    num_replicas: num(&p, "num-slaves"),
                    num_other_sentinels: num(&p, "num-other-sentinels"),
                    quorum: num(&p, "quorum"),
                    config_epoch: num(&p, "config-epoch"),
                    fields: p,
                }
            }),
        })
        .collect())
}

/// `SENTINEL REPLICAS`: each member's view of the replicas.
pub(crate) async fn replicas(
    ctx: &RunContext,
    set: &SentinelSet,
    name: &str,
    only: Option<&Address>,
) -> Result<Vec<ReplicasAnswer>, CapError> {
    let answers = ask(ctx, set, name, only, &["REPLICAS"]).await?;
    Ok(answers
        .into_iter()
        .map(|(sentinel, v)| ReplicasAnswer {
            sentinel,
            answer: v.map_err(|e| not_found(name, e)).map(|v| {
                items(v)
                    .into_iter()
                    .map(|r| {
                        let p = pairs(r);
                        ReplicaState {
                            address: address_of(&p, "ip", "port"),
                            flags: flags(&p),
                            master_link_status: field(&p, "master-link-status").unwrap_or_default().to_string(),
                            master: field(&p, "master-host")
                                .filter(|h| !h.is_empty() && *h != "?")
                                .map(|_| address_of(&p, "master-host", "master-port")),
                            replica_repl_offset: num(&p, "slave-repl-offset"),
                            fields: p,
                        }
                    })
                    .collect()
            }),
        })
        .collect())
}

/// `SENTINEL SENTINELS`: each member's view of the other Sentinels.
pub(crate) async fn peers(
    ctx: &RunContext,
    set: &SentinelSet,
    name: &str,
    only: Option<&Address>,
) -> Result<Vec<PeersAnswer>, CapError> {
    let answers = ask(ctx, set, name, only, &["SENTINELS"]).await?;
    Ok(answers
        .into_iter()
        .map(|(sentinel, v)| PeersAnswer {
            sentinel,
            answer: v.map_err(|e| not_found(name, e)).map(|v| {
                items(v)
                    .into_iter()
                    .map(|r| {
                        let p = pairs(r);
                        PeerState {
                            address: address_of(&p, "ip", "port"),
                            run_id: field(&p, "runid").unwrap_or_default().to_string(),
                            flags: flags(&p),
                        }
                    })
                    .collect()
            }),
        })
        .collect())
}

/// `SENTINEL CKQUORUM`: each member's verdict on the quorum.
pub(crate) async fn ckquorum(
    ctx: &RunContext,
    set: &SentinelSet,
    name: &str,
    only: Option<&Address>,
) -> Result<Vec<QuorumAnswer>, CapError> {
    let answers = ask(ctx, set, name, only, &["CKQUORUM"]).await?;
    Ok(answers
        .into_iter()
        .map(|(sentinel, v)| QuorumAnswer {
            sentinel,
            answer: v.map_err(|e| not_found(name, e)).map(|v| text(&v)),
        })
        .collect())
}

/// `SENTINEL FAILOVER` asked of each member (or `only`) in turn until one
/// accepts; the caller has checked `sentinel-failover` access.
pub(crate) async fn failover(
    ctx: &RunContext,
    set: &SentinelSet,
    name: &str,
    only: Option<&Address>,
) -> Result<Address, CapError> {
    let order: Vec<Address> = match only {
        Some(a) => vec![a.clone()],
        None => set
            .members
            .iter()
            .map(|(h, p)| Address {
                host: h.clone(),
                port: *p,
            })
            .collect(),
    };
    let mut refusals = Vec::new();
    for sentinel in order {
        let answers = ask(ctx, set, name, Some(&sentinel), &["FAILOVER"]).await?;
        match answers.into_iter().next() {
            Some((_, Ok(_))) => return Ok(sentinel),
            // A failover already under way is not something another Sentinel can fix.
            Some((_, Err(e @ CapError::Conflict(_)))) => return Err(e),
            Some((_, Err(e))) => refusals.push(format!(
                "{}:{}: {}",
                sentinel.host,
                sentinel.port,
                crate::caps::kit::call::error_parts(&e).1
            )),
            None => {}
        }
    }
    Err(CapError::Failed(format!(
        "no Sentinel accepted FAILOVER {name}: {}",
        refusals.join("; ")
    )))
}
