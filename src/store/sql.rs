//! One SQL code path for both ledgers: SQLite in the store directory (rusqlite) and Postgres
//! (tokio-postgres, driven through [`Bridge`] so the store's API stays synchronous).
//!
//! Every query is written once, in the SQL both databases accept (`INSERT … ON CONFLICT`,
//! `RETURNING`, no date functions: dates and instants are TEXT formatted in Rust, so both
//! ledgers hold the same bytes). Parameters are written `?1`, `?2`: SQLite reads them as
//! numbered, and they are rewritten to `$1`, `$2` for Postgres (SQLite would read `$1` as a
//! *named* parameter numbered by first appearance, so the rewrite only goes this way). Values
//! cross as a small [`Value`], converted to whatever type Postgres inferred for the parameter,
//! so an `INTEGER` flag compared with `OR` reaches Postgres as a boolean.
//!
//! The schema's DDL is also written once, in SQLite's words; [`postgres_ddl`] maps its types
//! (`INTEGER` → `BIGINT`, since SQLite integers are 64-bit and Postgres' are 32; `REAL` →
//! `DOUBLE PRECISION`; `AUTOINCREMENT` keys → identity columns; `TEXT` → `TEXT COLLATE "C"`,
//! so `ORDER BY` sorts bytes as SQLite does whatever the database's locale).
//!
//! On Postgres each tenant has its own schema (`search_path` is set on connect): the SQL and the
//! migrations stay exactly SQLite's, no key needs a tenant column, and a tenant is removed with
//! one `DROP SCHEMA`. The cost is one set of tables, and one run of the migrations, per tenant.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use secrecy::{ExposeSecret, SecretString};
use tokio_postgres::types::{ToSql, Type};

use super::StoreError;
use super::bridge::{Bridge, BridgeStopped};

impl From<BridgeStopped> for PostgresError {
    fn from(_: BridgeStopped) -> PostgresError {
        PostgresError::Stopped
    }
}

/// The advisory lock class of kassa's locks on Postgres (the first of the two keys); the second
/// is `hashtext(schema)`.
pub(crate) const LOCK_CLASS: i32 = 0x6b61_7373; // "kass"
/// The advisory lock class taken (per transaction) while a schema is created or migrated.
const MIGRATION_LOCK_CLASS: i32 = 0x6b61_736d; // "kasm"

/// One value read from or bound to the ledger.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    Null,
    Int(i64),
    Real(f64),
    Text(String),
}

impl From<&str> for Value {
    fn from(text: &str) -> Value {
        Value::Text(text.to_string())
    }
}
impl From<String> for Value {
    fn from(text: String) -> Value {
        Value::Text(text)
    }
}
impl From<&String> for Value {
    fn from(text: &String) -> Value {
        Value::Text(text.clone())
    }
}
impl From<i64> for Value {
    fn from(n: i64) -> Value {
        Value::Int(n)
    }
}
impl From<u32> for Value {
    fn from(n: u32) -> Value {
        Value::Int(i64::from(n))
    }
}
impl From<bool> for Value {
    fn from(flag: bool) -> Value {
        Value::Int(i64::from(flag))
    }
}
impl From<f64> for Value {
    fn from(x: f64) -> Value {
        Value::Real(x)
    }
}
impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(value: Option<T>) -> Value {
        value.map_or(Value::Null, Into::into)
    }
}

/// `[v1.into(), v2.into(), …]` as ledger parameters.
macro_rules! values {
    ($($value:expr),* $(,)?) => { &[$($crate::store::sql::Value::from($value)),*] };
}
pub(crate) use values;

/// One row of a query's answer.
#[derive(Debug, Clone)]
pub(crate) struct Row(Vec<Value>);

/// A column of a row did not hold what the ledger's schema promises.
#[derive(Debug, thiserror::Error)]
#[error("column {column} holds {found}, expected {expected}")]
pub struct ValueError {
    column: usize,
    found: String,
    expected: &'static str,
}

