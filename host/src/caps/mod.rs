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

use std::time::Instant;

use wasmtime::component::{HasSelf, Linker};

use crate::bindings::types::Error as CapError;
use crate::sandbox::RunState;

/// Adds every drhost capability to `linker`; WASI is added by the sandbox.
pub fn add_to_linker(linker: &mut Linker<RunState>) -> wasmtime::Result<()> {
    crate::bindings::Plugin::add_to_linker::<RunState, HasSelf<RunState>>(linker, |state| state)
}

/// The journal's name for a typed capability error, and its text.
pub(crate) fn error_parts(error: &CapError) -> (&'static str, &str) {
    match error {
        CapError::AccessDenied(m) => ("access-denied", m),
        CapError::NotFound(m) => ("not-found", m),
        CapError::InvalidArgument(m) => ("invalid-argument", m),
        CapError::Unavailable(m) => ("unavailable", m),
        CapError::Timeout(m) => ("timeout", m),
        CapError::Conflict(m) => ("conflict", m),
        CapError::Failed(m) => ("failed", m),
    }
}

/// Journals one finished capability call: its name, arguments (already
/// redacted by the caller), duration, and outcome.
pub(crate) fn journal_call<T>(
    state: &RunState,
    call: &str,
    args: serde_json::Value,
    started: Instant,
    result: &Result<T, CapError>,
    summarize: impl FnOnce(&T) -> serde_json::Value,
) {
    let duration_ms = started.elapsed().as_secs_f64() * 1000.0;
    let outcome = match result {
        Ok(value) => serde_json::json!({ "ok": summarize(value) }),
        Err(error) => {
            let (kind, message) = error_parts(error);
            serde_json::json!({ "error": { "kind": kind, "message": message } })
        }
    };
    state.ctx.journal.record(
        "call",
        serde_json::json!({ "call": call, "args": args, "duration_ms": duration_ms, "outcome": outcome }),
    );
    if let Err(error) = result {
        let (kind, message) = error_parts(error);
        state.ctx.console.call_error(call, kind, message);
    }
}

impl crate::bindings::types::Host for RunState {}
