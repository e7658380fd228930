//! Host bindings for the contract, one `bindgen!` per supported version,
//! each from its own folder of `wit/` (as Zed's extension host does):
//!
//! - this module: the latest, `drhost:runbook@0.2.0` (`wit/0.2.0/`), which
//!   every capability implements;
//! - [`v0_1`]: `drhost:runbook@0.1.x` (`wit/0.1.2/`, frozen), implemented by
//!   converting to the latest and back, so plugins built for 0.1.x keep
//!   running unchanged.
//!
//! Every import is async (the host does real I/O) and trappable (a host bug
//! traps the plugin instead of panicking the host); a function returning
//! `result<T, error>` returns [`crate::caps::kit::Answer<T>`], so `?` takes
//! either a typed error or a trap.

pub mod v0_1;

wasmtime::component::bindgen!({
    world: "plugin",
    path: "../wit/0.2.0",
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
        "drhost:runbook/secret.secret": crate::caps::secret::Secret,
        "drhost:runbook/files.directory": crate::caps::files::Directory,
        "drhost:runbook/compose.project": crate::caps::compose::Project,
    },
});

pub use self::drhost::runbook::types;

/// The contract version this host implements, as a literal (for `concat!`,
/// e.g. in `drhost --version`); [`CONTRACT_VERSION`] is the same.
#[macro_export]
macro_rules! contract_version {
    () => {
        "0.2.0"
    };
}

/// The latest contract version this host implements. Plugins built against
/// `0.2.x` with `x <=` this patch level are accepted (semver-compatible),
/// and so are plugins built against [`v0_1::CONTRACT_VERSION`] or an
/// earlier 0.1.x.
pub const CONTRACT_VERSION: &str = contract_version!();

/// Every contract version this host runs, oldest first (for messages).
pub const SUPPORTED: &[&str] = &[v0_1::CONTRACT_VERSION, CONTRACT_VERSION];

/// The WIT package name of the contract.
pub const CONTRACT_PACKAGE: &str = "drhost:runbook";
