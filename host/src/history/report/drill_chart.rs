//! A drill report's timeline chart: an inline SVG with the plugin runs
//! (`before`, fault, recovery) as bars in one lane, and one lane per probe
//! with its health as bands (green: healthy, red: failing); dashed lines
//! mark the fault, the recovery's start and the moment every probe was
//! healthy for good (the RTO); a drill without a fault, whose RTO runs
//! from the recovery's start, also has its recovery's end marked; a hatched span on a write probe's lane
//! shows the data-loss window (the RPO) that ended when its writes stopped.
//! Hovering shows each one's text (`<title>`); nothing needs a script.
//! Every text from the journal goes through [`esc`].

use std::fmt::Write;

use super::super::human_duration;
use super::chart::{tick_label, tick_size};
use super::drill::DrillEvidence;
use super::html::esc;
use super::offset_text;

const WIDTH: f64 = 960.0;
const LABELS: f64 = 280.0;
const RIGHT: f64 = 24.0;
const TOP: f64 = 40.0;
const ROW: f64 = 28.0;
const BAR: f64 = 16.0;
const AXIS: f64 = 34.0;
const LABEL_CHARS: usize = 38;

/// The chart of `e` as one `<svg>` element.
pub fn svg(e: &DrillEvidence) -> String {
    let mut out = String::new();
    // Writing into a String cannot fail.
    let _ = write_svg(&mut out, e);
    out
}

fn label(text: &str) -> String {
    let short: String = text.chars().take(LABEL_CHARS).collect();
    if text.chars().count() > LABEL_CHARS {
        format!("{short}…")
    } else {
        short
    }
}

