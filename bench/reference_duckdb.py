"""kassa's default rule as a data person would write it in DuckDB: one SQL query.

Over the generated CSVs (`--csv DIR`: DIR/ads.csv and DIR/crm.csv, kassa's `csv_ads` and
`csv_crm` contracts as `kassa-bench gen` writes them) or over a kassa store's Parquet
snapshots (`--store DIR`: DIR/ads/**.parquet and DIR/deals/**.parquet, whatever the layout
under them). Prints the flagged (channel, week) set as JSON on stdout:
`{"flagged": [["all", "2023-05-29"], ...], "query_seconds": ...}`.

The rule (README "The default rule", src/analysis/rules.rs and periods.rs), with the
defaults: ISO weeks, per channel and for "all"; a week is complete when every source covers
all its days and no won deal in it lacks an amount; the baseline of a metric is the mean of the
previous 4 complete weeks of the same channel; growth is (value - baseline) / baseline, 0 for 0
over a zero baseline, unbounded otherwise; activity growth is the largest growth among clicks,
reach and CTR (a metric unknown in the week or its baseline is left out); revenue is won
amounts on their closed date; flagged when activity growth >= 0.20 and revenue growth <= 0.0.
The baseline sums oldest first, as kassa does, so the floating-point figures are the same.
"""

import argparse
import json
import time

import duckdb

RULE = """
WITH
span AS (
    -- Every source covers the days from its first to its last date; complete weeks lie
    -- inside all of them.
    SELECT greatest(a.first, d.first) AS first_day, least(a.last, d.last) AS last_day
    FROM (SELECT min(date) AS first, max(date) AS last FROM ads) a,
         (SELECT min(least(created_date, coalesce(closed_date, created_date))) AS first,
                 max(greatest(created_date, coalesce(closed_date, created_date))) AS last
          FROM deals) d
),
weeks AS (
    SELECT CAST(w AS DATE) AS week
    FROM span, generate_series(
        date_trunc('week', first_day + INTERVAL 6 DAY),
        date_trunc('week', last_day + INTERVAL 1 DAY) - INTERVAL 7 DAY,
        INTERVAL 7 DAY) AS t(w)
),
channels AS (SELECT channel FROM ads UNION SELECT channel FROM deals),
a AS (
    SELECT channel, CAST(date_trunc('week', date) AS DATE) AS week,
           sum(impressions) AS impressions, sum(clicks) AS clicks, sum(reach) AS reach,
           count(*) - count(reach) AS reach_missing,
           count(*) FILTER (WHERE clicks > 0 AND impressions = 0) AS clicks_only
    FROM ads GROUP BY ALL
),
w AS (
    SELECT channel, CAST(date_trunc('week', closed_date) AS DATE) AS week,
           sum(amount_micros) AS revenue_micros,
           count(*) - count(amount_micros) AS won_without_amount
    FROM deals WHERE status = 'won' GROUP BY ALL
),
per AS (
    SELECT c.channel, k.week,
           coalesce(a.impressions, 0) AS impressions, coalesce(a.clicks, 0) AS clicks,
           coalesce(a.reach, 0) AS reach, coalesce(a.reach_missing, 0) AS reach_missing,
           coalesce(a.clicks_only, 0) AS clicks_only,
           coalesce(w.revenue_micros, 0) AS revenue_micros,
           coalesce(w.won_without_amount, 0) AS won_without_amount
    FROM channels c CROSS JOIN weeks k
    LEFT JOIN a ON a.channel = c.channel AND a.week = k.week
    LEFT JOIN w ON w.channel = c.channel AND w.week = k.week
),
totals AS (
    SELECT * FROM per
    UNION ALL
    SELECT 'all', week, sum(impressions), sum(clicks), sum(reach), sum(reach_missing),
           sum(clicks_only), sum(revenue_micros), sum(won_without_amount)
    FROM per GROUP BY week
),
metrics AS (
    SELECT channel, week,
           CAST(clicks AS DOUBLE) AS clicks,
           CASE WHEN reach_missing = 0 THEN CAST(reach AS DOUBLE) END AS reach,
           CASE WHEN impressions > 0 AND clicks_only = 0
                THEN CAST(clicks AS DOUBLE) / CAST(impressions AS DOUBLE) END AS ctr,
           CAST(revenue_micros AS DOUBLE) / 1e6 AS revenue
    FROM totals WHERE won_without_amount = 0
),
history AS (
    SELECT *,
        row_number() OVER h AS n,
        ((lag(clicks, 4) OVER h + lag(clicks, 3) OVER h) + lag(clicks, 2) OVER h
            + lag(clicks, 1) OVER h) / 4 AS clicks_b,
        ((lag(reach, 4) OVER h + lag(reach, 3) OVER h) + lag(reach, 2) OVER h
            + lag(reach, 1) OVER h) / 4 AS reach_b,
        ((lag(ctr, 4) OVER h + lag(ctr, 3) OVER h) + lag(ctr, 2) OVER h
            + lag(ctr, 1) OVER h) / 4 AS ctr_b,
        ((lag(revenue, 4) OVER h + lag(revenue, 3) OVER h) + lag(revenue, 2) OVER h
            + lag(revenue, 1) OVER h) / 4 AS revenue_b
    FROM metrics
    WINDOW h AS (PARTITION BY channel ORDER BY week)
),
growth AS (
    SELECT channel, week,
        greatest(growth(clicks, clicks_b), growth(reach, reach_b), growth(ctr, ctr_b))
            AS activity,
        growth(revenue, revenue_b) AS money
    FROM history WHERE n > 4
)
SELECT channel, strftime(week, '%Y-%m-%d') AS week FROM growth
WHERE activity >= 0.20 AND money <= 0.0
ORDER BY week, channel
"""

