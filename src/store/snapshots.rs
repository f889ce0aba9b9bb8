//! Parquet snapshots of rows, one file per source, row kind and month (`partitions.rs` says
//! where), and the one definition of their schemas.
//!
//! [`ADS`] and [`DEALS`] say, column by column, what a snapshot holds: name, type and whether
//! it may be null. The same definition builds
//! every frame written (so a file's columns cannot drift from it) and checks every file read:
//! - a column the definition does not know, or of another type, is refused naming the file and
//!   the column: the file comes from a newer kassa, or it is damaged;
//! - a nullable column the file lacks (it was written before that column existed) reads as
//!   nulls, which mean "not reported", never zero; a required one missing is refused;
//! - a file stamped with a newer store schema than [`super::SCHEMA_VERSION`] is refused.
//!
//! Frames come back with the columns in the definition's order, so snapshots of several
//! sources and of several ages stack into one frame.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use chrono_tz::Tz;
use polars::prelude::*;

use super::partitions::{self, Files, Month, month_of_days, months_between};
use super::{SCHEMA_VERSION, Store, StoreError};
use crate::domain::{
    AdDay, DateRange, Deal, DealStatus, Money, Pulled, ReportClaim, RowKind, Suspicion,
};
use crate::frames::{self, ColumnDef, column};

/// The Parquet key-value metadata key that records the store schema version a snapshot was
/// written with. Files written before versions existed lack it and are version 1.
pub(crate) const STAMP_KEY: &str = "kassa.store_schema";

/// The Parquet key-value metadata key that records the time zone a deals snapshot's dates are
/// in (an IANA name). Files written before store schema 3 lack it: their zone is unknown and
/// taken to be the configured one.
pub(crate) const TIMEZONE_KEY: &str = "kassa.timezone";

/// Days since 1970-01-01, the physical value of a polars `Date`.
pub fn epoch_days(date: NaiveDate) -> i32 {
    date.to_epoch_days()
}

/// About how many ad rows one part of `Store::scan_ad_parts` holds: a few months of an
/// agency's history (a few hundred MB while it is summed), all of a typical account's.
const ROWS_PER_PART: usize = 1_000_000;

/// What one upsert changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UpsertStats {
    /// Rows of the window that were there before and were replaced.
    pub replaced: usize,
    /// Rows written for the window.
    pub written: usize,
}

/// How a checked upsert ([`Store::upsert_checked`]) treats a re-pull that answers with less
/// than the store holds for its window.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Guard {
    /// Store the answer as it is, even an empty one, and clear the window's suspicious marks
    /// (`kassa backfill --accept-empty`: the rows were really deleted).
    pub accept_empty: bool,
    /// A re-pull that shrinks the window's spend (ad rows) or won revenue (deals) by more than
    /// this fraction of what the store held is stored but marked suspicious
    /// (`[store] max_shrink`; 1.0 marks none).
    pub max_shrink: f64,
}

impl Guard {
    /// Takes every answer as it is.
    pub const ACCEPT: Guard = Guard {
        accept_empty: true,
        max_shrink: 1.0,
    };

    /// Keeps what silence would erase, and marks shrinking beyond `max_shrink`.
    pub fn new(max_shrink: f64) -> Guard {
        Guard {
            accept_empty: false,
            max_shrink,
        }
    }
}

/// What a checked upsert did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checked {
    pub stats: UpsertStats,
    /// Why the window is now marked suspicious; empty when the answer looked whole.
    pub suspicions: Vec<Suspicion>,
}

/// The months of a snapshot ready to be written, and what the window's answer looked like.
struct Prepared {
    /// The snapshot directory (`ads/meta.parquet`).
    snapshot: PathBuf,
    /// The months whose files are rewritten from `frame` (removed when it has no row of one).
    months: BTreeSet<Month>,
    /// The date column whose month places a row.
    month_column: &'static str,
    /// The rows of those months after the upsert.
    frame: DataFrame,
    timezone: Option<String>,
    stats: UpsertStats,
    suspicions: Vec<Suspicion>,
}

/// What a re-pull answered for its window.
struct Answer<'a> {
    channels: HashSet<&'a str>,
    /// Deal ids (a deal returned under another channel was re-attributed, not lost).
    ids: HashSet<&'a str>,
    /// Spend, or won revenue, in micros.
    measure: i64,
    empty: bool,
}

/// One stored row, as the window's answer sees it.
struct Stored {
    /// The window answers for it: the answer replaces it, unless it holds it back.
    in_window: bool,
    /// The answer returned the same deal.
    returned: bool,
    /// Its share of the window's spend or won revenue, in micros.
    measure: i64,
}

/// The stored rows the window's answer replaces, and those it holds back.
#[derive(Default)]
struct Judged {
    /// The stored rows to keep: outside the window, or held back.
    keep: BooleanChunked,
    replaced: usize,
    /// Rows held back because the answer had none of their channel, by channel.
    held: BTreeMap<String, usize>,
    /// The window's spend or won revenue as stored, and the part of it held back.
    before: i64,
    held_measure: i64,
}

/// Sorts the stored rows of `df` against the window's answer: a row the window answers for
/// is replaced, unless the answer has no row of its channel (and did not return it under
/// another), in which case it is held back, unless the guard accepts the answer as it is.
fn judge(df: &DataFrame, stored: &[Stored], answer: &Answer, guard: Guard) -> PolarsResult<Judged> {
    let channels = df.column("channel")?.str()?.clone();
    let mut judged = Judged::default();
    let mut keep = Vec::with_capacity(stored.len());
    for (row, channel) in stored.iter().zip(channels.iter()) {
        if !row.in_window {
            keep.push(true);
            continue;
        }
        judged.before += row.measure;
        let channel = channel.unwrap_or_default();
        let held = !guard.accept_empty && !row.returned && !answer.channels.contains(channel);
        if held {
            *judged.held.entry(channel.to_string()).or_default() += 1;
            judged.held_measure += row.measure;
        } else {
            judged.replaced += 1;
        }
        keep.push(held);
    }
    judged.keep = keep.into_iter().collect();
    Ok(judged)
}

impl Judged {
    /// Why the window is suspicious: rows held back (all of them when the answer was empty,
    /// else per channel), and a `metric` that shrank beyond the guard's fraction.
    fn suspicions(&self, answer: &Answer, metric: &str, guard: Guard) -> Vec<Suspicion> {
        let mut suspicions = Vec::new();
        if answer.empty && !self.held.is_empty() {
            suspicions.push(Suspicion::Kept {
                channel: None,
                rows: self.held.values().sum(),
            });
        } else {
            suspicions.extend(self.held.iter().map(|(channel, rows)| Suspicion::Kept {
                channel: Some(channel.clone()),
                rows: *rows,
            }));
        }
        let after = answer.measure + self.held_measure;
        let lost = self.before.saturating_sub(after) as f64;
        if !guard.accept_empty && self.before > 0 && lost > guard.max_shrink * self.before as f64 {
            suspicions.push(Suspicion::Shrunk {
                metric: metric.to_string(),
                before: Money::from_micros(self.before),
                after: Money::from_micros(after),
            });
        }
        suspicions
    }
}

/// The stored rows an upsert keeps, then the window's fresh ones, sorted by the snapshot's
/// natural key so a re-pull of the same rows writes the same file.
fn stacked<const N: usize>(
    kept: Option<DataFrame>,
    fresh: DataFrame,
    by: [&str; N],
) -> PolarsResult<DataFrame> {
    let combined = match kept {
        Some(kept) => kept.vstack(&fresh)?,
        None => fresh,
    };
    combined.sort(by, SortMultipleOptions::default())
}

/// What the window's fresh rows (a frame with `source`, one row per natural key) answer: their
/// channels, their deal ids, their spend (ad rows) or the revenue of the won deals closed in
/// `range` (deals), and whether there are none.
fn answer(fresh: &DataFrame, range: DateRange) -> PolarsResult<Answer<'_>> {
    let channels = fresh.column("channel")?.str()?.iter().flatten().collect();
    let empty = fresh.height() == 0;
    if fresh.get_column_index("deal_id").is_none() {
        return Ok(Answer {
            channels,
            ids: HashSet::new(),
            measure: fresh.column("spend_micros")?.i64()?.sum().unwrap_or(0),
            empty,
        });
    }
    let closed = fresh.column("closed_date")?.cast(&DataType::Int32)?;
    let closed = closed.i32()?;
    let won_in_window = fresh
        .column("status")?
        .str()?
        .equal(DealStatus::Won.as_str())
        & closed.gt_eq(epoch_days(range.start))
        & closed.lt_eq(epoch_days(range.end));
    let measure = fresh
        .column("amount_micros")?
        .i64()?
        .filter(&won_in_window)?
        .sum()
        .unwrap_or(0);
    Ok(Answer {
        channels,
        ids: fresh.column("deal_id")?.str()?.iter().flatten().collect(),
        measure,
        empty,
    })
}

