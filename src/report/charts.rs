//! The HTML report's charts as inline SVG, drawn with plotters' SVG backend (no scripts, no
//! fonts, no images: the page stays one self-contained file). The charts know nothing of the
//! analysis or of words: [`crate::report::html`] fills the plain specs below from an
//! [`Analysis`](crate::analysis::Analysis), with titles and labels from [`crate::text`].
//!
//! Accessibility: every chart is an `<svg role="img">` with a `<title>` and `<desc>`; the
//! palette is Okabe–Ito (safe for the common colour-vision deficiencies); a flagged period is
//! shaded *and* marked with a text mark above its band, a gap is hatched grey and labelled, so
//! neither relies on colour alone; unknown values break a line, never drop it to zero.
//! Series differ without colour too: each has its own marker shape, and the right axis' series
//! are dashed.
//!
//! Drawing choices: y axes start at zero (activity and money read honestly against it; a
//! negative ROMI takes the axis below), with headroom above for the period marks; x tick
//! labels are thinned to at most eight; the funnel's bars are on a log10 scale with the
//! conversion rate between steps. Tick labels are short and local ([`crate::text::compact`]).
//! The output is plotters' SVG reshaped into one inline element: no XML prolog, no fixed size
//! (the `viewBox` lets the page's CSS size it), nothing external, the same bytes for the same
//! input.

use std::error::Error;
use std::ops::Range;

use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint};
use plotters::element::DashedPathElement;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::domain::Locale;
use crate::text::{compact, no_data, rate};

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
    /// Whether the share of the previous step that reached this one means something: a count
    /// after a count (clicks of impressions) does, money after won deals does not.
    pub share_of_previous: bool,
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

/// Every chart is this wide in its own units; the page scales it to its column (`viewBox`).
const WIDTH: u32 = 800;
/// A time chart's height without its legend.
const TIME_HEIGHT: u32 = 300;
/// One funnel step's slot: its bar, and half the gap to each neighbour (room for the
/// conversion rate and the chain's break).
const STEP_HEIGHT: u32 = 60;
const FONT: &str = "sans-serif";
/// plotters writes a font's size / 1.24 into the SVG: 14.88 is 12 px.
const FONT_SIZE: f64 = 14.88;
/// A character's average advance as a share of the font's pixel size. Layout estimates text
/// widths (the browser picks the actual font), so it errs on the wide side.
const CHAR_WIDTH: f64 = 0.62;
const LEGEND_ROW: i32 = 22;
const INK: RGBColor = RGBColor(51, 51, 51);
const MUTED: RGBColor = RGBColor(110, 110, 110);
const GRID: RGBColor = RGBColor(225, 225, 225);
const HATCH: RGBColor = RGBColor(130, 130, 130);
/// The flagged mark's ink: the shade's hue, dark enough to read on it.
const FLAG_INK: RGBColor = RGBColor(153, 79, 0);
/// Values beyond this are clamped so that axis spans stay finite.
const HUGE: f64 = 1e300;
/// The flagged and gap marks above their bands (and in the legend): shapes, not colours.
/// Beyond this many periods (a half year of days), points stand too close for markers: lines
/// only, and a lone known value keeps its marker (or it would vanish).
const MARKERS_UP_TO: usize = 60;
const FLAG_MARK: &str = "▲";
const GAP_MARK: &str = "?";

type Drawn = Result<(), Box<dyn Error>>;

/// The chart as an inline `<svg>` element.
pub fn time_chart_svg(chart: &TimeChart) -> String {
    let lines = time_lines(chart);
    let count = [chart.x_labels.len(), chart.marks.len()]
        .into_iter()
        .chain(lines.iter().map(|l| l.values.len()))
        .max()
        .unwrap_or(0);
    if count == 0 {
        return no_data_svg(&chart.id, &chart.title, &chart.description, chart.locale);
    }
    let legend = time_legend(chart, &lines);
    let legend_rows = legend_rows(&legend);
    let height = TIME_HEIGHT + legend_height(&legend_rows);
    let mut raw = String::new();
    let drawn = draw_time(chart, &lines, count, &legend_rows, height, &mut raw);
    finish(
        &raw,
        drawn,
        &chart.id,
        &chart.title,
        &chart.description,
        height,
    )
}

/// The funnel as an inline `<svg>` element.
pub fn funnel_svg(chart: &FunnelChart) -> String {
    if chart.steps.is_empty() {
        return no_data_svg(&chart.id, &chart.title, &chart.description, chart.locale);
    }
    let height =
        46 + STEP_HEIGHT * u32::try_from(chart.steps.len()).unwrap_or(u32::MAX / 2 / STEP_HEIGHT);
    let mut raw = String::new();
    let drawn = draw_funnel(chart, height, &mut raw);
    finish(
        &raw,
        drawn,
        &chart.id,
        &chart.title,
        &chart.description,
        height,
    )
}

/// An axis of `count` equal slots, slot `i` centred on `i` (periods along x, funnel steps
/// down y), with a tick every `step` slots so that labels never crowd.
#[derive(Clone)]
struct Slots {
    count: usize,
    step: usize,
    top_down: bool,
}

impl Ranged for Slots {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        let mut share = (value + 0.5) / self.count.max(1) as f64;
        if self.top_down {
            share = 1.0 - share;
        }
        limit.0 + (f64::from(limit.1 - limit.0) * share).round() as i32
    }

    fn key_points<H: KeyPointHint>(&self, hint: H) -> Vec<f64> {
        // The mesh asks for light lines with a limit of zero: slots have only the bold ticks.
        if hint.max_num_points() == 0 {
            return Vec::new();
        }
        (0..self.count)
            .step_by(self.step.max(1))
            .map(|i| i as f64)
            .collect()
    }

    fn range(&self) -> Range<f64> {
        -0.5..self.count as f64 - 0.5
    }
}

