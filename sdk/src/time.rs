//! Time for a plugin: how long the run has left before its deadline stops
//! the plugin ([`time_left`]), waits that end before that deadline so the
//! plugin can still leave its own message and state ([`Wait`]), and
//! durations as an operator reads them ([`duration_text`]), and UTC
//! timestamps as backup keys carry them ([`utc_stamp`]).

use std::time::{Duration, Instant};

use crate::bindings::drhost::runbook::run_info;

/// How long the run has left before its deadline (`drhost run --timeout`)
/// stops the plugin.
pub fn time_left() -> Duration {
    Duration::from_millis(run_info::time_left_ms())
}

/// The least kept free before the deadline when a wait is bounded by it.
const MARGIN: Duration = Duration::from_secs(10);

/// What a wait keeps free of `left`, the time the run has left: 10 s, or
/// 5 % of `left` when that is more, but never more than half of `left`
/// (a short `--timeout` still gets a wait).
fn margin(left: Duration) -> Duration {
    MARGIN.max(left / 20).min(left / 2)
}

/// A wait of up to what the operator asked for that ends before the run's
/// deadline, leaving a margin for the plugin to report and leave a safe
/// state (see [`Wait::cut_short`]).
///
/// ```text
/// let wait = Wait::up_to(params.duration("wait")?);
/// while !ready()? {
///     if wait.over() {
///         return Err(fail(format!("not ready after {}", wait.waited_text())));
///     }
///     wait.sleep(Duration::from_secs(1));
/// }
/// ```
#[derive(Debug, Clone)]
pub struct Wait {
    started: Instant,
    until: Instant,
    wanted: Duration,
    cut_short: bool,
}

impl Wait {
    /// A wait of `wanted`, or less when the run's deadline comes first.
    pub fn up_to(wanted: Duration) -> Wait {
        Wait::within(wanted, time_left())
    }

    /// A wait of `wanted` in a run with `left` before its deadline.
    fn within(wanted: Duration, left: Duration) -> Wait {
        let allowed = left.saturating_sub(margin(left));
        let started = Instant::now();
        Wait {
            started,
            until: started + wanted.min(allowed),
            wanted,
            cut_short: allowed < wanted,
        }
    }

    /// Whether the wait is over.
    pub fn over(&self) -> bool {
        Instant::now() >= self.until
    }

    /// What is left of the wait.
    pub fn left(&self) -> Duration {
        self.until.saturating_duration_since(Instant::now())
    }

    /// Sleeps `interval`, or what is left of the wait when that is less.
    pub fn sleep(&self, interval: Duration) {
        std::thread::sleep(interval.min(self.left()));
    }

    /// Whether the run's deadline made the wait shorter than asked for.
    pub fn cut_short(&self) -> bool {
        self.cut_short
    }

    /// How long the wait may last in all.
    pub fn length(&self) -> Duration {
        self.until.saturating_duration_since(self.started)
    }

    /// How long it has waited so far.
    pub fn waited(&self) -> Duration {
        self.started.elapsed()
    }

    /// What was waited, for a message: `20 s`, or, when the deadline cut
    /// it, `8.5 s (the run's deadline left no time for the 15 min asked for)`.
    pub fn waited_text(&self) -> String {
        let waited = duration_text(self.waited());
        if self.cut_short {
            format!(
                "{waited} (the run's deadline left no time for the {} asked for)",
                duration_text(self.wanted)
            )
        } else {
            waited
        }
    }

    /// The wait as planned, for a step name: `at most 20 s`, or
    /// `at most 8.5 s, before the run's deadline`.
    pub fn plan_text(&self) -> String {
        let length = duration_text(self.length());
        if self.cut_short {
            format!("at most {length}, before the run's deadline")
        } else {
            format!("at most {length}")
        }
    }
}

/// A duration as an operator reads it: `250 ms`, `2.5 s`, `20 s`,
/// `1 min 30 s`, `15 min`, `2 h 5 min`.
pub fn duration_text(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 1000 {
        return format!("{ms} ms");
    }
    if ms < 60_000 {
        let tenths = (ms + 50) / 100;
        return if tenths.is_multiple_of(10) {
            format!("{} s", tenths / 10)
        } else {
            format!("{}.{} s", tenths / 10, tenths % 10)
        };
    }
    let secs = (ms + 500) / 1000;
    let (h, m, s) = (secs / 3600, secs % 3600 / 60, secs % 60);
    match (h, m, s) {
        (0, m, 0) => format!("{m} min"),
        (0, m, s) => format!("{m} min {s} s"),
        (h, 0, _) => format!("{h} h"),
        (h, m, _) => format!("{h} h {m} min"),
    }
}

/// Seconds since the Unix epoch, now (0 if the clock is before it).
pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// `YYYYMMDD_HHMMSS` in UTC from seconds since the Unix epoch: the stamp
/// in `db-backup`'s keys, which sorts as time does.
pub fn utc_stamp(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Howard Hinnant's civil-from-days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}{month:02}{day:02}_{:02}{:02}{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_are_utc_calendar_times() {
        assert_eq!(utc_stamp(0), "19700101_000000");
        assert_eq!(utc_stamp(1_709_210_096), "20240229_123456");
    }

    #[test]
    fn durations_read_like_a_person_writes_them() {
        let cases = [
            (0, "0 ms"),
            (250, "250 ms"),
            (1000, "1 s"),
            (2500, "2.5 s"),
            (20_000, "20 s"),
            (59_990, "60 s"),
            (90_000, "1 min 30 s"),
            (900_000, "15 min"),
            (3_600_000, "1 h"),
            (7_500_000, "2 h 5 min"),
        ];
        for (ms, text) in cases {
            assert_eq!(duration_text(Duration::from_millis(ms)), text, "{ms} ms");
        }
    }

    #[test]
    fn a_wait_ends_before_the_deadline_with_a_margin() {
        let s = Duration::from_secs;
        // Plenty of time: the wait is what was asked.
        let w = Wait::within(s(30), s(900));
        assert!(!w.cut_short() && w.length() <= s(30) && w.length() > s(29));
        // 15 min asked in a 15 min run: 5 % (45 s) stays free.
        let w = Wait::within(s(900), s(900));
        assert!(w.cut_short() && w.length() <= s(855) && w.length() > s(854));
        // A short run: 10 s stay free.
        let w = Wait::within(s(900), s(30));
        assert!(w.cut_short() && w.length() <= s(20) && w.length() > s(19));
        // A shorter one: half of it.
        let w = Wait::within(s(900), s(18));
        assert!(w.cut_short() && w.length() <= s(9) && w.length() > s(8));
        let w = Wait::within(s(900), s(4));
        assert!(w.length() <= s(2) && w.length() > Duration::from_millis(1900));
        assert!(Wait::within(s(5), Duration::ZERO).over());
    }
}
