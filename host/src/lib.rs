//! drhost runs disaster-recovery runbooks as sandboxed WebAssembly component
//! plugins. The library does the work; `main.rs` only parses arguments and
//! maps errors to exit codes.
//!
//! Data flows one way: CLI → [`plugin`] (load & verify) → [`policy`] →
//! [`sandbox`] / [`engine`] (instantiate, limits) → plugin code → a
//! capability in [`caps`] (`host.rs`: checked at the call through the one
//! audited call path in [`caps::kit::call`]) → the real client →
//! [`journal`] and [`console`].
//!
//! Before a run, [`policy`] asks each capability's `GATE` ([`caps::GATES`])
//! whether the grants in [`config`] cover what `describe` declared.
//! Afterwards, [`history`] reads the journals back (`drhost runs`, `drhost show`).

#![warn(missing_docs)]

#[allow(missing_docs)]
pub mod bindings;
pub mod caps;
pub mod check;
pub mod config;
pub mod console;
pub mod drill;
pub mod engine;
pub mod error;
pub mod file_stamp;
#[doc(hidden)]
pub mod fuzzing;
pub mod history;
pub mod inspect;
pub mod journal;
pub mod list;
pub mod oci;
pub mod params;
pub mod plugin;
pub mod policy;
pub mod prepare;
pub mod private_dir;
pub mod run;
pub mod sandbox;
pub mod scaffold;
pub mod secret;
pub mod suggest;
pub mod trust;

pub use error::{Error, Result};