/// The months of a frame's date column, each once.
fn frame_months(df: &DataFrame, column: &str) -> PolarsResult<Vec<Month>> {
    let days = df.column(column)?.cast(&DataType::Int32)?;
    let months: BTreeSet<Month> = days
        .i32()?
        .iter()
        .flatten()
        .filter_map(month_of_days)
        .collect();
    Ok(months.into_iter().collect())
}

/// A source's frame (the [`crate::frames`] columns without `source`) with `source`, in the
/// snapshot's column order and checked against its types, keeping the last row of each
/// natural `key` (a platform repeating a row in one answer keeps its last version).
fn with_source<R>(
    schema: &SnapshotSchema<R>,
    source: &str,
    df: &DataFrame,
    key: &[&str],
) -> PolarsResult<DataFrame> {
    let mut df = df.clone();
    df.insert_column(
        0,
        Column::new_scalar(
            "source".into(),
            Scalar::new(DataType::String, AnyValue::StringOwned(source.into())),
            df.height(),
        ),
    )?;
    let df = df.select(schema.columns.iter().map(|spec| spec.def.name))?;
    for (column, spec) in df.columns().iter().zip(schema.columns) {
        if column.dtype() != &spec.def.column_type.dtype() {
            polars_bail!(SchemaMismatch: "column `{}` holds {}", spec.def.name, column.dtype());
        }
    }
    let key: Vec<String> = key.iter().map(|k| k.to_string()).collect();
    df.unique_stable(Some(&key), UniqueKeepStrategy::Last, None)
}

/// The last row of each `key`, newest first (a platform repeating a row in one answer keeps
/// its last version).
fn last_of_each<'a, T, K: std::hash::Hash + Eq>(
    rows: &'a [T],
    key: impl Fn(&'a T) -> K,
) -> Vec<&'a T> {
    let mut seen = HashSet::new();
    rows.iter()
        .rev()
        .filter(|row| seen.insert(key(row)))
        .collect()
}

/// Ad rows as a fresh frame: the last row of each natural key (source, account, campaign,
/// date), in the snapshot schema.
fn ads_frame(source: &str, rows: &[AdDay]) -> PolarsResult<DataFrame> {
    let unique = last_of_each(rows, |r| (&r.account, &r.campaign_id, r.date));
    ADS.frame(source, &unique)
}

/// Deals as a fresh frame: the last of each deal id.
fn deals_frame(source: &str, rows: &[Deal]) -> PolarsResult<DataFrame> {
    DEALS.frame(source, &last_of_each(rows, |r| r.id.as_str()))
}

/// Claims as a fresh frame: the last of each (channel, metric, dates).
fn claim_frame(source: &str, rows: &[ReportClaim]) -> PolarsResult<DataFrame> {
    let unique = last_of_each(rows, |r| (&r.channel, r.metric, r.period));
    CLAIMS.frame(source, &unique)
}

/// Why a snapshot does not fit the schema this kassa knows.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SchemaProblem {
    #[error(
        "column `{column}` is not part of the {kind} snapshot schema this kassa knows (store schema version {newest}): the file was written by a newer kassa, or it is damaged"
    )]
    UnknownColumn {
        kind: &'static str,
        column: String,
        newest: u32,
    },
    #[error(
        "column `{column}` holds {found} where the {kind} snapshot schema has {expected}: the file was written by a newer kassa, or it is damaged"
    )]
    WrongType {
        kind: &'static str,
        column: String,
        found: String,
        expected: String,
    },
    #[error(
        "required column `{column}` of the {kind} snapshot schema is missing: the file is damaged"
    )]
    MissingColumn { kind: &'static str, column: String },
    #[error("required column `{column}` has {nulls} empty values: the file is damaged")]
    EmptyValues { column: String, nulls: usize },
    #[error("its `{STAMP_KEY}` stamp is {value:?}, not a schema version: the file is damaged")]
    BadStamp { value: Option<String> },
}

/// One column of a snapshot schema.
pub(crate) struct ColumnSpec<R: 'static> {
    /// Name, type and nullability, from the definition sources share ([`crate::frames`]).
    pub(crate) def: ColumnDef,
    /// The column's values for rows of a source, as a series of the column type or of its
    /// physical type (`i32` days for dates).
    values: fn(source: &str, rows: &[&R]) -> Series,
}

/// The columns of one kind of snapshot, in the order they are stored.
pub(crate) struct SnapshotSchema<R: 'static> {
    pub(crate) kind: RowKind,
    pub(crate) columns: &'static [ColumnSpec<R>],
}

fn series<T, S>(values: impl Iterator<Item = T>) -> Series
where
    Series: NamedFrom<Vec<T>, S>,
    S: ?Sized,
{
    Series::new(PlSmallStr::EMPTY, values.collect::<Vec<T>>())
}

fn source_column(source: &str, len: usize) -> Series {
    Series::new(PlSmallStr::EMPTY, vec![source; len])
}

/// Ad rows: one row per source, account, campaign and day.
pub(crate) const ADS: SnapshotSchema<AdDay> = SnapshotSchema {
    kind: RowKind::Ads,
    columns: &[
        ColumnSpec {
            def: column(frames::ADS, "source"),
            values: |source, rows| source_column(source, rows.len()),
        },
        ColumnSpec {
            def: column(frames::ADS, "account"),
            values: |_, rows| series(rows.iter().map(|r| r.account.as_str())),
        },
        ColumnSpec {
            def: column(frames::ADS, "channel"),
            values: |_, rows| series(rows.iter().map(|r| r.channel.as_str())),
        },
        ColumnSpec {
            def: column(frames::ADS, "campaign_id"),
            values: |_, rows| series(rows.iter().map(|r| r.campaign_id.as_str())),
        },
        ColumnSpec {
            def: column(frames::ADS, "campaign_name"),
            values: |_, rows| series(rows.iter().map(|r| r.campaign_name.as_deref())),
        },
        ColumnSpec {
            def: column(frames::ADS, "date"),
            values: |_, rows| series(rows.iter().map(|r| epoch_days(r.date))),
        },
        ColumnSpec {
            def: column(frames::ADS, "impressions"),
            values: |_, rows| series(rows.iter().map(|r| r.impressions)),
        },
        ColumnSpec {
            def: column(frames::ADS, "reach"),
            values: |_, rows| series(rows.iter().map(|r| r.reach)),
        },
        ColumnSpec {
            def: column(frames::ADS, "clicks"),
            values: |_, rows| series(rows.iter().map(|r| r.clicks)),
        },
        ColumnSpec {
            def: column(frames::ADS, "spend_micros"),
            values: |_, rows| series(rows.iter().map(|r| r.spend.micros())),
        },
        ColumnSpec {
            def: column(frames::ADS, "currency"),
            values: |_, rows| series(rows.iter().map(|r| r.currency.as_deref())),
        },
        // Store schema 7: what the platform claims the row brought (null: not reported).
        ColumnSpec {
            def: column(frames::ADS, "claimed_leads"),
            values: |_, rows| series(rows.iter().map(|r| r.claims.leads)),
        },
        ColumnSpec {
            def: column(frames::ADS, "claimed_purchases"),
            values: |_, rows| series(rows.iter().map(|r| r.claims.purchases)),
        },
        ColumnSpec {
            def: column(frames::ADS, "claimed_revenue_micros"),
            values: |_, rows| series(rows.iter().map(|r| r.claims.revenue.map(|m| m.micros()))),
        },
    ],
};

