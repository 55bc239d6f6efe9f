//! The compliance chart: the share of compliant mailboxes day by day, drawn on the server as
//! inline SVG (no script, no style attribute: the Content-Security-Policy allows neither). Each
//! day is one `circle` with a `title` (its value, for the mouse and for assistive technology);
//! the figure's text alternative says the first and last values.

use std::fmt::Write;

use time::OffsetDateTime;

use super::format::{date_fr, percent};

/// One day of the chart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Day {
    /// The end of the day.
    pub(crate) at: OffsetDateTime,
    /// Mailboxes compliant then.
    pub(crate) compliant: u64,
    /// Mailboxes then.
    pub(crate) total: u64,
}

const WIDTH: f64 = 720.0;
const HEIGHT: f64 = 240.0;
const LEFT: f64 = 48.0;
const RIGHT: f64 = 12.0;
const TOP: f64 = 12.0;
const BOTTOM: f64 = 32.0;

/// The chart of `days`, oldest first, as an SVG element.
pub(crate) fn compliance_svg(days: &[Day]) -> String {
    let plot_w = WIDTH - LEFT - RIGHT;
    let plot_h = HEIGHT - TOP - BOTTOM;
    let share =
        |day: &Day| if day.total == 0 { 0.0 } else { day.compliant as f64 / day.total as f64 };
    let x = |i: usize| {
        if days.len() < 2 {
            LEFT + plot_w / 2.0
        } else {
            LEFT + plot_w * i as f64 / (days.len() - 1) as f64
        }
    };
    let y = |value: f64| TOP + plot_h * (1.0 - value);
    let summary = match (days.first(), days.last()) {
        (Some(first), Some(last)) => format!(
            "Part des boîtes conformes, du {} ({}) au {} ({}).",
            date_fr(first.at),
            percent(first.compliant, first.total),
            date_fr(last.at),
            percent(last.compliant, last.total)
        ),
        _ => "Aucune donnée de conformité pour l'instant.".to_owned(),
    };
    let mut svg = String::with_capacity(512 + days.len() * 160);
    let _ = write!(
        svg,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {WIDTH} {HEIGHT}\" role=\"img\" \
         aria-labelledby=\"chart-title chart-desc\" class=\"compliance-chart\">\
         <title id=\"chart-title\">Conformité dans le temps</title>\
         <desc id=\"chart-desc\">{}</desc>",
        escape(&summary)
    );
    for tick in [0.0, 0.5, 1.0] {
        let _ = write!(
            svg,
            "<line x1=\"{LEFT}\" x2=\"{:.1}\" y1=\"{y:.1}\" y2=\"{y:.1}\" stroke=\"#c9d1d9\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\" font-size=\"12\" text-anchor=\"end\" fill=\"#4a5561\">{} %</text>",
            WIDTH - RIGHT,
            LEFT - 6.0,
            y(tick) + 4.0,
            (tick * 100.0) as u32,
            y = y(tick),
        );
    }
    if let (Some(first), Some(last)) = (days.first(), days.last()) {
        for (anchor, at, px) in [("start", first.at, x(0)), ("end", last.at, x(days.len() - 1))] {
            let _ = write!(
                svg,
                "<text x=\"{px:.1}\" y=\"{:.1}\" font-size=\"12\" text-anchor=\"{anchor}\" fill=\"#4a5561\">{}</text>",
                HEIGHT - 10.0,
                date_fr(at)
            );
        }
    }
    if days.len() > 1 {
        svg.push_str("<polyline fill=\"none\" stroke=\"#0b4f8a\" stroke-width=\"2\" points=\"");
        for (i, day) in days.iter().enumerate() {
            let _ = write!(svg, "{:.1},{:.1} ", x(i), y(share(day)));
        }
        svg.push_str("\"/>");
    }
    for (i, day) in days.iter().enumerate() {
        let _ = write!(
            svg,
            "<circle class=\"point\" cx=\"{:.1}\" cy=\"{:.1}\" r=\"3\" fill=\"#0b4f8a\">\
             <title>{} : {} ({} sur {})</title></circle>",
            x(i),
            y(share(day)),
            date_fr(day.at),
            percent(day.compliant, day.total),
            day.compliant,
            day.total
        );
    }
    svg.push_str("</svg>");
    svg
}

/// Text for SVG content (the values are ours, but the rule is the rule).
fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn one_point_per_day_and_a_text_alternative() {
        let days: Vec<Day> = (0..30)
            .map(|i| Day {
                at: datetime!(2026-11-01 23:59 UTC) + time::Duration::days(i),
                compliant: i as u64,
                total: 29,
            })
            .collect();
        let svg = compliance_svg(&days);
        assert_eq!(svg.matches("<circle class=\"point\"").count(), 30);
        assert!(svg.contains("du 01/11/2026 (0 %) au 30/11/2026 (100 %)"), "{svg}");
        assert!(!svg.contains("style="));
        assert!(compliance_svg(&[]).contains("Aucune donnée"));
    }
}
