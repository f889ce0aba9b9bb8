//! The store's process lock: one kassa process works on a store at a time.
//!
//! An embedded store locks `kassa.lock` in its directory. A store whose ledger is on Postgres
//! takes a session-level advisory lock, `pg_try_advisory_lock(class, hashtext(schema))`, on a
//! connection of its own held as long as the lock: two pods never run one tenant at once, and a
//! pod that dies releases it when its connection closes (TCP keepalives notice a vanished
//! node).

use std::path::{Path, PathBuf};

use super::sql::{Ledger, PostgresTarget};
use super::{LedgerLocation, StoreError, StoreLocation};

/// Another process holds the store's lock.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error(
        "another kassa process ({holder}) is already working on the store at {path}; try again when it has finished"
    )]
    Held { path: PathBuf, holder: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// An exclusive lock on one store, released when dropped (or when the process dies: the
/// operating system drops the lock with the file handle, and Postgres with the connection, so
/// a crash never leaves it stuck).
pub struct StoreLock {
    held: Held,
}

enum Held {
    File {
        _file: std::fs::File,
    },
    /// The connection holding the advisory lock (closing it releases the lock).
    Postgres {
        connection: Ledger,
    },
}

impl std::fmt::Debug for StoreLock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let what = match &self.held {
            Held::File { .. } => "file".to_string(),
            Held::Postgres { connection } => connection.describe(),
        };
        f.debug_struct("StoreLock").field("held", &what).finish()
    }
}

impl StoreLock {
    /// Takes the lock of the store `location` names without waiting: the lock file of an
    /// embedded ledger, the advisory lock of a Postgres ledger's schema.
    pub fn acquire_at(location: &StoreLocation) -> Result<StoreLock, LockError> {
        match &location.ledger {
            LedgerLocation::Embedded => StoreLock::acquire(&location.path),
            LedgerLocation::Postgres { url, schema } => {
                let ledger = Ledger::postgres(&PostgresTarget::new(url, schema)?)?;
                if ledger.try_advisory_lock()? {
                    return Ok(StoreLock {
                        held: Held::Postgres { connection: ledger },
                    });
                }
                Err(LockError::Held {
                    path: PathBuf::from(ledger.describe()),
                    holder: ledger
                        .advisory_lock_holder()
                        .filter(|holder| !holder.is_empty())
                        .unwrap_or_else(|| "unknown pid".to_string()),
                })
            }
        }
    }

    /// Takes the lock on the store at `root` without waiting.
    pub fn acquire(root: &Path) -> Result<StoreLock, LockError> {
        std::fs::create_dir_all(root).map_err(|source| StoreError::Io {
            path: root.to_path_buf(),
            source,
        })?;
        let path = root.join("kassa.lock");
        let io_error = |source| StoreError::Io {
            path: path.clone(),
            source,
        };
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(&path)
            .map_err(io_error)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                let holder = std::fs::read_to_string(&path).unwrap_or_default();
                let holder = if holder.trim().is_empty() {
                    "unknown pid".to_string()
                } else {
                    holder.trim().to_string()
                };
                return Err(LockError::Held {
                    path: root.to_path_buf(),
                    holder,
                });
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(io_error(e).into()),
        }
        use std::io::{Seek, Write};
        file.set_len(0).map_err(io_error)?;
        file.seek(std::io::SeekFrom::Start(0)).map_err(io_error)?;
        write!(file, "pid {}", std::process::id()).map_err(io_error)?;
        Ok(StoreLock {
            held: Held::File { _file: file },
        })
    }
}
