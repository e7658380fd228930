//! Grant matchers fed the names, URLs and statements a plugin passes:
//! `postgres` (the read-statement check of `query`, restore databases),
//! `http` (the URL check against host:port globs), `redis` (the nodes a
//! target's credentials may go to), `docker` (image references, secret
//! names, networks, address ranges of a network spec), `compose` service
//! names and `[run] approve` entries.
//!
//! Invariants: `query`'s check gives the same answer with a comment or
//! white space in front; an http URL that passes is http(s) to a granted
//! host:port; a Redis node that is not the target's URL is allowed only by
//! a pattern of as many dot-separated labels (`*` never spans a dot); an
//! image reference that passes has no digest; a secret or service name
//! that passes could not be an option or a path; an address range is
//! within itself and prints back to itself, and a network spec is refused
//! whenever a range is outside every granted one; an approval entry only
//! approves its own plugin's questions.
#![no_main]

use arbitrary::Arbitrary;
use drhost::caps::confirm::ApprovalPattern;
use drhost::caps::docker::{DockerAccess, DockerGrant};
use drhost::caps::http::HttpGrant;
use drhost::caps::kit::pattern::ArgPattern;
use drhost::caps::postgres::{allows_database, check_read_statement, PostgresGrant};
use drhost::caps::redis::{split_host_port, RedisTarget};
use drhost::fuzzing::{check_image_reference, check_secret_name, check_service_name, http_check_url, Cidr, KeyPattern};
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
struct Input {
    sql: String,
    comment: String,
    globs: Vec<String>,
    name: String,
    url: String,
    redis_url: String,
    host: String,
    port: u16,
    ranges: Vec<String>,
    options: Vec<(String, String)>,
    option_grants: Vec<String>,
    approve: String,
}

