"""kassa against DuckDB and pandas on the same generated files, in the same invocation.

For each size: `kassa-bench gen` writes the CSVs; kassa runs `backfill` then
`analyze --format json` on them (CSV -> findings), then `analyze` alone (store -> findings);
`reference_duckdb.py` and `reference_pandas.py` run the same default rule over the same CSVs
and over kassa's Parquet snapshots. Every run is a child process, timed by wall clock with its
peak resident memory from the kernel (`os.wait4`'s rusage). The flagged (channel, week) sets
must agree: a mismatch is printed and makes the exit status 1. The markdown table goes to
stdout (and `--markdown FILE`); progress to stderr.

Run it through `bench/run.sh` (the venv, the release build) or `bench/check.sh` (CI: small,
debug build, DuckDB only).
"""

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def log(message):
    print(message, file=sys.stderr, flush=True)


def measure(command, stdout=None):
    """Runs `command`; returns (seconds, peak MiB, stdout text)."""
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    # Read before waiting: a child blocked on a full pipe would never exit.
    out, err = process.stdout.read(), process.stderr.read()
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    # kassa exits 2 for a partial run (a data gap); the benchmark's data has none, but the
    # findings are still worth comparing, so only other codes are failures.
    if process.returncode not in (0, 2):
        raise SystemExit(f"{' '.join(map(str, command))} failed ({process.returncode}):\n"
                         f"{err.decode(errors='replace')[-3000:]}")
    return seconds, usage.ru_maxrss / 1024.0, out.decode()


def machine():
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        kb = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                  if line.startswith("MemTotal"))
        ram = f"{kb / 1024 / 1024:.0f} GiB RAM"
    except (OSError, StopIteration):
        ram = "RAM unknown"
    return f"{os.cpu_count()} CPUs (nproc {len(os.sched_getaffinity(0))}), {cpu}, {ram}"


def kassa_flagged(findings_json):
    findings = json.loads(findings_json)["findings"]
    return {(f["channel"], f["period_start"]) for f in findings
            if f["kind"] == "activity_without_money"}


def reference_flagged(output):
    return {tuple(pair) for pair in json.loads(output)["flagged"]}


def human(seconds, mib):
    time_text = f"{seconds * 1000:.0f} ms" if seconds < 1 else f"{seconds:.2f} s"
    memory = f"{mib / 1024:.2f} GB" if mib >= 1024 else f"{mib:.0f} MB"
    return f"{time_text}, {memory}"


def ratio(kassa, other):
    return f"{kassa[0] / other[0]:.1f}x time, {kassa[1] / other[1]:.1f}x memory"


def run_size(rows, args, python):
    data = Path(args.work) / f"rows-{rows}"
    planted = data / "planted.csv"
    if not planted.exists():
        log(f"== generating {rows} ad rows into {data}")
        seconds, _, out = measure([args.gen, "gen", "--rows", str(rows), "--out", str(data)])
        log(f"   {out.strip()} ({seconds:.1f} s)")
    generated = {"rows": sum(1 for _ in open(data / "ads.csv", "rb")) - 1,
                 "deals": sum(1 for _ in open(data / "crm.csv", "rb")) - 1}
    store = data / "store"
    if store.exists():
        shutil.rmtree(store)
    config = str(data / "kassa.toml")
    results = {}

    log(f"== kassa backfill + analyze ({rows} rows)")
    with open(data / "ads.csv") as ads:
        ads.readline()
        first = ads.readline().split(",")[0]
    backfill = measure([args.kassa, "--config", config, "backfill",
                        "--from", first, "--to", "2025-12-28"])
    analyze = measure([args.kassa, "--config", config, "analyze", "--format", "json"])
    results["kassa csv"] = (backfill[0] + analyze[0], max(backfill[1], analyze[1]))
    results["kassa backfill"] = backfill[:2]
    results["kassa store"] = analyze[:2]
    flags = {"kassa": kassa_flagged(analyze[2])}

    references = [("duckdb", "reference_duckdb.py")]
    if not args.duckdb_only:
        references.append(("pandas", "reference_pandas.py"))
    for name, script in references:
        for mode, target in (("csv", data), ("store", store)):
            log(f"== {name} over {mode}")
            seconds, mib, out = measure([python, str(HERE / script), f"--{mode}", str(target)])
            results[f"{name} {mode}"] = (seconds, mib)
            flags[f"{name} {mode}"] = reference_flagged(out)

    agree = True
    for name, found in flags.items():
        if found != flags["kassa"]:
            agree = False
            log(f"!! {name} disagrees with kassa at {rows} rows: "
                f"only kassa {sorted(flags['kassa'] - found)[:10]}, "
                f"only {name} {sorted(found - flags['kassa'])[:10]}")
    planted_awm = {tuple(line.split(",")[:2]) for line in planted.read_text().splitlines()[1:]
                   if line.endswith(",activity_without_money")}
    caught = len(planted_awm & flags["kassa"])
    log(f"   {len(flags['kassa'])} flagged channel-weeks; every reference agrees: {agree}; "
        f"{caught} of {len(planted_awm)} planted episodes among them")

    stages = []
    if args.stages:
        log("== kassa-bench stages")
        _, _, out = measure([args.gen, "stages", "--dir", str(data)])
        stages = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    nightly = None
    if args.nightly:
        log("== kassa-bench nightly")
        _, _, out = measure([args.gen, "nightly", "--dir", str(data)])
        nightly = next((json.loads(line) for line in out.splitlines()
                        if '"nightly"' in line), None)
    return {"rows": rows, "generated": generated, "results": results, "agree": agree,
            "flagged": len(flags["kassa"]), "stages": stages, "nightly": nightly}


