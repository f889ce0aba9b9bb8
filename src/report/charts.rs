//! The HTML report's charts as inline SVG, drawn with plotters' SVG backend (no scripts, no
//! fonts, no images: the page stays one self-contained file). The charts know nothing of the
//! analysis or of words: [`crate::report::html`] fills the plain specs below from an
//! [`Analysis`](crate::analysis::Analysis), with titles and labels from [`crate::text`].
//!
//! Accessibility: every chart is an `<svg role="img">` with a `<title>` and `<desc>`; the
//! palette is Okabe–Ito (safe for the common colour-vision deficiencies); a flagged period is
//! shaded *and* marked with a text mark above its band, a gap is hatched grey and labelled, so
//! neither relies on colour alone; unknown values break a line, never drop it to zero.

use crate::domain::Locale;

/// Okabe & Ito's colour-blind-safe palette (blue, orange, bluish green, vermillion, reddish
/// purple, sky blue, yellow), in the order series take them.
pub const PALETTE: [(u8, u8, u8); 7] = [
    (0, 114, 178),
    (230, 159, 0),
    (0, 158, 115),
    (213, 94, 0),
    (204, 121, 167),
    (86, 180, 233),
    (240, 228, 66),
];

/// The opaque fill of a flagged period's band, drawn under the series (the browser test looks
/// for it in the screenshot).
pub const FLAGGED_SHADE: (u8, u8, u8) = (252, 224, 178);

/// The fill of a period whose data has a gap (no verdict): grey, under a hatch.
pub const GAP_SHADE: (u8, u8, u8) = (225, 225, 225);

/// How one period of a time chart is marked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PeriodMark {
    /// Judged and clear, or nothing to say.
    Plain,
    /// A rule flagged it: shaded band plus a text mark.
    Flagged,
    /// No verdict (a data gap): hatched grey band plus a text mark.
    Gap,
}

/// One line on a chart. `None` is an unknown value: the line breaks there.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub label: String,
    pub values: Vec<Option<f64>>,
}

/// A chart over periods: one x position per period, series on the left axis and optionally on
/// a right axis of its own scale.
#[derive(Debug, Clone, PartialEq)]
pub struct TimeChart {
    /// Unique within the page: the SVG's `<title>`/`<desc>` ids derive from it.
    pub id: String,
    pub title: String,
    /// A sentence for screen readers: what the chart shows.
    pub description: String,
    /// One label per period (its first day, say), in order.
    pub x_labels: Vec<String>,
    /// One mark per period, the same length as `x_labels`.
    pub marks: Vec<PeriodMark>,
    pub left_axis: String,
    pub left: Vec<Series>,
    /// A second scale on the right (money against activity), when there is one.
    pub right_axis: Option<String>,
    pub right: Vec<Series>,
    /// The words of the two marks, in the report's language (`flagged`, `data gap`).
    pub flagged_label: String,
    pub gap_label: String,
    /// Tick labels follow the locale's number format.
    pub locale: Locale,
}

/// One step of a funnel (impressions, clicks, leads, won deals, revenue).
#[derive(Debug, Clone, PartialEq)]
pub struct FunnelStep {
    pub label: String,
    /// `None` when unknown (drawn as an empty, labelled bar, never as zero).
    pub value: Option<f64>,
    /// The value as the page says it (`1 234`, `$5,000`).
    pub display: String,
}

/// A funnel, widest step first; its bars are on a log scale (impressions dwarf won deals).
#[derive(Debug, Clone, PartialEq)]
pub struct FunnelChart {
    pub id: String,
    pub title: String,
    pub description: String,
    pub steps: Vec<FunnelStep>,
    /// The chain breaks after this step (index into `steps`), when it does.
    pub broken_after: Option<usize>,
    /// The words of that mark (`the chain breaks here`).
    pub broken_label: String,
    pub locale: Locale,
}

/// The chart as an inline `<svg>` element.
pub fn time_chart_svg(chart: &TimeChart) -> String {
    svg_frame(&chart.id, &chart.title, &chart.description)
}

/// The funnel as an inline `<svg>` element.
pub fn funnel_svg(chart: &FunnelChart) -> String {
    svg_frame(&chart.id, &chart.title, &chart.description)
}

/// Until plotters draws them: an accessible, empty frame.
fn svg_frame(id: &str, title: &str, description: &str) -> String {
    format!(
        "<svg role=\"img\" aria-labelledby=\"{id}-title {id}-desc\" viewBox=\"0 0 800 300\"><title id=\"{id}-title\">{}</title><desc id=\"{id}-desc\">{}</desc></svg>",
        escape(title),
        escape(description)
    )
}

/// Text as it may stand in SVG or HTML text and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}
