//! Replies as the plugin sees them: any reply as a typed [`Reply`], its
//! kind for the journal, `INFO` text as pairs and as [`ReplicationInfo`],
//! and the flat `k v k v …` answers of Sentinel as pairs, flags and
//! addresses.

use redis::Value;
use serde_json::json;

use crate::bindings::drhost::runbook::redis::{Address, ReplicaLink, ReplicationInfo, Reply, Scalar};

/// Bytes of a bulk reply kept in the journal summary: none (only kinds).
pub(crate) fn reply_kind(reply: &Reply) -> serde_json::Value {
    match reply {
        Reply::Nil => json!("nil"),
        Reply::Int(n) => json!({ "int": n }),
        Reply::Text(t) => json!({ "text": crate::caps::kit::text::truncate(t, 64) }),
        Reply::Bulk(b) => json!({ "bulk_bytes": b.len() }),
        Reply::Double(d) => json!({ "double": d }),
        Reply::Boolean(b) => json!({ "boolean": b }),
        Reply::Array(a) => json!({ "array_len": a.len() }),
    }
}

pub(crate) fn text(value: &Value) -> String {
    match value {
        Value::Nil => String::new(),
        Value::Int(n) => n.to_string(),
        Value::BulkString(b) => String::from_utf8_lossy(b).into_owned(),
        Value::SimpleString(s) => s.clone(),
        Value::Okay => "OK".into(),
        Value::Double(d) => d.to_string(),
        Value::Boolean(b) => b.to_string(),
        Value::VerbatimString { text, .. } => text.clone(),
        Value::BigNumber(n) => n.to_string(),
        Value::ServerError(e) => format!("{e:?}"),
        Value::Array(items) | Value::Set(items) | Value::Push { data: items, .. } => {
            items.iter().map(text).collect::<Vec<_>>().join(" ")
        }
        Value::Map(pairs) => pairs
            .iter()
            .map(|(k, v)| format!("{} {}", text(k), text(v)))
            .collect::<Vec<_>>()
            .join(" "),
        Value::Attribute { data, .. } => text(data),
    }
}

pub(crate) fn items(value: Value) -> Vec<Value> {
    match value {
        Value::Array(items) | Value::Set(items) | Value::Push { data: items, .. } => items,
        Value::Map(pairs) => pairs.into_iter().flat_map(|(k, v)| [k, v]).collect(),
        Value::Attribute { data, .. } => items(*data),
        Value::Nil => Vec::new(),
        other => vec![other],
    }
}

fn scalar(value: Value) -> Scalar {
    match value {
        Value::Nil => Scalar::Nil,
        Value::Int(n) => Scalar::Int(n),
        Value::BulkString(b) => Scalar::Bulk(b),
        Value::SimpleString(s) => Scalar::Text(s),
        Value::Okay => Scalar::Text("OK".into()),
        Value::Double(d) => Scalar::Double(d),
        Value::Boolean(b) => Scalar::Boolean(b),
        Value::VerbatimString { text, .. } => Scalar::Text(text),
        Value::BigNumber(n) => Scalar::Text(n.to_string()),
        Value::ServerError(e) => Scalar::Error(format!("{e:?}")),
        Value::Attribute { data, .. } => scalar(*data),
        nested => Scalar::Nested(items(nested).iter().map(text).collect()),
    }
}

pub(crate) fn reply(value: Value) -> Reply {
    match value {
        Value::Nil => Reply::Nil,
        Value::Int(n) => Reply::Int(n),
        Value::BulkString(b) => Reply::Bulk(b),
        Value::SimpleString(s) => Reply::Text(s),
        Value::Okay => Reply::Text("OK".into()),
        Value::Double(d) => Reply::Double(d),
        Value::Boolean(b) => Reply::Boolean(b),
        Value::VerbatimString { text, .. } => Reply::Text(text),
        Value::BigNumber(n) => Reply::Text(n.to_string()),
        Value::ServerError(e) => Reply::Text(format!("{e:?}")),
        Value::Attribute { data, .. } => reply(*data),
        array => Reply::Array(items(array).into_iter().map(scalar).collect()),
    }
}

pub(crate) fn info_pairs(text: &str) -> Vec<(String, String)> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

