//! `mixed-contract`: a plugin of contract 0.2.0 (through the SDK) that also
//! imports `drhost:runbook/log@0.1.2` from the frozen `wit/0.1.2/`. A plugin
//! is built against one contract version: the host must refuse the mix,
//! naming both imports, before it describes or runs anything.

use drhost_sdk::prelude::*;

/// The 0.1.2 `log` interface, imported beside the SDK's 0.2.0 one.
mod old {
    wit_bindgen::generate!({
        inline: "package drhost-test:mixed; world old-log { import drhost:runbook/log@0.1.2; }",
        path: "../../../wit/0.1.2",
        world: "drhost-test:mixed/old-log",
        generate_all,
    });
}

struct Mixed;

impl Plugin for Mixed {
    fn describe() -> Manifest {
        manifest(
            "mixed-contract",
            env!("CARGO_PKG_VERSION"),
            "imports two contract versions",
        )
        .build()
    }

    fn run(_params: Params) -> Result<Outcome, Failure> {
        use old::drhost::runbook::log;
        log::write(log::Level::Info, "logged through contract 0.1.2");
        info("logged through contract 0.2.0");
        Ok(outcome("ran with two contracts"))
    }
}

export_plugin!(Mixed);
