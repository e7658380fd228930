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
    for (role, run) in [("fault", &report.fault), ("recovery", &report.recovery)] {
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
