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
//! with nothing to grant (`log`, `progress`, `blob`) are one `mod.rs`;
//! `confirm`'s `grant.rs` is who may approve a question without asking. To add a capability, see "Adding a capability" in the README.

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

/// Every capability whose grants name operator-configured targets
/// (`[[plugins.<id>.CAP]] target = "LABEL"` and `[targets.CAP.LABEL]`):
/// `drhost check` reports a grant whose label has no table, with the table
/// to add. A new capability with a `[targets.CAP.*]` section adds its
/// `TARGETS` here (the tests below fail until it does).
pub(crate) const TARGET_TABLES: &[&kit::gate::TargetTable] = &[
    &redis::TARGETS,
    &postgres::TARGETS,
    &s3::TARGETS,
    &vault::TARGETS,
    &files::TARGETS,
    &notify::TARGETS,
    &compose::TARGETS,
];

#[cfg(test)]
mod tests {
    //! The lists above against the configuration's own types: a capability
    //! added to `[plugins.<id>]` or `[targets]` but not listed here (or the
    //! other way round) fails these tests, naming what to add where.

    use super::{GATES, TARGET_TABLES, UNGATED};
    use crate::config::{Config, PluginGrants, Targets};

    /// The keys a configuration struct accepts, as its `Deserialize` names them.
    fn keys_of<'de, T: serde::Deserialize<'de>>() -> &'static [&'static str] {
        T::deserialize(KeysOf).err().map_or(&[], |keys| keys.0)
    }

    /// A deserializer that only asks a struct for its field names.
    struct KeysOf;

    /// The field names, carried out as the "error".
    #[derive(Debug)]
    struct Keys(&'static [&'static str]);

    impl std::fmt::Display for Keys {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "{:?}", self.0)
        }
    }

    impl std::error::Error for Keys {}

    impl serde::de::Error for Keys {
        fn custom<M: std::fmt::Display>(_: M) -> Keys {
            Keys(&[])
        }
    }

    impl<'de> serde::Deserializer<'de> for KeysOf {
        type Error = Keys;

        fn deserialize_any<V: serde::de::Visitor<'de>>(self, _: V) -> Result<V::Value, Keys> {
            Err(Keys(&[]))
        }

        fn deserialize_struct<V: serde::de::Visitor<'de>>(
            self,
            _: &'static str,
            fields: &'static [&'static str],
            _: V,
        ) -> Result<V::Value, Keys> {
            Err(Keys(fields))
        }

        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
            bytes byte_buf option unit unit_struct newtype_struct seq tuple
            tuple_struct map enum identifier ignored_any
        }
    }

    fn gated() -> Vec<&'static str> {
        GATES.iter().map(|g| g.capability).collect()
    }

    #[test]
    fn the_configuration_s_keys_are_read_from_its_types() {
        for key in ["run", "plugins", "targets", "trust"] {
            assert!(keys_of::<Config>().contains(&key), "{:?}", keys_of::<Config>());
        }
        assert!(keys_of::<PluginGrants>().contains(&"shell"));
        assert!(
            !keys_of::<PluginGrants>().contains(&"redis_targets"),
            "filled in, not read"
        );
        assert!(keys_of::<Targets>().contains(&"redis"));
    }

    #[test]
    fn every_grant_table_of_a_plugin_is_a_gated_capability_and_back() {
        let gated = gated();
        for key in keys_of::<PluginGrants>() {
            assert!(
                *key == "params" || gated.contains(key),
                "[[plugins.<id>.{key}]] is a grant of no capability in caps::GATES: add `{key}::GATE` to GATES"
            );
        }
        for capability in &gated {
            assert!(
                keys_of::<PluginGrants>().contains(capability),
                "caps::GATES has `{capability}`, but PluginGrants has no `{capability}` field for its grants"
            );
            assert!(
                !UNGATED.contains(capability),
                "`{capability}` is both gated and ungated"
            );
        }
    }

    #[test]
    fn every_target_section_has_its_target_table_and_back() {
        let listed: Vec<&str> = TARGET_TABLES.iter().map(|t| t.capability).collect();
        for key in keys_of::<Targets>() {
            assert!(
                listed.contains(key),
                "[targets.{key}.*] is configured but `drhost check` cannot check it: add `&{key}::TARGETS` to caps::TARGET_TABLES"
            );
        }
        for capability in &listed {
            assert!(
                keys_of::<Targets>().contains(capability),
                "caps::TARGET_TABLES has `{capability}`, but Targets has no `{capability}` section"
            );
            assert!(
                gated().contains(capability),
                "`{capability}` has targets but no GATE in caps::GATES"
            );
        }
    }
}
