//! A restore into a fresh server: a Vault (OpenBao) that was never
//! initialised has no token and no barrier, so it cannot take a raft
//! snapshot. drhost initialises it with **one throwaway key share**
//! (`PUT sys/init`, 1 of 1), unseals it with that share, waits until it is
//! the active node, and returns a [`Store`] carrying the throwaway root
//! token for the one `snapshot-force` that follows. The restored snapshot
//! brings the old cluster's keyring, tokens and unseal keys with it, so the
//! throwaway share and token are worthless afterwards; both live only in
//! wiped memory in this module and are never journaled, logged, put in an
//! error or shown to the plugin.
//!
//! This is the host's side of runbook scenario 3 step 5 ("start Vault,
//! restore the snapshot"), done without a contract change: the plugin calls
//! `snapshot-restore(force)` on a target whether it is fresh or not.

use std::time::{Duration, Instant};

use reqwest::header::CONTENT_TYPE;
use reqwest::Method;
use serde::Deserialize;
use zeroize::Zeroizing;

use super::http::{body_within, request, send};
use super::secrets::redact;
use super::Store;
use crate::bindings::types::Error as CapError;

/// Largest `sys/init` reply read (one short JSON object).
const MAX_INIT_REPLY: usize = 64 << 10;
/// How often the server is asked whether it is the active node yet.
const POLL: Duration = Duration::from_millis(100);

/// What `sys/init` answers (the parts drhost reads), held in wiped memory.
#[derive(Deserialize)]
struct Init {
    #[serde(default)]
    keys_base64: Vec<Zeroizing<String>>,
    #[serde(default)]
    keys: Vec<Zeroizing<String>>,
    root_token: Zeroizing<String>,
}

/// Initialises the fresh server behind `store` with one throwaway share,
/// unseals it and waits (until `deadline`) for it to be active; returns a
/// store holding the throwaway root token.
pub(super) async fn prepare(store: &Store, deadline: Instant) -> Result<Store, CapError> {
    let what = "raft snapshot-force restore (initialising the fresh server)";
    let failed = |why: String| CapError::Failed(format!("vault {what} on target `{}`: {why}", store.label));
    let url = format!("{}/v1/sys/init", store.address);
    let init = request(store, Method::PUT, &url)?
        .header(CONTENT_TYPE, "application/json")
        .body(r#"{"secret_shares":1,"secret_threshold":1}"#);
    let reply = send(store, what, init).await?;
    let body = Zeroizing::new(body_within(store, what, reply, MAX_INIT_REPLY, "is the address a Vault server?").await?);
    let init: Init = serde_json::from_slice(&body).map_err(|e| {
        failed(format!(
            "Vault's sys/init reply is not what Vault sends (line {}, column {})",
            e.line(),
            e.column()
        ))
    })?;
    let key = init
        .keys_base64
        .first()
        .or(init.keys.first())
        .ok_or_else(|| failed("Vault's sys/init reply holds no key share".into()))?;
    let throwaway = Store {
        label: store.label.clone(),
        address: store.address.clone(),
        namespace: store.namespace.clone(),
        token: init.root_token.clone(),
        http: store.http.clone(),
    };
    let unseal = request(&throwaway, Method::PUT, &format!("{}/v1/sys/unseal", store.address))?
        .header(CONTENT_TYPE, "application/json")
        .body(Zeroizing::new(serde_json::json!({ "key": key.as_str() }).to_string()).to_string());
    send(&throwaway, what, unseal)
        .await
        .map_err(|e| super::http::with_message(e, |m| redact(m, [key.as_str(), init.root_token.as_str()])))?;
    wait_active(&throwaway, what, deadline).await?;
    Ok(throwaway)
}

/// Polls `sys/health` until it answers 200 (initialised, unsealed, active).
async fn wait_active(store: &Store, what: &str, deadline: Instant) -> Result<(), CapError> {
    let url = format!("{}/v1/sys/health", store.address);
    loop {
        let answered = request(store, Method::GET, &url)?.send().await;
        if answered.is_ok_and(|r| r.status().as_u16() == 200) {
            return Ok(());
        }
        if Instant::now() + POLL >= deadline {
            return Err(CapError::Timeout(format!(
                "vault {what} on target `{}`: the fresh server at {} did not become active after its unseal",
                store.label, store.address
            )));
        }
        tokio::time::sleep(POLL).await;
    }
}