/// A report's claims (`csv_report`): one row per source, channel, metric and the report's own
/// dates. Store schema 7.
pub(crate) const CLAIMS: SnapshotSchema<ReportClaim> = SnapshotSchema {
    kind: RowKind::Claims,
    columns: &[
        ColumnSpec {
            def: column(frames::CLAIMS, "source"),
            values: |source, rows| source_column(source, rows.len()),
        },
        ColumnSpec {
            def: column(frames::CLAIMS, "period_start"),
            values: |_, rows| series(rows.iter().map(|r| epoch_days(r.period.start))),
        },
        ColumnSpec {
            def: column(frames::CLAIMS, "period_end"),
            values: |_, rows| series(rows.iter().map(|r| epoch_days(r.period.end))),
        },
        ColumnSpec {
            def: column(frames::CLAIMS, "channel"),
            values: |_, rows| series(rows.iter().map(|r| r.channel.as_str())),
        },
        ColumnSpec {
            def: column(frames::CLAIMS, "metric"),
            values: |_, rows| series(rows.iter().map(|r| r.metric.as_str())),
        },
        ColumnSpec {
            def: column(frames::CLAIMS, "value_micros"),
            values: |_, rows| series(rows.iter().map(|r| r.value.micros())),
        },
        ColumnSpec {
            def: column(frames::CLAIMS, "currency"),
            values: |_, rows| series(rows.iter().map(|r| r.currency.as_deref())),
        },
        ColumnSpec {
            def: column(frames::CLAIMS, "note"),
            values: |_, rows| series(rows.iter().map(|r| r.note.as_deref())),
        },
    ],
};

/// Deals: one row per source and deal id.
pub(crate) const DEALS: SnapshotSchema<Deal> = SnapshotSchema {
    kind: RowKind::Deals,
    columns: &[
        ColumnSpec {
            def: column(frames::DEALS, "source"),
            values: |source, rows| source_column(source, rows.len()),
        },
        ColumnSpec {
            def: column(frames::DEALS, "deal_id"),
            values: |_, rows| series(rows.iter().map(|r| r.id.as_str())),
        },
        ColumnSpec {
            def: column(frames::DEALS, "created_date"),
            values: |_, rows| series(rows.iter().map(|r| epoch_days(r.created_date))),
        },
        ColumnSpec {
            def: column(frames::DEALS, "closed_date"),
            values: |_, rows| series(rows.iter().map(|r| r.closed_date.map(epoch_days))),
        },
        ColumnSpec {
            def: column(frames::DEALS, "status"),
            values: |_, rows| series(rows.iter().map(|r| r.status.as_str())),
        },
        ColumnSpec {
            def: column(frames::DEALS, "amount_micros"),
            values: |_, rows| series(rows.iter().map(|r| r.amount.map(|a| a.micros()))),
        },
        ColumnSpec {
            def: column(frames::DEALS, "currency"),
            values: |_, rows| series(rows.iter().map(|r| r.currency.as_deref())),
        },
        ColumnSpec {
            def: column(frames::DEALS, "channel"),
            values: |_, rows| series(rows.iter().map(|r| r.channel.as_str())),
        },
        ColumnSpec {
            def: column(frames::DEALS, "customer_id"),
            values: |_, rows| series(rows.iter().map(|r| r.customer_id.as_deref())),
        },
        // Store schema 3: the CRM's instants, so a change of time zone re-dates the deal.
        ColumnSpec {
            def: column(frames::DEALS, "created_at_ms"),
            values: |_, rows| {
                series(
                    rows.iter()
                        .map(|r| r.instants.map(|i| i.created.timestamp_millis())),
                )
            },
        },
        ColumnSpec {
            def: column(frames::DEALS, "closed_at_ms"),
            values: |_, rows| {
                series(rows.iter().map(|r| {
                    r.instants
                        .and_then(|i| i.closed)
                        .map(|t| t.timestamp_millis())
                }))
            },
        },
    ],
};

impl<R> SnapshotSchema<R> {
    /// `rows` of `source` as a frame of exactly this schema.
    pub(crate) fn frame(&self, source: &str, rows: &[&R]) -> PolarsResult<DataFrame> {
        let columns = self
            .columns
            .iter()
            .map(|spec| {
                let values = (spec.values)(source, rows).with_name(spec.def.name.into());
                Ok(values.cast(&spec.def.column_type.dtype())?.into_column())
            })
            .collect::<PolarsResult<Vec<_>>>()?;
        DataFrame::new(rows.len(), columns)
    }

    fn spec(&self, name: &str) -> Option<&ColumnSpec<R>> {
        self.columns.iter().find(|spec| spec.def.name == name)
    }

    /// Checks a frame read from `path` against this schema and returns it in this schema's
    /// column order, with the nullable columns it predates added as nulls.
    pub(crate) fn conform(&self, path: &Path, df: DataFrame) -> Result<DataFrame, StoreError> {
        let kind = self.kind.as_str();
        let refuse = |problem| StoreError::SnapshotSchema {
            path: path.to_path_buf(),
            problem,
        };
        for column in df.columns() {
            let name = column.name().to_string();
            let Some(spec) = self.spec(&name) else {
                return Err(refuse(SchemaProblem::UnknownColumn {
                    kind,
                    column: name,
                    newest: SCHEMA_VERSION,
                }));
            };
            let expected = spec.def.column_type.dtype();
            if column.dtype() != &expected {
                return Err(refuse(SchemaProblem::WrongType {
                    kind,
                    column: name,
                    found: column.dtype().to_string(),
                    expected: expected.to_string(),
                }));
            }
            if !spec.def.nullable && column.null_count() > 0 {
                return Err(refuse(SchemaProblem::EmptyValues {
                    column: name,
                    nulls: column.null_count(),
                }));
            }
        }
        let height = df.height();
        let columns = self
            .columns
            .iter()
            .map(|spec| match df.column(spec.def.name) {
                Ok(column) => Ok(column.clone()),
                Err(_) if spec.def.nullable => Ok(Column::full_null(
                    spec.def.name.into(),
                    height,
                    &spec.def.column_type.dtype(),
                )),
                Err(_) => Err(refuse(SchemaProblem::MissingColumn {
                    kind,
                    column: spec.def.name.to_string(),
                })),
            })
            .collect::<Result<Vec<_>, _>>()?;
        DataFrame::new(height, columns).map_err(|source| StoreError::Snapshot {
            path: path.to_path_buf(),
            source,
        })
    }
}

/// Report claims as a frame in the snapshot schema (what [`Store::claims`] returns).
pub fn claims_to_frame(source: &str, rows: &[ReportClaim]) -> PolarsResult<DataFrame> {
    CLAIMS.frame(source, &rows.iter().collect::<Vec<_>>())
}

/// Ad rows as a frame in the snapshot schema (what [`Store::ads`] returns).
pub fn ad_rows_to_frame(source: &str, rows: &[AdDay]) -> PolarsResult<DataFrame> {
    ADS.frame(source, &rows.iter().collect::<Vec<_>>())
}

/// Deals as a frame in the snapshot schema (what [`Store::deals`] returns).
pub fn deals_to_frame(source: &str, rows: &[Deal]) -> PolarsResult<DataFrame> {
    DEALS.frame(source, &rows.iter().collect::<Vec<_>>())
}

impl Store {
    /// Replaces `source`'s rows for `range` with `rows`, then records `covered` in the ledger,
    /// whatever the answer: an empty one erases the window. This is accepting the answer as
    /// it is (it clears the window's suspicious marks); pulls go through
    /// [`Store::upsert_checked`].
    pub fn upsert(
        &mut self,
        source: &str,
        range: DateRange,
        rows: &Pulled,
        covered: Option<DateRange>,
    ) -> Result<UpsertStats, StoreError> {
        self.upsert_checked(source, range, rows, covered, Guard::ACCEPT)
            .map(|checked| checked.stats)
    }

