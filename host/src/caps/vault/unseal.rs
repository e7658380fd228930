//! The seal: `GET sys/seal-status`, and unsealing with the operator's keys
//! (`PUT sys/unseal`, one key at a time, until the server is unsealed).
//!
//! Keys are read in the host from the target's `unseal_keys` (see
//! `client.rs`), held in wiped memory, sent only to the target's own
//! address, and never put in an error, the journal or the plugin: a message
//! from Vault about a refused key has every key removed from it.

use std::time::Duration;

use reqwest::header::CONTENT_TYPE;
use reqwest::Method;
use serde::Deserialize;
use serde_json::json;
use zeroize::Zeroizing;

use super::http::{body_within, bounded, request, send, with_message};
use super::secrets::redact;
use super::Store;
use crate::bindings::drhost::runbook::vault::SealStatus;
use crate::bindings::types::Error as CapError;

/// Largest seal-status reply drhost reads (it is one short JSON object).
const MAX_STATUS_REPLY: usize = 64 << 10;
/// Most keys an `unseal_keys` file may hold (Vault allows 255 shares).
const MAX_KEYS: usize = 255;

/// What `sys/seal-status` and `sys/unseal` answer (the parts drhost reads).
#[derive(Debug, Deserialize)]
struct Reply {
    initialized: bool,
    sealed: bool,
    /// The threshold.
    #[serde(default)]
    t: u32,
    #[serde(default)]
    progress: u32,
}

impl From<Reply> for SealStatus {
    fn from(r: Reply) -> SealStatus {
        SealStatus {
            initialized: r.initialized,
            sealed: r.sealed,
            progress: r.progress,
            threshold: r.t,
        }
    }
}

/// `GET sys/seal-status` (answered sealed or not, without a token).
pub(crate) async fn seal_status(store: &Store, limit: Duration) -> Result<SealStatus, CapError> {
    let what = "seal-status";
    let url = format!("{}/v1/sys/seal-status", store.address);
    bounded(store, what, limit, async {
        let reply = send(store, what, request(store, Method::GET, &url)?).await?;
        parse_reply(store, what, reply).await.map(SealStatus::from)
    })
    .await
}

/// Submits `keys` in order until the server is unsealed (an unsealed one
/// is left as it is). An unseal someone left half-done is reset first, so
/// their shares and these never mix. A key Vault refuses is `failed`,
/// naming which key (by position) but never a key; running out of keys
/// while still sealed is `failed` too.
pub(crate) async fn unseal(store: &Store, keys: &[Zeroizing<String>], limit: Duration) -> Result<SealStatus, CapError> {
    let what = "unseal";
    let failed = |why: String| CapError::Failed(format!("vault {what} on target `{}`: {why}", store.label));
    bounded(store, what, limit, async {
        let mut status = seal_status(store, limit).await?;
        if !status.initialized {
            return Err(failed(format!(
                "Vault at {} is not initialised, so it has no unseal keys yet (`bao operator init` / `vault operator init` first)",
                store.address
            )));
        }
        if !status.sealed {
            return Ok(status);
        }
        if status.progress > 0 {
            status = submit(store, &json!({ "reset": true }), "reset", keys).await?;
        }
        for (n, key) in keys.iter().enumerate() {
            let body = json!({ "key": key.as_str() });
            status = submit(store, &body, &format!("key {} of {}", n + 1, keys.len()), keys).await?;
            if !status.sealed {
                return Ok(status);
            }
        }
        Err(failed(format!(
            "still sealed after all {} key(s) of the target's unseal_keys ({} of {} submitted): add keys to reach the threshold",
            keys.len(),
            status.progress,
            status.threshold
        )))
    })
    .await
}

/// One `PUT sys/unseal`; a refusal names `which` and carries Vault's words
/// with every key removed.
async fn submit(
    store: &Store,
    body: &serde_json::Value,
    which: &str,
    keys: &[Zeroizing<String>],
) -> Result<SealStatus, CapError> {
    let what = "unseal";
    let url = format!("{}/v1/sys/unseal", store.address);
    let request = request(store, Method::PUT, &url)?
        .header(CONTENT_TYPE, "application/json")
        .body(body.to_string());
    let sent = send(store, what, request).await;
    let reply = sent.map_err(|e| {
        with_message(e, |m| {
            let m = redact(m, keys.iter().map(|k| k.as_str()));
            format!("{m} (refused {which} of the target's unseal_keys)")
        })
    })?;
    parse_reply(store, what, reply).await.map(SealStatus::from)
}

