//! `drhost-c-componentize CORE.wasm OUT.wasm`: wraps a core module compiled
//! from C for `wasm32-wasi` (a reactor, linked with the
//! `*_component_type.o` that `wit-bindgen c` generates) into a component,
//! adapting its `wasi_snapshot_preview1` imports to WASI 0.2 with the
//! preview1 adapter of wasmtime 48 — the host's wasmtime. What `wasm-tools
//! component new --adapt` does, without installing wasm-tools.
//!
//! It only encodes: the plugin's contract comes from the custom section the
//! bindings put into the module, and the result is validated.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use wasi_preview1_component_adapter_provider::{
    WASI_SNAPSHOT_PREVIEW1_ADAPTER_NAME, WASI_SNAPSHOT_PREVIEW1_REACTOR_ADAPTER,
};
use wit_component::ComponentEncoder;

fn main() -> ExitCode {
    let args: Vec<PathBuf> = std::env::args_os().skip(1).map(PathBuf::from).collect();
    let [core, out] = args.as_slice() else {
        eprintln!("usage: drhost-c-componentize CORE.wasm OUT.wasm");
        return ExitCode::from(2);
    };
    match componentize(core, out) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("drhost-c-componentize: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Reads the core module `core`, writes the component to `out`.
fn componentize(core: &PathBuf, out: &PathBuf) -> anyhow::Result<()> {
    let module = std::fs::read(core).with_context(|| format!("reading {}", core.display()))?;
    let component = ComponentEncoder::default()
        .module(&module)
        .context("the module carries no component type: link the *_component_type.o wit-bindgen c made")?
        .adapter(
            WASI_SNAPSHOT_PREVIEW1_ADAPTER_NAME,
            WASI_SNAPSHOT_PREVIEW1_REACTOR_ADAPTER,
        )
        .context("the preview1 adapter")?
        .validate(true)
        .encode()
        .context("encoding the component")?;
    std::fs::write(out, component).with_context(|| format!("writing {}", out.display()))
}
