//! The ledger's snapshot pointers: for each month file of a store whose snapshots live on
//! object storage, the key of the object that holds that month now.
//!
//! The pointers are the truth; objects are never overwritten (each write is a new key) and
//! the bucket is never listed to decide anything. A write switches a pointer with a
//! compare-and-set on the key it read, so two writers of one month can never both win: the
//! second finds the pointer moved and fails, naming the month. Plain SQL, one table, so that
//! it reads the same on SQLite and Postgres.

use super::sql::{ValueError, values};
use super::{Store, StoreError};

/// The table, created by the store's migration (see `MIGRATIONS` in `mod.rs`); `IF NOT EXISTS`
/// so that a ledger whose version number was set back by hand still migrates.
pub(super) const CREATE: &str = "CREATE TABLE IF NOT EXISTS snapshot_pointers (
              kind TEXT NOT NULL,
              source TEXT NOT NULL,
              month TEXT NOT NULL,
              object TEXT NOT NULL,
              PRIMARY KEY (kind, source, month)
          );";

/// Which object holds one month of one source's rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Pointer {
    /// `ads`, `deals` or `claims`.
    pub kind: String,
    pub source: String,
    /// `2025-03`.
    pub month: String,
    /// The object's key in the bucket.
    pub object: String,
}

impl Store {
    /// Every pointer, in a stable order.
    pub(crate) fn pointers(&self) -> Result<Vec<Pointer>, StoreError> {
        let rows = self.ledger.query(
            "SELECT kind, source, month, object FROM snapshot_pointers \
             ORDER BY kind, source, month",
            &[],
        )?;
        rows.iter()
            .map(|row| {
                Ok(Pointer {
                    kind: row.text(0)?,
                    source: row.text(1)?,
                    month: row.text(2)?,
                    object: row.text(3)?,
                })
            })
            .collect::<Result<_, ValueError>>()
            .map_err(self.ledger.value_error())
    }

    /// Moves the pointer of (`kind`, `source`, `month`) from `old` to `new` (`None`: no
    /// pointer), only if it is `old` now. Returns whether it moved: `false` means another
    /// writer moved it first, and nothing was changed.
    pub(crate) fn switch_pointer(
        &self,
        (kind, source, month): (&str, &str, &str),
        old: Option<&str>,
        new: Option<&str>,
    ) -> Result<bool, StoreError> {
        let changed = match (old, new) {
            (None, None) => return Ok(true),
            (None, Some(new)) => self.ledger.execute(
                "INSERT INTO snapshot_pointers (kind, source, month, object) \
                 VALUES (?1, ?2, ?3, ?4) ON CONFLICT (kind, source, month) DO NOTHING",
                values![kind, source, month, new],
            ),
            (Some(old), Some(new)) => self.ledger.execute(
                "UPDATE snapshot_pointers SET object = ?4 \
                 WHERE kind = ?1 AND source = ?2 AND month = ?3 AND object = ?5",
                values![kind, source, month, new, old],
            ),
            (Some(old), None) => self.ledger.execute(
                "DELETE FROM snapshot_pointers \
                 WHERE kind = ?1 AND source = ?2 AND month = ?3 AND object = ?4",
                values![kind, source, month, old],
            ),
        }?;
        Ok(changed == 1)
    }
}
