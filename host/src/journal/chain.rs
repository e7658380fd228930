//! The journal's hash chain: what makes a changed, removed or reordered
//! line visible (`drhost journal verify`).
//!
//! - Every event carries `prev`: the SHA-256 (hex) of the previous line's
//!   exact bytes, without its newline. The first event's `prev` is the
//!   SHA-256 of [`GENESIS`] followed by the run id.
//! - `run-end` also carries `head`, written last on its line: the SHA-256 of
//!   the run-end line as it would be without `,"head":"…"`, that is of the
//!   line's bytes with that field (the 75 bytes before the closing `}`)
//!   cut out. `head` thus covers every line of the journal through the
//!   chain, run-end included: one value to copy into an incident ticket.
//!
//! The chain shows edits inside a journal; someone who can rewrite the whole
//! file can also recompute it, which only a `head` kept elsewhere (the
//! ticket, the `--json` report) exposes. A journal cut short loses its
//! `run-end`, which [`verify`] reports as incomplete, not as tampered: it is
//! also what a run still going, or a drhost that was killed, leaves.

use serde::Serialize;
use sha2::{Digest, Sha256};

/// What the first event's `prev` hashes, followed by the run id.
pub const GENESIS: &str = "drhost journal chain v1 ";

/// `journal verify` exit code: intact and complete.
pub const EXIT_INTACT: i32 = crate::error::EXIT_OK;
/// `journal verify` exit code: intact as far as it goes, but no `run-end`.
pub const EXIT_INCOMPLETE: i32 = crate::error::EXIT_PLUGIN_FAILED;
/// `journal verify` exit code: the chain is broken (changed, removed or
/// reordered lines): as `verify` reports a tampered plugin.
pub const EXIT_BROKEN: i32 = crate::error::EXIT_REFUSED;

/// The `prev` of a run's first event.
pub fn genesis(run_id: &str) -> String {
    hash(format!("{GENESIS}{run_id}").as_bytes())
}

/// The hex SHA-256 of `bytes`.
pub fn hash(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Seals a serialized run-end object (`{…}`): appends `"head"`, the hash
/// of `line` as given. Returns the sealed line and the head.
pub fn seal(line: &str) -> (String, String) {
    let head = hash(line.as_bytes());
    let sealed = match line.strip_suffix('}') {
        Some(open) => format!("{open},\"head\":\"{head}\"}}"),
        None => line.to_string(),
    };
    (sealed, head)
}

/// The `,"head":"<64 hex>"` a sealed line ends with (before its `}`).
const HEAD_FIELD_LEN: usize = ",\"head\":\"".len() + 64 + 1;

/// How a journal's chain checked out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum State {
    /// Every line follows the one before, and run-end's head matches.
    Ok,
    /// Intact as far as it goes, but there is no run-end (yet).
    Incomplete,
    /// A line does not follow the one before it, or run-end's head does
    /// not match it.
    Broken,
}

/// What `drhost journal verify` reports.
#[derive(Debug, Clone, Serialize)]
pub struct Verdict {
    /// `ok`, `incomplete` or `broken`.
    pub state: State,
    /// The run id the first event names.
    pub run: Option<String>,
    /// Complete lines read.
    pub events: usize,
    /// The last line the chain holds through (all of them when `ok`).
    pub intact_through: usize,
    /// run-end's `head`, when the chain is `ok`.
    pub head: Option<String>,
    /// The first broken line (1-based), when `broken`.
    pub broken_line: Option<usize>,
    /// Why it is broken or incomplete, in words.
    pub reason: Option<String>,
}

impl Verdict {
    /// The exit code `drhost journal verify` ends with.
    pub fn exit_code(&self) -> i32 {
        match self.state {
            State::Ok => EXIT_INTACT,
            State::Incomplete => EXIT_INCOMPLETE,
            State::Broken => EXIT_BROKEN,
        }
    }

    fn broken(run: Option<String>, line: usize, reason: String) -> Verdict {
        Verdict {
            state: State::Broken,
            run,
            events: line,
            intact_through: line.saturating_sub(1),
            head: None,
            broken_line: Some(line),
            reason: Some(reason),
        }
    }
}