fn write_svg(out: &mut String, e: &DrillEvidence) -> std::fmt::Result {
    let span = e.span_ms.max(1.0);
    let plot = WIDTH - LABELS - RIGHT;
    let x = |ms: f64| LABELS + (ms.clamp(0.0, span) / span) * plot;
    let rows = 1.0 + e.probes.len() as f64;
    let bottom = TOP + rows * ROW;
    let height = bottom + AXIS;
    writeln!(
        out,
        r#"<svg class="timeline drill" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" height="{height}" role="img" aria-label="timeline of the drill: plugin runs and probe health">"#
    )?;
    out.push_str(r##"<defs><pattern id="loss" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><rect width="3" height="6" fill="#6a1b9a" fill-opacity="0.55"/></pattern></defs>"##);
    out.push('\n');
    let tick = tick_size(span);
    let mut t = 0.0;
    while t <= span + 0.5 {
        let tx = x(t);
        writeln!(
            out,
            r#"<line class="grid" x1="{tx:.1}" y1="{TOP}" x2="{tx:.1}" y2="{bottom}"/><text class="tick" x="{tx:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
            bottom + 16.0,
            tick_label(t, tick)
        )?;
        t += tick;
    }
    writeln!(
        out,
        r#"<text class="axis-label" x="{:.1}" y="{:.1}" text-anchor="end">time since the probes started</text>"#,
        WIDTH - RIGHT,
        bottom + 30.0
    )?;

    // Lane 0: the plugin runs.
    let y = TOP + (ROW - BAR) / 2.0;
    writeln!(
        out,
        r#"<text class="label" x="{:.1}" y="{:.1}" text-anchor="end">plugin runs</text>"#,
        LABELS - 8.0,
        y + BAR - 3.0
    )?;
    for run in &e.runs {
        let end = run.end_ms.unwrap_or(span);
        let (x0, x1) = (x(run.start_ms), x(end));
        writeln!(
            out,
            r#"<rect class="run {}" x="{x0:.1}" y="{y:.1}" width="{:.1}" height="{BAR}" rx="2"><title>{} run {} from {}, {}: {} (exit {})</title></rect>"#,
            run.role,
            (x1 - x0).max(1.5),
            run.role,
            esc(run.plugin.as_deref().unwrap_or("?")),
            offset_text(run.start_ms),
            run.wall_ms.map_or("-".into(), human_duration),
            esc(run.status.as_deref().unwrap_or("never ended")),
            run.exit_code.map_or("-".into(), |c| c.to_string()),
        )?;
    }

    // One lane per probe: its bands.
    for (n, probe) in e.probes.iter().enumerate() {
        let y = TOP + (n as f64 + 1.0) * ROW + (ROW - BAR) / 2.0;
        writeln!(
            out,
            r#"<text class="label" x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"#,
            LABELS - 8.0,
            y + BAR - 3.0,
            esc(&label(&probe.probe))
        )?;
        for band in &probe.bands {
            let (x0, x1) = (x(band.from_ms), x(band.to_ms));
            let (class, state) = if band.ok {
                ("band healthy", "healthy".to_string())
            } else {
                (
                    "band failing",
                    format!("FAILING: {}", band.detail.as_deref().unwrap_or("failed")),
                )
            };
            writeln!(
                out,
                r#"<rect class="{class}" data-probe="{}" x="{x0:.1}" y="{y:.1}" width="{:.1}" height="{BAR}"><title>{} {} → {}: {}</title></rect>"#,
                esc(&probe.probe),
                (x1 - x0).max(1.0),
                esc(&probe.probe),
                offset_text(band.from_ms),
                offset_text(band.to_ms),
                esc(&state)
            )?;
        }
        // The data-loss window ends when the probe's writes stopped: the
        // start of its first failing band at or after the fault.
        if let (Some(window), Some(fault)) = (probe.window_ms.filter(|w| *w > 0.0), e.fault_ms) {
            if let Some(stopped) = probe.bands.iter().find(|b| !b.ok && b.from_ms >= fault) {
                let (x0, x1) = (x(stopped.from_ms - window), x(stopped.from_ms));
                writeln!(
                    out,
                    r#"<rect class="loss" x="{x0:.1}" y="{:.1}" width="{:.1}" height="{:.1}" fill="url(#loss)"><title>data-loss window (RPO) {}: {} acknowledged writes lost</title></rect>"#,
                    y - 3.0,
                    (x1 - x0).max(1.0),
                    BAR + 6.0,
                    human_duration(window),
                    probe.lost.unwrap_or(0)
                )?;
            }
        }
    }

    // Markers across every lane.
    // Labels on two heights, so the fault's and the recovery's (often
    // a moment apart) do not overlap.
    let mut marker = |ms: f64, class: &str, text: &str, title: &str| {
        let mx = x(ms);
        let label_y = if class.starts_with("recovery") {
            TOP - 4.0
        } else {
            TOP - 20.0
        };
        writeln!(
            out,
            r#"<line class="marker {class}" x1="{mx:.1}" y1="{:.1}" x2="{mx:.1}" y2="{bottom}"><title>{title}</title></line><text class="marker-label {class}" x="{mx:.1}" y="{label_y:.1}" text-anchor="start" dx="3">{text}</text>"#,
            TOP - 16.0,
        )
    };
    if let Some(fault) = e.fault_ms {
        marker(
            fault,
            "fault",
            "fault",
            &format!(
                "fault injected at {} ({})",
                offset_text(fault),
                esc(e.fault_at.as_deref().unwrap_or("?"))
            ),
        )?;
    }
    if let Some(recovery) = e.runs.iter().find(|r| r.role == "recovery") {
        let what = if e.no_fault {
            "recovery started (no fault: the RTO runs from here)"
        } else {
            "recovery started"
        };
        marker(
            recovery.start_ms,
            "recovery",
            "recovery",
            &format!("{what} at {}", offset_text(recovery.start_ms)),
        )?;
        if let (true, Some(end)) = (e.no_fault, recovery.end_ms) {
            marker(
                end,
                "recovery-end",
                "recovery ends",
                &format!(
                    "recovery ended at {}: {} (exit {})",
                    offset_text(end),
                    esc(recovery.status.as_deref().unwrap_or("?")),
                    recovery.exit_code.map_or("-".into(), |c| c.to_string())
                ),
            )?;
        }
    }
    if let Some(recovered) = e.recovered_ms {
        marker(
            recovered,
            "recovered",
            "healthy",
            &format!(
                "every probe healthy for good at {}: RTO {}",
                offset_text(recovered),
                e.rto.measured_ms.map_or("-".into(), human_duration)
            ),
        )?;
    }
    writeln!(out, "</svg>")
}
