//! Step 5, restore Vault: the compose service up; when Vault does not
//! already hold the known secret, the raft snapshot restored (force: the
//! fresh server is another cluster; the host initialises a never
//! initialised server with a throwaway share first) and Vault unsealed
//! with the operator's keys; then the known secret read back (its field
//! names only: values stay in the host).

use std::time::Duration;

use drhost_sdk::blob::Blob;
use drhost_sdk::compose::Project;
use drhost_sdk::prelude::*;
use drhost_sdk::vault::{SealStatus, Store};

use crate::{failed, Settings, VAULT};

/// How often Vault is asked again while it starts or becomes active.
const POLL: Duration = Duration::from_millis(200);

/// Seal status once Vault answers (it is starting), within `wait`.
fn answering(store: &Store, wait: &Wait, step: &str) -> Result<SealStatus, Failure> {
    loop {
        match store.seal_status() {
            Ok(status) => return Ok(status),
            Err(Error::Unavailable(_)) if !wait.over() => wait.sleep(POLL),
            Err(e) => return Err(failed(step, e)),
        }
    }
}

/// The known secret's field names, waiting (within `wait`) while Vault is
/// still becoming the active node; `not-found` is returned at once. A
/// server that seals itself again (after a restore it reloads the
/// snapshot's keyring and seals) is unsealed with the operator's keys.
fn read_back(store: &Store, path: &str, wait: &Wait, step: &Step) -> Result<Vec<String>, Error> {
    loop {
        match store.read(path) {
            Ok(fields) => return Ok(fields.into_iter().map(|(name, _)| name).collect()),
            Err(Error::Unavailable(_)) if !wait.over() => {
                if store.seal_status().is_ok_and(|st| st.initialized && st.sealed) {
                    store.unseal()?;
                    step.note("Vault sealed itself: unsealed with the operator's keys");
                }
                wait.sleep(POLL)
            }
            Err(e) => return Err(e),
        }
    }
}

/// Step 5: returns whether the snapshot was restored, and what changed.
pub(crate) fn restore(project: &Project, s: &Settings, snapshot: &Blob) -> Result<(bool, String), Failure> {
    let name = format!(
        "start Vault (compose service `{}`), restore its raft snapshot, unseal, read {} back",
        s.vault_service, s.known_secret
    );
    let step = Step::start(&name);
    let here = |e: Error| failed(&name, e);
    project.up(std::slice::from_ref(&s.vault_service)).map_err(here)?;
    let store = Store::open(VAULT).map_err(here)?;
    let wait = Wait::up_to(s.wait);
    let mut status = answering(&store, &wait, &name)?;
    step.note(format!(
        "Vault answers: initialised {}, sealed {}",
        status.initialized, status.sealed
    ));
    if status.initialized && status.sealed {
        status = store.unseal().map_err(here)?;
        step.note("unsealed with the operator's keys");
    }
    let mut restored = false;
    let holds = status.initialized && !status.sealed && read_back(&store, &s.known_secret, &wait, &step).is_ok();
    if holds {
        step.note(format!("Vault already holds {}: snapshot not restored", s.known_secret));
    } else {
        store.snapshot_restore(snapshot, true).map_err(here)?;
        step.note(format!(
            "raft snapshot restored ({} bytes, sha256 {})",
            snapshot.size(),
            snapshot.sha256()
        ));
        let status = store.unseal().map_err(here)?;
        step.note(format!("unsealed with the operator's keys (sealed {})", status.sealed));
        restored = true;
    }
    let fields = read_back(&store, &s.known_secret, &wait, &step).map_err(|e| {
        fail(format!(
            "Vault does not give back {} after the restore: {}",
            s.known_secret,
            e.message()
        ))
        .in_step(&name)
        .hint("check that the snapshot in S3 is of this application's Vault and that the target's token belongs to it")
    })?;
    step.note(format!("{} reads back: fields {}", s.known_secret, fields.join(", ")));
    step.ok();
    let changed = if restored {
        format!(
            "Vault restored from its snapshot and unsealed; {} reads back",
            s.known_secret
        )
    } else {
        "nothing (Vault holds its data)".to_string()
    };
    Ok((restored, changed))
}