def table(runs, args):
    lines = [f"Machine: {machine()}.", ""]
    header = "| workload | kassa | DuckDB (one SQL query) |"
    rule = "|---|---|---|"
    if not args.duckdb_only:
        header += " pandas |"
        rule += "---|"
    header += " kassa / DuckDB |"
    rule += "---|"
    lines += [header, rule]
    for run in runs:
        r = run["results"]
        size = f"{run['generated']['rows'] / 1e6:.2f}M ad rows + {run['generated']['deals'] / 1e3:.0f}k deals"
        for mode, what in (("csv", "CSV -> findings (`backfill` + `analyze`)"),
                           ("store", "store -> findings (`analyze` alone; references over its Parquet)")):
            kassa = r["kassa csv"] if mode == "csv" else r["kassa store"]
            row = f"| {size}, {what} | {human(*kassa)} | {human(*r[f'duckdb {mode}'])} |"
            if not args.duckdb_only:
                row += f" {human(*r[f'pandas {mode}'])} |"
            row += f" {ratio(kassa, r[f'duckdb {mode}'])} |"
            lines.append(row)
    lines.append("")
    lines.append("Findings: " + "; ".join(
        f"{run['generated']['rows'] / 1e6:.2f}M rows: {run['flagged']} flagged channel-weeks, "
        + ("kassa and every reference agree" if run["agree"] else "**the references DISAGREE**")
        for run in runs) + ".")
    if len(runs) > 1:
        small, large = runs[0], runs[-1]
        times = large["generated"]["rows"] / small["generated"]["rows"]
        growth = ", ".join(
            f"{name} x{large['results'][key][0] / small['results'][key][0]:.1f} time, "
            f"x{large['results'][key][1] / small['results'][key][1]:.1f} memory"
            for name, key in (("kassa", "kassa csv"), ("DuckDB", "duckdb csv")))
        lines.append(f"Growth, CSV -> findings, from {small['generated']['rows'] / 1e6:.2f}M "
                     f"to {large['generated']['rows'] / 1e6:.2f}M rows (x{times:.1f} the data): "
                     f"{growth}.")
    for run in runs:
        if run["stages"]:
            lines += ["", f"Stages at {run['generated']['rows'] / 1e6:.2f}M rows (`kassa-bench stages`, "
                      "library calls in one process; peak = resident memory high-water mark during the stage):",
                      "", "| stage | time | peak resident |", "|---|---|---|"]
            for s in run["stages"]:
                if s.get("mode") == "stage":
                    took = human(s["seconds"], 0).split(", ")[0]
                    lines.append(f"| {s['stage']} | {took} | {s['peak_mib'] or 0:.0f} MB |")
        if run["nightly"]:
            n = run["nightly"]
            lines += ["", f"Nightly cycle on the {n['store_rows'] / 1e6:.2f}M-row, 3-year store "
                      f"(`kassa-bench nightly`): re-pull {n['lookback_days']} days of one Meta source "
                      f"({n['repulled_rows']} rows) through a loopback fake {n['pull_seconds']:.2f} s "
                      f"(the fake's own answers {n['fake_seconds']:.2f} s of it), analyse "
                      f"{n['analyze_seconds']:.2f} s, decide alerts {n['alerts_seconds'] * 1000:.0f} ms: "
                      f"**{n['kassa_seconds']:.2f} s of kassa's own time**."]
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000000,3000000",
                        help="ad rows per size, comma-separated")
    parser.add_argument("--work", default=str(HERE / "data"),
                        help="where the generated files and stores go")
    parser.add_argument("--kassa", default=str(ROOT / "target/release/kassa"))
    parser.add_argument("--gen", default=str(ROOT / "target/release/examples/kassa-bench"))
    parser.add_argument("--duckdb-only", action="store_true",
                        help="leave pandas out (the CI check)")
    parser.add_argument("--stages", action="store_true", help="also time kassa stage by stage")
    parser.add_argument("--nightly", action="store_true", help="also time a nightly cycle")
    parser.add_argument("--markdown", help="also write the table to this file")
    args = parser.parse_args()
    runs = [run_size(int(size), args, sys.executable) for size in args.sizes.split(",")]
    text = table(runs, args)
    print(text)
    if args.markdown:
        Path(args.markdown).write_text(text + "\n")
    sys.exit(0 if all(run["agree"] for run in runs) else 1)


if __name__ == "__main__":
    main()