impl ValueError {
    /// A value that does not parse as `expected` (a date stored as text).
    pub(crate) fn new(column: usize, found: String, expected: &'static str) -> ValueError {
        ValueError {
            column,
            found: format!("{found:?}"),
            expected,
        }
    }
}

impl Row {
    fn get(&self, column: usize) -> &Value {
        self.0.get(column).unwrap_or(&Value::Null)
    }

    fn wrong(&self, column: usize, expected: &'static str) -> ValueError {
        let found = match self.get(column) {
            Value::Null => "NULL".to_string(),
            Value::Int(_) => "an integer".to_string(),
            Value::Real(_) => "a real number".to_string(),
            Value::Text(_) => "text".to_string(),
        };
        ValueError {
            column,
            found,
            expected,
        }
    }

    pub(crate) fn int(&self, column: usize) -> Result<i64, ValueError> {
        self.opt_int(column)?
            .ok_or_else(|| self.wrong(column, "an integer"))
    }

    pub(crate) fn opt_int(&self, column: usize) -> Result<Option<i64>, ValueError> {
        match self.get(column) {
            Value::Null => Ok(None),
            Value::Int(n) => Ok(Some(*n)),
            _ => Err(self.wrong(column, "an integer")),
        }
    }

    pub(crate) fn real(&self, column: usize) -> Result<f64, ValueError> {
        match self.get(column) {
            Value::Real(x) => Ok(*x),
            // A whole number where a real is expected (SQLite keeps what it was given).
            Value::Int(n) => Ok(*n as f64),
            _ => Err(self.wrong(column, "a number")),
        }
    }

    pub(crate) fn text(&self, column: usize) -> Result<String, ValueError> {
        self.opt_text(column)?
            .ok_or_else(|| self.wrong(column, "text"))
    }

    pub(crate) fn opt_text(&self, column: usize) -> Result<Option<String>, ValueError> {
        match self.get(column) {
            Value::Null => Ok(None),
            Value::Text(text) => Ok(Some(text.clone())),
            _ => Err(self.wrong(column, "text")),
        }
    }
}

/// Where a Postgres ledger is and how to reach it; the URL (with its password) stays in a
/// [`SecretString`] and is parsed only to connect.
#[derive(Clone)]
pub(crate) struct PostgresTarget {
    url: SecretString,
    pub(crate) schema: String,
    /// `host:port/database`, for messages (never the user or password).
    pub(crate) server: String,
}

impl PostgresTarget {
    pub(crate) fn new(url: &SecretString, schema: &str) -> Result<PostgresTarget, StoreError> {
        let server = describe_server(url).map_err(|source| StoreError::Postgres {
            schema: schema.to_string(),
            server: "(the URL)".to_string(),
            source,
        })?;
        Ok(PostgresTarget {
            url: url.clone(),
            schema: schema.to_string(),
            server,
        })
    }

    fn error(&self) -> impl Fn(PostgresError) -> StoreError + '_ {
        move |source| StoreError::Postgres {
            schema: self.schema.clone(),
            server: self.server.clone(),
            source,
        }
    }
}

/// `host:port/database` of a Postgres URL.
pub(crate) fn describe_server(url: &SecretString) -> Result<String, PostgresError> {
    let config: tokio_postgres::Config = url
        .expose_secret()
        .parse()
        .map_err(|_| PostgresError::Url)?;
    let hosts: Vec<String> = config
        .get_hosts()
        .iter()
        .zip(config.get_ports().iter().chain(std::iter::repeat(&5432)))
        .map(|(host, port)| match host {
            tokio_postgres::config::Host::Tcp(name) => format!("{name}:{port}"),
            tokio_postgres::config::Host::Unix(dir) => format!("{}:{port}", dir.display()),
        })
        .collect();
    Ok(format!(
        "{}/{}",
        hosts.join(","),
        config.get_dbname().unwrap_or("(default database)")
    ))
}

