//! Real services for the tests that need them (issue 18): Postgres for the ledger, moto's
//! S3 server for the snapshots.
//!
//! A service is started once per test binary, on first use, and stopped when the binary
//! exits: a small watcher process waits for the test process to end, then stops the server
//! and removes its scratch directory (a test binary runs no destructors of statics). Each test
//! gets a schema of its own ([`Postgres::schema`]) and a bucket of its own ([`Moto::bucket`]),
//! so tests run in parallel on one server of each. moto is found through `KASSA_MOTO_SERVER`
//! or in `.ci/.venv-services/bin/moto_server` (which `.ci/run` creates).
//!
//! The tests need `KASSA_SERVICES=1` (`.ci/run` sets it, after installing Debian's
//! `postgresql` if missing and moto into `.ci/.venv-services`). Without it each prints that it was skipped and why, so a bare
//! `cargo test` needs only Rust; with it, a service that cannot start fails the test with the
//! reason. These tests use real time: tokio's paused clock would fire connection timeouts
//! while a real server answers.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

use kassa::store::SnapshotBucket;

use crate::helpers::repo;

/// The variable that switches the tests against real services on.
const SWITCH: &str = "KASSA_SERVICES";

/// A Postgres server on 127.0.0.1 with trust authentication (any password is accepted, and
/// none is needed), owned by the test binary.
pub struct Postgres {
    port: u16,
}

impl Postgres {
    /// A URL reaching the server as `kassa`, with `password` in it (to check it never shows).
    pub fn url_with_password(&self, password: &str) -> String {
        format!(
            "postgresql://kassa:{password}@127.0.0.1:{}/postgres?sslmode=disable",
            self.port
        )
    }

    pub fn url(&self) -> String {
        self.url_with_password("unused-by-trust")
    }

    /// A schema name no other test uses: `t_<test>_<n>`.
    pub fn schema(&self, test: &str) -> String {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let name: String = test
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_lowercase()
                } else {
                    '_'
                }
            })
            .take(40)
            .collect();
        format!("t_{name}_{n}")
    }

    /// A client of the server, for checking what kassa wrote (its connection runs on the
    /// caller's runtime).
    pub async fn client(&self) -> tokio_postgres::Client {
        let (client, connection) = tokio_postgres::connect(&self.url(), tokio_postgres::NoTls)
            .await
            .expect("a test connection to Postgres");
        tokio::spawn(connection);
        client
    }
}

/// The shared Postgres, or `None` when `KASSA_SERVICES` is not set (the test is skipped, and
/// says so). Panics with the reason when the server cannot start.
pub fn postgres(test: &str) -> Option<&'static Postgres> {
    if std::env::var_os(SWITCH).is_none_or(|value| value.is_empty()) {
        println!(
            "{test}: skipped: set {SWITCH}=1 to run the tests against a real Postgres (.ci/run does)"
        );
        return None;
    }
    static POSTGRES: OnceLock<Result<Postgres, String>> = OnceLock::new();
    match POSTGRES.get_or_init(start_postgres) {
        Ok(postgres) => Some(postgres),
        Err(why) => panic!("{test}: {SWITCH} is set but Postgres could not start: {why}"),
    }
}

fn start_postgres() -> Result<Postgres, String> {
    let bin = postgres_bin()?;
    let scratch = tempfile::Builder::new()
        .prefix("kassa-pg.")
        .tempdir()
        .map_err(|e| format!("no scratch directory: {e}"))?
        .keep();
    // initdb refuses to run as root: the server runs as `nobody`, which must own its directory.
    let root = is_root();
    if root {
        run(Command::new("chown").arg("nobody:nogroup").arg(&scratch))?;
        run(Command::new("chmod").arg("700").arg(&scratch))?;
    }
    let data = scratch.join("data");
    let port = free_port()?;
    run(as_server_user(root, &bin.join("initdb"))
        .arg("-D")
        .arg(&data)
        .args([
            "-U",
            "kassa",
            "-A",
            "trust",
            "--no-sync",
            "--no-instructions",
        ])
        .args(["-E", "UTF8", "--locale=C.UTF-8"]))?;
    run(as_server_user(root, &bin.join("pg_ctl"))
        .arg("-D")
        .arg(&data)
        .arg("-l")
        .arg(scratch.join("log"))
        .args(["-w", "-o"])
        .arg(format!(
            "-c listen_addresses=127.0.0.1 -p {port} -k {} -c fsync=off",
            scratch.display()
        ))
        .arg("start"))
    .map_err(|why| {
        let log = std::fs::read_to_string(scratch.join("log")).unwrap_or_default();
        format!("{why}\nserver log:\n{log}")
    })?;
    stop_when_done(root, &bin, &scratch)?;
    Ok(Postgres { port })
}

/// The directory of `initdb` and `pg_ctl`: Debian's `/usr/lib/postgresql/<version>/bin`
/// (the newest), or wherever `PATH` has them.
fn postgres_bin() -> Result<PathBuf, String> {
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| entry.path().join("bin"))
        .filter(|bin| bin.join("initdb").is_file())
        .collect();
    versions.sort();
    if let Some(bin) = versions.pop() {
        return Ok(bin);
    }
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .find(|dir| dir.join("initdb").is_file() && dir.join("pg_ctl").is_file())
        .ok_or_else(|| {
            "no initdb under /usr/lib/postgresql/*/bin or on PATH: install Debian's postgresql package (apt-get install -y postgresql)".to_string()
        })
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).trim() == "0")
}

fn as_server_user(root: bool, program: &Path) -> Command {
    if root {
        let mut command = Command::new("runuser");
        command.args(["-u", "nobody", "--"]).arg(program);
        command
    } else {
        Command::new(program)
    }
}

