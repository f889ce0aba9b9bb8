//! The HTML report of `kassa report`, of the worker's `/` and `/report`, and of the demo: one
//! self-contained page (inline styles, charts as inline SVG from [`super::charts`], no script,
//! no external reference), readable offline, as an email attachment and on paper.

use crate::analysis::{Analysis, RuleSettings};
use crate::domain::Locale;

use super::charts::escape;

/// The whole page for `analysis`, its words in `locale` (findings are described afresh in
/// it, whatever language the analysis was described in).
pub fn render(analysis: &Analysis, settings: &RuleSettings, locale: Locale) -> String {
    let lang = match locale {
        Locale::En => "en",
        Locale::Ru => "ru",
    };
    let mut page = format!(
        "<!DOCTYPE html>\n<html lang=\"{lang}\"><head><meta charset=\"utf-8\"><title>kassa {} – {}</title></head><body><main><h1>kassa</h1><section id=\"findings\"><ul>",
        analysis.from, analysis.to
    );
    for finding in &analysis.findings {
        page.push_str(&format!(
            "<li>{}</li>",
            escape(&crate::text::describe(finding, settings, locale))
        ));
    }
    page.push_str("</ul></section></main></body></html>\n");
    page
}
