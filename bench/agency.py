"""An agency's night on the embedded store against the same night on S3 + Postgres.

Generates one tenant's history with `kassa-bench gen` (ads and deals over three years), gives
it to N tenants, and for each store setup (embedded: a directory per tenant; services:
snapshots in a bucket of moto's S3 server, ledgers in one Postgres, a working directory per
tenant) times, as child processes with their peak resident memory:

- `backfill`: every tenant's whole history, one tenant after another;
- `night`: `kassa run --tenants conf.d --parallel K` after the sources were cut to their last
  three months (what an API answers for a night's windows);
- `new pod` (services only): the same night again from an empty working directory, as a new
  pod starts every night with an empty `emptyDir`: the working copies are downloaded first.

Around each phase it counts the S3 requests by method (moto's request log) and the Postgres
transactions committed (`pg_stat_database.xact_commit`). Postgres (Debian's package, run as
`nobody` when root) and moto (`--moto`, from PyPI) are started on loopback and stopped at the
end. The markdown table goes to stdout (and `--markdown FILE`); progress to stderr. Figures from
one machine are for ratios between the setups, measured in the same invocation.

    bench/agency.sh --tenants 8 --rows 55000 --parallel 4
"""

import argparse
import datetime
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

LEDGER_VARIABLE = "KASSA_BENCH_LEDGER_URL"