    /// Replaces `source`'s rows for `range` with `rows` and records `covered`, unless the
    /// answer looks like silence rather than data (see [`Guard`]):
    /// - a channel the store holds rows of in the window, of which the answer has none (and,
    ///   for deals, none of whose deals the answer returns under another channel), keeps its
    ///   stored rows; when the whole answer is empty, the whole window is kept and no
    ///   coverage is recorded, since the answer vouches for nothing;
    /// - a window whose spend (ad rows) or won revenue (deals closed in it) shrinks by more
    ///   than [`Guard::max_shrink`] is stored.
    ///
    /// Either way the window is marked suspicious in the ledger, before the rows are written.
    /// A window that comes back whole clears its kept-rows marks; an accepting guard stores
    /// the answer as it is and clears every mark the window overlaps.
    ///
    /// Only the month files the window touches are read and rewritten (see
    /// `partitions.rs`; for deals, `Store::deal_months` says which).
    pub fn upsert_checked(
        &mut self,
        source: &str,
        range: DateRange,
        rows: &Pulled,
        covered: Option<DateRange>,
        guard: Guard,
    ) -> Result<Checked, StoreError> {
        let fresh = |result: PolarsResult<DataFrame>| {
            result.map_err(|e| StoreError::Snapshot {
                path: self.root.clone(),
                source: e,
            })
        };
        let kind = match rows {
            Pulled::Ads(_) | Pulled::AdFrame(_) => RowKind::Ads,
            Pulled::Deals(_) | Pulled::DealFrame(_) => RowKind::Deals,
            Pulled::Claims(_) | Pulled::ClaimFrame(_) => RowKind::Claims,
        };
        self.split_single_file(kind, source)?;
        let mut prepared = match rows {
            Pulled::Ads(rows) => {
                self.prepare_ads(source, range, fresh(ads_frame(source, rows))?, guard)?
            }
            Pulled::Deals(rows) => {
                self.prepare_deals(source, range, fresh(deals_frame(source, rows))?, guard)?
            }
            Pulled::Claims(rows) => {
                self.prepare_claims(source, range, fresh(claim_frame(source, rows))?)?
            }
            Pulled::AdFrame(df) => {
                let df = fresh(with_source(
                    &ADS,
                    source,
                    df,
                    &["account", "campaign_id", "date"],
                ))?;
                self.prepare_ads(source, range, df, guard)?
            }
            Pulled::DealFrame(df) => {
                let df = fresh(with_source(&DEALS, source, df, &["deal_id"]))?;
                self.prepare_deals(source, range, df, guard)?
            }
            Pulled::ClaimFrame(df) => {
                let key = ["channel", "metric", "period_start", "period_end"];
                self.prepare_claims(
                    source,
                    range,
                    fresh(with_source(&CLAIMS, source, df, &key))?,
                )?
            }
        };
        if !prepared.suspicions.is_empty() {
            self.mark_suspicious(source, range, &prepared.suspicions)?;
        }
        let written = write_months(
            &prepared.snapshot,
            &mut prepared.frame,
            prepared.month_column,
            &prepared.months,
            prepared.timezone.as_deref(),
        )?;
        self.partitions_written += prepared.months.len();
        // On object storage, the months go up and the pointers switch before coverage says
        // the window is stored.
        self.publish_months(kind, source, &written)?;
        let kept_all = prepared
            .suspicions
            .iter()
            .any(|s| matches!(s, Suspicion::Kept { channel: None, .. }));
        if let Some(covered) = covered.filter(|_| !kept_all) {
            self.add_coverage(source, covered)?;
        }
        if guard.accept_empty || prepared.suspicions.is_empty() {
            self.clear_suspicious(source, range, guard.accept_empty)?;
        }
        Ok(Checked {
            stats: prepared.stats,
            suspicions: prepared.suspicions,
        })
    }

    /// How many month files the upserts of this `Store` have rewritten or removed (what a
    /// re-pull costs; the tests count it).
    pub fn partitions_written(&self) -> usize {
        self.partitions_written
    }

    pub(super) fn snapshot_path(&self, kind: RowKind, source: &str) -> PathBuf {
        self.root
            .join(kind.as_str())
            .join(format!("{source}.parquet"))
    }

    /// The month files of `source`'s snapshot of `kind` (none yet: an empty map). A
    /// single-file snapshot has been split by [`Store::split_single_file`] before.
    fn months_of(
        &self,
        kind: RowKind,
        source: &str,
    ) -> Result<BTreeMap<Month, PathBuf>, StoreError> {
        let snapshot = self.snapshot_path(kind, source);
        match files(&snapshot)? {
            Files::Months(months) => Ok(months),
            Files::None => Ok(BTreeMap::new()),
            Files::Single(path) => Err(StoreError::Io {
                path,
                source: std::io::Error::other("a single-file snapshot where months were expected"),
            }),
        }
    }

    /// Splits `source`'s single-file snapshot of `kind` (written before store schema 8) into
    /// month files; nothing when it has none.
    pub(super) fn split_single_file(&self, kind: RowKind, source: &str) -> Result<(), StoreError> {
        split(kind, &self.snapshot_path(kind, source))
    }

    /// The month files of `snapshot` in `months` (those that exist), read, checked, passed
    /// through `adjust` and stacked; with the zone the first of them records.
    fn read_months<R>(
        &self,
        schema: &SnapshotSchema<R>,
        files: &BTreeMap<Month, PathBuf>,
        months: &BTreeSet<Month>,
        adjust: impl Fn(&Path, Snapshot) -> Result<Snapshot, StoreError>,
    ) -> Result<Option<Snapshot>, StoreError> {
        let mut read: Option<Snapshot> = None;
        for month in months {
            let Some(path) = files.get(month) else {
                continue;
            };
            let Some(snapshot) = read_snapshot(schema, path)? else {
                continue;
            };
            let snapshot = adjust(path, snapshot)?;
            match &mut read {
                Some(read) => {
                    read.frame
                        .vstack_mut_owned(snapshot.frame)
                        .map_err(|source| StoreError::Snapshot {
                            path: path.clone(),
                            source,
                        })?;
                }
                None => read = Some(snapshot),
            }
        }
        Ok(read)
    }

    fn prepare_ads(
        &self,
        source: &str,
        range: DateRange,
        fresh: DataFrame,
        guard: Guard,
    ) -> Result<Prepared, StoreError> {
        let snapshot = self.snapshot_path(RowKind::Ads, source);
        let snapshot_error = |source| StoreError::Snapshot {
            path: snapshot.clone(),
            source,
        };
        let answered = answer(&fresh, range).map_err(snapshot_error)?;
        let (start, end) = (epoch_days(range.start), epoch_days(range.end));
        // A row's date is its month: the window's months hold every stored row it answers
        // for, and the answer's rows go to theirs.
        let months: BTreeSet<Month> = months_between(start, end)
            .chain(frame_months(&fresh, "date").map_err(snapshot_error)?)
            .collect();
        let files = self.months_of(RowKind::Ads, source)?;
        let (kept, judged) = match self.read_months(&ADS, &files, &months, |_, s| Ok(s))? {
            Some(Snapshot { frame: df, .. }) => {
                let dates = df
                    .column("date")
                    .and_then(|c| c.cast(&DataType::Int32))
                    .map_err(snapshot_error)?;
                let dates = dates.i32().map_err(snapshot_error)?;
                let spend = df
                    .column("spend_micros")
                    .and_then(|c| c.i64().cloned())
                    .map_err(snapshot_error)?;
                let stored: Vec<Stored> = dates
                    .iter()
                    .zip(spend.iter())
                    .map(|(date, spend)| {
                        let in_window = date.is_some_and(|d| start <= d && d <= end);
                        Stored {
                            in_window,
                            returned: false,
                            measure: if in_window { spend.unwrap_or(0) } else { 0 },
                        }
                    })
                    .collect();
                let judged = judge(&df, &stored, &answered, guard).map_err(snapshot_error)?;
                let kept = df.filter(&judged.keep).map_err(snapshot_error)?;
                (Some(kept), judged)
            }
            None => (None, Judged::default()),
        };
        let stats = UpsertStats {
            replaced: judged.replaced,
            written: fresh.height(),
        };
        let combined = stacked(kept, fresh.clone(), ["date", "account", "campaign_id"])
            .map_err(snapshot_error)?;
        Ok(Prepared {
            suspicions: judged.suspicions(&answered, "spend", guard),
            snapshot,
            months,
            month_column: "date",
            frame: combined,
            timezone: None,
            stats,
        })
    }

