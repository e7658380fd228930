//! The run's cap on connections it holds open to the operator's services:
//! Postgres sessions and Redis links. Each is cheap for the plugin and costly
//! for the service — a plugin that opens them in a loop would take the
//! connections a production database keeps for everyone else (Postgres'
//! `max_connections` is 100 by default) while the operator is recovering it.
//! The table of live handles ([`crate::sandbox::MAX_LIVE_RESOURCES`]) is far
//! too large a bound for that.
//!
//! A connection takes a [`Slot`] before it connects and gives it back when
//! its handle is dropped; past [`MAX_OPEN_CONNECTIONS`] an open is refused
//! and nothing connects.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use crate::bindings::types::Error as CapError;

/// Connections a run may hold open at once, over every target. Recovery
/// plugins hold a handful (redis-failover: its probe and the node it asks).
pub const MAX_OPEN_CONNECTIONS: usize = 16;

/// The run's open connections.
#[derive(Debug, Default)]
pub struct ConnectionSlots {
    open: Arc<AtomicUsize>,
}

/// One open connection's place; given back when dropped.
#[derive(Debug)]
pub struct Slot {
    open: Arc<AtomicUsize>,
}

impl ConnectionSlots {
    /// A place for one more connection to `what` (e.g. "postgres `primary`"),
    /// or the refusal naming the cap and the way out.
    pub fn take(&self, what: &str) -> Result<Slot, CapError> {
        let taken = self.open.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
            (n < MAX_OPEN_CONNECTIONS).then_some(n + 1)
        });
        match taken {
            Ok(_) => Ok(Slot {
                open: self.open.clone(),
            }),
            Err(_) => Err(CapError::AccessDenied(format!(
                "{what}: this run already holds {MAX_OPEN_CONNECTIONS} open connections, the most a run may hold; drop one (let its handle go) before opening another"
            ))),
        }
    }

    /// How many are open now.
    pub fn open(&self) -> usize {
        self.open.load(Ordering::SeqCst)
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.open.fetch_sub(1, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cap_holds_and_a_dropped_handle_frees_its_place() {
        let slots = ConnectionSlots::default();
        let mut held: Vec<Slot> = (0..MAX_OPEN_CONNECTIONS).map(|_| slots.take("x").unwrap()).collect();
        let refused = slots.take("postgres `primary`").unwrap_err();
        let CapError::AccessDenied(text) = refused else {
            panic!("{refused:?}")
        };
        assert!(
            text.starts_with("postgres `primary`: this run already holds 16 open connections"),
            "{text}"
        );
        assert_eq!(slots.open(), MAX_OPEN_CONNECTIONS);
        held.pop();
        assert_eq!(slots.open(), MAX_OPEN_CONNECTIONS - 1);
        held.push(slots.take("x").unwrap());
        assert!(slots.take("x").is_err());
        drop(held);
        assert_eq!(slots.open(), 0);
    }
}