/// A series ready to draw: known values finite and bounded, its palette slot, its axis.
struct Line<'a> {
    label: &'a str,
    values: Vec<Option<f64>>,
    right: bool,
    index: usize,
}

impl Line<'_> {
    fn colour(&self) -> RGBColor {
        let (r, g, b) = PALETTE[self.index % PALETTE.len()];
        RGBColor(r, g, b)
    }

    /// Runs of consecutive known values: each is drawn as a line of its own, so an unknown
    /// value breaks the line instead of dropping it to zero.
    fn runs(&self) -> Vec<Vec<(f64, f64)>> {
        let mut runs = vec![Vec::new()];
        for (i, value) in self.values.iter().enumerate() {
            match (value, runs.last_mut()) {
                (Some(v), Some(run)) => run.push((i as f64, *v)),
                (None, Some(run)) if !run.is_empty() => runs.push(Vec::new()),
                _ => {}
            }
        }
        runs.retain(|run| !run.is_empty());
        runs
    }
}

fn time_lines(chart: &TimeChart) -> Vec<Line<'_>> {
    // Without a right axis, right-hand series share the left one rather than vanish.
    let right = chart.right_axis.is_some();
    chart
        .left
        .iter()
        .map(|s| (s, false))
        .chain(chart.right.iter().map(|s| (s, right)))
        .enumerate()
        .map(|(index, (series, right))| Line {
            label: &series.label,
            values: series
                .values
                .iter()
                .map(|v| v.filter(|v| v.is_finite()).map(|v| v.clamp(-HUGE, HUGE)))
                .collect(),
            right,
            index,
        })
        .collect()
}

/// A y axis over the known values of `lines`, from zero (bars and lines of money read
/// honestly against zero), with headroom above for the period marks.
fn axis_range<'a>(lines: impl Iterator<Item = &'a Line<'a>>) -> Range<f64> {
    let (lo, hi) = lines
        .flat_map(|l| l.values.iter().flatten())
        .fold((0.0_f64, 0.0_f64), |(lo, hi), &v| (lo.min(v), hi.max(v)));
    let span = if hi - lo > 0.0 { hi - lo } else { 1.0 };
    let hi = if hi - lo > 0.0 { hi } else { lo + 1.0 };
    let top = hi + span * 0.14;
    let bottom = if lo < 0.0 { lo - span * 0.04 } else { lo };
    if top.is_finite() && bottom.is_finite() && top > bottom {
        bottom..top
    } else {
        lo..hi
    }
}

/// How many periods apart the x tick labels stand so that no two overlap (at most 8).
fn label_step(labels: &[String], count: usize, plot_width: f64) -> usize {
    let widest = labels.iter().map(|l| text_width(l)).fold(0.0, f64::max);
    let fit = (plot_width / (widest + 14.0)).floor().clamp(1.0, 8.0) as usize;
    count.div_ceil(fit).max(1)
}

fn text_width(text: &str) -> f64 {
    text.chars().count() as f64 * FONT_SIZE / 1.24 * CHAR_WIDTH
}

fn font(size: f64) -> TextStyle<'static> {
    TextStyle::from((FONT, size).into_font())
}

fn label_style(colour: &'static RGBColor, h: HPos, v: VPos) -> TextStyle<'static> {
    font(FONT_SIZE).color(colour).pos(Pos::new(h, v))
}

/// What a legend entry shows before its words.
enum Key {
    Line {
        colour: RGBColor,
        shape: usize,
        dashed: bool,
    },
    Band {
        shade: (u8, u8, u8),
        hatched: bool,
        mark: &'static str,
    },
}

struct Entry<'a> {
    key: Key,
    label: &'a str,
}

const KEY_WIDTH: i32 = 26;

fn entry_width(entry: &Entry) -> i32 {
    KEY_WIDTH + 6 + text_width(entry.label).ceil() as i32 + 18
}