/// Checks the chain of a journal's bytes (see the module's documentation).
pub fn verify(journal: &[u8]) -> Verdict {
    let complete = journal.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
    let partial = complete < journal.len();
    let mut run: Option<String> = None;
    let mut expected = String::new();
    let mut ended: Option<(usize, String)> = None;
    let mut count = 0;
    for (index, line) in journal[..complete].split_inclusive(|b| *b == b'\n').enumerate() {
        let line = line.strip_suffix(b"\n").unwrap_or(line);
        let number = index + 1;
        count = number;
        if let Some((end_line, _)) = &ended {
            return Verdict::broken(
                run,
                number,
                format!("line {number} comes after run-end (line {end_line}): lines were added or reordered"),
            );
        }
        let event: serde_json::Value = match serde_json::from_slice(line) {
            Ok(event @ serde_json::Value::Object(_)) => event,
            _ => {
                return Verdict::broken(
                    run,
                    number,
                    format!("line {number} is not a JSON object: it was changed"),
                )
            }
        };
        let this_run = event["run"].as_str().unwrap_or_default().to_string();
        match &run {
            None => {
                expected = genesis(&this_run);
                run = Some(this_run);
            }
            Some(first) if *first != this_run => {
                return Verdict::broken(
                    run.clone(),
                    number,
                    format!("line {number} belongs to another run than line 1: it was changed or copied in"),
                )
            }
            Some(_) => {}
        }
        let Some(prev) = event["prev"].as_str() else {
            return Verdict::broken(
                run,
                number,
                format!("line {number} has no `prev`: the journal was written before drhost chained journals, or the line was changed"),
            );
        };
        if prev != expected {
            let reason = if number == 1 {
                "line 1 does not start the chain of its run: it was changed, or lines before it were removed"
                    .to_string()
            } else {
                format!(
                    "line {number} does not follow line {}: line {} was changed, or lines were removed or reordered around it",
                    number - 1,
                    number - 1
                )
            };
            return Verdict::broken(run, number, reason);
        }
        if event["event"] == "run-end" {
            let text = String::from_utf8_lossy(line);
            let head = event["head"].as_str().unwrap_or_default().to_string();
            let sealed = text.len() > HEAD_FIELD_LEN + 1
                && text.ends_with(&format!(",\"head\":\"{head}\"}}"))
                && head.len() == 64;
            let unsealed = sealed.then(|| {
                let cut = text.len() - 1 - HEAD_FIELD_LEN;
                format!("{}}}", &text[..cut])
            });
            match unsealed {
                Some(unsealed) if hash(unsealed.as_bytes()) == head => ended = Some((number, head)),
                _ => {
                    return Verdict::broken(
                        run,
                        number,
                        format!("line {number} (run-end) does not match its `head`: it was changed"),
                    )
                }
            }
        }
        expected = hash(line);
    }
    match ended {
        Some((_, head)) if !partial => Verdict {
            state: State::Ok,
            run,
            events: count,
            intact_through: count,
            head: Some(head),
            broken_line: None,
            reason: None,
        },
        Some((end_line, _)) => Verdict::broken(
            run,
            count + 1,
            format!("there are bytes after run-end (line {end_line}): the journal was appended to"),
        ),
        None => {
            Verdict {
                state: State::Incomplete,
                run,
                events: count,
                intact_through: count,
                head: None,
                broken_line: None,
                reason: Some(if count == 0 {
                    "the journal has no complete line".to_string()
                } else {
                    format!("no run-end: the run is still going, drhost was killed, or the journal was cut after line {count}")
                }),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A journal of five events written by [`crate::journal::Journal`].
    fn written() -> Vec<u8> {
        let dir = tempfile::tempdir().unwrap();
        let journal = crate::journal::Journal::create(dir.path(), "run-1").unwrap();
        journal.record("run-start", serde_json::json!({}));
        for n in 0..3 {
            journal.record("log", serde_json::json!({ "message": format!("line {n}") }));
        }
        journal.record("run-end", serde_json::json!({ "status": "recovered" }));
        let head = journal.head().unwrap();
        let bytes = std::fs::read(journal.path().unwrap()).unwrap();
        assert_eq!(verify(&bytes).head.as_deref(), Some(head.as_str()));
        bytes
    }

    fn lines(bytes: &[u8]) -> Vec<Vec<u8>> {
        bytes.split_inclusive(|b| *b == b'\n').map(<[u8]>::to_vec).collect()
    }

    #[test]
    fn a_written_journal_verifies_and_every_change_is_caught() {
        let bytes = written();
        let ok = verify(&bytes);
        assert_eq!((ok.state.clone(), ok.events), (State::Ok, 5), "{ok:?}");

        // One byte changed in line 3: line 4 no longer follows it.
        let mut edited = lines(&bytes);
        let at = edited[2].windows(6).position(|w| w == b"line 1").unwrap();
        edited[2][at + 5] = b'7';
        let broken = verify(&edited.concat());
        assert_eq!((broken.state, broken.broken_line), (State::Broken, Some(4)));
        assert!(broken.reason.unwrap().contains("line 3 was changed"));

        let mut removed = lines(&bytes);
        removed.remove(2);
        assert_eq!(verify(&removed.concat()).broken_line, Some(3));

        let mut reordered = lines(&bytes);
        reordered.swap(1, 2);
        assert_eq!(verify(&reordered.concat()).broken_line, Some(2));

        // run-end's own status changed: its head no longer matches.
        let text = String::from_utf8(bytes.clone())
            .unwrap()
            .replace("recovered", "failed!!!");
        let broken = verify(text.as_bytes());
        assert_eq!(broken.broken_line, Some(5), "{broken:?}");

        let cut = lines(&bytes)[..3].concat();
        let incomplete = verify(&cut);
        assert_eq!((incomplete.state, incomplete.intact_through), (State::Incomplete, 3));
        let mut appended = bytes.clone();
        appended.extend_from_slice(lines(&bytes)[1].as_slice());
        assert_eq!(verify(&appended).broken_line, Some(6));
    }
}