# Zero over a zero baseline is no growth; anything else over it is unbounded.
GROWTH = """
CREATE MACRO growth(v, b) AS CASE
    WHEN v IS NULL OR b IS NULL THEN NULL
    WHEN b = 0 THEN CASE WHEN v = 0 THEN 0.0 WHEN v > 0 THEN 'inf'::DOUBLE ELSE '-inf'::DOUBLE END
    ELSE (v - b) / b END
"""


def csv_views(con, directory):
    con.execute(f"""
        CREATE VIEW ads AS SELECT date, channel, impressions, reach, clicks
        FROM read_csv('{directory}/ads.csv', header = true, columns = {{
            'date': 'DATE', 'channel': 'VARCHAR', 'campaign_id': 'VARCHAR',
            'impressions': 'UBIGINT', 'reach': 'UBIGINT', 'clicks': 'UBIGINT',
            'spend': 'DECIMAL(18,2)'}})""")
    con.execute(f"""
        CREATE VIEW deals AS
        SELECT created_date, closed_date, status, channel,
               CAST(amount * 1000000 AS BIGINT) AS amount_micros
        FROM read_csv('{directory}/crm.csv', header = true, columns = {{
            'deal_id': 'VARCHAR', 'created_date': 'DATE', 'closed_date': 'DATE',
            'status': 'VARCHAR', 'amount': 'DECIMAL(18,2)', 'channel': 'VARCHAR'}})""")


def parquet_views(con, store):
    # `**` reaches a single file per source and month files alike; `.parquet.tmp` files (a
    # write in progress) do not match. A split source's `<source>.parquet` is its list of
    # months (a `month` column, no rows of data): with union_by_name its rows have no date,
    # and the WHERE leaves them out.
    con.execute(f"""
        CREATE VIEW ads AS SELECT date, channel, impressions, reach, clicks
        FROM read_parquet('{store}/ads/**/*.parquet', union_by_name = true)
        WHERE date IS NOT NULL""")
    con.execute(f"""
        CREATE VIEW deals AS SELECT created_date, closed_date, status, channel, amount_micros
        FROM read_parquet('{store}/deals/**/*.parquet', union_by_name = true)
        WHERE created_date IS NOT NULL""")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--csv", help="a directory with ads.csv and crm.csv")
    source.add_argument("--store", help="a kassa store directory")
    args = parser.parse_args()
    started = time.perf_counter()
    con = duckdb.connect()
    con.execute(GROWTH)
    if args.csv:
        csv_views(con, args.csv)
    else:
        parquet_views(con, args.store)
    flagged = con.execute(RULE).fetchall()
    print(json.dumps({
        "flagged": [list(row) for row in flagged],
        "query_seconds": time.perf_counter() - started,
    }))


if __name__ == "__main__":
    main()
