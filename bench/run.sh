#!/usr/bin/env bash
# The benchmark: kassa (release) against DuckDB and pandas on the same generated files, in one
# invocation, printing a markdown table. Arguments go to bench/run.py, e.g.
#   bench/run.sh                                   # 1M and 3M ad rows
#   bench/run.sh --sizes 1000000,3000000,11000000 --stages --nightly --markdown bench/results.md
# The venv (duckdb, pandas, pyarrow from PyPI) lives in bench/.venv; the generated data in
# bench/data (both gitignored). The release build is made when missing (15-40 minutes cold).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x bench/.venv/bin/python ] || ! bench/.venv/bin/python -c "import duckdb, pandas, pyarrow" 2>/dev/null; then
    echo "== creating bench/.venv (duckdb, pandas, pyarrow)" >&2
    python3 -m venv bench/.venv
    bench/.venv/bin/pip install --quiet --disable-pip-version-check duckdb pandas pyarrow
fi
if [ ! -x target/release/kassa ] || [ ! -x target/release/examples/kassa-bench ]; then
    echo "== cargo build --release --example kassa-bench --bin kassa" >&2
    cargo build --release --example kassa-bench --bin kassa
fi
exec bench/.venv/bin/python bench/run.py "$@"
