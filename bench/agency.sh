#!/usr/bin/env bash
# An agency's night on the embedded store against S3 (moto) + Postgres, in one invocation,
# printing a markdown table (bench/agency.py says what is measured). Arguments go to
# bench/agency.py, e.g. `bench/agency.sh --tenants 8 --rows 55000 --parallel 4`.
# Uses the release build (made when missing: 15-40 minutes cold), Debian's postgresql, and moto
# from PyPI in .ci/.venv-services (the venv .ci/run makes for the tests).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x .ci/.venv-services/bin/moto_server ]; then
    echo "== creating .ci/.venv-services (moto[server] from PyPI)" >&2
    python3 -m venv .ci/.venv-services
    .ci/.venv-services/bin/pip install --quiet --disable-pip-version-check "moto[server]==5.2.5"
fi
profile=${KASSA_BENCH_PROFILE:-release}
if [ ! -x "target/$profile/kassa" ] || [ ! -x "target/$profile/examples/kassa-bench" ]; then
    flag=$([ "$profile" = release ] && echo --release || true)
    echo "== cargo build $flag --example kassa-bench --bin kassa" >&2
    cargo build $flag --example kassa-bench --bin kassa
fi
exec python3 bench/agency.py --kassa "target/$profile/kassa" \
    --gen "target/$profile/examples/kassa-bench" --moto .ci/.venv-services/bin/moto_server "$@"
