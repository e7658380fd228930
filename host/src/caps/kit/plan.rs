//! Plan mode (`drhost run --plan`): reads run for real; every call that
//! would change something is recorded and not made, and the plugin gets
//! `error.planned` saying what would have changed. The host decides which
//! calls change state — here, in one table — so no plugin can forget to
//! honour plan mode.
//!
//! A call is judged by its name and its journaled (already redacted)
//! arguments; the description a plan shows is built from those too, so a
//! plan never carries a secret value.

use serde_json::Value;

/// Calls that change state whatever their arguments. Calls not listed only
/// look (or, like `blob.from-bytes`, touch nothing outside the run).
const CHANGES: &[&str] = &[
    "shell.run",
    "docker.start-container",
    "docker.stop-container",
    "docker.restart-container",
    "docker.exec",
    "docker.recreate-with-image",
    "docker.tag-image",
    "docker.create-network",
    "docker.remove-network",
    "docker.connect-network",
    "docker.disconnect-network",
    "docker.swarm-init",
    "docker.create-secret",
    "docker.remove-secret",
    "redis.sentinel.failover",
    "postgres.execute",
    "postgres.create-database",
    "postgres.restore",
    "s3.put",
    "vault.write",
    "vault.patch",
    "vault.snapshot-restore",
    "vault.unseal",
    "compose.up",
    "compose.down",
    "compose.restart",
    "files.write",
    "files.remove",
    "notify.post",
];

/// Whether `call` with these journaled `args` would change something.
/// `redis.command` changes state unless its command only reads.
pub(crate) fn changes_state(call: &str, args: &Value) -> bool {
    if call == "redis.command" {
        let argv: Vec<String> = args["args"]
            .as_array()
            .map(|a| a.iter().filter_map(|v| v.as_str().map(String::from)).collect())
            .unwrap_or_default();
        return !matches!(
            crate::caps::redis::classify(&argv),
            crate::caps::redis::CommandClass::Needs(crate::caps::redis::RedisAccess::Read)
        );
    }
    CHANGES.contains(&call)
}

/// What a plan shows for one change: the call and its arguments,
/// `docker.restart-container name=toolboxai-backend2`, at most 300 bytes.
pub(crate) fn describe(call: &str, args: &Value) -> String {
    let mut text = call.to_string();
    if let Value::Object(fields) = args {
        for (key, value) in fields {
            let shown = match value {
                Value::Null => continue,
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            text.push_str(&format!(" {key}={shown}"));
        }
    }
    let kept = crate::caps::kit::text::truncate(&text, 300);
    if kept.len() < text.len() {
        format!("{kept}…")
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn writes_are_planned_and_reads_run() {
        assert!(changes_state("docker.restart-container", &json!({ "name": "b2" })));
        assert!(!changes_state("docker.inspect-container", &json!({ "name": "b2" })));
        assert!(!changes_state("redis.command", &json!({ "args": ["GET", "k"] })));
        assert!(changes_state("redis.command", &json!({ "args": ["SET", "k", "v"] })));
        assert!(changes_state(
            "redis.command",
            &json!({ "args": ["CONFIG", "SET", "<redacted>"] })
        ));
        assert!(
            changes_state("redis.command", &json!({})),
            "an unknown command is a change"
        );
        assert!(!changes_state("postgres.query", &json!({})));
    }

    #[test]
    fn a_change_is_described_from_its_journaled_arguments() {
        let args = json!({ "name": "toolboxai-backend2", "timeout_secs": null, "force": true });
        assert_eq!(
            describe("docker.restart-container", &args),
            "docker.restart-container force=true name=toolboxai-backend2"
        );
        assert!(describe("shell.run", &json!({ "args": "x".repeat(1000) })).len() < 310);
    }
}
