#!/usr/bin/env bash
# CI's correctness check of the benchmark's rule: about 100k generated ad rows through the
# debug kassa (built by `cargo test`) and DuckDB's reference query, over the CSVs and over
# kassa's Parquet store; fails when kassa's flagged (channel, week) set differs from DuckDB's.
# Times printed here are a debug build's and mean nothing; `bench/run.sh` measures.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x bench/.venv/bin/python ] || ! bench/.venv/bin/python -c "import duckdb" 2>/dev/null; then
    echo "== creating bench/.venv (duckdb)" >&2
    python3 -m venv bench/.venv
    bench/.venv/bin/pip install --quiet --disable-pip-version-check duckdb
fi
if [ ! -x target/debug/kassa ] || [ ! -x target/debug/examples/kassa-bench ]; then
    cargo build --bin kassa --example kassa-bench
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
bench/.venv/bin/python bench/run.py --sizes 100000 --duckdb-only --work "$work" \
    --kassa target/debug/kassa --gen target/debug/examples/kassa-bench