/// What went wrong talking to Postgres. Never holds the URL: its password must not reach a
/// message.
#[derive(Debug, thiserror::Error)]
pub enum PostgresError {
    #[error("the ledger URL is not a valid postgres:// URL (not shown: it holds a password)")]
    Url,
    #[error("TLS: {0}")]
    Tls(String),
    #[error(transparent)]
    Client(#[from] tokio_postgres::Error),
    #[error("the ledger's connection thread stopped")]
    Stopped,
    #[error("cannot start the ledger's connection thread: {0}")]
    Thread(std::io::Error),
    #[error("parameter ${index} of type {ty} cannot take {value}")]
    Parameter {
        index: usize,
        ty: String,
        value: &'static str,
    },
    #[error("column {column} has type {ty}, which the ledger does not use")]
    ColumnType { column: usize, ty: String },
}

struct Postgres {
    target: PostgresTarget,
    client: Arc<tokio_postgres::Client>,
    /// Prepared statements by SQL text (each statement's parameter types come from here).
    statements: Mutex<HashMap<String, tokio_postgres::Statement>>,
    bridge: Bridge,
}

enum Connection {
    Sqlite {
        path: PathBuf,
        connection: rusqlite::Connection,
    },
    Postgres(Box<Postgres>),
}

/// Where a ledger is: enough to open another connection to it (the token cache's, opened only
/// when a connector first needs a token, so a night of API-key sources opens none).
#[derive(Clone)]
pub(crate) enum LedgerAddress {
    Sqlite(PathBuf),
    Postgres(PostgresTarget),
}

impl LedgerAddress {
    /// Another connection to the ledger.
    pub(crate) fn open(&self) -> Result<Ledger, StoreError> {
        match self {
            LedgerAddress::Sqlite(path) => {
                let connection =
                    rusqlite::Connection::open(path).map_err(super::ledger_error(path))?;
                connection
                    .busy_timeout(std::time::Duration::from_secs(5))
                    .map_err(super::ledger_error(path))?;
                Ok(Ledger::sqlite(path, connection))
            }
            LedgerAddress::Postgres(target) => Ledger::postgres(target),
        }
    }
}

/// A connection to the store's ledger, whichever database holds it.
pub(crate) struct Ledger(Connection);

impl std::fmt::Debug for Ledger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Ledger").field(&self.describe()).finish()
    }
}

impl Ledger {
    pub(crate) fn sqlite(path: &Path, connection: rusqlite::Connection) -> Ledger {
        Ledger(Connection::Sqlite {
            path: path.to_path_buf(),
            connection,
        })
    }

