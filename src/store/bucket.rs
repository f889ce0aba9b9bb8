//! Snapshots on S3-compatible object storage (`[store] snapshots = "s3://bucket/prefix"`).
//!
//! The store directory becomes a *working copy*: reads, scans and upserts run on local month
//! files exactly as in the embedded store, and the ledger's pointers (`pointers.rs`) say which
//! object holds each month. Objects keep the local layout plus a version that is never reused:
//! `prefix/ads/meta.month=2025-03.<millis>-<random>.parquet`.
//!
//! - Opening syncs the working copy from the pointers: each month whose local file is missing
//!   or came from another object is downloaded (to a temporary file, renamed into place), each
//!   local month file without a pointer is removed, and the manifests follow. Which object a
//!   local file came from is kept in `snapshots.index` in the store directory.
//! - An upsert writes its months locally first, then for each month it changed: puts the file
//!   as a new object (`PutMode::Create`: never over an existing key), switches the pointer
//!   with a compare-and-set on the object the local file came from, then deletes the old
//!   object. A lost compare-and-set (another writer moved that month) fails naming the month,
//!   and the new object is deleted. A crash between put and switch leaves an orphan object no
//!   pointer names: harmless, and never read. The upsert returns after all of that, so the
//!   coverage it records never runs ahead of the objects.
//! - The bucket is never listed: what is current is what the ledger says.
//!
//! Credentials and the endpoint come from the environment, read the way
//! `object_store::aws::AmazonS3Builder::from_env` reads it (every `AWS_*` variable it knows).
//! They live only inside the client: nothing here formats them.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use object_store::aws::{AmazonS3, AmazonS3Builder, AmazonS3ConfigKey};
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload};

use super::bridge::Bridge;
use super::partitions::{self, Month};
use super::{Store, StoreError};
use crate::domain::RowKind;

/// Where the working copy records which object each local month file came from.
const INDEX_FILE: &str = "snapshots.index";

/// How many objects a working copy downloads at once: a new pod fetches every month file of
/// each tenant (~70-190), and one after another each would wait a whole round trip.
const CONCURRENT_GETS: usize = 8;

/// A bucket (and prefix) holding snapshot objects, with the client that reaches it.
pub struct SnapshotBucket {
    bridge: Bridge,
    client: Arc<AmazonS3>,
    bucket: String,
    prefix: String,
}

impl std::fmt::Debug for SnapshotBucket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The client holds the credentials: only where it points is shown.
        f.debug_struct("SnapshotBucket")
            .field("bucket", &self.bucket)
            .field("prefix", &self.prefix)
            .finish()
    }
}

impl SnapshotBucket {
    /// A client for `bucket` configured from `env`: every `AWS_*` variable that
    /// `AmazonS3Builder::from_env` knows (keys, session token, region, `AWS_ENDPOINT_URL`,
    /// the web identity token file and role for IRSA, …). Plain HTTP is allowed only when the
    /// endpoint is an `http://` address (a local MinIO or a test server).
    pub fn connect(
        bucket: &str,
        prefix: &str,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<SnapshotBucket, StoreError> {
        let mut builder = AmazonS3Builder::new();
        for (key, value) in env {
            if key.starts_with("AWS_")
                && let Ok(config) = key.to_ascii_lowercase().parse::<AmazonS3ConfigKey>()
            {
                builder = builder.with_config(config, value);
            }
        }
        let plain_http = builder
            .get_config_value(&AmazonS3ConfigKey::Endpoint)
            .is_some_and(|endpoint| endpoint.starts_with("http://"));
        let has_region = builder
            .get_config_value(&AmazonS3ConfigKey::Region)
            .is_some();
        if !has_region {
            // object_store's own default, said out loud: MinIO and moto accept any region.
            builder = builder.with_region("us-east-1");
        }
        let client = builder
            .with_bucket_name(bucket)
            .with_allow_http(plain_http)
            .build()
            .map_err(|source| object_error("connect to", bucket, "", source))?;
        let bridge = Bridge::new("kassa-s3").map_err(|source| StoreError::Io {
            path: PathBuf::from(format!("s3://{bucket}")),
            source,
        })?;
        Ok(SnapshotBucket {
            bridge,
            client: Arc::new(client),
            bucket: bucket.to_string(),
            prefix: prefix.to_string(),
        })
    }

    /// The key of `name` (a path inside the store, as `ads/meta.month=….parquet`).
    fn key(&self, name: &str) -> String {
        if self.prefix.is_empty() {
            name.to_string()
        } else {
            format!("{}/{name}", self.prefix)
        }
    }

    fn path(&self, operation: &'static str, key: &str) -> Result<ObjectPath, StoreError> {
        ObjectPath::parse(key)
            .map_err(|e| object_error(operation, &self.bucket, key, object_store::Error::from(e)))
    }

    fn call<T: Send + 'static>(
        &self,
        operation: &'static str,
        key: &str,
        future: impl Future<Output = object_store::Result<T>> + Send + 'static,
    ) -> Result<T, StoreError> {
        self.bridge
            .run(future)
            .map_err(|stopped| StoreError::Io {
                path: PathBuf::from(format!("s3://{}/{key}", self.bucket)),
                source: std::io::Error::other(stopped),
            })?
            .map_err(|source| object_error(operation, &self.bucket, key, source))
    }

