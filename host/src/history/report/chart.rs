//! The report's timeline chart: an inline SVG with one bar per step along
//! a time axis (green: ok, red: failed, grey: never ended), and markers
//! for the run's start and end, each failure and each approval. Hovering
//! a bar or a marker shows its text (`<title>`); nothing needs a script.
//! Every text from the journal goes through [`esc`].

use std::fmt::Write;

use super::super::human_duration;
use super::html::esc;
use super::{offset_text, IncidentReport};

/// The chart's width in pixels (it scales down with the page).
const WIDTH: f64 = 960.0;
/// Room for the step names, left of the bars.
const LABELS: f64 = 280.0;
/// Room right of the bars.
const RIGHT: f64 = 24.0;
/// The lane above the bars for the markers.
const TOP: f64 = 40.0;
/// One step's row.
const ROW: f64 = 24.0;
/// A bar's height.
const BAR: f64 = 14.0;
/// The axis below the bars.
const AXIS: f64 = 34.0;
/// Characters of a step's name shown beside its bar (all of it in its title).
const LABEL_CHARS: usize = 36;

/// The chart of `report` as one `<svg>` element.
pub fn svg(report: &IncidentReport) -> String {
    let mut out = String::new();
    // Writing into a String cannot fail.
    let _ = write_svg(&mut out, report);
    out
}

fn write_svg(out: &mut String, r: &IncidentReport) -> std::fmt::Result {
    let span = r.span_ms().max(1.0);
    let plot = WIDTH - LABELS - RIGHT;
    let x = |ms: f64| LABELS + (ms.clamp(0.0, span) / span) * plot;
    let rows = r.steps.len().max(1) as f64;
    let bottom = TOP + rows * ROW;
    let height = bottom + AXIS;
    writeln!(
        out,
        r#"<svg class="timeline" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" height="{height}" role="img" aria-label="timeline of the run's steps">"#
    )?;
    // The axis: a tick at round durations, five to ten of them.
    let tick = tick_size(span);
    let mut at = 0.0;
    while at <= span + 0.5 {
        let tx = x(at);
        writeln!(
            out,
            r#"<line class="grid" x1="{tx:.1}" y1="{TOP}" x2="{tx:.1}" y2="{bottom}"/><text class="tick" x="{tx:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
            bottom + 16.0,
            tick_label(at, tick)
        )?;
        at += tick;
    }
    writeln!(
        out,
        r#"<text class="axis-label" x="{:.1}" y="{:.1}" text-anchor="end">time since the run started</text>"#,
        WIDTH - RIGHT,
        bottom + 30.0
    )?;

    if r.steps.is_empty() {
        writeln!(
            out,
            r#"<text class="empty" x="{LABELS}" y="{:.1}">the plugin reported no steps</text>"#,
            TOP + ROW * 0.65
        )?;
    }
    for (n, step) in r.steps.iter().enumerate() {
        let y = TOP + n as f64 * ROW + (ROW - BAR) / 2.0;
        let (class, result) = match step.ok {
            Some(true) => ("ok", "ok".to_string()),
            Some(false) => (
                "failed",
                format!("FAILED: {}", step.reason.as_deref().unwrap_or("failed")),
            ),
            None => ("open", "never ended".to_string()),
        };
        let ends = match step.duration_ms {
            Some(ms) => step.start_ms + ms,
            None => span,
        };
        let (x0, x1) = (x(step.start_ms), x(ends));
        let label: String = step.name.chars().take(LABEL_CHARS).collect();
        let label = if step.name.chars().count() > LABEL_CHARS {
            format!("{label}…")
        } else {
            label
        };
        let took = step.duration_ms.map(human_duration).unwrap_or_else(|| "-".into());
        writeln!(
            out,
            r#"<text class="label" x="{:.1}" y="{:.1}" text-anchor="end">{}{}</text>"#,
            LABELS - 8.0,
            y + BAR - 3.0,
            "\u{a0}\u{a0}".repeat(step.depth),
            esc(&label)
        )?;
        writeln!(
            out,
            r#"<rect class="step {class}" x="{x0:.1}" y="{y:.1}" width="{:.1}" height="{BAR}" rx="2"><title>{} — {} from {}: {}</title></rect>"#,
            (x1 - x0).max(1.5),
            esc(&step.name),
            took,
            offset_text(step.start_ms),
            esc(&result)
        )?;
    }

    // Markers: start and end across the whole chart, then failures (red
    // diamonds) and approvals (circles) in the lane above the bars.
    let mut marker = |ms: f64, class: &str, label: &str| {
        let mx = x(ms);
        writeln!(
            out,
            r#"<line class="marker {class}" x1="{mx:.1}" y1="{:.1}" x2="{mx:.1}" y2="{bottom}"><title>{label}</title></line><text class="marker-label" x="{mx:.1}" y="12" text-anchor="{}">{class}</text>"#,
            TOP - 22.0,
            if ms <= 0.0 { "start" } else { "end" }
        )
    };
    marker(
        0.0,
        "start",
        &format!("run started {}", esc(r.times.started.as_deref().unwrap_or("?"))),
    )?;
    if let Some(ended) = &r.times.ended {
        marker(
            span,
            "end",
            &format!("run ended {}: {}", esc(ended), esc(&r.ending.status)),
        )?;
    }
    for failure in &r.failures {
        let (mx, my) = (x(failure.at_ms), TOP - 12.0);
        writeln!(
            out,
            r#"<path class="marker failure" d="M{mx:.1} {:.1} L{:.1} {my:.1} L{mx:.1} {:.1} L{:.1} {my:.1} Z"><title>{} failed: {} — {}</title></path>"#,
            my - 6.0,
            mx + 6.0,
            my + 6.0,
            mx - 6.0,
            offset_text(failure.at_ms),
            esc(&failure.what),
            esc(&failure.reason)
        )?;
    }
    for approval in &r.approvals {
        let class = if approval.approved == Some(true) {
            "approval"
        } else {
            "approval refused"
        };
        writeln!(
            out,
            r#"<circle class="marker {class}" cx="{:.1}" cy="{:.1}" r="5"><title>{} {} by {}: {}</title></circle>"#,
            x(approval.at_ms),
            TOP - 12.0,
            offset_text(approval.at_ms),
            esc(&approval.answer),
            esc(approval.by.as_deref().unwrap_or("nobody")),
            esc(&approval.question)
        )?;
    }
    writeln!(out, "</svg>")
}