    /// Connects to the Postgres ledger `target` names, creating its schema when missing
    /// (under a transaction-level advisory lock, so pods starting at once do not race) and
    /// making it the connection's `search_path`.
    pub(crate) fn postgres(target: &PostgresTarget) -> Result<Ledger, StoreError> {
        let error = target.error();
        let bridge = Bridge::new("kassa-ledger").map_err(|e| error(PostgresError::Thread(e)))?;
        let mut config: tokio_postgres::Config = target
            .url
            .expose_secret()
            .parse()
            .map_err(|_| error(PostgresError::Url))?;
        // A pod that vanishes must not hold its run lock for the kernel's two hours.
        config
            .keepalives(true)
            .keepalives_idle(std::time::Duration::from_secs(30))
            .connect_timeout(std::time::Duration::from_secs(30))
            .application_name(format!("kassa pid {}", std::process::id()));
        let tls = tls().map_err(&error)?;
        let (client, connection) = bridge
            .run(async move { config.connect(tls).await })
            .map_err(PostgresError::from)
            .map_err(&error)?
            .map_err(PostgresError::from)
            .map_err(&error)?;
        bridge.spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, "ledger connection closed");
            }
        });
        let ledger = Ledger(Connection::Postgres(Box::new(Postgres {
            target: target.clone(),
            client: Arc::new(client),
            statements: Mutex::new(HashMap::new()),
            bridge,
        })));
        let schema = quote_identifier(&target.schema);
        ledger.transaction(|tx| {
            tx.execute(
                "SELECT pg_advisory_xact_lock(?1, hashtext(?2))",
                values![i64::from(MIGRATION_LOCK_CLASS), target.schema.as_str()],
            )?;
            tx.batch(&format!(
                "CREATE SCHEMA IF NOT EXISTS {schema};
                 CREATE TABLE IF NOT EXISTS {schema}.kassa_schema (version BIGINT NOT NULL);"
            ))
        })?;
        ledger.batch(&format!("SET search_path TO {schema}"))?;
        Ok(ledger)
    }

    /// Where this ledger is, to open another connection to it later ([`LedgerAddress::open`]).
    pub(crate) fn address(&self) -> LedgerAddress {
        match &self.0 {
            Connection::Sqlite { path, .. } => LedgerAddress::Sqlite(path.clone()),
            Connection::Postgres(pg) => LedgerAddress::Postgres(pg.target.clone()),
        }
    }

    /// The ledger, for messages: the SQLite file, or the Postgres schema and server.
    pub(crate) fn describe(&self) -> String {
        match &self.0 {
            Connection::Sqlite { path, .. } => path.display().to_string(),
            Connection::Postgres(pg) => format!(
                "Postgres schema {} on {}",
                pg.target.schema, pg.target.server
            ),
        }
    }

    /// Maps a value that is not what the schema promises to a [`StoreError`].
    pub(crate) fn value_error(&self) -> impl Fn(ValueError) -> StoreError + '_ {
        move |source| StoreError::LedgerValue {
            ledger: self.describe(),
            source,
        }
    }

    /// Runs one statement; returns how many rows it changed.
    pub(crate) fn execute(&self, sql: &str, params: &[Value]) -> Result<usize, StoreError> {
        match &self.0 {
            Connection::Sqlite { path, connection } => connection
                .execute(sql, rusqlite::params_from_iter(params.iter()))
                .map_err(super::ledger_error(path)),
            Connection::Postgres(pg) => {
                let changed = pg.run(sql, params, |client, statement, params| async move {
                    client.execute(&statement, &as_refs(&params)).await
                })?;
                Ok(usize::try_from(changed).unwrap_or(usize::MAX))
            }
        }
    }

    /// Runs one query; returns its rows.
    pub(crate) fn query(&self, sql: &str, params: &[Value]) -> Result<Vec<Row>, StoreError> {
        match &self.0 {
            Connection::Sqlite { path, connection } => {
                let error = super::ledger_error(path);
                let mut statement = connection.prepare(sql).map_err(&error)?;
                let columns = statement.column_count();
                let rows = statement
                    .query_map(rusqlite::params_from_iter(params.iter()), |row| {
                        (0..columns)
                            .map(|i| row.get_ref(i).map(Value::from_sqlite))
                            .collect::<rusqlite::Result<Vec<Value>>>()
                            .map(Row)
                    })
                    .map_err(&error)?;
                rows.collect::<Result<_, _>>().map_err(&error)
            }
            Connection::Postgres(pg) => {
                let rows = pg.run(sql, params, |client, statement, params| async move {
                    client.query(&statement, &as_refs(&params)).await
                })?;
                rows.iter()
                    .map(|row| row_from_postgres(row).map_err(pg.target.error()))
                    .collect()
            }
        }
    }

    /// The first row of a query's answer, if any.
    pub(crate) fn query_opt(&self, sql: &str, params: &[Value]) -> Result<Option<Row>, StoreError> {
        Ok(self.query(sql, params)?.into_iter().next())
    }

    /// Runs several statements without parameters (migrations).
    pub(crate) fn batch(&self, sql: &str) -> Result<(), StoreError> {
        match &self.0 {
            Connection::Sqlite { path, connection } => connection
                .execute_batch(sql)
                .map_err(super::ledger_error(path)),
            Connection::Postgres(pg) => {
                let client = Arc::clone(&pg.client);
                let sql = sql.to_string();
                pg.bridge
                    .run(async move { client.batch_execute(&sql).await })
                    .map_err(PostgresError::from)
                    .and_then(|done| done.map_err(PostgresError::from))
                    .map_err(pg.target.error())
            }
        }
    }

    /// Runs `work` in one transaction: committed when it returns `Ok`, rolled back otherwise.
    /// On SQLite the transaction takes the write lock first (`BEGIN IMMEDIATE`), so a
    /// read-then-write inside it (a migration, a claim of the outbox) is never interleaved
    /// with another process's.
    pub(crate) fn transaction<T>(
        &self,
        work: impl FnOnce(&Ledger) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let begin = match self.0 {
            Connection::Sqlite { .. } => "BEGIN IMMEDIATE",
            Connection::Postgres(_) => "BEGIN",
        };
        self.batch(begin)?;
        match work(self) {
            Ok(value) => {
                self.batch("COMMIT")?;
                Ok(value)
            }
            Err(error) => {
                // The error that stopped the work is the one to report.
                let _ = self.batch("ROLLBACK");
                Err(error)
            }
        }
    }

    /// Whether the ledger has table `name` (a store older than that table, read without
    /// migrating, does not).
    pub(crate) fn has_table(&self, name: &str) -> Result<bool, StoreError> {
        let sql = match self.0 {
            Connection::Sqlite { .. } => {
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1"
            }
            Connection::Postgres(_) => {
                "SELECT 1 FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = ?1"
            }
        };
        Ok(self.query_opt(sql, values![name])?.is_some())
    }

    /// The schema version the ledger records (0 for a new one).
    pub(crate) fn schema_version(&self) -> Result<i64, StoreError> {
        let sql = match self.0 {
            Connection::Sqlite { .. } => "PRAGMA user_version",
            Connection::Postgres(_) => "SELECT COALESCE(MAX(version), 0) FROM kassa_schema",
        };
        let row = self.query_opt(sql, &[])?;
        Ok(match row {
            Some(row) => row.int(0).map_err(self.value_error())?,
            None => 0,
        })
    }

    /// Records `version` as the ledger's schema version (inside a migration's transaction).
    pub(crate) fn set_schema_version(&self, version: u32) -> Result<(), StoreError> {
        match self.0 {
            // PRAGMA takes no bound parameters; the version is one of our own constants.
            Connection::Sqlite { .. } => self.batch(&format!("PRAGMA user_version = {version}")),
            Connection::Postgres(_) => {
                self.batch("DELETE FROM kassa_schema")?;
                self.execute(
                    "INSERT INTO kassa_schema (version) VALUES (?1)",
                    values![version],
                )
                .map(drop)
            }
        }
    }

    /// Serializes migrations of this ledger across processes, inside a transaction: SQLite's
    /// `BEGIN IMMEDIATE` already does; Postgres takes a transaction-level advisory lock on the
    /// schema.
    pub(crate) fn lock_for_migration(&self) -> Result<(), StoreError> {
        if let Connection::Postgres(pg) = &self.0 {
            self.execute(
                "SELECT pg_advisory_xact_lock(?1, hashtext(?2))",
                values![i64::from(MIGRATION_LOCK_CLASS), pg.target.schema.as_str()],
            )?;
        }
        Ok(())
    }

    /// A migration's SQL in this ledger's dialect.
    pub(crate) fn ddl(&self, sql: &str) -> String {
        match self.0 {
            Connection::Sqlite { .. } => sql.to_string(),
            Connection::Postgres(_) => postgres_ddl(sql),
        }
    }

    /// Locks these rows against other transactions until this one ends, skipping rows
    /// another transaction holds: `FOR UPDATE SKIP LOCKED` on Postgres; nothing on SQLite,
    /// where the transaction already holds the whole database.
    pub(crate) fn skip_locked(&self) -> &'static str {
        match self.0 {
            Connection::Sqlite { .. } => "",
            Connection::Postgres(_) => " FOR UPDATE SKIP LOCKED",
        }
    }

    /// Every table and its columns with their types (`integer`, `real`, `text`), by name:
    /// what both dialects of the schema must agree on.
    pub(crate) fn columns(&self) -> Result<Vec<(String, String, String)>, StoreError> {
        let sql = match self.0 {
            Connection::Sqlite { .. } => {
                "SELECT m.name, p.name, lower(p.type) FROM sqlite_master m, pragma_table_info(m.name) p
                 WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%'"
            }
            Connection::Postgres(_) => {
                "SELECT table_name::text, column_name::text,
                     CASE data_type WHEN 'bigint' THEN 'integer' WHEN 'double precision' THEN 'real'
                     ELSE data_type::text END
                 FROM information_schema.columns
                 WHERE table_schema = current_schema() AND table_name <> 'kassa_schema'"
            }
        };
        let mut columns = self
            .query(sql, &[])?
            .iter()
            .map(|row| Ok((row.text(0)?, row.text(1)?, row.text(2)?)))
            .collect::<Result<Vec<_>, ValueError>>()
            .map_err(self.value_error())?;
        columns.sort();
        Ok(columns)
    }

    /// Takes the run lock of the schema on this connection without waiting: `false` when
    /// another session holds it. Postgres only; held until the connection closes.
    pub(crate) fn try_advisory_lock(&self) -> Result<bool, StoreError> {
        let Connection::Postgres(pg) = &self.0 else {
            return Ok(true);
        };
        let row = self.query_opt(
            "SELECT pg_try_advisory_lock(?1, hashtext(?2))",
            values![i64::from(LOCK_CLASS), pg.target.schema.as_str()],
        )?;
        Ok(row
            .map(|row| row.int(0))
            .transpose()
            .map_err(self.value_error())?
            == Some(1))
    }

    /// Who holds the run lock of the schema: the `application_name` of the session holding it
    /// (`kassa pid N`), if Postgres says.
    pub(crate) fn advisory_lock_holder(&self) -> Option<String> {
        let Connection::Postgres(pg) = &self.0 else {
            return None;
        };
        let row = self
            .query_opt(
                "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
                 WHERE l.locktype = 'advisory' AND l.granted AND l.classid = CAST(?1 AS bigint)::oid
                 AND l.objid = (hashtext(?2)::bigint & 4294967295)::oid AND l.objsubid = 2",
                values![i64::from(LOCK_CLASS), pg.target.schema.as_str()],
            )
            .ok()??;
        row.opt_text(0).ok()?
    }
}