fn time_legend<'a>(chart: &'a TimeChart, lines: &[Line<'a>]) -> Vec<Entry<'a>> {
    let mut entries: Vec<Entry> = lines
        .iter()
        .map(|l| Entry {
            key: Key::Line {
                colour: l.colour(),
                shape: l.index,
                dashed: l.right,
            },
            label: l.label,
        })
        .collect();
    if chart.marks.contains(&PeriodMark::Flagged) {
        entries.push(Entry {
            key: Key::Band {
                shade: FLAGGED_SHADE,
                hatched: false,
                mark: FLAG_MARK,
            },
            label: &chart.flagged_label,
        });
    }
    if chart.marks.contains(&PeriodMark::Gap) {
        entries.push(Entry {
            key: Key::Band {
                shade: GAP_SHADE,
                hatched: true,
                mark: GAP_MARK,
            },
            label: &chart.gap_label,
        });
    }
    entries
}

/// Legend entries wrapped into rows that fit the chart's width.
fn legend_rows<'a>(entries: &'a [Entry<'a>]) -> Vec<Vec<&'a Entry<'a>>> {
    let room = WIDTH as i32 - 40;
    let mut rows: Vec<Vec<&Entry>> = Vec::new();
    let mut used = room;
    for entry in entries {
        let width = entry_width(entry);
        match rows.last_mut() {
            Some(row) if used + width <= room => row.push(entry),
            _ => {
                rows.push(vec![entry]);
                used = 0;
            }
        }
        used += width;
    }
    rows
}

fn legend_height(rows: &[Vec<&Entry>]) -> u32 {
    if rows.is_empty() {
        0
    } else {
        u32::try_from(rows.len()).unwrap_or(0) * LEGEND_ROW as u32 + 8
    }
}

fn draw_time(
    chart: &TimeChart,
    lines: &[Line],
    count: usize,
    legend: &[Vec<&Entry>],
    height: u32,
    raw: &mut String,
) -> Drawn {
    let root = SVGBackend::with_string(raw, (WIDTH, height)).into_drawing_area();
    root.fill(&WHITE)?;
    let locale = chart.locale;
    let right_axis = chart.right_axis.as_deref();
    let left_range = axis_range(lines.iter().filter(|l| !l.right));
    let right_range = axis_range(lines.iter().filter(|l| l.right));
    let (left_area, right_area) = (74, if right_axis.is_some() { 74 } else { 0 });
    let plot_width = f64::from(WIDTH) - 24.0 - f64::from(left_area + right_area);
    let slots = Slots {
        count,
        step: label_step(&chart.x_labels, count, plot_width),
        top_down: false,
    };
    let mut ctx = ChartBuilder::on(&root)
        .margin(12)
        .margin_bottom(legend_height(legend) as i32 + 6)
        .x_label_area_size(30)
        .y_label_area_size(left_area)
        .right_y_label_area_size(right_area)
        .build_cartesian_2d(slots.clone(), left_range.clone())?
        .set_secondary_coord(slots, right_range);

    // Bands first, under the grid and the lines.
    let (top, bottom) = (left_range.end, left_range.start);
    let band = |mark: PeriodMark, shade: (u8, u8, u8)| {
        chart
            .marks
            .iter()
            .enumerate()
            .filter(move |(_, m)| **m == mark)
            .map(move |(i, _)| {
                let x = i as f64;
                Rectangle::new(
                    [(x - 0.5, top), (x + 0.5, bottom)],
                    RGBColor(shade.0, shade.1, shade.2).filled(),
                )
            })
    };
    ctx.draw_series(band(PeriodMark::Flagged, FLAGGED_SHADE))?;
    ctx.draw_series(band(PeriodMark::Gap, GAP_SHADE))?;
    for (i, _) in chart
        .marks
        .iter()
        .enumerate()
        .filter(|(_, m)| **m == PeriodMark::Gap)
    {
        let x = i as f64;
        hatch(
            &root,
            ctx.backend_coord(&(x - 0.5, top)),
            ctx.backend_coord(&(x + 0.5, bottom)),
        )?;
    }

    let x_label = |x: &f64| {
        let i = x.round();
        if (x - i).abs() < 1e-6 && i >= 0.0 {
            chart.x_labels.get(i as usize).cloned().unwrap_or_default()
        } else {
            String::new()
        }
    };
    let y_label = |y: &f64| compact(*y, locale);
    ctx.configure_mesh()
        .disable_x_mesh()
        .max_light_lines(0)
        .bold_line_style(GRID)
        .light_line_style(TRANSPARENT)
        .axis_style(MUTED)
        .x_labels(count)
        .y_labels(6)
        .x_label_formatter(&x_label)
        .y_label_formatter(&y_label)
        .label_style(font(FONT_SIZE).color(&INK))
        .y_desc(chart.left_axis.as_str())
        .axis_desc_style(font(FONT_SIZE).color(&INK))
        .draw()?;
    if let Some(axis) = right_axis {
        ctx.configure_secondary_axes()
            .axis_style(MUTED)
            .y_labels(6)
            .y_label_formatter(&y_label)
            .label_style(font(FONT_SIZE).color(&INK))
            .y_desc(axis)
            .axis_desc_style(font(FONT_SIZE).color(&INK))
            .draw()?;
    }

    for line in lines {
        let style = line.colour().stroke_width(2);
        for run in line.runs() {
            if run.len() < 2 {
                continue;
            }
            if line.right {
                ctx.draw_secondary_series(DashedLineSeries::new(run, 8, 5, style))?;
            } else {
                ctx.draw_series(LineSeries::new(run, style))?;
            }
        }
        for (i, value) in line.values.iter().enumerate() {
            let Some(v) = value else { continue };
            let lone = (i == 0 || line.values[i - 1].is_none())
                && line.values.get(i + 1).is_none_or(Option::is_none);
            if count > MARKERS_UP_TO && !lone {
                continue;
            }
            let at = if line.right {
                ctx.borrow_secondary().backend_coord(&(i as f64, *v))
            } else {
                ctx.backend_coord(&(i as f64, *v))
            };
            marker(&root, at, line.index, line.colour())?;
        }
    }

    // The marks above their bands: the flag does not rely on its colour alone. Where bands are
    // narrower than a mark (days over months), a run of alike periods gets one, at its start.
    let band = {
        let (x0, _) = ctx.backend_coord(&(0.0, top));
        let (x1, _) = ctx.backend_coord(&(1.0, top));
        x1 - x0
    };
    for (i, mark) in chart.marks.iter().enumerate() {
        if band < 12 && i > 0 && chart.marks[i - 1] == *mark {
            continue;
        }
        let (text, ink) = match mark {
            PeriodMark::Plain => continue,
            PeriodMark::Flagged => (FLAG_MARK, &FLAG_INK),
            PeriodMark::Gap => (GAP_MARK, &INK),
        };
        let (x, y) = ctx.backend_coord(&(i as f64, top));
        root.draw(&Text::new(
            text,
            (x, y + 3),
            label_style(ink, HPos::Center, VPos::Top),
        ))?;
    }

    if lines.iter().all(|l| l.values.iter().all(Option::is_none)) {
        let (x0, y0) = ctx.backend_coord(&(-0.5, top));
        let (x1, y1) = ctx.backend_coord(&(count as f64 - 0.5, bottom));
        root.draw(&Text::new(
            no_data(locale),
            ((x0 + x1) / 2, (y0 + y1) / 2),
            font(FONT_SIZE * 1.25)
                .color(&MUTED)
                .pos(Pos::new(HPos::Center, VPos::Center)),
        ))?;
    }

    draw_legend(
        &root,
        legend,
        height as i32 - legend_height(legend) as i32 + 4,
    )?;
    root.present()?;
    Ok(())
}

type Root<'a> = DrawingArea<SVGBackend<'a>, plotters::coord::Shift>;

/// Thin diagonal lines filling the rectangle `(x0, y0)`-`(x1, y1)` (pixels), clipped to it.
fn hatch(root: &Root, (x0, y0): (i32, i32), (x1, y1): (i32, i32)) -> Drawn {
    let height = y1 - y0;
    let mut c = x0 - height;
    while c < x1 {
        // The line x - c = y1 - y, from the bottom edge up to the top one, cut at the sides.
        let (start_x, start_y) = if c < x0 { (x0, y1 - (x0 - c)) } else { (c, y1) };
        let (end_x, end_y) = if c + height > x1 {
            (x1, y1 - (x1 - c))
        } else {
            (c + height, y0)
        };
        if start_x < end_x {
            root.draw(&PathElement::new(
                vec![(start_x, start_y), (end_x, end_y)],
                HATCH.stroke_width(1),
            ))?;
        }
        c += 8;
    }
    Ok(())
}

/// A series' point marker; the shape follows the series so that lines differ without colour.
fn marker(root: &Root, (x, y): (i32, i32), shape: usize, colour: RGBColor) -> Drawn {
    let fill = colour.filled();
    match shape % 4 {
        0 => root.draw(&Circle::new((x, y), 4, fill))?,
        1 => root.draw(&TriangleMarker::new((x, y), 5, fill))?,
        2 => root.draw(&Rectangle::new([(x - 4, y - 4), (x + 4, y + 4)], fill))?,
        _ => root.draw(&Polygon::new(
            vec![(x, y - 5), (x + 5, y), (x, y + 5), (x - 5, y)],
            fill,
        ))?,
    }
    Ok(())
}

fn draw_legend(root: &Root, rows: &[Vec<&Entry>], top: i32) -> Drawn {
    for (r, row) in rows.iter().enumerate() {
        let y = top + LEGEND_ROW * r as i32 + LEGEND_ROW / 2;
        let mut x = 20;
        for entry in row {
            match &entry.key {
                Key::Line {
                    colour,
                    shape,
                    dashed,
                } => {
                    let ends = vec![(x, y), (x + KEY_WIDTH, y)];
                    if *dashed {
                        root.draw(&DashedPathElement::new(ends, 8, 5, colour.stroke_width(2)))?;
                    } else {
                        root.draw(&PathElement::new(ends, colour.stroke_width(2)))?;
                    }
                    marker(root, (x + KEY_WIDTH / 2, y), *shape, *colour)?;
                }
                Key::Band {
                    shade,
                    hatched,
                    mark,
                } => {
                    let (a, b) = ((x, y - 8), (x + KEY_WIDTH, y + 8));
                    root.draw(&Rectangle::new(
                        [a, b],
                        RGBColor(shade.0, shade.1, shade.2).filled(),
                    ))?;
                    if *hatched {
                        hatch(root, a, b)?;
                    }
                    let ink = if *hatched { &INK } else { &FLAG_INK };
                    root.draw(&Text::new(
                        *mark,
                        (x + KEY_WIDTH / 2, y),
                        label_style(ink, HPos::Center, VPos::Center),
                    ))?;
                }
            }
            root.draw(&Text::new(
                entry.label,
                (x + KEY_WIDTH + 6, y),
                label_style(&INK, HPos::Left, VPos::Center),
            ))?;
            x += entry_width(entry);
        }
    }
    Ok(())
}

fn draw_funnel(chart: &FunnelChart, height: u32, raw: &mut String) -> Drawn {
    let root = SVGBackend::with_string(raw, (WIDTH, height)).into_drawing_area();
    root.fill(&WHITE)?;
    let count = chart.steps.len();
    // A count below zero is no count: unknown, like a missing one.
    let values: Vec<Option<f64>> = chart
        .steps
        .iter()
        .map(|s| {
            s.value
                .filter(|v| v.is_finite() && *v >= 0.0)
                .map(|v| v.min(HUGE))
        })
        .collect();
    let widest = values.iter().flatten().fold(10.0_f64, |a, &b| a.max(b));
    // The widest bar ends at about 3/4 of the width: room for its value after it.
    let decades = widest.log10().max(1.0);
    let end = 10f64.powf(decades * 1.33).min(f64::MAX);
    let label_area = chart
        .steps
        .iter()
        .map(|s| text_width(&s.label))
        .fold(60.0, f64::max)
        .min(260.0) as i32
        + 14;
    let mut ctx = ChartBuilder::on(&root)
        .margin(12)
        .margin_right(20)
        .x_label_area_size(28)
        .y_label_area_size(label_area)
        .build_cartesian_2d(
            (1.0..end).log_scale(),
            Slots {
                count,
                step: 1,
                top_down: true,
            },
        )?;
    let step_label = |y: &f64| {
        let i = y.round();
        if (y - i).abs() < 1e-6 && i >= 0.0 {
            chart
                .steps
                .get(i as usize)
                .map(|s| s.label.clone())
                .unwrap_or_default()
        } else {
            String::new()
        }
    };
    let locale = chart.locale;
    let x_label = |x: &f64| compact(*x, locale);
    ctx.configure_mesh()
        .disable_y_mesh()
        .max_light_lines(0)
        .bold_line_style(GRID)
        .light_line_style(TRANSPARENT)
        .axis_style(MUTED)
        .x_labels(decades.ceil() as usize + 2)
        .y_labels(count)
        .x_label_formatter(&x_label)
        .y_label_formatter(&step_label)
        .label_style(font(FONT_SIZE).color(&INK))
        .draw()?;

    let (left, _) = ctx.backend_coord(&(1.0, 0.0));
    let (right, _) = ctx.backend_coord(&(end, 0.0));
    let half = (STEP_HEIGHT as i32 * 13) / 60;
    let blue = {
        let (r, g, b) = PALETTE[0];
        RGBColor(r, g, b)
    };
    for (i, (step, value)) in chart.steps.iter().zip(&values).enumerate() {
        let (_, y) = ctx.backend_coord(&(1.0, i as f64));
        let tip = match value {
            Some(v) if *v >= 1.0 => {
                ctx.draw_series(std::iter::once(Rectangle::new(
                    [(1.0, i as f64 - 0.22), (*v, i as f64 + 0.22)],
                    blue.filled(),
                )))?;
                ctx.backend_coord(&(*v, i as f64)).0
            }
            // Zero (or less than one) has no length on a log scale: a sliver says "counted".
            Some(_) => {
                root.draw(&Rectangle::new(
                    [(left, y - half), (left + 3, y + half)],
                    blue.filled(),
                ))?;
                left + 3
            }
            // Unknown: an empty dashed box, never a bar of zero.
            None => {
                let box_end = left + (right - left) / 4;
                root.draw(&DashedPathElement::new(
                    vec![
                        (left, y - half),
                        (box_end, y - half),
                        (box_end, y + half),
                        (left, y + half),
                        (left, y - half),
                    ],
                    6,
                    4,
                    MUTED.stroke_width(1),
                ))?;
                box_end
            }
        };
        root.draw(&Text::new(
            step.display.as_str(),
            (tip + 8, y),
            label_style(&INK, HPos::Left, VPos::Center),
        ))?;
    }

    // Between steps: the share of the previous step that reached the next, and the break.
    let vermillion = {
        let (r, g, b) = PALETTE[3];
        RGBColor(r, g, b)
    };
    for i in 0..count {
        let (_, y) = ctx.backend_coord(&(1.0, i as f64 + 0.5));
        let mut after = left + 6;
        if let (Some(Some(from)), Some(Some(to))) = (values.get(i), values.get(i + 1))
            && *from > 0.0
            && chart.steps.get(i + 1).is_some_and(|s| s.share_of_previous)
        {
            let text = format!("↓ {}", rate(to / from, locale));
            after += text_width(&text).ceil() as i32 + 10;
            root.draw(&Text::new(
                text,
                (left + 6, y),
                label_style(&MUTED, HPos::Left, VPos::Center),
            ))?;
        }
        if chart.broken_after == Some(i) {
            let words = chart.broken_label.as_str();
            let text_start = (right - text_width(words).ceil() as i32 - 4).max(after);
            if text_start - 8 > after {
                root.draw(&DashedPathElement::new(
                    vec![(after, y), (text_start - 8, y)],
                    8,
                    5,
                    vermillion.stroke_width(2),
                ))?;
            }
            root.draw(&Text::new(
                words,
                (text_start, y),
                font(FONT_SIZE)
                    .color(&vermillion)
                    .pos(Pos::new(HPos::Left, VPos::Center)),
            ))?;
        }
    }
    root.present()?;
    Ok(())
}

/// A chart with nothing to draw: its frame and the words "no data".
fn no_data_svg(id: &str, title: &str, description: &str, locale: Locale) -> String {
    let height = 120;
    let mut raw = String::new();
    let drawn = (|| -> Drawn {
        let root = SVGBackend::with_string(&mut raw, (WIDTH, height)).into_drawing_area();
        root.fill(&WHITE)?;
        root.draw(&Rectangle::new(
            [(12, 12), (WIDTH as i32 - 12, height as i32 - 12)],
            GRID.stroke_width(1),
        ))?;
        root.draw(&Text::new(
            no_data(locale),
            (WIDTH as i32 / 2, height as i32 / 2),
            font(FONT_SIZE * 1.25)
                .color(&MUTED)
                .pos(Pos::new(HPos::Center, VPos::Center)),
        ))?;
        root.present()?;
        Ok(())
    })();
    finish(&raw, drawn, id, title, description, height)
}

/// plotters' document as an element for inline HTML: no XML prolog, no fixed size (the
/// `viewBox` lets CSS size it), `role="img"` with its title and description first.
fn finish(
    raw: &str,
    drawn: Drawn,
    id: &str,
    title: &str,
    description: &str,
    height: u32,
) -> String {
    let body = raw
        .find("<svg")
        .and_then(|start| raw[start..].find('>').map(|end| &raw[start + end + 1..]))
        .filter(|body| body.trim_end().ends_with("</svg>"));
    match (drawn, body) {
        (Ok(()), Some(body)) => {
            let id = escape(id);
            format!(
                "<svg role=\"img\" aria-labelledby=\"{id}-title {id}-desc\" viewBox=\"0 0 {WIDTH} {height}\"><title id=\"{id}-title\">{}</title><desc id=\"{id}-desc\">{}</desc>{}",
                escape(title),
                escape(description),
                body.trim()
            )
        }
        // plotters failed to write to a String: the frame still says what the chart was.
        _ => svg_frame(id, title, description),
    }
}

/// An accessible, empty frame: the last resort when drawing fails.
fn svg_frame(id: &str, title: &str, description: &str) -> String {
    let id = escape(id);
    format!(
        "<svg role=\"img\" aria-labelledby=\"{id}-title {id}-desc\" viewBox=\"0 0 {WIDTH} 120\"><title id=\"{id}-title\">{}</title><desc id=\"{id}-desc\">{}</desc></svg>",
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

#[cfg(test)]
mod tests {
    use super::*;

    fn series(label: &str, values: &[Option<f64>]) -> Series {
        Series {
            label: label.to_string(),
            values: values.to_vec(),
        }
    }

    fn weeks(n: usize) -> Vec<String> {
        (0..n)
            .map(|i| format!("2025-{:02}-{:02}", 1 + i / 4, 1 + (i % 4) * 7))
            .collect()
    }

    fn time_chart(left: Vec<Series>, right: Vec<Series>, marks: Vec<PeriodMark>) -> TimeChart {
        let n = marks.len();
        TimeChart {
            id: "all-time".to_string(),
            title: "All channels: activity & money".to_string(),
            description: "Clicks and leads against revenue per week".to_string(),
            x_labels: weeks(n),
            marks,
            left_axis: "clicks, leads".to_string(),
            left,
            right_axis: Some("revenue, $".to_string()),
            right,
            flagged_label: "flagged".to_string(),
            gap_label: "data gap".to_string(),
            locale: Locale::En,
        }
    }

    fn demo_chart(n: usize) -> TimeChart {
        let wave = |base: f64, k: f64| -> Vec<Option<f64>> {
            (0..n)
                .map(|i| Some(base + k * ((i as f64) * 0.7).sin().abs() * base))
                .collect()
        };
        let mut revenue = wave(40_000.0, 0.5);
        revenue[n / 2] = None;
        let mut marks = vec![PeriodMark::Plain; n];
        marks[n / 3] = PeriodMark::Flagged;
        marks[n / 3 + 1] = PeriodMark::Flagged;
        marks[n / 2] = PeriodMark::Gap;
        time_chart(
            vec![
                series("clicks", &wave(3_000.0, 0.4)),
                series("leads", &wave(120.0, 0.3)),
                series("won deals", &wave(20.0, 0.5)),
            ],
            vec![series("revenue", &revenue)],
            marks,
        )
    }

    fn funnel(values: &[Option<f64>], broken_after: Option<usize>) -> FunnelChart {
        let labels = ["impressions", "clicks", "leads", "won deals", "revenue"];
        FunnelChart {
            id: "funnel-meta".to_string(),
            title: "Meta: funnel".to_string(),
            description: "From impressions to revenue".to_string(),
            steps: values
                .iter()
                .zip(labels)
                .map(|(v, label)| FunnelStep {
                    label: label.to_string(),
                    value: *v,
                    // The page says numbers its own way; a test only needs them finite.
                    display: v
                        .filter(|v| v.is_finite())
                        .map_or("unknown".to_string(), |v| format!("{v}")),
                    share_of_previous: label != "revenue",
                })
                .collect(),
            broken_after,
            broken_label: "the chain breaks here".to_string(),
            locale: Locale::En,
        }
    }

    /// The checks every chart passes: one `<svg>` element, balanced tags, its title and
    /// description first, no size of its own, nothing external, no NaN or infinity.
    fn assert_well_formed(svg: &str, id: &str) {
        assert!(svg.starts_with("<svg role=\"img\""), "{svg}");
        assert!(svg.trim_end().ends_with("</svg>"));
        assert!(svg.contains(&format!(
            "aria-labelledby=\"{id}-title {id}-desc\" viewBox=\"0 0 800 "
        )));
        let after_open = &svg[svg.find('>').unwrap() + 1..];
        assert!(after_open.starts_with(&format!("<title id=\"{id}-title\">")));
        assert!(svg.contains(&format!("<desc id=\"{id}-desc\">")));
        assert!(!svg.contains("<?xml"));
        assert_eq!(svg.matches("<svg").count(), 1);
        let open_tag = &svg[..svg.find('>').unwrap()];
        assert!(!open_tag.contains("width=") && !open_tag.contains("height="));
        for external in ["href", "url(", "http", "@import"] {
            assert!(!svg.contains(external), "{external} in the chart");
        }
        for bad in ["NaN", "inf"] {
            assert!(!svg.contains(bad), "{bad} in the chart: {svg}");
        }
        // Balanced: every opened element closes, in order.
        let mut stack = Vec::new();
        let mut rest = svg;
        while let Some(start) = rest.find('<') {
            let end = rest[start..].find('>').unwrap() + start;
            let tag = &rest[start + 1..end];
            let name: String = tag
                .trim_start_matches('/')
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric())
                .collect();
            if tag.starts_with('/') {
                assert_eq!(stack.pop().as_deref(), Some(name.as_str()), "{svg}");
            } else if !tag.ends_with('/') {
                stack.push(name);
            }
            rest = &rest[end + 1..];
        }
        assert!(stack.is_empty(), "unclosed: {stack:?}");
    }

    /// The points of every `<polyline>` drawn in `colour` (plotters' `#RRGGBB`).
    fn polylines(svg: &str, colour: &str) -> Vec<Vec<(i32, i32)>> {
        svg.split("<polyline")
            .skip(1)
            .filter(|p| p[..p.find('>').unwrap()].contains(&format!("stroke=\"{colour}\"")))
            .map(|p| {
                let from = p.find("points=\"").unwrap() + "points=\"".len();
                let to = p[from..].find('"').unwrap() + from;
                p[from..to]
                    .split_whitespace()
                    .map(|xy| {
                        let (x, y) = xy.split_once(',').unwrap();
                        (x.parse().unwrap(), y.parse().unwrap())
                    })
                    .collect()
            })
            .collect()
    }

    /// The numbers of an attribute on every element `tag` that has `with` in it.
    fn attrs(svg: &str, tag: &str, with: &str, name: &str) -> Vec<f64> {
        svg.split(&format!("<{tag} "))
            .skip(1)
            .map(|e| format!(" {}", &e[..e.find('>').unwrap()]))
            .filter(|e| e.contains(with))
            .map(|e| {
                let from = e.find(&format!(" {name}=\"")).unwrap() + name.len() + 3;
                e[from..from + e[from..].find('"').unwrap()]
                    .parse()
                    .unwrap()
            })
            .collect()
    }

    /// The y of the zero tick: where a value dropped to zero would be drawn.
    fn zero_baseline(svg: &str) -> i32 {
        let at = svg.find(">\n0\n</text>").unwrap();
        let tag = &svg[svg[..at].rfind("<text").unwrap()..at];
        let from = tag.find(" y=\"").unwrap() + 4;
        tag[from..from + tag[from..].find('"').unwrap()]
            .parse()
            .unwrap()
    }

    #[test]
    fn a_time_chart_is_one_accessible_inline_svg() {
        let mut chart = demo_chart(12);
        chart.left[0].label = "R&D <clicks>".to_string();
        let svg = time_chart_svg(&chart);
        assert_well_formed(&svg, "all-time");
        assert!(svg.contains("All channels: activity &amp; money"));
        assert!(svg.contains("R&amp;D &lt;clicks&gt;"));
        assert!(svg.contains("clicks, leads") && svg.contains("revenue, $"));
        assert!(svg.contains("font-family=\"sans-serif\" font-size=\"12\""));
        // Four series, four marker shapes; the right axis' series is dashed (many short lines).
        assert!(svg.contains("<circle") && svg.contains("<polygon") && svg.contains("<rect"));
        assert!(polylines(&svg, "#D55E00").len() > 20);
        assert_eq!(
            svg,
            time_chart_svg(&chart),
            "the same input gives the same bytes"
        );
    }

    #[test]
    fn an_unknown_value_breaks_the_line_and_is_never_zero() {
        let mut chart = time_chart(
            vec![series(
                "clicks",
                &[Some(100.0), Some(120.0), None, Some(110.0), Some(130.0)],
            )],
            vec![],
            vec![PeriodMark::Plain; 5],
        );
        chart.right_axis = None;
        let svg = time_chart_svg(&chart);
        assert_well_formed(&svg, "all-time");
        let baseline = zero_baseline(&svg);
        let in_plot = |line: &Vec<(i32, i32)>| line.iter().all(|p| p.1 < baseline + 5);
        let runs: Vec<_> = polylines(&svg, "#0072B2")
            .into_iter()
            .filter(in_plot)
            .collect();
        assert_eq!(
            runs.len(),
            2,
            "two runs around the unknown period: {runs:?}"
        );
        assert!(runs.iter().all(|run| run.len() == 2));
        assert!(runs[0][1].0 < runs[1][0].0);
        let marker_ys: Vec<f64> = attrs(&svg, "circle", "#0072B2", "cy")
            .into_iter()
            .filter(|y| *y < f64::from(baseline))
            .collect();
        assert_eq!(marker_ys.len(), 4, "a marker per known value only");
        assert!(
            runs.iter().flatten().all(|p| p.1 < baseline - 50),
            "nothing drops to the zero line at {baseline}: {runs:?}"
        );
    }

    #[test]
    fn long_charts_draw_lines_without_markers_and_one_mark_per_run() {
        // 180 days: the first series has one lone known value amid unknowns, which keeps its
        // marker; the rest of its points and every other series' are lines only.
        let n = 180;
        let mut clicks: Vec<Option<f64>> = (0..n).map(|i| Some(100.0 + i as f64)).collect();
        clicks[89] = None;
        clicks[91] = None;
        let mut marks = vec![PeriodMark::Plain; n];
        for mark in &mut marks[20..30] {
            *mark = PeriodMark::Flagged;
        }
        marks[100] = PeriodMark::Flagged;
        let mut chart = time_chart(vec![series("clicks", &clicks)], vec![], marks);
        chart.right_axis = None;
        let svg = time_chart_svg(&chart);
        assert_well_formed(&svg, "all-time");
        let baseline = f64::from(zero_baseline(&svg));
        let markers = attrs(&svg, "circle", "#0072B2", "cy");
        assert_eq!(
            markers.iter().filter(|y| **y < baseline).count(),
            1,
            "{svg}"
        );
        // Two runs of flagged days, two marks (and the legend's); each band still drawn.
        assert_eq!(svg.matches(&format!(">\n{FLAG_MARK}\n</text>")).count(), 3);
        assert_eq!(svg.matches("fill=\"#FCE0B2\"").count(), 11 + 1);
    }

    #[test]
    fn a_lone_known_value_is_a_marker() {
        let mut chart = time_chart(
            vec![series("leads", &[None, Some(3.0), None])],
            vec![],
            vec![PeriodMark::Plain; 3],
        );
        chart.right_axis = None;
        let svg = time_chart_svg(&chart);
        assert_well_formed(&svg, "all-time");
        let baseline = f64::from(zero_baseline(&svg));
        let in_plot = |y: &f64| *y < baseline;
        assert_eq!(
            attrs(&svg, "circle", "#0072B2", "cy")
                .iter()
                .filter(|y| in_plot(y))
                .count(),
            1
        );
        assert!(
            polylines(&svg, "#0072B2")
                .iter()
                .all(|l| l.iter().all(|p| f64::from(p.1) > baseline))
        );
    }

    #[test]
    fn flagged_periods_are_shaded_under_the_lines_and_marked() {
        let svg = time_chart_svg(&demo_chart(12));
        let shade = "fill=\"#FCE0B2\"";
        let bands = svg.matches(shade).count();
        assert_eq!(bands, 2 + 1, "two flagged periods and the legend's swatch");
        let first_band = svg.find(shade).unwrap();
        let first_line = svg.find("stroke=\"#0072B2\"").unwrap();
        assert!(first_band < first_line, "bands are drawn first");
        assert!(
            attrs(&svg, "rect", shade, "height")
                .iter()
                .all(|h| *h > 10.0)
        );
        assert_eq!(svg.matches(">\n▲\n</text>").count(), 2 + 1);
        assert!(svg.contains(">\nflagged\n</text>"));
    }

    #[test]
    fn gap_periods_are_hatched_grey_and_marked() {
        let svg = time_chart_svg(&demo_chart(12));
        let grey = "fill=\"#E1E1E1\"";
        assert_eq!(svg.matches(grey).count(), 1 + 1);
        let x = attrs(&svg, "rect", grey, "x")[0];
        let width = attrs(&svg, "rect", grey, "width")[0];
        let hatch = polylines(&svg, "#828282");
        assert!(hatch.len() > 10, "{hatch:?}");
        let in_band: Vec<_> = hatch
            .iter()
            .filter(|l| {
                l.iter()
                    .all(|p| f64::from(p.0) >= x && f64::from(p.0) <= x + width)
            })
            .collect();
        assert!(in_band.len() > 10);
        assert_eq!(svg.matches(">\n?\n</text>").count(), 1 + 1);
        assert!(svg.contains(">\ndata gap\n</text>"));
    }

    #[test]
    fn degenerate_time_charts_draw_without_panic_or_nan() {
        let plain = |n| vec![PeriodMark::Plain; n];
        let cases = vec![
            time_chart(vec![], vec![], vec![]),
            time_chart(vec![series("clicks", &[None, None])], vec![], plain(2)),
            time_chart(vec![series("clicks", &[Some(5.0); 4])], vec![], plain(4)),
            time_chart(vec![series("clicks", &[Some(0.0); 4])], vec![], plain(4)),
            time_chart(vec![series("clicks", &[Some(7.0)])], vec![], plain(1)),
            time_chart(
                vec![series("ROMI", &[Some(-0.8), Some(-0.2), Some(1.5)])],
                vec![],
                plain(3),
            ),
            time_chart(
                vec![series(
                    "clicks",
                    &[Some(1e300), Some(-1e300), Some(f64::MAX)],
                )],
                vec![series(
                    "revenue",
                    &[Some(f64::NAN), Some(f64::INFINITY), Some(1e18)],
                )],
                plain(3),
            ),
            // Lengths that disagree: the longest decides; missing labels are blank.
            time_chart(
                vec![series(
                    "clicks",
                    &[Some(1.0), Some(2.0), Some(3.0), Some(4.0)],
                )],
                vec![],
                vec![PeriodMark::Gap],
            ),
        ];
        for chart in &cases {
            let svg = time_chart_svg(chart);
            assert_well_formed(&svg, "all-time");
        }
        assert!(time_chart_svg(&cases[0]).contains("no data"));
        assert!(time_chart_svg(&cases[1]).contains("no data"));
        let negative = time_chart_svg(&cases[5]);
        assert!(negative.contains(">\n-0.5\n</text>"), "{negative}");
    }

    #[test]
    fn many_x_labels_are_thinned_to_fit() {
        let svg = time_chart_svg(&demo_chart(60));
        let shown = weeks(60)
            .iter()
            .filter(|l| svg.contains(&format!(">\n{l}\n</text>")))
            .count();
        assert!((4..=8).contains(&shown), "{shown} labels");
    }

    #[test]
    fn russian_ticks_and_no_data_are_russian() {
        let mut chart = demo_chart(8);
        chart.locale = Locale::Ru;
        let svg = time_chart_svg(&chart);
        assert!(svg.contains("\u{a0}тыс."), "{svg}");
        chart.left.clear();
        chart.right.clear();
        chart.x_labels.clear();
        chart.marks.clear();
        assert!(time_chart_svg(&chart).contains("нет данных"));
    }

    #[test]
    fn a_half_year_of_weeks_stays_small() {
        let svg = time_chart_svg(&demo_chart(26));
        assert!(svg.len() < 60_000, "{} bytes", svg.len());
    }

    #[test]
    fn a_funnel_shows_rates_unknown_steps_and_the_break() {
        let chart = funnel(
            &[Some(250_000.0), Some(4_300.0), Some(180.0), None, Some(0.0)],
            Some(2),
        );
        let svg = funnel_svg(&chart);
        assert_well_formed(&svg, "funnel-meta");
        for label in ["impressions", "clicks", "leads", "won deals", "revenue"] {
            assert!(svg.contains(&format!(">\n{label}\n</text>")), "{label}");
        }
        assert!(svg.contains(">\n↓ 1.7%\n</text>"));
        assert!(svg.contains(">\n↓ 4.2%\n</text>"));
        // No rate across the unknown step, nor from it.
        assert_eq!(svg.matches("↓").count(), 2);
        // Nor from won deals to money: a share of deals in dollars means nothing.
        let known = funnel_svg(&funnel(
            &[
                Some(1000.0),
                Some(100.0),
                Some(10.0),
                Some(2.0),
                Some(5000.0),
            ],
            None,
        ));
        assert_eq!(known.matches("↓").count(), 3, "{known}");
        assert!(svg.contains(">\nunknown\n</text>"));
        assert!(svg.contains(">\n0\n</text>"));
        // The break: a vermillion dashed line plus its words.
        assert!(polylines(&svg, "#D55E00").len() > 5);
        assert!(svg.contains(">\nthe chain breaks here\n</text>"));
        // Bars: three known, non-zero ones and the zero sliver.
        assert_eq!(attrs(&svg, "rect", "#0072B2", "width").len(), 4);
    }

    #[test]
    fn degenerate_funnels_draw_without_panic_or_nan() {
        for values in [
            vec![],
            vec![None, None],
            vec![Some(0.0), Some(0.0)],
            vec![Some(1.0)],
            vec![Some(f64::MAX), Some(f64::NAN), Some(-3.0), Some(0.5)],
        ] {
            for broken in [None, Some(0), Some(7)] {
                let svg = funnel_svg(&funnel(&values, broken));
                assert_well_formed(&svg, "funnel-meta");
            }
        }
    }
}
