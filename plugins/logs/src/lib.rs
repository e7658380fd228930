//! `logs`: the runbook's quick reference "view logs"
//! (`docker-compose -f docker-compose.phase2.yml logs -f`) and its
//! diagnosis grep (`grep -i "database\|connection"`).
//!
//! Reads the newest lines of every service of the compose project (or the
//! ones `services` names) through the compose capability, merges them by
//! the time the engine took each line, keeps those newer than `since` and
//! matching `grep`, and shows the newest `lines` of them as one table.
//! With `follow=true` it then prints each new line as it comes (polling
//! every `interval`) until the operator interrupts the run (Ctrl-C: the run
//! ends `interrupted`, exit 130) or the run's deadline is near (the run
//! then ends normally, saying so). While following, lines are printed in
//! time order across services one round behind (a line is printed in the
//! first round that began after the engine took it), so the Docker
//! Engine's clock and this machine's are taken to agree. Changes nothing:
//! it needs only `read` on the compose target.
//!
//! `grep` is not a regular expression: it is one or more substrings
//! separated by `|` (the runbook's `database\|connection` is read the same
//! way), matched without regard to case; a line matches when it contains
//! any of them.

use std::collections::{BTreeMap, HashSet};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use drhost_sdk::compose::Project;
use drhost_sdk::prelude::*;

struct Logs;

/// Most rows the table shows (the host's table limit).
const MAX_LINES: u32 = 500;
/// Lines read per service when a filter (`grep`, `since`) may drop most of them.
const FILTERED_SCAN: u32 = 5000;
/// Lines read per service at each poll while following.
const FOLLOW_TAIL: u32 = 500;

/// One log line: when the engine took it (seconds and nanoseconds since the
/// epoch, UTC), the service, the time as compose printed it, the text.
#[derive(Debug, Clone)]
struct Line {
    at: (i64, u32),
    service: String,
    time: String,
    text: String,
}

/// Days since 1970-01-01 of a civil date (proleptic Gregorian).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `2026-11-30T18:34:43.186719830Z` (RFC 3339 in UTC, any number of
/// fraction digits) as seconds and nanoseconds since the epoch.
fn parse_time(text: &str) -> Option<(i64, u32)> {
    let text = text.strip_suffix('Z')?;
    let (date, time) = text.split_once('T')?;
    let mut date = date.splitn(3, '-').map(|p| p.parse::<i64>().ok());
    let (y, mo, d) = (date.next()??, date.next()??, date.next()??);
    let (hms, fraction) = time.split_once('.').unwrap_or((time, ""));
    let mut hms = hms.splitn(3, ':').map(|p| p.parse::<i64>().ok());
    let (h, mi, s) = (hms.next()??, hms.next()??, hms.next()??);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || s > 60 {
        return None;
    }
    if fraction.len() > 9 || !fraction.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let nanos = if fraction.is_empty() {
        0
    } else {
        fraction.parse::<u32>().ok()? * 10u32.pow(9 - fraction.len() as u32)
    };
    Some((days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + s, nanos))
}

/// A service's lines as the capability returns them (`TIME TEXT`), oldest
/// first; a line without a time (none is expected) takes the one before it.
fn parse_lines(service: &str, raw: Vec<String>) -> Vec<Line> {
    let mut last = ((0, 0), String::from("-"));
    raw.into_iter()
        .map(|l| {
            let (time, text) = l.split_once(' ').unwrap_or((l.as_str(), ""));
            match parse_time(time) {
                Some(at) => {
                    last = (at, time.to_string());
                    Line {
                        at,
                        service: service.into(),
                        time: time.into(),
                        text: text.into(),
                    }
                }
                None => Line {
                    at: last.0,
                    service: service.into(),
                    time: last.1.clone(),
                    text: l.clone(),
                },
            }
        })
        .collect()
}

/// The `grep` filter: `|`-separated substrings (a `\` before a `|` is
/// dropped, as in the runbook's `database\|connection`), lower-cased.
fn patterns(grep: &str) -> Vec<String> {
    grep.split('|')
        .map(|p| p.strip_suffix('\\').unwrap_or(p).trim().to_lowercase())
        .filter(|p| !p.is_empty())
        .collect()
}

fn matches(line: &Line, patterns: &[String]) -> bool {
    if patterns.is_empty() {
        return true;
    }
    let lower = line.text.to_lowercase();
    patterns.iter().any(|p| lower.contains(p.as_str()))
}

/// Now, as seconds and nanoseconds since the epoch.
fn now() -> (i64, u32) {
    let d = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    (d.as_secs() as i64, d.subsec_nanos())
}