impl Postgres {
    /// Prepares `sql` (once per connection), converts `params` to the types Postgres inferred,
    /// and runs `call` on the bridge.
    fn run<T, F, Fut>(&self, sql: &str, params: &[Value], call: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(Arc<tokio_postgres::Client>, tokio_postgres::Statement, Vec<Bound>) -> Fut
            + Send
            + 'static,
        Fut: std::future::Future<Output = Result<T, tokio_postgres::Error>> + Send + 'static,
    {
        let error = self.target.error();
        let cached = self
            .statements
            .lock()
            .ok()
            .and_then(|statements| statements.get(sql).cloned());
        let statement = match cached {
            Some(statement) => statement,
            None => {
                let client = Arc::clone(&self.client);
                let text = dollar_parameters(sql);
                let statement = self
                    .bridge
                    .run(async move { client.prepare(&text).await })
                    .map_err(PostgresError::from)
                    .and_then(|done| done.map_err(PostgresError::from))
                    .map_err(&error)?;
                if let Ok(mut statements) = self.statements.lock() {
                    statements.insert(sql.to_string(), statement.clone());
                }
                statement
            }
        };
        let bound = statement
            .params()
            .iter()
            .zip(params)
            .enumerate()
            .map(|(i, (ty, value))| Bound::new(i + 1, ty, value))
            .collect::<Result<Vec<_>, _>>()
            .map_err(&error)?;
        let client = Arc::clone(&self.client);
        self.bridge
            .run(call(client, statement, bound))
            .map_err(PostgresError::from)
            .and_then(|done| done.map_err(PostgresError::from))
            .map_err(&error)
    }
}

/// A parameter converted to the Rust type tokio-postgres writes for the parameter's type (a
/// null too: tokio-postgres checks the type of `None` as well).
pub(crate) enum Bound {
    Bool(Option<bool>),
    I16(Option<i16>),
    I32(Option<i32>),
    I64(Option<i64>),
    F32(Option<f32>),
    F64(Option<f64>),
    Text(Option<String>),
}

impl Bound {
    fn new(index: usize, ty: &Type, value: &Value) -> Result<Bound, PostgresError> {
        let wrong = |value: &'static str| PostgresError::Parameter {
            index,
            ty: ty.name().to_string(),
            value,
        };
        let int = |n: i64| -> Result<Bound, PostgresError> {
            Ok(match *ty {
                Type::BOOL => Bound::Bool(Some(n != 0)),
                Type::INT2 => {
                    Bound::I16(Some(i16::try_from(n).map_err(|_| wrong("this integer"))?))
                }
                Type::INT4 => {
                    Bound::I32(Some(i32::try_from(n).map_err(|_| wrong("this integer"))?))
                }
                Type::INT8 => Bound::I64(Some(n)),
                Type::FLOAT8 => Bound::F64(Some(n as f64)),
                _ => return Err(wrong("an integer")),
            })
        };
        Ok(match value {
            Value::Null => match *ty {
                Type::BOOL => Bound::Bool(None),
                Type::INT2 => Bound::I16(None),
                Type::INT4 => Bound::I32(None),
                Type::INT8 => Bound::I64(None),
                Type::FLOAT4 => Bound::F32(None),
                Type::FLOAT8 => Bound::F64(None),
                _ => Bound::Text(None),
            },
            Value::Int(n) => int(*n)?,
            Value::Real(x) => match *ty {
                Type::FLOAT8 => Bound::F64(Some(*x)),
                Type::FLOAT4 => Bound::F32(Some(*x as f32)),
                _ => return Err(wrong("a real number")),
            },
            Value::Text(text) => match *ty {
                Type::TEXT | Type::VARCHAR | Type::NAME | Type::BPCHAR => {
                    Bound::Text(Some(text.clone()))
                }
                _ => return Err(wrong("text")),
            },
        })
    }

