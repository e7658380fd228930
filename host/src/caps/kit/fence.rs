//! The fence a run's changes pass: once the run has lost the lock that
//! made it the only one changing its targets (`[run.shared_lock]`'s
//! Postgres session ended or stopped answering), every further change is
//! refused at the host boundary, whatever the plugin does. Reads go on,
//! so the plugin can still report.
//!
//! A change already running when the lock is lost is not undone; the
//! fence only stops the next one. Without a shared lock there is no fence
//! (the local lock files cannot be lost while the process lives).

use std::sync::{Mutex, Weak};

/// Whether the run still holds its shared lock.
#[derive(Default)]
pub struct Fence {
    /// Why the lock was lost, once it was.
    lost: Mutex<Option<String>>,
    /// The session holding the lock, checked at every change (a session
    /// the server ended is closed at once).
    session: Mutex<Option<(String, Weak<tokio_postgres::Client>)>>,
}

impl Fence {
    /// Watches the session `client` (on Postgres target `label`) holding
    /// the run's shared lock.
    pub fn watch(&self, label: &str, client: Weak<tokio_postgres::Client>) {
        *self.session.lock().unwrap_or_else(|p| p.into_inner()) = Some((label.to_string(), client));
    }

    /// Marks the lock lost for `why` (the first reason stays); whether this
    /// call was the one that lost it.
    pub fn lose(&self, why: String) -> bool {
        let mut lost = self.lost.lock().unwrap_or_else(|p| p.into_inner());
        if lost.is_some() {
            return false;
        }
        *lost = Some(why);
        true
    }

    /// Why the run may make no more changes: `None` while it holds its lock.
    pub fn lost(&self) -> Option<String> {
        if let Some(why) = self.lost.lock().unwrap_or_else(|p| p.into_inner()).clone() {
            return Some(why);
        }
        let session = self.session.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let (label, client) = session?;
        let closed = client.upgrade().is_none_or(|c| c.is_closed());
        if closed {
            self.lose(format!(
                "the shared lock's session on Postgres target `{label}` has ended"
            ));
        }
        self.lost.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

#[cfg(test)]
mod tests {
    use super::Fence;

    #[test]
    fn a_fence_stays_lost_with_its_first_reason() {
        let fence = Fence::default();
        assert_eq!(fence.lost(), None, "no session watched: nothing to lose");
        assert!(fence.lose("first".into()));
        assert!(!fence.lose("second".into()));
        assert_eq!(fence.lost().as_deref(), Some("first"));
    }

    #[test]
    fn a_session_gone_is_a_lost_lock() {
        let fence = Fence::default();
        fence.watch("primary", std::sync::Weak::new());
        assert!(fence.lost().unwrap().contains("target `primary` has ended"));
    }
}