/// `at` minus `d`.
fn before(at: (i64, u32), d: Duration) -> (i64, u32) {
    let total = at.0 as i128 * 1_000_000_000 + at.1 as i128 - d.as_nanos() as i128;
    (
        total.div_euclid(1_000_000_000) as i64,
        total.rem_euclid(1_000_000_000) as u32,
    )
}

struct Settings {
    services: Vec<String>,
    lines: u32,
    since: Option<Duration>,
    grep: Vec<String>,
    follow: bool,
    interval: Duration,
}

fn settings(params: &Params) -> Result<Settings, Failure> {
    let lines: u32 = params.parse("lines")?;
    if lines == 0 || lines > MAX_LINES {
        return Err(
            fail(format!("--param lines={lines}: show between 1 and {MAX_LINES} lines"))
                .hint("pass --param lines=100, and --param grep=… or since=… to narrow them down"),
        );
    }
    let since = match params.optional("since")? {
        Some(_) => Some(params.duration("since")?),
        None => None,
    };
    let follow = match params.get("follow")? {
        "true" | "yes" => true,
        "false" | "no" | "" => false,
        other => {
            return Err(fail(format!("--param follow={other}: not true or false")).hint("pass --param follow=true"))
        }
    };
    let interval = params.duration("interval")?.max(Duration::from_millis(200));
    Ok(Settings {
        services: params
            .get("services")?
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect(),
        lines,
        since,
        grep: patterns(params.get("grep")?),
        follow,
        interval,
    })
}

/// The services to read: those named, else every one `ps` lists (in its
/// order), each once.
fn services(project: &Project, s: &Settings, step: &Step) -> Result<Vec<String>, Failure> {
    if !s.services.is_empty() {
        return Ok(s.services.clone());
    }
    let states = project.ps().map_err(|e| Failure::from(e).in_step(step.name()))?;
    let mut names: Vec<String> = Vec::new();
    for state in states {
        if !names.contains(&state.service) {
            names.push(state.service);
        }
    }
    Ok(names)
}

/// What has been printed of each service while following: the newest time
/// seen and the lines at exactly that time (so a poll does not print them again).
#[derive(Default)]
struct Seen(BTreeMap<String, ((i64, u32), HashSet<String>)>);

impl Seen {
    fn mark(&mut self, line: &Line) {
        let entry = self
            .0
            .entry(line.service.clone())
            .or_insert_with(|| ((0, 0), HashSet::new()));
        if line.at > entry.0 {
            *entry = (line.at, HashSet::new());
        }
        if line.at == entry.0 {
            entry.1.insert(line.text.clone());
        }
    }

    fn is_new(&self, line: &Line) -> bool {
        match self.0.get(&line.service) {
            None => true,
            Some((at, texts)) => line.at > *at || (line.at == *at && !texts.contains(&line.text)),
        }
    }
}

fn shown(line: &Line) -> String {
    format!("{} {} | {}", line.time, line.service, line.text)
}

impl Plugin for Logs {
    fn describe() -> Manifest {
        manifest("logs", env!("CARGO_PKG_VERSION"), "Quick reference 'view logs': the newest lines of every service of the compose project, merged by time, filtered with grep, optionally followed; changes nothing")
            .param("target", "the compose target label ([targets.compose.LABEL])", Some("toolboxai"))
            .param("services", "services to read, comma-separated (empty: every service of the project)", Some(""))
            .param("lines", "how many lines to show in all, the newest (1 to 500)", Some("100"))
            .param("since", "only lines newer than this, e.g. 10m, 1h (empty: no limit)", Some(""))
            .param("grep", "keep lines containing any of these |-separated substrings, case-insensitive (not a regex), e.g. database|connection", Some(""))
            .param("follow", "true: then print new lines as they come, until Ctrl-C or the run's deadline", Some("false"))
            .param("interval", "how often to look for new lines while following", Some("2s"))
            .need("compose", "read:toolboxai", Access::Read, "lists the project's services and reads their logs")
            .build()
    }

