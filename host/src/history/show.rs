//! `drhost show RUN [--json] [--follow]`: one journal, as a timeline or as
//! its events in JSON, read once or followed while it is written. Lines go
//! to the caller's `emit` (stdout and stderr are the binary's business);
//! following sleeps between reads ([`POLL`]) and ends at `run-end`, or
//! when no drhost writes the journal any more.

use std::io::{Read, Seek, SeekFrom};
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::{parse_event, BadLine, JournalLines, Timeline};
use crate::error::{Error, Result};
use crate::journal::writer_alive;

/// How often a followed journal is read again.
pub const POLL: Duration = Duration::from_millis(200);
/// Bytes read from a followed journal at a time.
const CHUNK: u64 = 1 << 20;
/// How long a followed journal is quiet before held-back polling lines are shown.
const QUIET: Duration = Duration::from_secs(1);

/// How `drhost show` prints a journal.
#[derive(Debug, Clone, Copy, Default)]
pub struct ShowOptions {
    /// The events as JSON: one array, or with `follow` one event a line.
    pub json: bool,
    /// Keep reading until `run-end` (or until no drhost writes the journal).
    pub follow: bool,
}

/// One line of `drhost show`'s output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Line {
    /// For stdout: the timeline, or JSON.
    Out(String),
    /// For stderr: a journal line that is not an event, and the like.
    Warn(String),
}

/// Prints the journal at `path` through `emit` (see the module's documentation).
pub fn show(path: &Path, options: ShowOptions, emit: &mut dyn FnMut(Line)) -> Result<()> {
    let warn_bad = |bad: &BadLine| {
        Line::Warn(format!(
            "{} line {} is not a journal event ({}); skipped",
            path.display(),
            bad.line,
            bad.reason
        ))
    };
    if !options.follow {
        return show_once(path, options.json, emit, &warn_bad);
    }
    let mut timeline = Timeline::new();
    let ended = follow(path, &mut |seen| match seen {
        Followed::Event(event) if options.json => emit(Line::Out(event.to_string())),
        Followed::Event(event) => timeline.push(event).into_iter().for_each(|l| emit(Line::Out(l))),
        Followed::Bad(bad) => emit(warn_bad(&bad)),
        Followed::Quiet if options.json => {}
        Followed::Quiet => timeline.flush().into_iter().for_each(|l| emit(Line::Out(l))),
    })?;
    if !options.json {
        let writer = (ended == FollowEnd::WriterGone).then_some(false);
        timeline.finish(writer).into_iter().for_each(|l| emit(Line::Out(l)));
    }
    Ok(())
}

/// The journal as it is now, streamed: the timeline (and whether the run
/// still goes on), or the events as one JSON array. A file whose first
/// line is not an event is not a journal (exit 2, before anything is printed).
fn show_once(path: &Path, json: bool, emit: &mut dyn FnMut(Line), warn_bad: &dyn Fn(&BadLine) -> Line) -> Result<()> {
    let mut timeline = Timeline::new();
    // JSON: each event is printed once the next shows whether a comma follows.
    let mut held: Option<String> = None;
    for line in JournalLines::open(path)? {
        match line? {
            (1, Err(bad)) => {
                return Err(Error::Usage(format!(
                    "{} is not a drhost journal (line 1: {}): `drhost runs` lists the runs",
                    path.display(),
                    bad.reason
                )))
            }
            (_, Err(bad)) => emit(warn_bad(&bad)),
            (_, Ok(event)) if json => {
                let text = serde_json::to_string(&event).unwrap_or_default();
                match held.replace(text) {
                    Some(before) => emit(Line::Out(format!("  {before},"))),
                    None => emit(Line::Out("[".into())),
                }
            }
            (_, Ok(event)) => timeline.push(&event).into_iter().for_each(|l| emit(Line::Out(l))),
        }
    }
    if json {
        match held {
            Some(last) => emit(Line::Out(format!("  {last}\n]"))),
            None => emit(Line::Out("[]".into())),
        }
        return Ok(());
    }
    let writer = if timeline.ended() { None } else { writer_alive(path) };
    timeline.finish(writer).into_iter().for_each(|l| emit(Line::Out(l)));
    Ok(())
}

/// What [`follow`] saw.
#[derive(Debug)]
pub enum Followed<'a> {
    /// An event, as soon as its line is complete.
    Event(&'a Value),
    /// A complete line that is not an event.
    Bad(BadLine),
    /// Nothing new for a second (said once per quiet spell).
    Quiet,
}

