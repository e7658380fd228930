//! The live elapsed counter: while a step runs longer than [`LIVE_AFTER`],
//! one line at the bottom of the terminal says which step and for how long,
//! redrawn in place every [`LIVE_TICK`]. Only on a terminal (stderr), never
//! in a pipe or in the journal. Every console line first erases it, and a
//! prompt holds it, so it never lands in the middle of other text.
//!
//! It owns the open steps as the console saw them and the one redraw
//! thread; it does not decide what else is printed.

use std::io::Write;
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};

use super::style::Style;
use super::{plugin_text, style};

/// A step shows its counter once it has run this long.
pub const LIVE_AFTER: Duration = Duration::from_secs(2);
/// How often the counter is redrawn.
pub const LIVE_TICK: Duration = Duration::from_millis(250);
/// Characters of a step name in the counter (so the line never wraps,
/// which would leave a copy behind on every redraw).
const NAME_WIDTH: usize = 48;

/// The counter's state; shared by every clone of the console.
pub(super) struct Live {
    state: Mutex<State>,
    style: Style,
}

#[derive(Default)]
struct State {
    /// Steps open, innermost last.
    open: Vec<(String, Instant)>,
    /// Whether the counter is on the screen now, and what it says.
    drawn: bool,
    shown: String,
    /// While a prompt waits for the operator.
    held: bool,
    /// The run is over: never draw again.
    ended: bool,
}

impl Live {
    /// A counter drawn on stderr in `style`, with its redraw thread; `None`
    /// when the thread cannot be started (then there is simply no counter).
    pub(super) fn start(style: Style) -> Option<Arc<Live>> {
        let live = Arc::new(Live {
            state: Mutex::new(State::default()),
            style,
        });
        let weak: Weak<Live> = Arc::downgrade(&live);
        std::thread::Builder::new()
            .name("drhost-live".into())
            .spawn(move || loop {
                std::thread::sleep(LIVE_TICK);
                match weak.upgrade() {
                    Some(live) if live.tick() => {}
                    _ => return,
                }
            })
            .ok()?;
        Some(live)
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Writes one whole line on stderr, erasing the counter first.
    pub(super) fn line(&self, text: std::fmt::Arguments<'_>) {
        let mut state = self.lock();
        let mut err = std::io::stderr().lock();
        erase(&mut state, &mut err);
        let _ = writeln!(err, "{text}");
    }

    /// A step began.
    pub(super) fn started(&self, name: &str) {
        self.lock().open.push((name.to_string(), Instant::now()));
    }

    /// A step ended (the innermost open one of that name).
    pub(super) fn ended(&self, name: &str) {
        let mut state = self.lock();
        if let Some(i) = state.open.iter().rposition(|(n, _)| n == name) {
            state.open.remove(i);
        }
    }

    /// Runs `f` (a prompt) with the counter erased and held.
    pub(super) fn hold<T>(&self, f: impl FnOnce() -> T) -> T {
        {
            let mut state = self.lock();
            erase(&mut state, &mut std::io::stderr().lock());
            state.held = true;
        }
        let out = f();
        self.lock().held = false;
        out
    }

    /// The run is over: erase the counter for good.
    pub(super) fn end(&self) {
        let mut state = self.lock();
        erase(&mut state, &mut std::io::stderr().lock());
        state.ended = true;
    }

    /// Redraws the counter when the innermost step has run long enough;
    /// `false` once the run is over.
    fn tick(&self) -> bool {
        let mut state = self.lock();
        if state.ended {
            return false;
        }
        if state.held {
            return true;
        }
        let Some((name, since)) = state.open.last() else {
            erase(&mut state, &mut std::io::stderr().lock());
            return true;
        };
        let ran = since.elapsed();
        if ran < LIVE_AFTER {
            return true;
        }
        let mut shown: String = plugin_text(name).chars().take(NAME_WIDTH).collect();
        if name.chars().count() > NAME_WIDTH {
            shown.push_str(self.style.more());
        }
        let plain = self.style.uncoloured();
        let text = format!("  {} {shown} {} {}", plain.step(), plain.more(), whole_seconds(ran));
        if state.drawn && state.shown == text {
            return true;
        }
        let mut err = std::io::stderr().lock();
        let _ = write!(err, "\r\u{1b}[K{}", self.style.dim(&text));
        let _ = err.flush();
        state.drawn = true;
        state.shown = text;
        true
    }
}

/// `12s`, `3m05s`: a counter that ticks in whole seconds.
fn whole_seconds(d: Duration) -> String {
    match d.as_secs() {
        s if s < 60 => format!("{s}s"),
        s => style::duration(Duration::from_secs(s)),
    }
}

impl Drop for Live {
    fn drop(&mut self) {
        let state = self.state.get_mut().unwrap_or_else(|p| p.into_inner());
        erase(state, &mut std::io::stderr().lock());
    }
}

/// Erases the counter when it is on the screen.
fn erase(state: &mut State, err: &mut impl Write) {
    if state.drawn {
        let _ = write!(err, "\r\u{1b}[K");
        let _ = err.flush();
        state.drawn = false;
    }
}