    /// A report's claims replace the stored claims whose dates start in `range`. A report is
    /// what its sender says it is: there is no silence to guard against (a report that drops
    /// a row has withdrawn that claim).
    fn prepare_claims(
        &self,
        source: &str,
        range: DateRange,
        fresh: DataFrame,
    ) -> Result<Prepared, StoreError> {
        let snapshot = self.snapshot_path(RowKind::Claims, source);
        let snapshot_error = |source| StoreError::Snapshot {
            path: snapshot.clone(),
            source,
        };
        let (start, end) = (epoch_days(range.start), epoch_days(range.end));
        let months: BTreeSet<Month> = months_between(start, end)
            .chain(frame_months(&fresh, "period_start").map_err(snapshot_error)?)
            .collect();
        let files = self.months_of(RowKind::Claims, source)?;
        let (kept, replaced) = match self.read_months(&CLAIMS, &files, &months, |_, s| Ok(s))? {
            Some(Snapshot { frame: df, .. }) => {
                let starts = df
                    .column("period_start")
                    .and_then(|c| c.cast(&DataType::Int32))
                    .map_err(snapshot_error)?;
                let keep: BooleanChunked = starts
                    .i32()
                    .map_err(snapshot_error)?
                    .iter()
                    .map(|d| !d.is_some_and(|d| start <= d && d <= end))
                    .collect();
                let replaced = keep.iter().filter(|k| *k == Some(false)).count();
                (Some(df.filter(&keep).map_err(snapshot_error)?), replaced)
            }
            None => (None, 0),
        };
        let stats = UpsertStats {
            replaced,
            written: fresh.height(),
        };
        let combined =
            stacked(kept, fresh, ["period_start", "channel", "metric"]).map_err(snapshot_error)?;
        Ok(Prepared {
            suspicions: Vec::new(),
            snapshot,
            months,
            month_column: "period_start",
            frame: combined,
            timezone: None,
            stats,
        })
    }

    /// The months a deals upsert of the window `start..=end` (days) must read and rewrite, and
    /// the zone to write them in. Deals live in the month they were created (in the zone their
    /// file records), but the window also answers for deals *closed* in it and for every deal
    /// the pull returned, whose stored copy may sit in any month (a deal created two years ago
    /// and won yesterday; a deal whose created date the CRM moved). So the months are:
    /// - the window's months, and the months the returned deals were created in;
    /// - every other month holding a deal closed in the window or one of the returned ids,
    ///   found by reading only the `deal_id` and `closed_date` columns of those months
    ///   (deals are few next to ad rows; the ad rows of a month are never read for this);
    /// - every month, when the month files are not all dated in the zone to write: the
    ///   upsert then re-dates the whole snapshot once, as a single file was, so that all of a
    ///   source's months keep one zone and a re-dated deal moves to its new month.
    fn deal_months(
        &self,
        files: &BTreeMap<Month, PathBuf>,
        (start, end): (i32, i32),
        returned: Vec<Month>,
        ids: &HashSet<&str>,
    ) -> Result<(BTreeSet<Month>, Option<String>), StoreError> {
        let mut zones = BTreeSet::new();
        for path in files.values() {
            zones.insert(inspect_stamp(path)?.timezone);
        }
        let stored_zone = zones.iter().flatten().next().cloned();
        let zone = self
            .timezone
            .map(|tz| tz.name().to_string())
            .or(stored_zone);
        let mut months: BTreeSet<Month> = months_between(start, end).chain(returned).collect();
        if zones.iter().any(|z| *z != zone) {
            months.extend(files.keys());
            return Ok((months, zone));
        }
        for (month, path) in files {
            if months.contains(month) {
                continue;
            }
            let snapshot_error = |source| StoreError::Snapshot {
                path: path.clone(),
                source,
            };
            let file = std::fs::File::open(path).map_err(|source| StoreError::Io {
                path: path.clone(),
                source,
            })?;
            let df = ParquetReader::new(file)
                .with_columns(Some(vec!["deal_id".into(), "closed_date".into()]))
                .finish()
                .map_err(snapshot_error)?;
            let closed = df
                .column("closed_date")
                .and_then(|c| c.cast(&DataType::Int32))
                .map_err(snapshot_error)?;
            let closed = closed.i32().map_err(snapshot_error)?;
            let deal_ids = df
                .column("deal_id")
                .and_then(|c| c.str().cloned())
                .map_err(snapshot_error)?;
            let answers = closed.iter().zip(deal_ids.iter()).any(|(closed, id)| {
                closed.is_some_and(|d| start <= d && d <= end)
                    || id.is_some_and(|id| ids.contains(id))
            });
            if answers {
                months.insert(*month);
            }
        }
        Ok((months, zone))
    }

    fn prepare_deals(
        &self,
        source: &str,
        range: DateRange,
        fresh: DataFrame,
        guard: Guard,
    ) -> Result<Prepared, StoreError> {
        let snapshot = self.snapshot_path(RowKind::Deals, source);
        let snapshot_error = |source| StoreError::Snapshot {
            path: snapshot.clone(),
            source,
        };
        let (start, end) = (epoch_days(range.start), epoch_days(range.end));
        let answered = answer(&fresh, range).map_err(snapshot_error)?;
        let files = self.months_of(RowKind::Deals, source)?;
        let returned = frame_months(&fresh, "created_date").map_err(snapshot_error)?;
        let (months, zone) = self.deal_months(&files, (start, end), returned, &answered.ids)?;
        // The window is judged in one zone: stored deals dated in another are re-dated from
        // their instants first, or a deal whose old day is inside the window and whose new
        // day is outside it would be dropped here and not come back with the pull.
        let existing = self
            .read_months(&DEALS, &files, &months, |path, snapshot| {
                self.in_store_timezone(path, snapshot)
            })?
            .map(|s| s.frame);
        let in_range = |d: Option<i32>| d.is_some_and(|d| start <= d && d <= end);
        let (kept, judged) = match existing {
            Some(df) => {
                let column = |name: &str| -> Result<Int32Chunked, PolarsError> {
                    Ok(df.column(name)?.cast(&DataType::Int32)?.i32()?.clone())
                };
                let text = |name: &str| -> Result<StringChunked, PolarsError> {
                    Ok(df.column(name)?.str()?.clone())
                };
                let created = column("created_date").map_err(snapshot_error)?;
                let closed = column("closed_date").map_err(snapshot_error)?;
                let existing_ids = text("deal_id").map_err(snapshot_error)?;
                let status = text("status").map_err(snapshot_error)?;
                let amount = df
                    .column("amount_micros")
                    .and_then(|c| c.i64().cloned())
                    .map_err(snapshot_error)?;
                // What this window answers for: deals created or closed in it, and any deal
                // the pull returned (its dates may have moved).
                let stored: Vec<Stored> = created
                    .iter()
                    .zip(closed.iter())
                    .zip(existing_ids.iter())
                    .zip(status.iter().zip(amount.iter()))
                    .map(|(((created, closed), id), (status, amount))| {
                        let returned = id.is_some_and(|id| answered.ids.contains(id));
                        let won_in_window =
                            status == Some(DealStatus::Won.as_str()) && in_range(closed);
                        Stored {
                            in_window: in_range(created) || in_range(closed) || returned,
                            returned,
                            measure: if won_in_window {
                                amount.unwrap_or(0)
                            } else {
                                0
                            },
                        }
                    })
                    .collect();
                let judged = judge(&df, &stored, &answered, guard).map_err(snapshot_error)?;
                let kept = df.filter(&judged.keep).map_err(snapshot_error)?;
                (Some(kept), judged)
            }
            None => (None, Judged::default()),
        };
        let stats = UpsertStats {
            replaced: judged.replaced,
            written: fresh.height(),
        };
        let combined =
            stacked(kept, fresh.clone(), ["created_date", "deal_id"]).map_err(snapshot_error)?;
        Ok(Prepared {
            suspicions: judged.suspicions(&answered, "revenue", guard),
            snapshot,
            months,
            month_column: "created_date",
            frame: combined,
            timezone: zone,
            stats,
        })
    }

    /// Every ad row of the named sources, in the schema [`crate::analysis`] documents.
    pub fn ads(&self, sources: &[&str]) -> Result<DataFrame, StoreError> {
        self.load(&ADS, sources, |_, snapshot| Ok(snapshot))
    }

    /// Every report claim of the named sources, in the schema [`crate::analysis`] documents.
    pub fn claims(&self, sources: &[&str]) -> Result<DataFrame, StoreError> {
        self.load(&CLAIMS, sources, |_, snapshot| Ok(snapshot))
    }

    /// Every deal of the named sources, in the schema [`crate::analysis`] documents, dated in
    /// the store's time zone when one is set ([`Store::set_timezone`]).
    pub fn deals(&self, sources: &[&str]) -> Result<DataFrame, StoreError> {
        match self.timezone {
            Some(zone) => self.deals_in(sources, zone),
            None => self.load(&DEALS, sources, |_, snapshot| Ok(snapshot)),
        }
    }

