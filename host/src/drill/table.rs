//! The drill's result as the operator reads it: one table of the plugin
//! runs, one of the probes, one of the targets, and the verdict.

use std::fmt::Write as _;

use super::{DrillReport, Measured};
use crate::console::plugin_text;
use crate::history::human_duration;

fn ms(ms: u64) -> String {
    human_duration(ms as f64)
}

fn verdict(m: &Measured) -> &'static str {
    match m.met {
        Some(true) => "met",
        Some(false) => "MISSED",
        None => "not measured",
    }
}

/// Renders `report` (no colour: it may go to a file or a ticket).
pub(crate) fn render(report: &DrillReport) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "drill {} (started {})", report.drill, report.started);
    if let Some(journal) = &report.journal {
        let _ = writeln!(out, "  journal: {}", journal.display());
    }
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "  {:<9} {:<46} {:<11} {:>4} {:>9}",
        "run", "id", "status", "exit", "wall"
    );
    let before = report.before.as_ref().map(|run| ("before", Some(run)));
    let runs = before
        .into_iter()
        .chain([("fault", report.fault.as_ref()), ("recovery", report.recovery.as_ref())]);
    for (role, run) in runs {
        match run {
            Some(run) => {
                let _ = writeln!(
                    out,
                    "  {:<9} {:<46} {:<11} {:>4} {:>9}",
                    role,
                    plugin_text(&run.run_id),
                    run.status,
                    run.exit_code,
                    ms(run.wall_ms)
                );
            }
            None if role == "fault" && report.no_fault => {
                let _ = writeln!(out, "  {role:<9} (no fault: this drill breaks nothing)");
            }
            None => {
                let _ = writeln!(out, "  {role:<9} (not run)");
            }
        }
    }
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "  {:<44} {:>7} {:>6} {:>13} {:>11} {:>11}",
        "probe", "samples", "failed", "healthy after", "lost writes", "loss window"
    );
    for p in &report.probes {
        let healthy = p.healthy_after_ms.map_or("never".to_string(), ms);
        let (lost, window) = match (&p.loss, &p.read_back_error) {
            (Some(l), _) => (format!("{}/{}", l.lost, l.acknowledged), ms(l.window_ms)),
            (None, Some(_)) => ("unread".to_string(), "-".to_string()),
            (None, None) => ("-".to_string(), "-".to_string()),
        };
        let _ = writeln!(
            out,
            "  {:<44} {:>7} {:>6} {:>13} {:>11} {:>11}",
            plugin_text(&p.probe),
            p.samples,
            p.failed,
            healthy,
            lost,
            window
        );
        if let Some(why) = &p.read_back_error {
            let _ = writeln!(out, "    read-back failed: {}", plugin_text(why));
        }
    }
    let _ = writeln!(out);
    let _ = writeln!(out, "  {:<7} {:>10} {:>10}  verdict", "target", "goal", "measured");
    for (label, m) in [("RTO", &report.rto), ("RPO", &report.rpo)] {
        let measured = m.measured_ms.map_or("-".to_string(), ms);
        let _ = writeln!(
            out,
            "  {:<7} {:>10} {:>10}  {}",
            label,
            ms(m.target_ms),
            measured,
            verdict(m)
        );
        if let Some(why) = &m.unmeasured {
            let _ = writeln!(out, "    {}", plugin_text(why));
        }
    }
    if let Some(run) = &report.recovery {
        let _ = writeln!(out, "  recovery plugin wall time: {}", ms(run.wall_ms));
    }
    for note in &report.notes {
        let _ = writeln!(out, "  note: {note}");
    }
    let _ = writeln!(out);
    let _ = writeln!(out, "{}", plugin_text(&report.summary));
    out
}

/// One drill of `drhost drill --all`, for the summary table.
#[derive(Debug, Clone)]
pub struct SummaryLine {
    /// The drill's name.
    pub drill: String,
    /// Its result, when it ran (or failed once its journal existed).
    pub report: Option<DrillReport>,
    /// Why it did not start (a refused plugin, a probe that cannot start).
    pub error: Option<String>,
    /// Where its report was written (`--report-dir`).
    pub report_file: Option<std::path::PathBuf>,
}

/// `38.2 s ≤ 15m 00s`, `16m 40s > 15m 00s`, `-` (not measured).
fn against(m: &Measured) -> String {
    match (m.measured_ms, m.met) {
        (Some(v), Some(true)) => format!("{} ≤ {}", ms(v), ms(m.target_ms)),
        (Some(v), Some(false)) => format!("{} > {}", ms(v), ms(m.target_ms)),
        (Some(v), None) => ms(v),
        (None, Some(false)) => format!("unmeasured (≤ {})", ms(m.target_ms)),
        (None, _) => "-".to_string(),
    }
}

