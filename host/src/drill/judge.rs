//! The numbers a drill is judged by, computed from probe samples alone:
//! when every probe was healthy again for good (RTO), and which
//! acknowledged writes did not survive (RPO). Pure functions: no clock, no
//! I/O, so the rules are tested here with made-up samples.

use serde::Serialize;

/// One probe attempt, timed from the drill's start.
#[derive(Debug, Clone, Serialize)]
pub struct Sample {
    /// When the attempt started, in ms since the drill started.
    pub at_ms: u64,
    /// Whether it succeeded (2xx, an acknowledged write).
    pub ok: bool,
    /// Why it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// An acknowledged write of a write probe: the server said it was done.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Write {
    /// When it was sent, in ms since the drill started.
    pub at_ms: u64,
    /// What identifies it: the value `INCR` answered, or the heartbeat's sequence number.
    pub id: i64,
}

/// What a write probe lost.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Loss {
    /// Writes the server acknowledged.
    pub acknowledged: usize,
    /// Acknowledged writes that are gone after recovery.
    pub lost: usize,
    /// The data-loss window: from the newest write that survived before the
    /// first lost one to the last lost one (0 when nothing was lost).
    pub window_ms: u64,
}

/// When the probe became healthy for good after the fault, in ms since
/// the drill started: the first sample of its last healthy streak, when
/// that streak reaches the last sample and lasts at least `sustain_ms`.
/// A probe that never failed after the fault was healthy from the fault on.
/// `None`: not (sustainedly) healthy at the end.
pub fn healthy_from(samples: &[Sample], fault_ms: u64, sustain_ms: u64) -> Option<u64> {
    let after: Vec<&Sample> = samples.iter().filter(|s| s.at_ms >= fault_ms).collect();
    let last = after.last()?;
    if !last.ok {
        return None;
    }
    match after.iter().rposition(|s| !s.ok) {
        None => (last.at_ms - fault_ms >= sustain_ms).then_some(fault_ms),
        Some(failed) => {
            let start = after[failed + 1].at_ms;
            (last.at_ms - start >= sustain_ms).then_some(start)
        }
    }
}

/// Whether the probe failed at least once after the fault: a drill whose
/// fault no probe saw measures nothing.
pub fn saw_fault(samples: &[Sample], fault_ms: u64) -> bool {
    samples.iter().any(|s| s.at_ms >= fault_ms && !s.ok)
}

/// Which acknowledged `INCR`s are lost, given the counter's value after
/// recovery. A reply no higher than the one before means the counter went
/// back (a failover to a replica that had not seen the newest writes): the
/// earlier acknowledged values at or above that reply were overwritten.
/// Values above the final one are lost too.
pub fn lost_increments(acked: &[Write], final_value: i64) -> Vec<bool> {
    let mut lost = vec![false; acked.len()];
    let resets: Vec<usize> = (1..acked.len()).filter(|&i| acked[i].id <= acked[i - 1].id).collect();
    for &reset in &resets {
        let base = acked[reset].id;
        for (flag, write) in lost.iter_mut().zip(&acked[..reset]) {
            if write.id >= base {
                *flag = true;
            }
        }
    }
    // After the last reset, only values up to the final one are still there.
    let last_reset = resets.last().copied().unwrap_or(0);
    for (flag, write) in lost.iter_mut().zip(acked).skip(last_reset) {
        if write.id > final_value {
            *flag = true;
        }
    }
    lost
}

/// The loss of a write probe, from which of its acknowledged writes are lost.
pub fn loss(acked: &[Write], lost: &[bool]) -> Loss {
    let count = lost.iter().filter(|l| **l).count();
    let first = lost.iter().position(|l| *l);
    let last = lost.iter().rposition(|l| *l);
    let window_ms = match (first, last) {
        (Some(first), Some(last)) => {
            let since = (0..first)
                .rev()
                .find(|&j| !lost[j])
                .map_or(acked[first].at_ms, |j| acked[j].at_ms);
            acked[last].at_ms.saturating_sub(since)
        }
        _ => 0,
    };
    Loss {
        acknowledged: acked.len(),
        lost: count,
        window_ms,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn samples(states: &[(u64, bool)]) -> Vec<Sample> {
        states
            .iter()
            .map(|&(at_ms, ok)| Sample {
                at_ms,
                ok,
                detail: None,
            })
            .collect()
    }

    fn writes(ids: &[(u64, i64)]) -> Vec<Write> {
        ids.iter().map(|&(at_ms, id)| Write { at_ms, id }).collect()
    }

    #[test]
    fn recovery_is_the_start_of_the_last_sustained_healthy_streak() {
        let s = samples(&[
            (0, true),
            (1000, true),
            (1200, false),
            (1400, false),
            (1600, true),
            (1800, false),
            (2000, true),
            (5000, true),
        ]);
        assert_eq!(healthy_from(&s, 1000, 3000), Some(2000));
        assert_eq!(healthy_from(&s, 1000, 3001), None, "not healthy long enough");
        assert!(saw_fault(&s, 1000));
    }

    #[test]
    fn a_probe_failing_at_the_end_has_not_recovered_and_one_never_failing_recovered_at_the_fault() {
        assert_eq!(
            healthy_from(&samples(&[(0, true), (1000, true), (9000, false)]), 500, 0),
            None
        );
        let never = samples(&[(0, true), (1000, true), (9000, true)]);
        assert_eq!(healthy_from(&never, 500, 3000), Some(500));
        assert!(!saw_fault(&never, 500));
        assert_eq!(healthy_from(&[], 0, 0), None);
    }

    #[test]
    fn a_counter_that_went_back_lost_the_writes_above_its_new_value() {
        // 1..=5 acknowledged, failover to a replica at 3: the next INCR says 4.
        let acked = writes(&[
            (0, 1),
            (200, 2),
            (400, 3),
            (600, 4),
            (800, 5),
            (3000, 4),
            (3200, 5),
            (3400, 6),
        ]);
        let lost = lost_increments(&acked, 6);
        assert_eq!(lost, vec![false, false, false, true, true, false, false, false]);
        let loss = loss(&acked, &lost);
        assert_eq!(
            loss,
            Loss {
                acknowledged: 8,
                lost: 2,
                window_ms: 400
            },
            "from 3 (at 400 ms) to the lost 5 (at 800 ms)"
        );
    }

    #[test]
    fn writes_above_the_final_value_are_lost_and_nothing_lost_is_a_zero_window() {
        let acked = writes(&[(0, 1), (200, 2), (400, 3)]);
        assert_eq!(lost_increments(&acked, 2), vec![false, false, true]);
        let none = lost_increments(&acked, 3);
        assert_eq!(
            loss(&acked, &none),
            Loss {
                acknowledged: 3,
                lost: 0,
                window_ms: 0
            }
        );
        // Everything lost: the window runs from the first lost write.
        let all = lost_increments(&acked, 0);
        assert_eq!(
            loss(&acked, &all),
            Loss {
                acknowledged: 3,
                lost: 3,
                window_ms: 400
            }
        );
    }
}