    fn as_sql(&self) -> &(dyn ToSql + Sync) {
        match self {
            Bound::Bool(b) => b,
            Bound::I16(n) => n,
            Bound::I32(n) => n,
            Bound::I64(n) => n,
            Bound::F32(x) => x,
            Bound::F64(x) => x,
            Bound::Text(text) => text,
        }
    }
}

fn as_refs(params: &[Bound]) -> Vec<&(dyn ToSql + Sync)> {
    params.iter().map(Bound::as_sql).collect()
}

fn row_from_postgres(row: &tokio_postgres::Row) -> Result<Row, PostgresError> {
    (0..row.len())
        .map(|i| {
            let ty = row.columns()[i].type_().clone();
            let value = match ty {
                Type::BOOL => row.try_get::<_, Option<bool>>(i)?.map(Value::from),
                Type::INT2 => row
                    .try_get::<_, Option<i16>>(i)?
                    .map(|n| Value::Int(i64::from(n))),
                Type::INT4 => row
                    .try_get::<_, Option<i32>>(i)?
                    .map(|n| Value::Int(i64::from(n))),
                Type::INT8 => row.try_get::<_, Option<i64>>(i)?.map(Value::Int),
                Type::FLOAT4 => row
                    .try_get::<_, Option<f32>>(i)?
                    .map(|x| Value::Real(f64::from(x))),
                Type::FLOAT8 => row.try_get::<_, Option<f64>>(i)?.map(Value::Real),
                Type::TEXT | Type::VARCHAR | Type::NAME | Type::BPCHAR => {
                    row.try_get::<_, Option<String>>(i)?.map(Value::Text)
                }
                other => {
                    return Err(PostgresError::ColumnType {
                        column: i,
                        ty: other.name().to_string(),
                    });
                }
            };
            Ok(value.unwrap_or(Value::Null))
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Row)
}

impl Value {
    fn from_sqlite(value: rusqlite::types::ValueRef<'_>) -> Value {
        use rusqlite::types::ValueRef;
        match value {
            ValueRef::Null => Value::Null,
            ValueRef::Integer(n) => Value::Int(n),
            ValueRef::Real(x) => Value::Real(x),
            ValueRef::Text(bytes) | ValueRef::Blob(bytes) => {
                Value::Text(String::from_utf8_lossy(bytes).into_owned())
            }
        }
    }
}

impl rusqlite::ToSql for Value {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::{ToSqlOutput, ValueRef};
        Ok(ToSqlOutput::Borrowed(match self {
            Value::Null => ValueRef::Null,
            Value::Int(n) => ValueRef::Integer(*n),
            Value::Real(x) => ValueRef::Real(*x),
            Value::Text(text) => ValueRef::Text(text.as_bytes()),
        }))
    }
}

