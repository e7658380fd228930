//! What a capability tells the up-front check ([`crate::policy`]) and the
//! operator: whether the grants cover a need `describe` listed, the
//! drhost.toml lines that would, and — for capabilities whose grants name
//! operator-configured targets — the `[targets.CAP.LABEL]` table a label
//! needs.

use std::collections::BTreeMap;

use crate::bindings::types::{Access, Error as CapError};
use crate::caps::kit::text::toml_key;
use crate::config::PluginGrants;

/// One capability that needs a grant, as the up-front check sees it. Each
/// capability's `mod.rs` defines its `GATE`; [`crate::caps::GATES`] lists them.
pub(crate) struct Gate {
    /// The capability's name in a `describe` need, e.g. `postgres`.
    pub capability: &'static str,
    /// Whether `grants` cover a need (`target`, `access`) of this capability.
    pub covers: fn(grants: &PluginGrants, target: &str, access: Access) -> bool,
    /// The drhost.toml lines that would cover it for plugin `id`.
    pub advice: fn(grants: &PluginGrants, id: &str, target: &str, access: Access) -> String,
    /// The target labels `grants` let the plugin change (any access beyond
    /// reading: write, admin, restart, restore, exec, failover…), which a
    /// live run locks (see [`crate::run::lock`]); empty for read-only grants.
    pub changes: fn(grants: &PluginGrants) -> Vec<String>,
}

/// The targets of the `grants` that give any access in `changing`: the
/// [`Gate::changes`] of a capability whose grants name target labels.
pub(crate) fn changed_targets<G: TargetGrant>(grants: &[G], changing: &[G::Access]) -> Vec<String> {
    grants
        .iter()
        .filter(|g| changing.iter().any(|a| g.access().contains(a)))
        .map(|g| g.target().to_string())
        .collect()
}

/// [`Gate::changes`] of a capability that changes nothing outside the run.
pub(crate) fn changes_nothing(_: &PluginGrants) -> Vec<String> {
    Vec::new()
}

/// The `[targets.CAP.LABEL]` tables of one capability: how a missing one is
/// reported at a call and printed in advice.
pub(crate) struct TargetTable {
    /// The capability, e.g. `postgres`.
    pub capability: &'static str,
    /// Its name in a sentence, e.g. `Postgres`.
    pub title: &'static str,
    /// The keys to fill in, as TOML lines with placeholders.
    pub keys: &'static str,
}

/// A grant on one operator-configured target label with a set of accesses
/// (`[[plugins.<id>.redis]] target = "cache" access = ["read"]`): redis,
/// postgres, s3 and vault grants.
pub(crate) trait TargetGrant {
    /// The capability's access classes.
    type Access: Ord;
    /// The target label the grant names.
    fn target(&self) -> &str;
    /// The accesses it gives on that target.
    fn access(&self) -> &std::collections::BTreeSet<Self::Access>;
}

/// Whether any of `grants` names target `label`, with any access.
pub(crate) fn names_target<G: TargetGrant>(grants: &[G], label: &str) -> bool {
    grants.iter().any(|g| g.target() == label)
}

/// Whether any of `grants` gives `access` on target `label`.
pub(crate) fn allows_access<G: TargetGrant>(grants: &[G], label: &str, access: &G::Access) -> bool {
    grants
        .iter()
        .any(|g| g.target() == label && g.access().contains(access))
}

/// `Ok` when `allowed`, else `access-denied` with the capability's refusal text.
pub(crate) fn require(allowed: bool, refusal: impl FnOnce() -> String) -> Result<(), CapError> {
    if allowed {
        Ok(())
    } else {
        Err(CapError::AccessDenied(refusal()))
    }
}

impl TargetTable {
    /// The configured target `label`, when one of `grants` names it: else
    /// `access-denied` with `refusal()`, or `not-found` naming the table to add.
    pub fn granted<'a, G: TargetGrant, T>(
        &self,
        grants: &[G],
        targets: &'a BTreeMap<String, T>,
        label: &str,
        refusal: impl FnOnce() -> String,
    ) -> Result<&'a T, CapError> {
        require(names_target(grants, label), refusal)?;
        self.lookup(targets, label)
    }

    /// The table to add for `label`: header and placeholder keys.
    pub fn table(&self, label: &str) -> String {
        format!("[targets.{}.{}]\n{}", self.capability, toml_key(label), self.keys)
    }

    /// `targets[label]`, or `not-found` naming the table to add.
    pub fn lookup<'a, T>(&self, targets: &'a BTreeMap<String, T>, label: &str) -> Result<&'a T, CapError> {
        targets.get(label).ok_or_else(|| {
            CapError::NotFound(format!(
                "no {} target `{label}`; add to drhost.toml:\n{}",
                self.title,
                self.table(label)
            ))
        })
    }

    /// `grant` advice followed by the table for `label` when `targets` lack it.
    pub fn with_table<T>(&self, grant: String, targets: &BTreeMap<String, T>, label: &str) -> String {
        if targets.contains_key(label) {
            grant
        } else {
            format!("{grant}\n{}", self.table(label))
        }
    }
}
