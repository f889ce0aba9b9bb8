#!/usr/bin/env bash
# Validates every Kubernetes manifest under deploy/kubernetes/ offline: YAML that parses (no
# duplicate keys), each resource strictly against the OpenAPI schemas of Kubernetes 1.31 and
# 1.37 (unknown fields and unknown kinds refused), each kustomization's resources present. No
# cluster and no network beyond PyPI: `kubernetes-validate` bundles the schemas and is installed
# once into deploy/.venv. Then a self-check: the broken fixtures under fixtures/kubernetes/
# must be refused, so a validator that passes everything fails CI.
set -euo pipefail
cd "$(dirname "$0")/.."

venv=deploy/.venv
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c "import kubernetes_validate" 2>/dev/null; then
    echo "== creating $venv (kubernetes-validate from PyPI)" >&2
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check "kubernetes-validate==1.37.0"
fi

mapfile -t manifests < <(find deploy/kubernetes -name '*.yaml' -o -name '*.yml' | sort)
if [ "${#manifests[@]}" -eq 0 ]; then
    echo "deploy/validate.sh: error: no manifests under deploy/kubernetes" >&2
    exit 1
fi
"$venv/bin/python" deploy/validate.py "${manifests[@]}"
"$venv/bin/python" deploy/validate.py --expect-reject fixtures/kubernetes/*.yaml