    /// Puts `bytes` at `key`, which must not exist yet: an existing object is never replaced
    /// (a conditional put, `If-None-Match: *`), and one there already is an error.
    pub fn put_new(&self, key: &str, bytes: Vec<u8>) -> Result<(), StoreError> {
        let path = self.path("put", key)?;
        let client = Arc::clone(&self.client);
        let options = PutOptions {
            mode: PutMode::Create,
            ..PutOptions::default()
        };
        self.call("put", key, async move {
            client
                .put_opts(&path, PutPayload::from(bytes), options)
                .await
                .map(|_| ())
        })
    }

    /// The bytes of the object at `key`.
    pub fn get(&self, key: &str) -> Result<Vec<u8>, StoreError> {
        let path = self.path("get", key)?;
        let client = Arc::clone(&self.client);
        self.call("get", key, async move {
            let bytes = client.get(&path).await?.bytes().await?;
            Ok(bytes.to_vec())
        })
    }

    /// The bytes of the objects at `keys`, in the same order, fetched up to
    /// `CONCURRENT_GETS` (8) at a time; the first failure is the error.
    pub fn get_all(&self, keys: &[String]) -> Result<Vec<Vec<u8>>, StoreError> {
        let paths = keys
            .iter()
            .map(|key| self.path("get", key))
            .collect::<Result<Vec<_>, _>>()?;
        let client = Arc::clone(&self.client);
        let fetched = self.bridge.run(async move {
            let limit = Arc::new(tokio::sync::Semaphore::new(CONCURRENT_GETS));
            let mut tasks = tokio::task::JoinSet::new();
            for (index, path) in paths.into_iter().enumerate() {
                let (client, limit) = (Arc::clone(&client), Arc::clone(&limit));
                tasks.spawn(async move {
                    let _permit = limit.acquire_owned().await;
                    let bytes = match client.get(&path).await {
                        Ok(answer) => answer.bytes().await.map(|b| b.to_vec()),
                        Err(e) => Err(e),
                    };
                    (index, bytes)
                });
            }
            let mut all = Vec::new();
            while let Some(joined) = tasks.join_next().await {
                match joined {
                    Ok((index, Ok(bytes))) => all.push((index, bytes)),
                    Ok((index, Err(e))) => return Err((index, e)),
                    Err(e) => {
                        return Err((
                            usize::MAX,
                            object_store::Error::Generic {
                                store: "S3",
                                source: Box::new(e),
                            },
                        ));
                    }
                }
            }
            all.sort_by_key(|(index, _)| *index);
            Ok(all.into_iter().map(|(_, bytes)| bytes).collect())
        });
        let key = |index: usize| keys.get(index).map_or("", String::as_str);
        match fetched {
            Ok(Ok(all)) => Ok(all),
            Ok(Err((index, source))) => Err(object_error("get", &self.bucket, key(index), source)),
            Err(stopped) => Err(StoreError::Io {
                path: PathBuf::from(format!("s3://{}", self.bucket)),
                source: std::io::Error::other(stopped),
            }),
        }
    }

    /// Deletes the object at `key` (none there is fine).
    pub fn delete(&self, key: &str) -> Result<(), StoreError> {
        let path = self.path("delete", key)?;
        let client = Arc::clone(&self.client);
        self.call("delete", key, async move { client.delete(&path).await })
    }

    /// Deletes an object no pointer names any more; failing only leaves an orphan, which
    /// nothing reads, so it is logged and not an error.
    fn delete_orphan(&self, key: &str) {
        if let Err(e) = self.delete(key) {
            tracing::warn!(error = %e, "left an unused snapshot object in the bucket");
        }
    }
}