pub(crate) fn field<'a>(pairs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    pairs.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

pub(crate) fn num<T: std::str::FromStr + Default>(pairs: &[(String, String)], key: &str) -> T {
    field(pairs, key).and_then(|v| v.parse().ok()).unwrap_or_default()
}

pub(crate) fn replication(pairs: &[(String, String)]) -> ReplicationInfo {
    let replicas = pairs
        .iter()
        .filter(|(k, _)| k.starts_with("slave") && k[5..].chars().all(|c| c.is_ascii_digit()) && k.len() > 5)
        .map(|(_, v)| {
            let kv: Vec<(String, String)> = v
                .split(',')
                .filter_map(|p| p.split_once('='))
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect();
            ReplicaLink {
                address: Address {
                    host: field(&kv, "ip").unwrap_or_default().to_string(),
                    port: num(&kv, "port"),
                },
                state: field(&kv, "state").unwrap_or_default().to_string(),
                offset: num(&kv, "offset"),
                lag: num(&kv, "lag"),
            }
        })
        .collect();
    let master = field(pairs, "master_host").map(|host| Address {
        host: host.to_string(),
        port: num(pairs, "master_port"),
    });
    ReplicationInfo {
        role: field(pairs, "role").unwrap_or_default().to_string(),
        replicas,
        master,
        master_link_status: field(pairs, "master_link_status").map(String::from),
        master_last_io_seconds_ago: field(pairs, "master_last_io_seconds_ago").and_then(|v| v.parse().ok()),
        master_sync_in_progress: field(pairs, "master_sync_in_progress") == Some("1"),
        master_repl_offset: num(pairs, "master_repl_offset"),
        replica_repl_offset: field(pairs, "slave_repl_offset").and_then(|v| v.parse().ok()),
        replication_id: field(pairs, "master_replid").unwrap_or_default().to_string(),
    }
}

/// A flat `k v k v …` reply (or a RESP3 map) as pairs.
pub(crate) fn pairs(value: Value) -> Vec<(String, String)> {
    let items = items(value);
    items
        .chunks(2)
        .filter(|c| c.len() == 2)
        .map(|c| (text(&c[0]), text(&c[1])))
        .collect()
}

pub(crate) fn flags(pairs: &[(String, String)]) -> Vec<String> {
    field(pairs, "flags")
        .unwrap_or_default()
        .split(',')
        .filter(|f| !f.is_empty())
        .map(String::from)
        .collect()
}

pub(crate) fn address_of(pairs: &[(String, String)], host: &str, port: &str) -> Address {
    Address {
        host: field(pairs, host).unwrap_or_default().to_string(),
        port: num(pairs, port),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_replication_info() {
        let text = "# Replication\r\nrole:master\r\nconnected_slaves:1\r\nslave0:ip=127.0.0.1,port=27380,state=online,offset=4242,lag=0\r\nmaster_replid:abc\r\nmaster_repl_offset:4242\r\n";
        let info = replication(&info_pairs(text));
        assert_eq!(info.role, "master");
        assert_eq!(info.replicas.len(), 1);
        assert_eq!(info.replicas[0].address.port, 27380);
        assert_eq!(info.replicas[0].offset, 4242);
        assert_eq!(info.master_repl_offset, 4242);
        assert!(info.master.is_none());
        let text = "role:slave\nmaster_host:127.0.0.1\nmaster_port:27379\nmaster_link_status:up\nslave_repl_offset:10\nmaster_repl_offset:10\n";
        let info = replication(&info_pairs(text));
        assert_eq!(info.master.map(|m| m.port), Some(27379));
        assert_eq!(info.master_link_status.as_deref(), Some("up"));
        assert_eq!(info.replica_repl_offset, Some(10));
    }

    #[test]
    fn flattens_nested_arrays() {
        let v = Value::Array(vec![
            Value::Int(1),
            Value::Array(vec![Value::BulkString(b"a".to_vec()), Value::Int(2)]),
        ]);
        match reply(v) {
            Reply::Array(items) => {
                assert!(matches!(items[0], Scalar::Int(1)));
                assert!(matches!(&items[1], Scalar::Nested(t) if t == &["a", "2"]));
            }
            other => panic!("{other:?}"),
        }
    }
}