/// `?1` → `$1` outside string literals.
fn dollar_parameters(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut quoted = false;
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\'' => quoted = !quoted,
            '?' if !quoted && chars.peek().is_some_and(char::is_ascii_digit) => {
                out.push('$');
                continue;
            }
            _ => {}
        }
        out.push(c);
    }
    out
}

/// SQLite's DDL in Postgres' types (see the module doc).
pub(crate) fn postgres_ddl(sql: &str) -> String {
    sql.replace(
        "INTEGER PRIMARY KEY AUTOINCREMENT",
        "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY",
    )
    .replace(" INTEGER", " BIGINT")
    .replace(" REAL", " DOUBLE PRECISION")
    .replace(" TEXT", " TEXT COLLATE \"C\"")
}

/// `name` as a quoted SQL identifier.
fn quote_identifier(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// TLS for the ledger's connection as its URL's `sslmode` asks (`disable`, `prefer`, the
/// default, or `require`), verified against the same roots as kassa's HTTPS requests.
fn tls() -> Result<tokio_postgres_rustls::MakeRustlsConnect, PostgresError> {
    use rustls_platform_verifier::BuilderVerifierExt;
    // The provider reqwest's rustls uses: more than one is built into the tree, so rustls
    // cannot pick one by itself.
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .and_then(|builder| builder.with_platform_verifier())
        .map_err(|e| PostgresError::Tls(e.to_string()))?
        .with_no_client_auth();
    Ok(tokio_postgres_rustls::MakeRustlsConnect::new(config))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_become_dollars_outside_literals() {
        assert_eq!(
            dollar_parameters("UPDATE t SET a = ?1, b = '?2' WHERE c = ?12 AND d = ?"),
            "UPDATE t SET a = $1, b = '?2' WHERE c = $12 AND d = ?"
        );
    }

    #[test]
    fn sqlite_types_become_postgres_types() {
        assert_eq!(
            postgres_ddl(
                "id INTEGER PRIMARY KEY AUTOINCREMENT, n INTEGER NOT NULL, g REAL, t TEXT"
            ),
            "id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, n BIGINT NOT NULL, g DOUBLE PRECISION, t TEXT COLLATE \"C\""
        );
    }

    #[test]
    fn a_url_is_described_without_its_password() {
        let url = SecretString::from("postgres://kassa:hunter2@db.example:6432/agency".to_string());
        let described = describe_server(&url).unwrap();
        assert_eq!(described, "db.example:6432/agency");
        let bad = SecretString::from("postgres://kassa:hunter2@db:port/x".to_string());
        assert!(
            !describe_server(&bad)
                .unwrap_err()
                .to_string()
                .contains("hunter2")
        );
    }
}