fn object_error(
    operation: &'static str,
    bucket: &str,
    key: &str,
    source: object_store::Error,
) -> StoreError {
    StoreError::Object {
        operation,
        bucket: bucket.to_string(),
        key: key.to_string(),
        source: Box::new(source),
    }
}

/// `ads/meta.month=2025-03.parquet`: a month file's path inside the store.
fn local_name(kind: &str, source: &str, month: &str) -> String {
    format!("{kind}/{source}.month={month}.parquet")
}

/// A version no other write uses: the time, then 64 random bits.
fn version() -> String {
    let millis = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    format!("{millis}-{:016x}", rand::random::<u64>())
}

/// Which object each local month file came from (`snapshots.index`: `name<TAB>key` lines).
type Index = BTreeMap<String, String>;

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
    move |source| StoreError::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn read_index(root: &Path) -> Result<Option<Index>, StoreError> {
    let path = root.join(INDEX_FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) => Ok(Some(
            text.lines()
                .filter_map(|line| line.split_once('\t'))
                .map(|(name, key)| (name.to_string(), key.to_string()))
                .collect(),
        )),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io_error(&path)(e)),
    }
}

fn write_index(root: &Path, index: &Index) -> Result<(), StoreError> {
    let path = root.join(INDEX_FILE);
    let tmp = root.join(format!("{INDEX_FILE}.tmp"));
    let text: String = index
        .iter()
        .map(|(name, key)| format!("{name}\t{key}\n"))
        .collect();
    std::fs::write(&tmp, text).map_err(io_error(&tmp))?;
    std::fs::rename(&tmp, &path).map_err(io_error(&path))
}