/// Why [`follow`] stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FollowEnd {
    /// `run-end` was read.
    RunEnded,
    /// No drhost writes the journal any more, and it has no `run-end`.
    WriterGone,
}

/// Reads the journal at `path` from its start and then what is appended,
/// every [`POLL`], handing each complete line to `seen`; returns at
/// `run-end`, or once no drhost holds the journal
/// ([`crate::journal::writer_alive`]) and its last lines are read.
pub fn follow(path: &Path, seen: &mut dyn FnMut(Followed<'_>)) -> Result<FollowEnd> {
    let unreadable = |e: std::io::Error| Error::Usage(format!("cannot read the journal {}: {e}", path.display()));
    let mut file = std::fs::File::open(path).map_err(unreadable)?;
    let (mut offset, mut pending, mut number) = (0u64, Vec::<u8>::new(), 0usize);
    let mut last_news = Instant::now();
    let mut quiet_said = false;
    let mut writer_gone = false;
    loop {
        file.seek(SeekFrom::Start(offset)).map_err(unreadable)?;
        let read = (&mut file).take(CHUNK).read_to_end(&mut pending).map_err(unreadable)? as u64;
        offset += read;
        let complete = pending.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
        for line in pending[..complete].split_inclusive(|b| *b == b'\n') {
            number += 1;
            match parse_event(&String::from_utf8_lossy(line)) {
                Ok(event) => {
                    seen(Followed::Event(&event));
                    if event["event"] == "run-end" {
                        return Ok(FollowEnd::RunEnded);
                    }
                }
                Err(reason) if number == 1 => {
                    return Err(Error::Usage(format!(
                        "{} is not a drhost journal (line 1: {reason}): `drhost runs` lists the runs",
                        path.display()
                    )))
                }
                Err(reason) => seen(Followed::Bad(BadLine { line: number, reason })),
            }
        }
        pending.drain(..complete);
        if complete > 0 {
            last_news = Instant::now();
            quiet_said = false;
        }
        if read == CHUNK {
            continue; // more is there already
        }
        if writer_gone {
            // The writer was gone before this last read: nothing more will come.
            return Ok(FollowEnd::WriterGone);
        }
        if read == 0 {
            writer_gone = writer_alive(path) != Some(true);
            if writer_gone {
                continue;
            }
            if !quiet_said && last_news.elapsed() >= QUIET {
                quiet_said = true;
                seen(Followed::Quiet);
            }
        }
        std::thread::sleep(POLL);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn following_a_journal_nobody_writes_reads_it_once_and_stops() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.jsonl");
        std::fs::write(
            &path,
            "{\"ts\":\"2026-11-30T10:00:00Z\",\"event\":\"step-start\",\"step\":\"s\"}\nnot json\n{\"ts\":\"2026",
        )
        .unwrap();
        let mut lines = Vec::new();
        let started = Instant::now();
        show(
            &path,
            ShowOptions {
                json: false,
                follow: true,
            },
            &mut |l| lines.push(l),
        )
        .unwrap();
        assert!(started.elapsed() < Duration::from_secs(2));
        assert_eq!(lines[0], Line::Out("+00:00.000  ▸ s".into()));
        assert!(
            matches!(&lines[1], Line::Warn(w) if w.contains("line 2 is not a journal event")),
            "{lines:?}"
        );
        assert!(
            matches!(&lines[2], Line::Out(l) if l.contains("ends without run-end")),
            "{lines:?}"
        );
        assert_eq!(lines.len(), 3);
    }

    #[test]
    fn following_a_journal_being_written_returns_at_run_end() {
        let dir = tempfile::tempdir().unwrap();
        let journal = crate::journal::Journal::create(dir.path(), "r").unwrap();
        let path = journal.path().unwrap().to_owned();
        journal.record("step-start", serde_json::json!({ "step": "s" }));
        let writer = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(600));
            journal.record("run-end", serde_json::json!({ "status": "recovered", "exit_code": 0 }));
            std::thread::sleep(Duration::from_secs(3));
        });
        let started = Instant::now();
        let mut lines = Vec::new();
        show(
            &path,
            ShowOptions {
                json: true,
                follow: true,
            },
            &mut |l| lines.push(l),
        )
        .unwrap();
        let took = started.elapsed();
        assert!(
            took >= Duration::from_millis(500) && took < Duration::from_secs(2),
            "{took:?}"
        );
        assert_eq!(lines.len(), 2, "{lines:?}");
        assert!(
            matches!(&lines[1], Line::Out(l) if l.contains("\"run-end\"")),
            "{lines:?}"
        );
        writer.join().unwrap();
    }
}
