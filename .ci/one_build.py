#!/usr/bin/env python3
"""Fails when a dev-dependency turns on a feature of a crate the normal build already has.

`cargo run -- demo` and `cargo test` share one build (CONTRIBUTING, "The bar"): a feature that
only the tests turn on changes that crate's build hash and rebuilds it and everything above
it (polars, reqwest) for the tests, doubling a cold CI build. This compares the features of
every crate in `cargo tree -e features,normal` with those in `-e features,normal,dev` and names
any crate whose features differ, with the fix: name the crate with those features in
`[dependencies]` (as Cargo.toml does for tokio's paused clock), or pick another version.
"""

import subprocess
import sys


def features(edges: str) -> dict[str, set[str]]:
    out = subprocess.run(
        ["cargo", "tree", "-e", edges, "--prefix", "none", "-f", "{p} {f}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    found: dict[str, set[str]] = {}
    for line in out.splitlines():
        parts = line.replace(" (*)", "").split()
        if len(parts) < 2 or not parts[1].startswith("v"):
            continue
        crate = f"{parts[0]} {parts[1]}"
        named = parts[-1] if len(parts) > 2 and not parts[-1].startswith("(") else ""
        found.setdefault(crate, set()).update(f for f in named.split(",") if f)
    return found


normal = features("features,normal")
with_dev = features("features,normal,dev")
split = {
    crate: sorted(with_dev[crate] - feats)
    for crate, feats in sorted(normal.items())
    if crate in with_dev and with_dev[crate] != feats
}
if split:
    for crate, extra in split.items():
        print(f"{crate}: the tests turn on {', '.join(extra)}", file=sys.stderr)
    print(
        ".ci/one_build.py: error: dev-dependencies change features of crates the normal build "
        "uses, so `cargo test` would rebuild them; name them with these features in "
        "[dependencies], or choose a dev-dependency version that does not",
        file=sys.stderr,
    )
    sys.exit(1)
print(f"one build: {len(normal)} crates, the same features for `cargo run` and `cargo test`")
