"""kassa's default rule as a data person would write it in pandas.

Over the generated CSVs (`--csv DIR`: DIR/ads.csv and DIR/crm.csv) or a kassa store's Parquet
snapshots (`--store DIR`). Prints `{"flagged": [[channel, week], ...], "query_seconds": ...}`.
The rule is the one `reference_duckdb.py` states (README "The default rule", defaults): ISO
weeks per channel and "all", the baseline the mean of the previous 4 complete weeks summed
oldest first, activity the largest growth of clicks, reach and CTR, flagged when activity
growth >= 0.20 and revenue growth <= 0.0.
"""

import argparse
import glob
import json
import math
import time

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

BASELINE = 4


def read_csv(directory):
    ads = pd.read_csv(
        f"{directory}/ads.csv",
        usecols=["date", "channel", "impressions", "reach", "clicks"],
        dtype={"channel": "category", "impressions": "int64", "clicks": "int64",
               "reach": "float64"},
        parse_dates=["date"], date_format="%Y-%m-%d",
    )
    deals = pd.read_csv(
        f"{directory}/crm.csv",
        usecols=["created_date", "closed_date", "status", "amount", "channel"],
        dtype={"channel": "category", "status": "category", "amount": "float64"},
        parse_dates=["created_date", "closed_date"], date_format="%Y-%m-%d",
    )
    # Whole cents (the generator writes two decimals), summed as integers as kassa sums
    # micros: the revenue figures come out bit for bit the same.
    deals["amount_micros"] = (deals["amount"] * 100).round().astype("Int64") * 10_000
    return ads, deals.drop(columns="amount")


def read_store(store):
    def frame(kind, columns):
        # A single file per source and month files alike; a split source's `<source>.parquet`
        # is its list of months (no data columns) and is left out.
        files = [
            f
            for f in sorted(glob.glob(f"{store}/{kind}/**/*.parquet", recursive=True))
            if columns[0] in pq.read_schema(f).names
        ]
        return pd.concat([pd.read_parquet(f, columns=columns) for f in files], ignore_index=True)

    ads = frame("ads", ["date", "channel", "impressions", "reach", "clicks"])
    deals = frame("deals", ["created_date", "closed_date", "status", "channel", "amount_micros"])
    for column in ("date",):
        ads[column] = pd.to_datetime(ads[column])
    for column in ("created_date", "closed_date"):
        deals[column] = pd.to_datetime(deals[column])
    return ads, deals


def week_of(dates):
    return dates - pd.to_timedelta(dates.dt.day_of_week, unit="D")


def growth(value, baseline):
    if value is None or baseline is None or (isinstance(value, float) and math.isnan(value)) \
            or (isinstance(baseline, float) and math.isnan(baseline)):
        return None
    if baseline == 0:
        return 0.0 if value == 0 else math.copysign(math.inf, value)
    return (value - baseline) / baseline


def flagged(ads, deals):
    first_day = max(ads["date"].min(),
                    min(deals["created_date"].min(), deals["closed_date"].min()))
    last_day = min(ads["date"].max(),
                   max(deals["created_date"].max(), deals["closed_date"].max()))
    first_week = first_day + pd.Timedelta(days=(7 - first_day.weekday()) % 7)
    last_week = week_of(pd.Series([last_day + pd.Timedelta(days=1)])).iloc[0] - pd.Timedelta(days=7)
    weeks = pd.date_range(first_week, last_week, freq="7D")

    ads = ads.assign(
        week=week_of(ads["date"]),
        reach_missing=ads["reach"].isna().astype("int64"),
        clicks_only=((ads["clicks"] > 0) & (ads["impressions"] == 0)).astype("int64"),
    )
    a = ads.groupby(["channel", "week"], observed=True)[
        ["impressions", "clicks", "reach", "reach_missing", "clicks_only"]].sum(min_count=0)
    won = deals[deals["status"] == "won"]
    won = won.assign(week=week_of(won["closed_date"]),
                     without=won["amount_micros"].isna().astype("int64"))
    w = won.groupby(["channel", "week"], observed=True).agg(
        revenue_micros=("amount_micros", "sum"), won_without_amount=("without", "sum"))

    channels = sorted(set(ads["channel"].astype(str)) | set(deals["channel"].astype(str)))
    grid = pd.MultiIndex.from_product([channels, weeks], names=["channel", "week"])
    a.index = a.index.set_levels(a.index.levels[0].astype(str), level=0)
    w.index = w.index.set_levels(w.index.levels[0].astype(str), level=0)
    per = a.reindex(grid, fill_value=0).join(w.reindex(grid, fill_value=0))
    per["reach"] = per["reach"].astype("int64")
    totals = per.groupby(level="week").sum()
    totals.index = pd.MultiIndex.from_product([["all"], totals.index], names=["channel", "week"])
    table = pd.concat([per, totals]).reset_index()

    out = []
    for channel, rows in table.groupby("channel", sort=True):
        history = []
        for row in rows.sort_values("week").itertuples(index=False):
            if row.won_without_amount:
                continue
            values = {
                "clicks": float(row.clicks),
                "reach": float(row.reach) if row.reach_missing == 0 else None,
                "ctr": float(row.clicks) / float(row.impressions)
                if row.impressions > 0 and row.clicks_only == 0 else None,
                "revenue": float(row.revenue_micros) / 1e6,
            }
            if len(history) >= BASELINE:
                base = history[-BASELINE:]

                def baseline(metric):
                    seen = [h[metric] for h in base]
                    if any(v is None for v in seen):
                        return None
                    total = 0.0
                    for v in seen:
                        total += v
                    return total / len(seen)

                activity = [g for g in (growth(values[m], baseline(m))
                                        for m in ("clicks", "reach", "ctr")) if g is not None]
                money = growth(values["revenue"], baseline("revenue"))
                if activity and money is not None and max(activity) >= 0.20 and money <= 0.0:
                    out.append([channel, row.week.strftime("%Y-%m-%d")])
            history.append(values)
    return sorted(out, key=lambda f: (f[1], f[0]))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--csv", help="a directory with ads.csv and crm.csv")
    source.add_argument("--store", help="a kassa store directory")
    args = parser.parse_args()
    started = time.perf_counter()
    ads, deals = read_csv(args.csv) if args.csv else read_store(args.store)
    result = flagged(ads, deals)
    print(json.dumps({"flagged": result, "query_seconds": time.perf_counter() - started}))


if __name__ == "__main__":
    main()