/// The one table `drhost drill --all` ends with: scenario, RTO, RPO,
/// verdict, and where each drill's report (or journal) is.
pub fn summary(lines: &[SummaryLine]) -> String {
    let mut rows: Vec<[String; 5]> = vec![[
        "scenario".into(),
        "RTO".into(),
        "RPO".into(),
        "verdict".into(),
        "report".into(),
    ]];
    for line in lines {
        let where_ = |r: Option<&DrillReport>| match (&line.report_file, r.and_then(|r| r.journal.as_ref())) {
            (Some(file), _) => file.display().to_string(),
            (None, Some(journal)) => format!("drhost report {}", journal.display()),
            (None, None) => "-".to_string(),
        };
        rows.push(match (&line.report, &line.error) {
            (Some(r), _) => [
                plugin_text(&line.drill).into_owned(),
                against(&r.rto),
                match r.rpo.measured_ms {
                    None if r.rpo.met.is_none() => "- (no write probe)".to_string(),
                    _ => against(&r.rpo),
                },
                match r.status {
                    super::DrillStatus::Passed => "passed".to_string(),
                    super::DrillStatus::Missed => "MISSED".to_string(),
                    super::DrillStatus::Failed => format!("FAILED (exit {})", r.exit_code),
                },
                where_(Some(r)),
            ],
            (None, error) => [
                plugin_text(&line.drill).into_owned(),
                "-".into(),
                "-".into(),
                format!("NOT RUN: {}", plugin_text(error.as_deref().unwrap_or("?"))),
                "-".into(),
            ],
        });
    }
    let widths: Vec<usize> = (0..4)
        .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for row in &rows {
        let mut line = String::new();
        for (c, width) in widths.iter().enumerate() {
            let _ = write!(line, "{:<width$}  ", row[c]);
        }
        line.push_str(&row[4]);
        let _ = writeln!(out, "{}", line.trim_end());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::drill::{DrillStatus, Measured};

    fn report(status: DrillStatus, rto: Option<u64>, rpo: Option<u64>, rpo_met: Option<bool>) -> DrillReport {
        DrillReport {
            drill: "d".into(),
            run_id: "drill-d-1".into(),
            journal: Some("/j/drills/drill-d-1.jsonl".into()),
            started: String::new(),
            status,
            exit_code: if status == DrillStatus::Passed { 0 } else { 6 },
            summary: String::new(),
            rto: Measured {
                target_ms: 900_000,
                measured_ms: rto,
                met: rto.map(|r| r <= 900_000),
                unmeasured: None,
            },
            rpo: Measured {
                target_ms: 300_000,
                measured_ms: rpo,
                met: rpo_met,
                unmeasured: None,
            },
            lost_writes: None,
            before: None,
            fault: None,
            no_fault: false,
            recovery: None,
            probes: Vec::new(),
            notes: Vec::new(),
            wall_ms: 0,
        }
    }

    fn recovery_run() -> crate::drill::PluginRun {
        crate::drill::PluginRun {
            plugin: "r.wasm".into(),
            run_id: "r-1".into(),
            journal: None,
            status: "recovered".into(),
            exit_code: 0,
            summary: String::new(),
            wall_ms: 3_100,
            started_after_fault_ms: 0,
        }
    }

    /// The line of the runs table for `role`.
    fn run_line(table: &str, role: &str) -> String {
        table
            .lines()
            .find(|l| l.trim_start().starts_with(&format!("{role} ")))
            .unwrap_or_else(|| panic!("no {role} line: {table}"))
            .to_string()
    }

    #[test]
    fn a_drill_without_a_fault_says_so_and_a_fault_that_never_ran_says_not_run() {
        let mut restore = report(DrillStatus::Passed, Some(3_100), None, None);
        restore.no_fault = true;
        restore.recovery = Some(recovery_run());
        let table = render(&restore);
        let fault = run_line(&table, "fault");
        assert!(fault.contains("no fault") && !fault.contains("not run"), "{table}");
        assert!(run_line(&table, "recovery").contains("r-1"), "{table}");

        // A drill with a fault that stopped before it (unhealthy baseline).
        let stopped = report(DrillStatus::Failed, None, None, None);
        let table = render(&stopped);
        for role in ["fault", "recovery"] {
            let line = run_line(&table, role);
            assert!(line.contains("(not run)") && !line.contains("no fault"), "{table}");
        }
    }

    #[test]
    fn the_summary_has_one_row_per_drill_with_figures_against_targets() {
        let lines = vec![
            SummaryLine {
                drill: "database-restore".into(),
                report: Some(report(DrillStatus::Passed, Some(38_200), Some(5_400), Some(true))),
                error: None,
                report_file: Some("/r/drill-d-1.html".into()),
            },
            SummaryLine {
                drill: "service-failure".into(),
                report: Some(report(DrillStatus::Missed, Some(1_000_000), None, None)),
                error: None,
                report_file: None,
            },
            SummaryLine {
                drill: "broken".into(),
                report: None,
                error: Some("the fault plugin is refused".into()),
                report_file: None,
            },
        ];
        let table = summary(&lines);
        let rows: Vec<&str> = table.lines().collect();
        assert_eq!(rows.len(), 4, "{table}");
        assert!(rows[0].starts_with("scenario") && rows[0].contains("RTO") && rows[0].ends_with("report"));
        assert!(
            rows[1].contains("38.2 s ≤ 15m 00s") && rows[1].contains("5.4 s ≤ 5m 00s"),
            "{table}"
        );
        assert!(
            rows[1].contains("passed") && rows[1].ends_with("/r/drill-d-1.html"),
            "{table}"
        );
        assert!(
            rows[2].contains("16m 40s > 15m 00s") && rows[2].contains("no write probe") && rows[2].contains("MISSED")
        );
        assert!(rows[2].ends_with("drhost report /j/drills/drill-d-1.jsonl"), "{table}");
        assert!(rows[3].contains("NOT RUN: the fault plugin is refused"), "{table}");
    }
}
