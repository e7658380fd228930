//! The capabilities a plugin can import, one folder each, the same shape
//! every time: `mod.rs` wires the interface into the linker, `host.rs`
//! implements the WIT functions (the real work in an inner `operations`
//! module), and `grant.rs` (where the capability touches the world) holds
//! what the operator configures and the check made at every call.

pub mod blob;
pub mod confirm;
pub mod docker;
pub mod http;
pub mod kit;
pub mod log;
pub mod postgres;
pub mod progress;
pub mod redis;
pub mod s3;
pub mod shell;
pub mod vault;

use wasmtime::component::{HasSelf, Linker};

use crate::caps::kit::gate::Gate;

use crate::sandbox::RunState;

/// Adds every drhost capability to `linker`; WASI is added by the sandbox.
pub fn add_to_linker(linker: &mut Linker<RunState>) -> wasmtime::Result<()> {
    crate::bindings::Plugin::add_to_linker::<RunState, HasSelf<RunState>>(linker, |state| state)
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
];

/// Capabilities that need no grant: they touch nothing outside the run.
pub(crate) const UNGATED: &[&str] = &["log", "progress", "blob", "confirm"];