/// A tick's label, as precise as the interval between ticks: `+250 ms`,
/// `+5 s`, `+2m 30s`.
pub(super) fn tick_label(at: f64, tick: f64) -> String {
    if at == 0.0 {
        "0".into()
    } else if tick < 1000.0 {
        format!("+{at:.0} ms")
    } else if tick < 60_000.0 {
        format!("+{:.0} s", at / 1000.0)
    } else {
        let s = (at / 1000.0).round() as u64;
        format!("+{}m {:02}s", s / 60, s % 60)
    }
}

/// A round tick interval (1, 2 or 5 × a power of ten ms) giving 5–10 ticks over `span` ms.
pub(super) fn tick_size(span: f64) -> f64 {
    let rough = span / 6.0;
    let power = 10f64.powf(rough.max(1.0).log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * power)
        .find(|t| span / t <= 10.0)
        .unwrap_or(power * 10.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_round_and_few() {
        assert_eq!(tick_size(41_000.0), 5000.0);
        assert_eq!(tick_size(900.0), 100.0);
        assert_eq!(tick_size(1.0), 1.0);
        assert_eq!(tick_label(150.0, 50.0), "+150 ms");
        assert_eq!(tick_label(10_000.0, 5000.0), "+10 s");
        assert_eq!(tick_label(150_000.0, 60_000.0), "+2m 30s");
        for span in [3.0, 77.0, 1234.0, 98_765.0, 3_600_000.0] {
            let ticks = span / tick_size(span);
            assert!((1.0..=10.0).contains(&ticks), "{span}: {ticks}");
        }
    }
}