fn run(command: &mut Command) -> Result<(), String> {
    let output = command
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run {command:?}: {e}"))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{command:?} failed ({}): {}{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ))
    }
}

fn free_port() -> Result<u16, String> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    listener
        .local_addr()
        .map(|address| address.port())
        .map_err(|e| e.to_string())
}

/// Starts the watcher that stops the server and removes `scratch` once this process is gone.
fn stop_when_done(root: bool, bin: &Path, scratch: &Path) -> Result<(), String> {
    let pg_ctl = bin.join("pg_ctl");
    let stop = if root {
        format!("runuser -u nobody -- {:?}", pg_ctl.display().to_string())
    } else {
        format!("{:?}", pg_ctl.display().to_string())
    };
    let script = format!(
        "while kill -0 {pid} 2>/dev/null; do sleep 1; done; \
         {stop} -D {data:?} -m immediate -w stop >/dev/null 2>&1; rm -rf {scratch:?}",
        pid = std::process::id(),
        data = scratch.join("data").display().to_string(),
        scratch = scratch.display().to_string(),
    );
    Command::new("sh")
        .arg("-c")
        .arg(script)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map(drop)
        .map_err(|e| format!("cannot start the watcher that stops Postgres: {e}"))
}

/// What the tests sign with: moto takes any key, and this one must show up nowhere.
const ACCESS_KEY: &str = "AKIAKASSATEST";
pub(crate) const SECRET_KEY: &str = "kassa-test-secret-5ec7e7-do-not-print";

pub(crate) struct Moto {
    endpoint: String,
    /// The watchdog shell: it kills moto when its stdin (held here) closes at exit.
    _watchdog: Child,
}

static MOTO: OnceLock<Result<Moto, String>> = OnceLock::new();

/// The shared moto server, or `None` (with a line saying so) when `KASSA_SERVICES` is not set.
pub(crate) fn moto(test: &str) -> Option<&'static Moto> {
    if std::env::var_os(SWITCH).is_none_or(|value| value.is_empty()) {
        println!(
            "{test}: skipped: set {SWITCH}=1 to run the tests against moto's S3 server (.ci/run does)"
        );
        return None;
    }
    match MOTO.get_or_init(start_moto) {
        Ok(moto) => Some(moto),
        Err(why) => {
            panic!("{test}: KASSA_SERVICES is set but moto's S3 server did not start: {why}")
        }
    }
}

fn moto_binary() -> PathBuf {
    std::env::var_os("KASSA_MOTO_SERVER")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join(".ci/.venv-services/bin/moto_server"))
}

fn start_moto() -> Result<Moto, String> {
    let binary = moto_binary();
    if !binary.is_file() {
        return Err(format!(
            "{} does not exist: run .ci/run, or create it with `python3 -m venv .ci/.venv-services && .ci/.venv-services/bin/pip install 'moto[server]'`, or set KASSA_MOTO_SERVER",
            binary.display()
        ));
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(|e| format!("no free port on 127.0.0.1: {e}"))?
        .port();
    // moto outlives nothing: the shell starts it, waits for its own stdin to close (this
    // process exited, however it exited), then kills it.
    let watchdog = Command::new("sh")
        .arg("-c")
        .arg(r#""$0" -H 127.0.0.1 -p "$1" >/dev/null 2>&1 & pid=$!; cat >/dev/null; kill $pid"#)
        .arg(&binary)
        .arg(port.to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", binary.display()))?;
    let endpoint = format!("http://127.0.0.1:{port}");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while std::time::Instant::now() < deadline {
        if http(port, "GET", "/").is_ok() {
            return Ok(Moto {
                endpoint,
                _watchdog: watchdog,
            });
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    Err(format!(
        "{} did not answer on {endpoint} within 30 s",
        binary.display()
    ))
}

/// One plain HTTP/1.1 request to moto; the status line's code.
fn http(port: u16, method: &str, path: &str) -> Result<u16, String> {
    let mut stream =
        std::net::TcpStream::connect(("127.0.0.1", port)).map_err(|e| e.to_string())?;
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )
    .map_err(|e| e.to_string())?;
    let mut answer = String::new();
    stream
        .read_to_string(&mut answer)
        .map_err(|e| e.to_string())?;
    answer
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| format!("no HTTP status in {answer:?}"))
}

impl Moto {
    fn port(&self) -> u16 {
        self.endpoint.rsplit(':').next().unwrap().parse().unwrap()
    }

    /// A new, empty bucket for one test.
    pub(crate) fn bucket(&self, test: &str) -> String {
        static COUNT: AtomicUsize = AtomicUsize::new(0);
        let name = format!(
            "{}-{}",
            test.replace('_', "-").chars().take(50).collect::<String>(),
            COUNT.fetch_add(1, Ordering::Relaxed)
        );
        let code = http(self.port(), "PUT", &format!("/{name}")).unwrap();
        assert_eq!(code, 200, "creating bucket {name}");
        name
    }

    /// The AWS environment kassa reads, pointed at moto.
    pub(crate) fn env(&self) -> Vec<(String, String)> {
        [
            ("AWS_ACCESS_KEY_ID", ACCESS_KEY),
            ("AWS_SECRET_ACCESS_KEY", SECRET_KEY),
            ("AWS_REGION", "us-east-1"),
            ("AWS_ENDPOINT_URL", self.endpoint.as_str()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }

    pub(crate) fn objects(&self, bucket: &str, prefix: &str) -> SnapshotBucket {
        SnapshotBucket::connect(bucket, prefix, self.env()).unwrap()
    }
}