async fn parse_reply(store: &Store, what: &str, reply: reqwest::Response) -> Result<Reply, CapError> {
    let body = body_within(store, what, reply, MAX_STATUS_REPLY, "is the address a Vault server?").await?;
    serde_json::from_slice(&body).map_err(|e| {
        CapError::Failed(format!(
            "vault {what} on target `{}`: Vault's reply is not a seal status ({e})",
            store.label
        ))
    })
}

/// The keys of an `unseal_keys` file: the JSON `operator init
/// -format=json` writes (`unseal_keys_b64`, else `unseal_keys_hex`) or the
/// `sys/init` reply (`keys_base64`, else `keys`), or one key per line
/// (blank lines and `#` comments skipped). Errors never quote a key.
pub(crate) fn parse_keys(text: &str) -> Result<Vec<Zeroizing<String>>, String> {
    let keys = if text.trim_start().starts_with('{') {
        from_json(text)?
    } else {
        text.lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(|l| Zeroizing::new(l.to_string()))
            .collect()
    };
    if keys.is_empty() {
        return Err("no keys in it: write one key per line, or the JSON `operator init -format=json` prints".into());
    }
    if keys.len() > MAX_KEYS {
        return Err(format!("{} keys, more than Vault's {MAX_KEYS} shares", keys.len()));
    }
    if keys
        .iter()
        .any(|k| k.chars().any(|c| c.is_whitespace() || c.is_control()))
    {
        return Err("a key holds spaces or control characters: write one key per line".into());
    }
    Ok(keys)
}

/// The keys of `operator init -format=json` output or a `sys/init` reply.
fn from_json(text: &str) -> Result<Vec<Zeroizing<String>>, String> {
    #[derive(Deserialize)]
    struct Init {
        #[serde(default)]
        unseal_keys_b64: Vec<Zeroizing<String>>,
        #[serde(default)]
        keys_b64: Vec<Zeroizing<String>>,
        #[serde(default)]
        keys_base64: Vec<Zeroizing<String>>,
        #[serde(default)]
        unseal_keys_hex: Vec<Zeroizing<String>>,
        #[serde(default)]
        keys: Vec<Zeroizing<String>>,
    }
    // The error names the place, never the text (serde_json's does not quote values).
    let init: Init = serde_json::from_str(text).map_err(|e| {
        format!(
            "not the JSON `operator init -format=json` writes (line {}, column {})",
            e.line(),
            e.column()
        )
    })?;
    Ok([
        init.unseal_keys_b64,
        init.keys_b64,
        init.keys_base64,
        init.unseal_keys_hex,
        init.keys,
    ]
    .into_iter()
    .find(|k| !k.is_empty())
    .unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(keys: Vec<Zeroizing<String>>) -> Vec<String> {
        keys.iter().map(|k| k.to_string()).collect()
    }

    #[test]
    fn keys_come_from_init_output_or_lines() {
        let init = r#"{"unseal_keys_b64":["a1","b2","c3"],"unseal_keys_hex":["61","62","63"],"unseal_shares":3,"unseal_threshold":2,"root_token":"s.x"}"#;
        assert_eq!(texts(parse_keys(init).unwrap()), ["a1", "b2", "c3"]);
        let api = r#"{"keys":["61"],"keys_base64":["YQ=="],"root_token":"s.x"}"#;
        assert_eq!(texts(parse_keys(api).unwrap()), ["YQ=="]);
        assert_eq!(texts(parse_keys(r#"{"keys":["61"]}"#).unwrap()), ["61"]);
        assert_eq!(texts(parse_keys(r#"{"keys_b64":["Zg=="]}"#).unwrap()), ["Zg=="]);
        assert_eq!(
            texts(parse_keys("# shares of the lab\nk1\n\n  k2  \r\n").unwrap()),
            ["k1", "k2"]
        );
    }

    #[test]
    fn bad_key_files_are_refused_without_quoting_a_key() {
        for (text, want) in [
            ("", "no keys"),
            ("# only a comment\n", "no keys"),
            (r#"{"root_token":"s.x"}"#, "no keys"),
            (r#"{"unseal_keys_b64": "secretkey"}"#, "line 1"),
            ("two words-secretkey\n", "spaces"),
        ] {
            let err = parse_keys(text).unwrap_err();
            assert!(err.contains(want) && !err.contains("secretkey"), "{text:?}: {err}");
        }
    }
}