    /// Every deal of the named sources, dated in `zone`: a snapshot whose dates are in another
    /// zone is re-dated from the deals' instants (a deal without instants keeps its dates).
    pub fn deals_in(&self, sources: &[&str], zone: Tz) -> Result<DataFrame, StoreError> {
        self.load(&DEALS, sources, |path, snapshot| {
            redated(path, snapshot, zone)
        })
    }

    /// Every ad row of the named sources as a lazy scan of their month files: what
    /// [`Store::ads`] returns, with each file checked from its footer (columns, types, null
    /// counts, stamp) instead of its rows, so that polars reads only the columns and the row
    /// groups a query asks for (`scan_ads(&names)?.filter(col("date").gt_eq(lit(from)))`).
    pub fn scan_ads(&self, sources: &[&str]) -> Result<LazyFrame, StoreError> {
        self.scan(&ADS, sources, |_| ())
    }

    /// Every ad row of the named sources as lazy scans of consecutive month files holding
    /// about `ROWS_PER_PART` (a million) rows each (at least one scan, empty when nothing is stored): an
    /// analysis that sums each part on its own holds one part's rows in memory at a time,
    /// however long the history, while a small account's few thousand rows are one part (one
    /// query, not one per month).
    pub fn scan_ad_parts(&self, sources: &[&str]) -> Result<Vec<LazyFrame>, StoreError> {
        let files = self.scan_parts(&ADS, sources, |_| ())?;
        if files.is_empty() {
            return Ok(vec![self.scan(&ADS, sources, |_| ())?]);
        }
        let snapshot_error = |source| StoreError::Snapshot {
            path: self.root.clone(),
            source,
        };
        let mut parts = Vec::new();
        let mut batch: Vec<LazyFrame> = Vec::new();
        let mut rows = 0;
        for (scan, file_rows) in files {
            if !batch.is_empty() && rows + file_rows > ROWS_PER_PART {
                parts.push(
                    concat(std::mem::take(&mut batch), UnionArgs::default())
                        .map_err(snapshot_error)?,
                );
                rows = 0;
            }
            batch.push(scan);
            rows += file_rows;
        }
        parts.push(concat(batch, UnionArgs::default()).map_err(snapshot_error)?);
        Ok(parts)
    }

    /// Every report claim of the named sources as a lazy scan (see [`Store::scan_ads`]).
    pub fn scan_claims(&self, sources: &[&str]) -> Result<LazyFrame, StoreError> {
        self.scan(&CLAIMS, sources, |_| ())
    }

    /// Every deal of the named sources dated in `zone`, as a lazy scan (see
    /// [`Store::scan_ads`]) when every file is already dated in `zone` (or in no recorded
    /// zone); otherwise [`Store::deals_in`]'s eager re-dating, as a frame made lazy: that
    /// happens once after `[analysis] timezone` changed, until the next upsert of the source.
    pub fn scan_deals_in(&self, sources: &[&str], zone: Tz) -> Result<LazyFrame, StoreError> {
        let mut redate = false;
        let scan = self.scan(&DEALS, sources, |stamp| {
            redate |= stamp.timezone.as_deref().is_some_and(|z| z != zone.name());
        })?;
        if redate {
            return Ok(self.deals_in(sources, zone)?.lazy());
        }
        Ok(scan)
    }

    /// The named sources' month files of one kind, each checked from its footer, each a lazy
    /// scan with its row count, in month order; `stamp` sees every file's stamp.
    fn scan_parts<R>(
        &self,
        schema: &SnapshotSchema<R>,
        sources: &[&str],
        mut stamp: impl FnMut(&Stamp),
    ) -> Result<Vec<(LazyFrame, usize)>, StoreError> {
        let mut scans = Vec::new();
        for source in sources {
            for path in files(&self.snapshot_path(schema.kind, source))?.paths() {
                if let Some((scan, read, rows)) = scan_checked(schema, &path)? {
                    stamp(&read);
                    scans.push((scan, rows));
                }
            }
        }
        Ok(scans)
    }

    /// The named sources' month files of one kind as one lazy scan in month order (an empty
    /// frame of the schema when there are none); `stamp` sees every file's stamp.
    fn scan<R>(
        &self,
        schema: &SnapshotSchema<R>,
        sources: &[&str],
        mut stamp: impl FnMut(&Stamp),
    ) -> Result<LazyFrame, StoreError> {
        let scans: Vec<LazyFrame> = self
            .scan_parts(schema, sources, &mut stamp)?
            .into_iter()
            .map(|(scan, _)| scan)
            .collect();
        let snapshot_error = |source| StoreError::Snapshot {
            path: self.root.clone(),
            source,
        };
        if scans.is_empty() {
            return Ok(schema.frame("", &[]).map_err(snapshot_error)?.lazy());
        }
        concat(scans, UnionArgs::default()).map_err(snapshot_error)
    }

    /// The named sources whose stored deals are dated in another zone than `zone`, with how
    /// many of them reading re-dates and how many keep their dates for want of instants.
    pub fn timezone_changes(
        &self,
        sources: &[&str],
        zone: Tz,
    ) -> Result<Vec<TimezoneChange>, StoreError> {
        let mut changes = Vec::new();
        for source in sources {
            let mut change: Option<TimezoneChange> = None;
            for path in files(&self.snapshot_path(RowKind::Deals, source))?.paths() {
                // The zone is in the file's footer: only a file dated in another zone is read,
                // and only its instants.
                let Some(stored) = inspect_stamp(&path)?.timezone.filter(|z| z != zone.name())
                else {
                    continue;
                };
                let file = std::fs::File::open(&path).map_err(|source| StoreError::Io {
                    path: path.clone(),
                    source,
                })?;
                let frame = ParquetReader::new(file)
                    .with_columns(Some(vec!["created_at_ms".into()]))
                    .finish()
                    .map_err(|source| StoreError::Snapshot {
                        path: path.clone(),
                        source,
                    })?;
                let created = instants(&path, &frame, "created_at_ms")?;
                let change = change.get_or_insert_with(|| TimezoneChange {
                    source: source.to_string(),
                    stored,
                    redated: 0,
                    without_instants: 0,
                });
                change.without_instants += created.null_count();
                change.redated += created.len() - created.null_count();
            }
            changes.extend(change);
        }
        Ok(changes)
    }

    /// `snapshot` dated in the store's time zone, when one is set.
    fn in_store_timezone(&self, path: &Path, snapshot: Snapshot) -> Result<Snapshot, StoreError> {
        match self.timezone {
            Some(zone) => redated(path, snapshot, zone),
            None => Ok(snapshot),
        }
    }

    /// The named sources' snapshots of one kind, each passed through `adjust`, stacked.
    fn load<R>(
        &self,
        schema: &SnapshotSchema<R>,
        sources: &[&str],
        adjust: impl Fn(&Path, Snapshot) -> Result<Snapshot, StoreError>,
    ) -> Result<DataFrame, StoreError> {
        let mut combined = schema
            .frame("", &[])
            .map_err(|source| StoreError::Snapshot {
                path: self.root.clone(),
                source,
            })?;
        for source in sources {
            for path in files(&self.snapshot_path(schema.kind, source))?.paths() {
                if let Some(snapshot) = read_snapshot(schema, &path)? {
                    combined
                        .vstack_mut_owned(adjust(&path, snapshot)?.frame)
                        .map_err(|source| StoreError::Snapshot { path, source })?;
                }
            }
        }
        Ok(combined)
    }
}

/// A stored source's deals dated in one zone while `[analysis] timezone` names another.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimezoneChange {
    pub source: String,
    /// The zone the stored dates are in.
    pub stored: String,
    /// Deals re-dated from their instants.
    pub redated: usize,
    /// Deals without instants (from a CSV export, or stored before schema 3): they keep their
    /// dates.
    pub without_instants: usize,
}

/// A snapshot as read: its rows, and the zone its deal dates are in when the file says.
pub(crate) struct Snapshot {
    pub(crate) frame: DataFrame,
    pub(crate) timezone: Option<String>,
}

