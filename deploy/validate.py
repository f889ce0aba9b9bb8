"""Validates kassa's Kubernetes manifests offline, run by deploy/validate.sh in its venv.

Every YAML file given must parse (a duplicate key is an error: YAML keeps the last silently);
every resource in it is checked strictly (an unknown field is an error) against the OpenAPI
schemas that the `kubernetes-validate` package bundles, for each Kubernetes version below; a
kind with no schema is an error too (the package only warns). A kustomization is not a
Kubernetes resource: its keys are checked against the few it may use and its `resources` must
exist. A Job's spec (alone or a CronJob's jobTemplate) is also held to the API server's rules
that the schemas do not carry (an Indexed Job's `completions`, `FailIndex` only with
`backoffLimitPerIndex`, ...): a cluster would refuse it at apply time, long after CI passed.
`--expect-reject FILE...` inverts the verdict: each file must be refused, so the check
proves it can fail.
"""

import sys
from pathlib import Path

import kubernetes_validate
import yaml

# The oldest version the manifests need (podFailurePolicy is stable from 1.31, CronJob timeZone
# from 1.27; the agency's backoffLimitPerIndex and FailIndex are beta and on by default from
# 1.29, stable from 1.33, and in the 1.31 schemas) and the newest whose schemas the package
# bundles.
VERSIONS = ["1.31.0", "1.37.0"]
KUSTOMIZATION_KEYS = {"apiVersion", "kind", "resources", "images", "namespace", "labels", "patches"}


class StrictLoader(yaml.SafeLoader):
    """A safe loader that refuses a mapping with a key given twice."""


def _mapping(loader, node, deep=False):
    seen = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark
            )
        seen.add(key)
    return yaml.SafeLoader.construct_mapping(loader, node, deep=deep)


StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)


def problems(path: Path) -> list[str]:
    """Everything wrong with one file, each as a line naming it; empty when it is right."""
    try:
        documents = [d for d in yaml.load_all(path.read_text(), Loader=StrictLoader) if d is not None]
    except (OSError, yaml.YAMLError) as error:
        return [f"{path}: does not parse: {error}"]
    if not documents:
        return [f"{path}: holds no resource"]
    found = []
    for index, document in enumerate(documents):
        where = f"{path} (document {index + 1})"
        if not isinstance(document, dict) or "kind" not in document or "apiVersion" not in document:
            found.append(f"{where}: not a resource (no apiVersion and kind)")
            continue
        if document["kind"] == "Kustomization":
            found += kustomization_problems(path, document)
            continue
        name = f"{document['kind']}/{(document.get('metadata') or {}).get('name', '?')}"
        found += [f"{where}: {name}: {problem}" for problem in job_problems(document)]
        for version in VERSIONS:
            try:
                kubernetes_validate.validate(document, version, strict=True)
            except kubernetes_validate.ValidationError as error:
                found.append(f"{where}: {name} against Kubernetes {version}: {error.message} at {'.'.join(map(str, error.path)) or 'the top'}")
            except kubernetes_validate.SchemaNotFoundError:
                found.append(
                    f"{where}: {name}: Kubernetes {version} has no {document['kind']} in {document['apiVersion']}"
                )
    return found


def job_problems(document: dict) -> list[str]:
    """The Job validation rules of the API server (pkg/apis/batch/validation) that a schema
    cannot say, for a Job or a CronJob's Job: each breaks `kubectl apply`, not the schema."""
    spec = document.get("spec") or {}
    if document.get("kind") == "CronJob":
        spec, at = (spec.get("jobTemplate") or {}).get("spec") or {}, "spec.jobTemplate.spec"
    elif document.get("kind") == "Job":
        at = "spec"
    else:
        return []
    found = []
    indexed = spec.get("completionMode") == "Indexed"
    if indexed and spec.get("completions") is None:
        found.append(f"{at}.completions: required when completionMode is Indexed")
    per_index = spec.get("backoffLimitPerIndex") is not None
    if per_index and not indexed:
        found.append(f"{at}.backoffLimitPerIndex: requires completionMode Indexed")
    if spec.get("maxFailedIndexes") is not None and not per_index:
        found.append(f"{at}.maxFailedIndexes: requires backoffLimitPerIndex")
    policy = spec.get("podFailurePolicy")
    if policy is not None:
        restart = (((spec.get("template") or {}).get("spec")) or {}).get("restartPolicy")
        if restart != "Never":
            found.append(f"{at}.template.spec.restartPolicy: must be Never with a podFailurePolicy")
        for index, rule in enumerate(policy.get("rules") or []):
            if rule.get("action") == "FailIndex" and not per_index:
                found.append(f"{at}.podFailurePolicy.rules[{index}]: the action FailIndex requires backoffLimitPerIndex")
            codes = rule.get("onExitCodes") or {}
            if codes.get("operator") == "In" and 0 in (codes.get("values") or []):
                found.append(f"{at}.podFailurePolicy.rules[{index}].onExitCodes: the In operator may not list 0")
    return found


def kustomization_problems(path: Path, document: dict) -> list[str]:
    found = [f"{path}: unknown kustomization key {key!r}" for key in document if key not in KUSTOMIZATION_KEYS]
    for resource in document.get("resources") or []:
        if not (path.parent / resource).is_file():
            found.append(f"{path}: resource {resource!r} is not a file beside it")
    return found


def main(arguments: list[str]) -> int:
    expect_reject = arguments[:1] == ["--expect-reject"]
    files = [Path(a) for a in (arguments[1:] if expect_reject else arguments)]
    if not files:
        print("usage: validate.py [--expect-reject] FILE...", file=sys.stderr)
        return 2
    failed = False
    for path in files:
        found = problems(path)
        if expect_reject:
            if found:
                print(f"ok (refused, as it must be): {found[0].splitlines()[0]}")
            else:
                print(f"error: {path} is broken on purpose, but the validator accepted it", file=sys.stderr)
                failed = True
        else:
            for line in found:
                print(f"error: {line}", file=sys.stderr)
            failed |= bool(found)
            if not found:
                print(f"ok: {path}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