/// Writes `bytes` to `path` through a temporary file renamed into place.
fn write_file(path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    let tmp = path.with_extension(super::snapshots::TEMPORARY_EXTENSION);
    let written = std::fs::write(&tmp, bytes)
        .and_then(|()| std::fs::rename(&tmp, path))
        .map_err(io_error(path));
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

impl Store {
    /// Brings the working copy in line with the ledger's pointers (see the module doc). A
    /// directory that was an embedded store (month files, no index) and a ledger without
    /// pointers is adopted instead: its month files are uploaded and pointed at.
    pub(super) fn sync_working_copy(&mut self) -> Result<(), StoreError> {
        let Some(bucket) = &self.bucket else {
            return Ok(());
        };
        // A new pod's working directory does not exist yet, even for a read-only `analyze`.
        std::fs::create_dir_all(&self.root).map_err(io_error(&self.root))?;
        let pointers = self.pointers()?;
        let local = local_month_files(&self.root)?;
        let Some(mut index) = read_index(&self.root)? else {
            if pointers.is_empty() && !local.is_empty() {
                return self.adopt(local);
            }
            write_index(&self.root, &Index::new())?;
            return self.sync_working_copy();
        };
        let wanted: BTreeMap<String, &str> = pointers
            .iter()
            .map(|p| {
                let name = local_name(&p.kind, &p.source, &p.month);
                (name, p.object.as_str())
            })
            .collect();
        let mut changed: BTreeSet<(String, String)> = BTreeSet::new();
        for (name, (kind, source)) in &local {
            if !wanted.contains_key(name) {
                let path = self.root.join(name);
                std::fs::remove_file(&path).map_err(io_error(&path))?;
                index.remove(name);
                changed.insert((kind.clone(), source.clone()));
            }
        }
        let stale: Vec<_> = pointers
            .iter()
            .filter(|pointer| {
                let name = local_name(&pointer.kind, &pointer.source, &pointer.month);
                index.get(&name) != Some(&pointer.object) || !self.root.join(&name).is_file()
            })
            .collect();
        let keys: Vec<String> = stale.iter().map(|p| p.object.clone()).collect();
        for (pointer, bytes) in stale.iter().zip(bucket.get_all(&keys)?) {
            let name = local_name(&pointer.kind, &pointer.source, &pointer.month);
            std::fs::create_dir_all(self.root.join(&pointer.kind)).map_err(io_error(&self.root))?;
            write_file(&self.root.join(&name), &bytes)?;
            index.insert(name, pointer.object.clone());
            changed.insert((pointer.kind.clone(), pointer.source.clone()));
        }
        index.retain(|name, _| wanted.contains_key(name));
        write_index(&self.root, &index)?;
        for (kind, source) in changed {
            let snapshot = self.root.join(&kind).join(format!("{source}.parquet"));
            if partitions::month_files(&snapshot)?.is_empty() {
                match std::fs::remove_file(&snapshot) {
                    Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                        return Err(io_error(&snapshot)(e));
                    }
                    _ => {}
                }
            } else {
                super::snapshots::write_manifest(&snapshot)?;
            }
        }
        Ok(())
    }

    /// Uploads every month file of a directory that was an embedded store and points the
    /// ledger at them (switching an existing store to object storage).
    fn adopt(&mut self, local: BTreeMap<String, (String, String)>) -> Result<(), StoreError> {
        write_index(&self.root, &Index::new())?;
        let mut by_source: BTreeMap<(String, String), BTreeSet<Month>> = BTreeMap::new();
        for (name, (kind, source)) in &local {
            if let Some(month) = name
                .rsplit_once(".month=")
                .and_then(|(_, rest)| rest.strip_suffix(".parquet"))
                .and_then(partitions::parse_month)
            {
                by_source
                    .entry((kind.clone(), source.clone()))
                    .or_default()
                    .insert(month);
            }
        }
        for ((kind, source), months) in by_source {
            self.publish(&kind, &source, &months)?;
        }
        tracing::info!(root = %self.root.display(), "uploaded the store's snapshots to the bucket");
        Ok(())
    }

    /// Publishes the months of (`kind`, `source`) an upsert just wrote or removed locally: a
    /// new object, the pointer switched from the object the local copy came from, the old
    /// object deleted; a removed month loses its pointer and object.
    pub(super) fn publish_months(
        &mut self,
        kind: RowKind,
        source: &str,
        months: &BTreeSet<Month>,
    ) -> Result<(), StoreError> {
        self.publish(kind.as_str(), source, months)
    }

    fn publish(
        &mut self,
        kind: &str,
        source: &str,
        months: &BTreeSet<Month>,
    ) -> Result<(), StoreError> {
        let Some(bucket) = &self.bucket else {
            return Ok(());
        };
        let mut index = read_index(&self.root)?.unwrap_or_default();
        let mut result = Ok(());
        for &month in months {
            let month = partitions::month_name(month);
            let name = local_name(kind, source, &month);
            let path = self.root.join(&name);
            let old = index.get(&name).cloned();
            let new = match std::fs::read(&path) {
                Ok(bytes) => {
                    let (stem, _) = name.rsplit_once(".parquet").unwrap_or((&name, ""));
                    let key = bucket.key(&format!("{stem}.{}.parquet", version()));
                    if let Err(e) = bucket.put_new(&key, bytes) {
                        result = Err(e);
                        // The local file is newer than any object: the next open fetches the
                        // pointed one again.
                        index.remove(&name);
                        break;
                    }
                    Some(key)
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
                Err(e) => {
                    result = Err(io_error(&path)(e));
                    index.remove(&name);
                    break;
                }
            };
            let at = (kind, source, month.as_str());
            match self.switch_pointer(at, old.as_deref(), new.as_deref()) {
                Ok(true) => {}
                Ok(false) => {
                    // Another writer moved the pointer first: the new object is no one's.
                    if let Some(new) = &new {
                        bucket.delete_orphan(new);
                    }
                    index.remove(&name);
                    result = Err(StoreError::PointerMoved {
                        kind: kind.to_string(),
                        snapshot: source.to_string(),
                        month,
                    });
                    break;
                }
                Err(e) => {
                    // The ledger failed, perhaps after committing: the pointer may name the
                    // new object now, so it stays (an orphan at worst, never a lost month).
                    index.remove(&name);
                    result = Err(e);
                    break;
                }
            }
            if let Some(old) = &old {
                bucket.delete_orphan(old);
            }
            match new {
                Some(new) => index.insert(name, new),
                None => index.remove(&name),
            };
        }
        write_index(&self.root, &index)?;
        result
    }
}

/// The month files in the working copy: `ads/meta.month=2025-03.parquet` → (`ads`, `meta`).
fn local_month_files(root: &Path) -> Result<BTreeMap<String, (String, String)>, StoreError> {
    let mut files = BTreeMap::new();
    for kind in [RowKind::Ads, RowKind::Deals, RowKind::Claims] {
        let dir = root.join(kind.as_str());
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(io_error(&dir)(e)),
        };
        for entry in entries {
            let name = entry.map_err(io_error(&dir))?.file_name();
            let name = name.to_string_lossy();
            if !partitions::is_month_file(&name) {
                continue;
            }
            if let Some((source, _)) = name.rsplit_once(".month=") {
                files.insert(
                    format!("{}/{name}", kind.as_str()),
                    (kind.as_str().to_string(), source.to_string()),
                );
            }
        }
    }
    Ok(files)
}
