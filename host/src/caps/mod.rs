//! The capabilities a plugin can import, one folder each, the same shape
//! every time:
//!
//! - `mod.rs` — what the capability is (module doc), its resource types,
//!   its `GATE` (whether grants cover a `describe` need and the drhost.toml
//!   lines that would) and, for capabilities with operator-configured
//!   targets, its `TARGETS` table;
//! - `host.rs` — the WIT surface: one short function per WIT function,
//!   each `args → check → call` through [`crate::sandbox::RunContext::audited`],
//!   which times, journals and reports every call;
//! - `grant.rs` — what the operator configures (`[[plugins.<id>.CAP]]`,
//!   `[targets.CAP.<label>]`) and the check made at every call;
//! - the client code, in files named for what they do (`client.rs`,
//!   `containers.rs`, `sentinel.rs`, …).
//!
//! What every capability needs and none owns is in [`kit`]. Capabilities
//! with nothing to grant (`log`, `progress`, `blob`, `confirm`) are one
//! `mod.rs`. To add a capability, see "Adding a capability" in the README.

pub mod blob;
pub mod compose;
pub mod confirm;
pub mod docker;
pub mod files;
pub mod http;
pub mod kit;
pub mod log;
pub mod notify;
pub mod postgres;
pub mod progress;
pub mod redis;
pub mod run_info;
pub mod s3;
pub mod secret;
pub mod shell;
pub mod vault;

use wasmtime::component::{HasSelf, Linker};

use crate::caps::kit::gate::Gate;

use crate::sandbox::RunState;

/// Adds every drhost capability to `linker`; WASI is added by the sandbox.
/// Both contract versions: the latest, and 0.1.x through its conversions.
pub fn add_to_linker(linker: &mut Linker<RunState>) -> wasmtime::Result<()> {
    crate::bindings::Plugin::add_to_linker::<RunState, HasSelf<RunState>>(linker, |state| state)?;
    crate::bindings::v0_1::Plugin::add_to_linker::<RunState, HasSelf<RunState>>(linker, |state| state)
}

/// Every capability that needs a grant: what the up-front check asks of
/// each. A new capability with grants adds its `GATE` here.
pub(crate) const GATES: &[Gate] = &[
    shell::GATE,
    http::GATE,
    docker::GATE,
    redis::GATE,
    postgres::GATE,
    s3::GATE,
    vault::GATE,
    files::GATE,
    notify::GATE,
    compose::GATE,
    secret::GATE,
];

/// Capabilities that need no grant: they touch nothing outside the run.
pub(crate) const UNGATED: &[&str] = &["log", "progress", "blob", "confirm", "run-info"];