fn table(entries: Vec<(&str, toml::Value)>) -> toml::Value {
    toml::Value::Table(entries.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
}

fn strings(items: &[String]) -> toml::Value {
    toml::Value::Array(items.iter().map(|s| toml::Value::from(s.as_str())).collect())
}

fn postgres(input: &Input) {
    let verdict = check_read_statement(&input.sql).is_ok();
    let block = input.comment.replace(['*', '/'], "");
    let line = input.comment.replace(['\n', '\r'], "");
    for prefixed in [
        format!(" \n\t{}", input.sql),
        format!("/*{block}*/{}", input.sql),
        format!("--{line}\n{}", input.sql),
        format!("/* /*{block}*/ */ {}", input.sql),
    ] {
        assert_eq!(
            check_read_statement(&prefixed).is_ok(),
            verdict,
            "{prefixed:?} vs {:?}",
            input.sql
        );
    }
    let grant: Result<PostgresGrant, _> = table(vec![
        ("target", "pg".into()),
        ("access", toml::Value::Array(vec!["restore".into()])),
        ("databases", strings(&input.globs)),
    ])
    .try_into();
    if let Ok(grant) = grant {
        let grants = std::slice::from_ref(&grant);
        if allows_database(grants, "pg", &input.name) {
            assert!(!grant.databases.is_empty());
        }
        assert!(!allows_database(grants, "other", &input.name));
    }
}

fn http(input: &Input) {
    let grants: Vec<HttpGrant> = input
        .globs
        .iter()
        .filter_map(|g| table(vec![("host", g.as_str().into())]).try_into().ok())
        .collect();
    match http_check_url(&grants, "fuzz", &input.url) {
        Ok((url, host_port)) => {
            assert!(url.starts_with("http://") || url.starts_with("https://"), "{url}");
            assert!(grants.iter().any(|g| g.allows(&host_port)));
            let parsed = url::Url::parse(&url).expect("a checked URL parses again");
            let again = format!(
                "{}:{}",
                parsed.host_str().unwrap_or_default(),
                parsed.port_or_known_default().unwrap_or(80)
            );
            assert_eq!(
                again, host_port,
                "the URL goes elsewhere than the grant was asked about"
            );
        }
        Err(e) => assert!(!e.is_empty()),
    }
}

fn redis(input: &Input) {
    let _ = split_host_port(&input.host, 6379);
    let target: Result<RedisTarget, _> = table(vec![
        ("url", input.redis_url.as_str().into()),
        ("nodes", strings(&input.globs)),
    ])
    .try_into();
    let Ok(target) = target else {
        return;
    };
    let _ = target.nodes_line_with(&input.host, input.port);
    if !target.allows_node(&input.host, input.port) {
        return;
    }
    let host = input.host.to_ascii_lowercase();
    if host == target.url.host.to_ascii_lowercase() && input.port == target.url.port {
        return;
    }
    let labels = host.split('.').count();
    assert!(
        !host.split('.').any(str::is_empty),
        "{host:?} (an empty label) is allowed"
    );
    assert!(
        input.globs.iter().any(|n| {
            let (h, p) = n.rsplit_once(':').unwrap_or((n, ""));
            let h = h.trim_start_matches('[').trim_end_matches(']');
            p.parse::<u16>() == Ok(input.port) && h.split('.').count() == labels
        }),
        "{host}:{} allowed by none of {:?} label for label",
        input.port,
        input.globs
    );
}

fn docker(input: &Input) {
    let name = &input.name;
    if check_image_reference(name).is_ok() {
        assert!(!name.contains('@') && !name.is_empty() && name.len() <= 255, "{name:?}");
        assert!(
            !name.starts_with('/') && !name.chars().any(|c| c.is_whitespace() || c.is_control()),
            "{name:?}"
        );
    }
    if check_secret_name(name).is_ok() {
        assert!(name.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)));
        assert!(!name.starts_with(['-', '.']) && !name.contains('/'));
    }
    let ranges: Vec<Cidr> = input.ranges.iter().filter_map(|r| Cidr::parse(r).ok()).collect();
    for r in &ranges {
        assert!(r.contains(r));
        assert_eq!(Cidr::parse(&r.to_string()).as_ref(), Ok(r));
        for s in &ranges {
            for t in &ranges {
                if r.contains(s) && s.contains(t) {
                    assert!(r.contains(t), "{r} ⊇ {s} ⊇ {t}");
                }
            }
        }
    }
    let globs: Vec<ArgPattern> = input
        .globs
        .iter()
        .filter_map(|g| ArgPattern::try_from(g.clone()).ok())
        .collect();
    let (granted, asked) = ranges.split_at(ranges.len() / 2);
    let grant = DockerGrant {
        access: vec![DockerAccess::Write],
        networks: globs.clone(),
        images: globs.clone(),
        secrets: globs,
        network_options: input
            .option_grants
            .iter()
            .filter_map(|t| KeyPattern::try_from(t.clone()).ok())
            .collect(),
        network_subnets: granted.to_vec(),
        network_drivers: vec!["bridge".into()],
        ..DockerGrant::default()
    };
    let _ = grant.allows_network(name, DockerAccess::Write);
    let _ = grant.allows_image(name);
    let _ = grant.allows_secret(name, DockerAccess::Read);
    let refusal = grant.refuses_network_spec("bridge", &input.options, asked);
    if asked.iter().any(|a| !granted.iter().any(|g| g.contains(a))) {
        assert!(refusal.is_some());
    }
    if let Some(refusal) = refusal {
        let _ = (refusal.what(), refusal.line());
    }
}

fn compose(input: &Input) {
    if check_service_name(&input.name).is_ok() {
        let name = &input.name;
        assert!(!name.is_empty() && !name.starts_with(['-', '.']));
        assert!(name.chars().all(|c| c.is_ascii_alphanumeric() || "._-".contains(c)));
    }
}

fn approve(input: &Input) {
    let Ok(pattern) = ApprovalPattern::try_from(input.approve.clone()) else {
        return;
    };
    if pattern.matches(&input.name) {
        let own = input.approve.split_once(':').unwrap().0;
        assert_eq!(input.name.split_once(':').unwrap().0, own);
    }
}

fuzz_target!(|input: Input| {
    postgres(&input);
    http(&input);
    redis(&input);
    docker(&input);
    compose(&input);
    approve(&input);
});