/// One instants column of a deals frame.
fn instants(path: &Path, frame: &DataFrame, name: &str) -> Result<Int64Chunked, StoreError> {
    frame
        .column(name)
        .and_then(|c| c.i64().cloned())
        .map_err(|source| StoreError::Snapshot {
            path: path.to_path_buf(),
            source,
        })
}

/// `snapshot` with every deal that has instants dated in `zone`. A snapshot already in `zone`,
/// or whose zone is unknown (written before schema 3, so taken to be the configured one), is
/// returned as it is.
fn redated(path: &Path, snapshot: Snapshot, zone: Tz) -> Result<Snapshot, StoreError> {
    if snapshot
        .timezone
        .as_deref()
        .is_none_or(|z| z == zone.name())
    {
        return Ok(snapshot);
    }
    let snapshot_error = |source| StoreError::Snapshot {
        path: path.to_path_buf(),
        source,
    };
    let day = |ms: i64| {
        chrono::DateTime::from_timestamp_millis(ms)
            .map(|t| epoch_days(t.with_timezone(&zone).date_naive()))
    };
    let mut frame = snapshot.frame;
    // A row with a created instant was dated from instants: its closed date follows its
    // closed instant (none while open). A row without keeps its dates.
    let created = instants(path, &frame, "created_at_ms")?;
    for (instant, date) in [
        ("created_at_ms", "created_date"),
        ("closed_at_ms", "closed_date"),
    ] {
        let at = instants(path, &frame, instant)?;
        let old = frame
            .column(date)
            .and_then(|c| c.cast(&DataType::Int32))
            .and_then(|c| c.i32().cloned())
            .map_err(snapshot_error)?;
        let new: Int32Chunked = at
            .iter()
            .zip(old.iter())
            .zip(created.iter())
            .map(|((at, old), created)| match created {
                Some(_) => at.and_then(day),
                None => old,
            })
            .collect();
        let column = new
            .into_series()
            .with_name(date.into())
            .cast(&DataType::Date)
            .map_err(snapshot_error)?;
        frame
            .with_column(column.into_column())
            .map_err(snapshot_error)?;
    }
    Ok(Snapshot {
        frame,
        timezone: Some(zone.name().to_string()),
    })
}

/// Splits the single-file snapshot at `snapshot` (`ads/meta.parquet`, written before store
/// schema 8) into month files and a manifest (see `partitions.rs`); nothing when it is not
/// one. The file is read and checked first: one this kassa cannot read is refused and left as
/// it was.
pub(super) fn split(kind: RowKind, snapshot: &Path) -> Result<(), StoreError> {
    let Files::Single(single) = files(snapshot)? else {
        return Ok(());
    };
    let (read, month_column) = match kind {
        RowKind::Ads => (read_snapshot(&ADS, &single)?, "date"),
        RowKind::Deals => (read_snapshot(&DEALS, &single)?, "created_date"),
        RowKind::Claims => (read_snapshot(&CLAIMS, &single)?, "period_start"),
    };
    let Some(Snapshot {
        mut frame,
        timezone,
    }) = read
    else {
        return Ok(());
    };
    write_months(
        snapshot,
        &mut frame,
        month_column,
        &BTreeSet::new(),
        timezone.as_deref(),
    )?;
    tracing::info!(file = %single.display(), "split a snapshot into months");
    Ok(())
}

/// Splits every single-file snapshot under the store at `root` into month files (store
/// schema 8). A file this kassa cannot read (damaged, or from a newer kassa) is left as it is:
/// reading it refuses it, naming it, as before.
pub(super) fn split_all(root: &Path) -> Result<(), StoreError> {
    for kind in [RowKind::Ads, RowKind::Deals, RowKind::Claims] {
        let dir = root.join(kind.as_str());
        if !dir.is_dir() {
            continue;
        }
        let entries = std::fs::read_dir(&dir).map_err(|source| StoreError::Io {
            path: dir.clone(),
            source,
        })?;
        for entry in entries {
            let path = entry
                .map_err(|source| StoreError::Io {
                    path: dir.clone(),
                    source,
                })?
                .path();
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            if !name.ends_with(".parquet") || partitions::is_month_file(&name) {
                continue;
            }
            match split(kind, &path) {
                Ok(()) => {}
                Err(e @ (StoreError::SnapshotSchema { .. } | StoreError::NewerSnapshot { .. })) => {
                    tracing::warn!(error = %e, "left a snapshot this kassa cannot read as it was");
                }
                Err(e) => return Err(e),
            }
        }
    }
    Ok(())
}

/// The Parquet key-value metadata key that marks a source's manifest (`ads/meta.parquet`
/// since store schema 8), whose rows are in month files; a file without it holds the rows.
const LAYOUT_KEY: &str = "kassa.layout";
const LAYOUT_MONTHS: &str = "months";

/// The files holding the rows of the snapshot at `snapshot` (`ads/meta.parquet`): its month
/// files when it is a manifest, else itself (a single file, written before schema 8).
pub(crate) fn files(snapshot: &Path) -> Result<Files, StoreError> {
    let Some((_, stamp)) = open_checked(snapshot)? else {
        return Ok(Files::None);
    };
    if stamp.layout.as_deref() == Some(LAYOUT_MONTHS) {
        Ok(Files::Months(partitions::month_files(snapshot)?))
    } else {
        Ok(Files::Single(snapshot.to_path_buf()))
    }
}

/// Writes the manifest of `snapshot`: the months it has files for, marked as such.
pub(super) fn write_manifest(snapshot: &Path) -> Result<(), StoreError> {
    let months: Vec<String> = partitions::month_files(snapshot)?
        .into_keys()
        .map(partitions::month_name)
        .collect();
    let mut df = DataFrame::new(months.len(), vec![Column::new("month".into(), months)]).map_err(
        |source| StoreError::Snapshot {
            path: snapshot.to_path_buf(),
            source,
        },
    )?;
    write_snapshot(
        snapshot,
        &partitions::staging_file(snapshot),
        &mut df,
        &[(LAYOUT_KEY, LAYOUT_MONTHS)],
    )
}

/// What a snapshot file's footer says of it: the zone its deal dates are in.
pub(crate) struct Stamp {
    pub(crate) timezone: Option<String>,
    /// `months` for a manifest.
    layout: Option<String>,
}

/// Opens the snapshot file at `path` and checks its stamp (`None` when there is no file).
fn open_checked(path: &Path) -> Result<Option<(ParquetReader<std::fs::File>, Stamp)>, StoreError> {
    let file = match std::fs::File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(StoreError::Io {
                path: path.to_path_buf(),
                source,
            });
        }
    };
    let mut reader = ParquetReader::new(file);
    let metadata = reader
        .get_metadata()
        .map_err(|source| StoreError::Snapshot {
            path: path.to_path_buf(),
            source,
        })?
        .key_value_metadata()
        .clone()
        .unwrap_or_default();
    let value_of = |key: &str| {
        metadata
            .iter()
            .find(|pair| pair.key == key)
            .map(|pair| pair.value.clone())
    };
    let stamp = value_of(STAMP_KEY);
    let timezone = value_of(TIMEZONE_KEY).flatten();
    let layout = value_of(LAYOUT_KEY).flatten();
    // No stamp: written before schema versions existed, which is version 1.
    if let Some(value) = stamp {
        let version = value.as_deref().and_then(|v| v.parse::<u32>().ok());
        match version {
            Some(version) if version > SCHEMA_VERSION => {
                return Err(StoreError::NewerSnapshot {
                    path: path.to_path_buf(),
                    found: version,
                    newest: SCHEMA_VERSION,
                });
            }
            Some(version) if version >= 1 => {}
            _ => {
                return Err(StoreError::SnapshotSchema {
                    path: path.to_path_buf(),
                    problem: SchemaProblem::BadStamp { value },
                });
            }
        }
    }
    Ok(Some((reader, Stamp { timezone, layout })))
}

/// The checked stamp of the snapshot file at `path`, from its footer alone.
pub(crate) fn inspect_stamp(path: &Path) -> Result<Stamp, StoreError> {
    Ok(open_checked(path)?
        .map(|(_, stamp)| stamp)
        .unwrap_or(Stamp {
            timezone: None,
            layout: None,
        }))
}