    fn run(params: Params) -> Result<Outcome, Failure> {
        let s = settings(&params)?;
        let label = params.get("target")?;
        let step = Step::start(format!("read the logs of compose target {label}"));
        let project = Project::open(label).map_err(|e| Failure::from(e).in_step(step.name()))?;
        let services = services(&project, &s, &step)?;
        if services.is_empty() {
            step.fail();
            return Err(fail(format!("compose target `{label}` has no containers, so no logs"))
                .in_step("read the logs")
                .hint("bring the project up first (full-restart), or name services with --param services="));
        }
        let filtered = !s.grep.is_empty() || s.since.is_some();
        let tail = if filtered { FILTERED_SCAN } else { s.lines };
        let oldest = s.since.map(|d| before(now(), d));
        let mut all: Vec<Line> = Vec::new();
        let mut read = 0usize;
        for service in &services {
            let raw = project
                .logs(service, tail)
                .map_err(|e| Failure::from(e).in_step(step.name()))?;
            read += raw.len();
            all.extend(parse_lines(service, raw));
        }
        let mut seen = Seen::default();
        for line in &all {
            seen.mark(line);
        }
        all.retain(|l| oldest.is_none_or(|o| l.at >= o) && matches(l, &s.grep));
        all.sort_by_key(|l| l.at);
        let skip = all.len().saturating_sub(s.lines as usize);
        let shown_lines: Vec<Line> = all.into_iter().skip(skip).collect();
        step.note(format!(
            "{} of {read} lines read from {} service(s) shown",
            shown_lines.len(),
            services.len()
        ));
        step.ok();
        let mut logs = table("logs", &["TIME", "SERVICE", "LINE"]);
        for l in &shown_lines {
            logs = logs.row(&[l.time.as_str(), l.service.as_str(), l.text.as_str()]);
        }
        let filter = if s.grep.is_empty() {
            String::new()
        } else {
            format!(" matching {}", s.grep.join(" or "))
        };
        let mut result = outcome(format!(
            "{} line(s){filter} from {}",
            shown_lines.len(),
            services.join(", ")
        ))
        .fact("services", services.join(","))
        .fact("lines", shown_lines.len())
        .fact("read", read);
        if !s.follow {
            return Ok(result.table(logs));
        }

        // Follow: the lines shown so far go to the log too, then every new one.
        for l in &shown_lines {
            info(shown(l));
        }
        let wait = Wait::up_to(Duration::MAX);
        let step = Step::start(format!("follow the logs ({}; Ctrl-C to stop)", wait.plan_text()));
        let mut followed = 0usize;
        let mut gaps: Vec<String> = Vec::new();
        while !wait.over() {
            wait.sleep(s.interval);
            if wait.over() {
                break;
            }
            // Lines taken from the second this round began are held back
            // to the next round: a service read earlier in this round may
            // still write lines older than those of one read later.
            let round = now();
            let mut new: Vec<Line> = Vec::new();
            for service in &services {
                let raw = project
                    .logs(service, FOLLOW_TAIL)
                    .map_err(|e| Failure::from(e).in_step(step.name()))?;
                let lines = parse_lines(service, raw);
                let fresh: Vec<Line> = lines.into_iter().filter(|l| seen.is_new(l) && l.at < round).collect();
                if fresh.len() >= FOLLOW_TAIL as usize && !gaps.contains(service) {
                    warn(format!(
                        "{service} wrote more than {FOLLOW_TAIL} lines in {}: older ones were skipped",
                        duration_text(s.interval)
                    ));
                    gaps.push(service.clone());
                }
                new.extend(fresh);
            }
            new.sort_by_key(|l| l.at);
            for l in &new {
                seen.mark(l);
                if matches(l, &s.grep) {
                    info(shown(l));
                    followed += 1;
                }
            }
        }
        step.note(format!("{followed} new line(s) in {}", wait.waited_text()));
        step.ok();
        result.summary = format!(
            "{} line(s){filter} from {}, then {followed} new while following for {}; stopped before the run's deadline",
            shown_lines.len(),
            services.join(", "),
            duration_text(wait.waited())
        );
        Ok(result.fact("followed", followed).table(logs))
    }
}

export_plugin!(Logs);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_parse_as_the_engine_writes_them() {
        assert_eq!(parse_time("1970-01-01T00:00:00Z"), Some((0, 0)));
        assert_eq!(
            parse_time("2026-11-30T18:34:43.186719830Z"),
            Some((1_796_063_683, 186_719_830))
        );
        assert_eq!(parse_time("2026-11-30T18:34:43.5Z"), Some((1_796_063_683, 500_000_000)));
        for bad in [
            "",
            "x",
            "2026-11-30T18:34:43",
            "2026-13-30T18:34:43Z",
            "2026-11-30T18:34:43.1234567890Z",
        ] {
            assert_eq!(parse_time(bad), None, "{bad}");
        }
    }

    #[test]
    fn grep_is_substrings_separated_by_bars() {
        assert_eq!(patterns("Database\\|connection"), ["database", "connection"]);
        assert_eq!(patterns("a||b| "), ["a", "b"]);
        assert!(patterns("").is_empty());
        let line = |text: &str| Line {
            at: (0, 0),
            service: "s".into(),
            time: "t".into(),
            text: text.into(),
        };
        assert!(matches(
            &line("DB connection refused"),
            &patterns("database|connection")
        ));
        assert!(!matches(&line("tick 3"), &patterns("database|connection")));
        assert!(matches(&line("a.b"), &patterns("a.b")) && !matches(&line("axb"), &patterns("a.b")));
    }
}
