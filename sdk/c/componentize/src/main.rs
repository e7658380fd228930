//! The two steps of building a C drhost plugin that need the component
//! model's own tools, without installing `wit-bindgen-cli` or `wasm-tools`:
//!
//! - `drhost-c-componentize bindings WIT_DIR OUT_DIR`: what `wit-bindgen c
//!   WIT_DIR --world plugin --out-dir OUT_DIR` writes (`plugin.h`,
//!   `plugin.c`, `plugin_component_type.o`), with the same generator
//!   (crates.io's wit-bindgen-c);
//! - `drhost-c-componentize component CORE.wasm OUT.wasm`: wraps a core
//!   module compiled from C for `wasm32-wasi` (a reactor, linked with the
//!   `*_component_type.o` above) into a component, adapting its
//!   `wasi_snapshot_preview1` imports to WASI 0.2 with the preview1 adapter
//!   of wasmtime 48 — the host's wasmtime. What `wasm-tools component new
//!   --adapt` does. It only encodes: the plugin's contract comes from the
//!   custom section the bindings put into the module; the result is
//!   validated.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use wasi_preview1_component_adapter_provider::{
    WASI_SNAPSHOT_PREVIEW1_ADAPTER_NAME, WASI_SNAPSHOT_PREVIEW1_REACTOR_ADAPTER,
};
use wit_bindgen_core::wit_parser::Resolve;
use wit_bindgen_core::Files;
use wit_component::ComponentEncoder;

const USAGE: &str = "usage: drhost-c-componentize bindings WIT_DIR OUT_DIR\n       drhost-c-componentize component CORE.wasm OUT.wasm";

fn main() -> ExitCode {
    let args: Vec<PathBuf> = std::env::args_os().skip(1).map(PathBuf::from).collect();
    let done = match args.as_slice() {
        [verb, wit, out] if verb.as_os_str() == "bindings" => bindings(wit, out),
        [verb, core, out] if verb.as_os_str() == "component" => componentize(core, out),
        _ => {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match done {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("drhost-c-componentize: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Writes the C bindings of world `plugin` of the WIT package in `wit` into `out`.
fn bindings(wit: &Path, out: &Path) -> anyhow::Result<()> {
    let mut resolve = Resolve::default();
    let (package, _) = resolve
        .push_path(wit)
        .with_context(|| format!("reading the WIT in {}", wit.display()))?;
    let world = resolve.select_world(&[package], Some("plugin"))?;
    let mut files = Files::default();
    wit_bindgen_c::Opts::default()
        .build()
        .generate(&mut resolve, world, &mut files)?;
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    for (name, contents) in files.iter() {
        let path = out.join(name);
        std::fs::write(&path, contents).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

/// Reads the core module `core`, writes the component to `out`.
fn componentize(core: &Path, out: &Path) -> anyhow::Result<()> {
    let module = std::fs::read(core).with_context(|| format!("reading {}", core.display()))?;
    let component = ComponentEncoder::default()
        .module(&module)
        .context("the module carries no component type: link the *_component_type.o the bindings step made")?
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