/// Reads the snapshot at `path` (`None` when there is none yet), checked against `schema`.
fn read_snapshot<R>(
    schema: &SnapshotSchema<R>,
    path: &Path,
) -> Result<Option<Snapshot>, StoreError> {
    let Some((reader, Stamp { timezone, .. })) = open_checked(path)? else {
        return Ok(None);
    };
    let df = reader.finish().map_err(|source| StoreError::Snapshot {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(Some(Snapshot {
        frame: schema.conform(path, df)?,
        timezone,
    }))
}

/// Checks the snapshot file at `path` against `schema` from its footer alone (its columns,
/// their types, and the null counts of its statistics), with the same refusals as
/// [`SnapshotSchema::conform`], and returns it as a lazy scan in the schema's column order
/// (the nullable columns it predates as nulls), with the zone its stamp records.
fn scan_checked<R>(
    schema: &SnapshotSchema<R>,
    path: &Path,
) -> Result<Option<(LazyFrame, Stamp, usize)>, StoreError> {
    let Some((mut reader, stamp)) = open_checked(path)? else {
        return Ok(None);
    };
    let snapshot_error = |source| StoreError::Snapshot {
        path: path.to_path_buf(),
        source,
    };
    let refuse = |problem| StoreError::SnapshotSchema {
        path: path.to_path_buf(),
        problem,
    };
    let kind = schema.kind.as_str();
    let arrow = reader.schema().map_err(snapshot_error)?;
    let metadata = reader.get_metadata().map_err(snapshot_error)?.clone();
    let mut present = HashSet::new();
    for field in arrow.iter_values() {
        let name = field.name.to_string();
        let Some(spec) = schema.spec(&name) else {
            return Err(refuse(SchemaProblem::UnknownColumn {
                kind,
                column: name,
                newest: SCHEMA_VERSION,
            }));
        };
        let found = DataType::from_arrow_field(field);
        let expected = spec.def.column_type.dtype();
        if found != expected {
            return Err(refuse(SchemaProblem::WrongType {
                kind,
                column: name,
                found: found.to_string(),
                expected: expected.to_string(),
            }));
        }
        if !spec.def.nullable {
            // Every row group's statistics count its nulls; a file written without them is
            // read for that one column.
            let counted: Option<i64> = metadata
                .row_groups
                .iter()
                .map(|group| {
                    let mut chunks = group.columns_under_root_iter(&name)?;
                    let stats = chunks.next()?.statistics(&metadata.footer_buf)?.ok()?;
                    stats.null_count()
                })
                .sum();
            let nulls = match counted {
                Some(nulls) => usize::try_from(nulls).unwrap_or(usize::MAX),
                None => {
                    let file = std::fs::File::open(path).map_err(|source| StoreError::Io {
                        path: path.to_path_buf(),
                        source,
                    })?;
                    ParquetReader::new(file)
                        .with_columns(Some(vec![name.clone()]))
                        .finish()
                        .and_then(|df| Ok(df.column(&name)?.null_count()))
                        .map_err(snapshot_error)?
                }
            };
            if nulls > 0 {
                return Err(refuse(SchemaProblem::EmptyValues {
                    column: name,
                    nulls,
                }));
            }
        }
        present.insert(name);
    }
    let columns = schema
        .columns
        .iter()
        .map(|spec| {
            if present.contains(spec.def.name) {
                Ok(col(spec.def.name))
            } else if spec.def.nullable {
                Ok(lit(NULL)
                    .cast(spec.def.column_type.dtype())
                    .alias(spec.def.name))
            } else {
                Err(refuse(SchemaProblem::MissingColumn {
                    kind,
                    column: spec.def.name.to_string(),
                }))
            }
        })
        .collect::<Result<Vec<_>, _>>()?;
    let source = PlRefPath::try_from_path(path).map_err(snapshot_error)?;
    let scan = LazyFrame::scan_parquet(source, ScanArgsParquet::default())
        .map_err(snapshot_error)?
        .select(columns);
    Ok(Some((scan, stamp, metadata.num_rows)))
}

/// The month of each row of `frame` by its date column `column`.
fn row_months(
    path: &Path,
    frame: &DataFrame,
    column: &str,
) -> Result<Vec<Option<Month>>, StoreError> {
    let days = frame
        .column(column)
        .and_then(|c| c.cast(&DataType::Int32))
        .map_err(|source| StoreError::Snapshot {
            path: path.to_path_buf(),
            source,
        })?;
    let days = days.i32().map_err(|source| StoreError::Snapshot {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(days.iter().map(|d| d.and_then(month_of_days)).collect())
}

/// Writes the rows of `frame` into the month files of the snapshot `snapshot`, one file per
/// month of `months` and of the rows' `month_column` (a month of `months` without rows has its
/// file removed), then the snapshot's manifest. Each file is written to the staging file and
/// renamed into place: readers see the old month or the new one. Returns the months written
/// or removed.
fn write_months(
    snapshot: &Path,
    frame: &mut DataFrame,
    month_column: &str,
    months: &BTreeSet<Month>,
    timezone: Option<&str>,
) -> Result<BTreeSet<Month>, StoreError> {
    let rows = row_months(snapshot, frame, month_column)?;
    let months: BTreeSet<Month> = months
        .iter()
        .copied()
        .chain(rows.iter().flatten().copied())
        .collect();
    let staging = partitions::staging_file(snapshot);
    let zone: Vec<(&str, &str)> = timezone.map(|z| (TIMEZONE_KEY, z)).into_iter().collect();
    for &month in &months {
        let target = partitions::partition_path(snapshot, month);
        let mask: BooleanChunked = rows.iter().map(|m| *m == Some(month)).collect();
        let mut part = frame.filter(&mask).map_err(|source| StoreError::Snapshot {
            path: target.clone(),
            source,
        })?;
        if part.height() == 0 {
            match std::fs::remove_file(&target) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(source) => {
                    return Err(StoreError::Io {
                        path: target,
                        source,
                    });
                }
            }
            continue;
        }
        write_snapshot(&target, &staging, &mut part, &zone)?;
    }
    write_manifest(snapshot)?;
    Ok(months)
}

/// Writes `tmp` and renames it over `path`: readers see the old file or the new one.
/// The file is stamped with the store schema version it was written with, and a deals file
/// with the time zone its dates are in.
fn write_snapshot(
    path: &Path,
    tmp: &Path,
    df: &mut DataFrame,
    metadata: &[(&str, &str)],
) -> Result<(), StoreError> {
    let written = write_temporary(tmp, df, metadata).and_then(|()| {
        std::fs::rename(tmp, path).map_err(|source| StoreError::Io {
            path: path.to_path_buf(),
            source,
        })
    });
    if written.is_err() {
        // A full disk leaves a partial file: it would hold the space until the next success.
        // Removing it may fail too (it may not exist); the write's own error is what matters.
        let _ = std::fs::remove_file(tmp);
    }
    written
}

/// What a month is written as before it is renamed into place: `ads/meta.parquet.tmp`.
pub(super) const TEMPORARY_EXTENSION: &str = "parquet.tmp";
/// Writes and syncs the temporary file of [`write_snapshot`].
fn write_temporary(
    tmp: &Path,
    df: &mut DataFrame,
    metadata: &[(&str, &str)],
) -> Result<(), StoreError> {
    let io_error = |source| StoreError::Io {
        path: tmp.to_path_buf(),
        source,
    };
    let file = std::fs::File::create(tmp).map_err(io_error)?;
    let mut pairs = vec![(STAMP_KEY.to_string(), SCHEMA_VERSION.to_string())];
    pairs.extend(metadata.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    let stamp = KeyValueMetadata::from_static(pairs);
    ParquetWriter::new(&file)
        .with_key_value_metadata(Some(stamp))
        .finish(df)
        .map_err(|source| StoreError::Snapshot {
            path: tmp.to_path_buf(),
            source,
        })?;
    file.sync_all().map_err(io_error)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_frames_have_exactly_the_defined_columns_and_types() {
        fn check<R>(schema: &SnapshotSchema<R>) {
            let df = schema.frame("meta", &[]).unwrap();
            let got: Vec<(String, DataType)> = df
                .columns()
                .iter()
                .map(|c| (c.name().to_string(), c.dtype().clone()))
                .collect();
            let want: Vec<(String, DataType)> = schema
                .columns
                .iter()
                .map(|s| (s.def.name.to_string(), s.def.column_type.dtype()))
                .collect();
            assert_eq!(got, want);
        }
        check(&ADS);
        check(&DEALS);
    }
}
