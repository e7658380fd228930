//! What the tests of the other-language SDKs (`python_sdk.rs`,
//! `js_sdk.rs`) share: their example plugins, the lab's config with the
//! grants an example's README prints, and readings of a run's journal that
//! compare it with a Rust plugin's.

use std::collections::BTreeSet;
use std::path::PathBuf;

use serde_json::Value;

use crate::cli::{calls, config, events, repo_root};
use crate::lab::Lab;
use crate::tmp::TmpFile;

/// The hint the SDKs give an escaping `AccessDenied` — the Rust SDK's own.
pub const DENIED_HINT: &str = "add the grant the message names to drhost.toml, then run again";

/// `examples/<path>`, which `make build` builds and signs.
pub fn example(path: &str) -> PathBuf {
    let wasm = repo_root().join("examples").join(path);
    assert!(wasm.exists(), "{} is missing: run `make build`", wasm.display());
    wasm
}

/// The lab's config plus `extra` (grants, targets).
pub fn lab_config_with(lab: &Lab, extra: &str) -> TmpFile {
    let base = std::fs::read_to_string(lab.path(".lab/drhost.toml")).expect("the lab config (make lab)");
    config(&format!("{base}\n{extra}"))
}

/// A loopback port nothing listens on (bound, then closed).
pub fn closed_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// (step name, ok) of every `step-end` in the journal, in order.
pub fn steps_ended(journal: &[Value]) -> Vec<(String, bool)> {
    events(journal, "step-end")
        .iter()
        .map(|e| (e["step"].as_str().unwrap().to_string(), e["ok"].as_bool().unwrap()))
        .collect()
}

/// The keys of every event named `event` (all events of a kind carry the same, but `result`).
pub fn keys(journal: &[Value], event: &str) -> BTreeSet<String> {
    events(journal, event)
        .iter()
        .flat_map(|e| e.as_object().unwrap().keys().cloned())
        // Only a change's event keeps what it returned (for `drhost
        // resume`): the probes make none, the Rust hello makes one.
        .filter(|key| key != "result")
        .collect()
}

/// The error kind journaled for the first `call` named `name`.
pub fn call_error(journal: &[Value], name: &str) -> String {
    let call = calls(journal, name);
    let first = call.first().unwrap_or_else(|| panic!("no {name} call in the journal"));
    first["outcome"]["error"]["kind"].as_str().unwrap_or("ok").to_string()
}