def log(message):
    print(message, file=sys.stderr, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def measure(command, cwd, env):
    """Runs `command`; returns (seconds, peak MiB, stdout), failing loudly on a non-zero exit."""
    started = time.perf_counter()
    process = subprocess.Popen(
        command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    out, err = process.stdout.read(), process.stderr.read()
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        sys.exit(
            f"{' '.join(map(str, command))} exited {code}:\n{out.decode()}\n{err.decode()}"
        )
    return seconds, usage.ru_maxrss / 1024, out.decode()


class Postgres:
    def __init__(self, scratch):
        bins = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
        if not bins:
            sys.exit("no initdb under /usr/lib/postgresql: apt-get install -y postgresql")
        self.bin = bins[-1].parent
        self.dir = Path(scratch) / "pg"
        self.dir.mkdir()
        self.root = os.geteuid() == 0
        if self.root:
            subprocess.run(["chown", "nobody:nogroup", self.dir], check=True)
            os.chmod(self.dir, 0o700)
        self.port = free_port()
        self.run("initdb", "-D", self.dir / "data", "-U", "kassa", "-A", "trust", "--no-sync",
                 "--no-instructions", "-E", "UTF8", "--locale=C.UTF-8")
        # fsync stays on: this is a benchmark of what a real server does per commit.
        self.run("pg_ctl", "-D", self.dir / "data", "-l", self.dir / "log", "-w", "-o",
                 f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.dir}", "start")
        self.url = f"postgresql://kassa@127.0.0.1:{self.port}/postgres?sslmode=disable"

    def run(self, program, *args):
        command = [str(self.bin / program), *map(str, args)]
        if self.root:
            command = ["runuser", "-u", "nobody", "--", *command]
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)

    def commits(self):
        """Transactions committed so far, less this query's own; statistics reach the view
        when a backend flushes them (at most a second after its last transaction)."""
        time.sleep(1.2)
        out = subprocess.run(
            [str(self.bin / "psql"), self.url, "-Atc",
             "SELECT sum(xact_commit) FROM pg_stat_database"],
            check=True, capture_output=True, text=True,
        ).stdout
        return int(out.strip()) - 1

    def stop(self):
        self.run("pg_ctl", "-D", self.dir / "data", "-m", "fast", "-w", "stop")


class Moto:
    def __init__(self, binary, scratch):
        self.port = free_port()
        self.log_path = Path(scratch) / "moto.log"
        self.log = open(self.log_path, "wb")
        self.process = subprocess.Popen(
            [binary, "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=self.log, stderr=subprocess.STDOUT,
        )
        self.endpoint = f"http://127.0.0.1:{self.port}"
        for _ in range(300):
            try:
                socket.create_connection(("127.0.0.1", self.port), 0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        else:
            sys.exit(f"{binary} did not listen on {self.endpoint}")
        # The bucket, through boto3 from moto's own venv (kassa never creates buckets).
        python = Path(binary).parent / "python"
        subprocess.run([str(python), "-c", (
            "import boto3, sys; boto3.client('s3', endpoint_url=sys.argv[1], "
            "aws_access_key_id='bench', aws_secret_access_key='bench-secret', "
            "region_name='us-east-1').create_bucket(Bucket='kassa-bench')"
        ), self.endpoint], check=True)

    def env(self):
        return {
            "AWS_ACCESS_KEY_ID": "bench",
            "AWS_SECRET_ACCESS_KEY": "bench-secret",
            "AWS_REGION": "us-east-1",
            "AWS_ENDPOINT_URL": self.endpoint,
        }

    def requests(self):
        """Requests moto has logged so far, by method."""
        counts = {}
        for line in self.log_path.read_text(errors="replace").splitlines():
            for method in ("GET", "PUT", "DELETE", "HEAD", "POST"):
                if f'"{method} /' in line:
                    counts[method] = counts.get(method, 0) + 1
        return counts

    def stop(self):
        self.process.terminate()
        self.process.wait()


def cut(source, target, cutoff, date_columns):
    """Copies the rows of CSV `source` with any of `date_columns` on or after `cutoff`."""
    with open(source) as read, open(target, "w") as write:
        header = read.readline()
        write.write(header)
        names = header.strip().split(",")
        indexes = [names.index(c) for c in date_columns]
        for line in read:
            fields = line.rstrip("\n").split(",")
            if any(fields[i] and fields[i] >= cutoff for i in indexes):
                write.write(line)


def agency(root, tenants, store_keys):
    """`root/base.toml` with `store_keys` and `root/conf.d/tN.toml` reading `root/current/`."""
    root.mkdir(parents=True)
    (root / "base.toml").write_text(
        f'[store]\npath = "stores/{{tenant}}"\n{store_keys}\n'
        '[analysis]\ntimezone = "UTC"\n\n[alerting]\nlocale = "en"\n'
    )
    (root / "conf.d").mkdir()
    for n in range(tenants):
        (root / "conf.d" / f"t{n}.toml").write_text(
            '[[sources]]\nname = "ads"\nkind = "csv_ads"\npath = "../current/ads.csv"\n\n'
            '[[sources]]\nname = "crm"\nkind = "csv_crm"\npath = "../current/crm.csv"\n'
        )


def point(root, data):
    current = root / "current"
    if current.is_symlink():
        current.unlink()
    current.symlink_to(data)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kassa", required=True)
    parser.add_argument("--gen", required=True, help="the kassa-bench example binary")
    parser.add_argument("--moto", required=True, help="moto_server")
    parser.add_argument("--tenants", type=int, default=8)
    parser.add_argument("--rows", type=int, default=55000)
    parser.add_argument("--parallel", type=int, default=4)
    parser.add_argument("--work", help="a directory to keep (default: a temporary one)")
    parser.add_argument("--markdown")
    args = parser.parse_args()

    scratch = tempfile.mkdtemp(prefix="kassa-agency-bench.")
    work = Path(args.work or scratch).resolve()
    work.mkdir(parents=True, exist_ok=True)
    os.chmod(scratch, 0o755)
    kassa = str(Path(args.kassa).resolve())
    postgres = moto = None
    rows = []
    try:
        log(f"== kassa-bench gen --rows {args.rows}")
        full = work / "full"
        gen = subprocess.run([args.gen, "gen", "--rows", str(args.rows), "--out", str(full)],
                             check=True, capture_output=True, text=True).stdout
        facts = json.loads(gen.strip().splitlines()[-1])
        last = datetime.date.fromisoformat(facts["to"])
        today = (last + datetime.timedelta(days=1)).isoformat()
        cutoff = (last - datetime.timedelta(days=90)).isoformat()
        night = work / "night"
        night.mkdir(exist_ok=True)
        cut(full / "ads.csv", night / "ads.csv", cutoff, ["date"])
        cut(full / "crm.csv", night / "crm.csv", cutoff, ["created_date", "closed_date"])

        log("== starting Postgres and moto")
        postgres = Postgres(scratch)
        moto = Moto(args.moto, scratch)

        setups = {
            "embedded": ("", {}),
            "S3 + Postgres": (
                'snapshots = "s3://kassa-bench/stores/{tenant}"\n'
                f'ledger_url_env = "{LEDGER_VARIABLE}"\n',
                {**moto.env(), LEDGER_VARIABLE: postgres.url},
            ),
        }
        for name, (keys, extra_env) in setups.items():
            root = work / name.replace(" ", "").replace("+", "-")
            if root.exists():
                shutil.rmtree(root)
            agency(root, args.tenants, keys)
            env = {**os.environ, **extra_env, "RUST_LOG": "warn"}
            env.pop("KASSA_CONFIG", None)
            base = ["--config", str(root / "base.toml")]

            def phase(label, commands):
                before_s3, before_pg = moto.requests(), postgres.commits()
                seconds, peak = 0.0, 0.0
                for command in commands:
                    s, p, _ = measure([kassa, *base, *command], root, env)
                    seconds, peak = seconds + s, max(peak, p)
                after_s3, after_pg = moto.requests(), postgres.commits()
                s3 = {m: after_s3.get(m, 0) - before_s3.get(m, 0) for m in after_s3}
                rows.append({
                    "setup": name, "phase": label, "tenants": args.tenants,
                    "seconds": seconds, "peak_mib": peak,
                    "get": s3.get("GET", 0), "put": s3.get("PUT", 0),
                    # object_store deletes through DeleteObjects, a POST.
                    "delete": s3.get("DELETE", 0) + s3.get("POST", 0),
                    "pg_commits": after_pg - before_pg,
                })
                log(f"   {name} / {label}: {seconds:.2f} s, {peak:.0f} MiB, S3 {s3}, "
                    f"{after_pg - before_pg} commits")

            log(f"== {name}: backfill {args.tenants} tenants")
            point(root, full)
            phase("backfill (each tenant)", [
                ["backfill", "--tenants", "conf.d", "--tenant", f"t{n}",
                 "--from", facts["from"], "--to", facts["to"]]
                for n in range(args.tenants)
            ])
            point(root, night)
            night_run = ["run", "--tenants", "conf.d", "--parallel", str(args.parallel),
                         "--today", today]
            log(f"== {name}: night")
            phase(f"night, --parallel {args.parallel}", [night_run])
            if keys:
                shutil.rmtree(root / "stores")
                log(f"== {name}: night on a new pod")
                phase(f"night on a new pod, --parallel {args.parallel}", [night_run])
                sizes = [f.stat().st_size for f in (root / "stores").rglob("*") if f.is_file()]
                log(f"   working copies: {sum(sizes) / 2**20:.1f} MiB in {len(sizes)} files")
    finally:
        if moto:
            moto.stop()
        if postgres:
            postgres.stop()
        if not args.work:
            shutil.rmtree(scratch, ignore_errors=True)

    lines = [
        f"{args.tenants} tenants of {facts['ad_rows']:,} ad rows and {facts['deals']:,} deals "
        f"({facts['from']}..{facts['to']}); kassa `{kassa}`",
        "",
        "| setup | phase | wall | per tenant | peak RSS | S3 GET | S3 PUT | S3 DELETE | Postgres commits |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['setup']} | {r['phase']} | {r['seconds']:.2f} s | "
            f"{r['seconds'] / r['tenants']:.2f} s | {r['peak_mib']:.0f} MiB | {r['get']} | "
            f"{r['put']} | {r['delete']} | {r['pg_commits']} |"
        )
    text = "\n".join(lines) + "\n"
    print(text)
    if args.markdown:
        Path(args.markdown).write_text(text)


if __name__ == "__main__":
    main()
