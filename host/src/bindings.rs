//! Host bindings for the contract in `wit/` (`drhost:runbook@0.1.2`).
//!
//! One `bindgen!` per supported contract version; today there is one. Every
//! import is async (the host does real I/O) and trappable (a host bug traps
//! the plugin instead of panicking the host); a function returning
//! `result<T, error>` returns [`crate::caps::kit::Answer<T>`], so `?` takes
//! either a typed error or a trap.

wasmtime::component::bindgen!({
    world: "plugin",
    path: "../wit",
    imports: { default: async | trappable },
    exports: { default: async },
    trappable_error_type: { "drhost:runbook/types.error" => crate::caps::kit::CallError },
    with: {
        "drhost:runbook/progress.step": crate::caps::progress::Step,
        "drhost:runbook/blob.blob": crate::caps::blob::Blob,
        "drhost:runbook/redis.connection": crate::caps::redis::Connection,
        "drhost:runbook/redis.sentinel": crate::caps::redis::SentinelSet,
        "drhost:runbook/postgres.database": crate::caps::postgres::Database,
        "drhost:runbook/s3.bucket": crate::caps::s3::Bucket,
        "drhost:runbook/vault.store": crate::caps::vault::Store,
        "drhost:runbook/vault.secret": crate::caps::vault::Secret,
    },
});

pub use self::drhost::runbook::types;

/// The contract version this host implements, as a literal (for `concat!`,
/// e.g. in `drhost --version`); [`CONTRACT_VERSION`] is the same.
#[macro_export]
macro_rules! contract_version {
    () => {
        "0.1.2"
    };
}

/// The contract version this host implements. Plugins built against
/// `0.1.x` with `x <=` this patch level are accepted (semver-compatible).
pub const CONTRACT_VERSION: &str = contract_version!();

/// The WIT package name of the contract.
pub const CONTRACT_PACKAGE: &str = "drhost:runbook";
