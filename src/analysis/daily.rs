//! The one pass over the raw ad rows: summed by source, channel, day and currency, lazily, so
//! polars reads only the columns named here and an agency's eleven million campaign-days
//! become a few thousand rows before anything else looks at them.
//!
//! The daily frame keeps the ads schema's names and meanings, so the steps after it read it
//! like rows: `reach` is null when some row of the day did not report it (its sum would pass
//! an unknown for a number), a `claimed_*` column is null when no row of the day claimed it
//! (not reported is not zero), and `clicks_only` counts the rows with clicks but no
//! impressions (the CTR of such a day is unknown). Deals are fewer by orders of magnitude and
//! are read as rows, only the columns the analysis uses.

use polars::prelude::*;

use super::{AnalysisError, at};

/// The ad rows of every part summed by `source`, `channel`, `date` and `currency`; each part
/// (a month partition of the store) is collected on its own and the small results stacked.
pub(super) fn ads_by_day(parts: Vec<LazyFrame>) -> Result<DataFrame, AnalysisError> {
    let stage = "summing ad rows by day";
    let mut stacked: Option<DataFrame> = None;
    for part in parts {
        let summed = by_day(part, clicks_only()).collect().map_err(at(stage))?;
        stacked = Some(match stacked {
            None => summed,
            Some(mut all) => {
                all.vstack_mut(&summed).map_err(at(stage))?;
                all
            }
        });
    }
    let stacked = stacked
        .ok_or_else(|| at(stage)(PolarsError::NoData("no scan of ad rows was given".into())))?;
    // Parts may share a day (a source's rows of one day in two files): sum the sums.
    let resummed = col("clicks_only").sum().cast(DataType::UInt64);
    let mut frame = by_day(stacked.lazy(), resummed)
        .collect()
        .map_err(at(stage))?;
    frame.rechunk_mut();
    Ok(frame)
}

/// Sums by day; `clicks_only` counts the clicks-only rows (of raw rows, or of daily sums).
fn by_day(rows: LazyFrame, clicks_only: Expr) -> LazyFrame {
    let count = |e: Expr| e.cast(DataType::UInt64);
    let unless_unknown = |name: &str, unknown: Expr| {
        when(unknown)
            .then(lit(NULL))
            .otherwise(col(name).sum())
            .alias(name)
    };
    rows.group_by([col("source"), col("channel"), col("date"), col("currency")])
        .agg([
            count(col("impressions").sum()).alias("impressions"),
            count(col("clicks").sum()).alias("clicks"),
            count(unless_unknown(
                "reach",
                col("reach").null_count().gt(lit(0)),
            ))
            .alias("reach"),
            clicks_only.alias("clicks_only"),
            col("spend_micros")
                .sum()
                .cast(DataType::Int64)
                .alias("spend_micros"),
            count(unless_unknown(
                "claimed_leads",
                col("claimed_leads").is_not_null().sum().eq(lit(0)),
            ))
            .alias("claimed_leads"),
            count(unless_unknown(
                "claimed_purchases",
                col("claimed_purchases").is_not_null().sum().eq(lit(0)),
            ))
            .alias("claimed_purchases"),
            unless_unknown(
                "claimed_revenue_micros",
                col("claimed_revenue_micros").is_not_null().sum().eq(lit(0)),
            )
            .cast(DataType::Int64)
            .alias("claimed_revenue_micros"),
        ])
}

/// Raw rows with clicks but no impressions.
fn clicks_only() -> Expr {
    col("clicks")
        .gt(lit(0))
        .and(col("impressions").eq(lit(0)))
        .sum()
        .cast(DataType::UInt64)
}

/// The deals, only the columns the analysis reads.
pub(super) fn deals(scan: LazyFrame) -> Result<DataFrame, AnalysisError> {
    scan.select([
        col("source"),
        col("channel"),
        col("created_date"),
        col("closed_date"),
        col("status"),
        col("amount_micros"),
        col("currency"),
        col("customer_id"),
    ])
    .collect()
    .map_err(at("reading the deals"))
}
