//! [`PostgresStore`] (feature `postgres`): the [`Store`] contract on
//! PostgreSQL, for state shared by many workers. One table of
//! `(space, key) -> value`; a commit is one transaction with the batch's
//! last write per key sent as two array statements (a delete and a
//! multi-row upsert), however many writes it holds. Migrations are
//! versioned (refinery) and applied at open, under an advisory lock so
//! that workers starting together apply them once.
//!
//! The trait is synchronous and may be called from any thread, inside an
//! async runtime or not: the store runs its pool on a runtime of its own
//! and waits for each call's answer on a channel.

use std::collections::HashMap;
use std::sync::mpsc;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use tokio_postgres::NoTls;

use crate::{Batch, Entry, Error, Op, Space, Store};

mod shared;

mod embedded {
    refinery::embed_migrations!("migrations");
}

/// An arbitrary key of our own for `pg_advisory_xact_lock` while
/// migrating ("waymark" in ASCII).
const MIGRATION_LOCK: i64 = 0x0077_6179_6d61_726b;

/// Where the store is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostgresConfig {
    /// `postgres://user:password@host:port/database` (or the key=value form).
    pub url: String,
    /// The schema the tables live in, created when missing.
    pub schema: String,
    /// Connections in the pool.
    pub pool_size: usize,
}

impl Default for PostgresConfig {
    fn default() -> Self {
        PostgresConfig {
            url: "postgres://postgres@127.0.0.1:5432/postgres".to_owned(),
            schema: "waymark".to_owned(),
            pool_size: 8,
        }
    }
}

/// The store on PostgreSQL.
pub struct PostgresStore {
    pool: Pool,
    /// Taken only on drop.
    runtime: Option<tokio::runtime::Runtime>,
    schema: String,
    /// The connection holding this store's locks on people.
    locks: shared::LockConnection,
}

impl Drop for PostgresStore {
    fn drop(&mut self) {
        // The last owner may be an async task: a blocking shutdown would
        // panic there. Every call has had its answer; nothing is pending.
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStore")
            .field("schema", &self.schema)
            .finish_non_exhaustive()
    }
}

fn pg(error: impl std::fmt::Display) -> Error {
    Error::Postgres(error.to_string())
}

fn space_id(space: Space) -> i16 {
    Space::ALL
        .iter()
        .position(|s| *s == space)
        .and_then(|i| i16::try_from(i).ok())
        .unwrap_or(i16::MAX)
}

/// The smallest key greater than every key starting with `prefix`, if any
/// (none when the prefix is all `0xff`).
fn after_prefix(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < u8::MAX {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}

/// A schema name we quote ourselves: letters, digits and `_` only.
fn checked_schema(schema: &str) -> Result<&str, Error> {
    let valid = !schema.is_empty()
        && schema.len() <= 63
        && schema
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !schema.starts_with(|c: char| c.is_ascii_digit());
    if valid {
        Ok(schema)
    } else {
        Err(Error::Open {
            path: schema.to_owned(),
            reason: "a schema name is letters, digits and `_`, not starting with a digit, at most 63 bytes".to_owned(),
        })
    }
}

impl PostgresStore {
    /// Connects, creates the schema when missing and applies the
    /// migrations not applied yet.
    pub fn open(config: &PostgresConfig) -> Result<Self, Error> {
        let schema = checked_schema(&config.schema)?.to_owned();
        let open_error = |reason: String| Error::Open {
            path: redact_url(&config.url),
            reason,
        };
        let mut pg_config: tokio_postgres::Config =
            config.url.parse().map_err(|e| open_error(format!("{e}")))?;
        pg_config.options(format!("-c search_path={schema}"));
        pg_config.application_name("waymark");
        let manager = Manager::from_config(
            pg_config,
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(config.pool_size.max(1))
            .runtime(deadpool_postgres::Runtime::Tokio1)
            .build()
            .map_err(|e| open_error(e.to_string()))?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("waymark-postgres")
            .enable_all()
            .build()
            .map_err(|e| open_error(e.to_string()))?;
        let store = PostgresStore {
            pool,
            runtime: Some(runtime),
            schema,
            locks: Default::default(),
        };
        store.migrate().map_err(|e| open_error(e.to_string()))?;
        Ok(store)
    }

    /// Bytes the store's table takes on disk, with its index and TOAST
    /// (after `VACUUM`-free inserts: what a fresh store of this size holds).
    pub fn disk_bytes(&self) -> Result<u64, Error> {
        let pool = self.pool.clone();
        self.run(async move {
            let client = pool.get().await.map_err(pg)?;
            let row = client
                .query_one("SELECT pg_total_relation_size('waymark_kv')", &[])
                .await
                .map_err(pg)?;
            Ok(u64::try_from(row.get::<_, i64>(0)).unwrap_or(0))
        })
    }

    /// Runs `work` on the store's runtime and waits for it, from any thread.
    fn run<T: Send + 'static>(
        &self,
        work: impl std::future::Future<Output = Result<T, Error>> + Send + 'static,
    ) -> Result<T, Error> {
        let (tx, rx) = mpsc::sync_channel(1);
        let runtime = self
            .runtime
            .as_ref()
            .ok_or_else(|| pg("the store is closed"))?;
        runtime.spawn(async move {
            let _ = tx.send(work.await);
        });
        rx.recv()
            .map_err(|_| pg("the store's runtime stopped before answering"))?
    }

    fn migrate(&self) -> Result<(), Error> {
        let pool = self.pool.clone();
        let schema = self.schema.clone();
        self.run(async move {
            let mut client = pool.get().await.map_err(pg)?;
            let tx = client.transaction().await.map_err(pg)?;
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
                .await
                .map_err(pg)?;
            tx.batch_execute(&format!("CREATE SCHEMA IF NOT EXISTS {schema}"))
                .await
                .map_err(pg)?;
            tx.commit().await.map_err(pg)?;
            // refinery takes its own transaction per migration; the lock
            // above made the schema, this one serialises the runners.
            client
                .execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK])
                .await
                .map_err(pg)?;
            let report = embedded::migrations::runner()
                .set_migration_table_name("waymark_migrations")
                .run_async(&mut **client)
                .await;
            client
                .execute("SELECT pg_advisory_unlock($1)", &[&MIGRATION_LOCK])
                .await
                .map_err(pg)?;
            report.map_err(pg)?;
            Ok(())
        })
    }

    fn write(&self, batch: Batch, synced: bool) -> Result<(), Error> {
        let (fences, epochs): (Vec<String>, Vec<i64>) = batch.fences().iter().cloned().unzip();
        // The last write per key is what the batch leaves.
        let mut last: HashMap<(i16, Vec<u8>), Option<Vec<u8>>> = HashMap::new();
        let mut order = Vec::new();
        for op in batch.into_ops() {
            let (id, value) = match op {
                Op::Put { space, key, value } => ((space_id(space), key), Some(value)),
                Op::Delete { space, key } => ((space_id(space), key), None),
            };
            if last.insert(id.clone(), value).is_none() {
                order.push(id);
            }
        }
        let (mut put_spaces, mut put_keys, mut put_values) = (Vec::new(), Vec::new(), Vec::new());
        let (mut del_spaces, mut del_keys) = (Vec::new(), Vec::new());
        for id in order {
            let value = last.remove(&id).flatten();
            let (space, key) = id;
            match value {
                Some(value) => {
                    put_spaces.push(space);
                    put_keys.push(key);
                    put_values.push(value);
                }
                None => {
                    del_spaces.push(space);
                    del_keys.push(key);
                }
            }
        }
        let pool = self.pool.clone();
        self.run(async move {
            let mut client = pool.get().await.map_err(pg)?;
            let tx = client.transaction().await.map_err(pg)?;
            if !synced {
                tx.batch_execute("SET LOCAL synchronous_commit = off")
                    .await
                    .map_err(pg)?;
            }
            if !fences.is_empty() {
                // Locked for share: a claim waits for this commit, and this
                // commit sees any claim made before it.
                let rows = tx
                    .query(
                        "SELECT f.partition FROM unnest($1::text[], $2::bigint[]) AS f(partition, epoch) \
                         LEFT JOIN (SELECT partition, epoch FROM waymark_owners \
                                    WHERE partition = ANY($1) FOR SHARE) o USING (partition) \
                         WHERE o.epoch IS DISTINCT FROM f.epoch",
                        &[&fences, &epochs],
                    )
                    .await
                    .map_err(pg)?;
                fenced(rows.into_iter().map(|r| r.get(0)).collect())?;
            }
            if !del_keys.is_empty() {
                tx.execute(
                    "DELETE FROM waymark_kv WHERE (space, key) IN \
                     (SELECT * FROM unnest($1::smallint[], $2::bytea[]))",
                    &[&del_spaces, &del_keys],
                )
                .await
                .map_err(pg)?;
            }
            if !put_keys.is_empty() {
                tx.execute(
                    "INSERT INTO waymark_kv (space, key, value) \
                     SELECT * FROM unnest($1::smallint[], $2::bytea[], $3::bytea[]) \
                     ON CONFLICT (space, key) DO UPDATE SET value = excluded.value",
                    &[&put_spaces, &put_keys, &put_values],
                )
                .await
                .map_err(pg)?;
            }
            tx.commit().await.map_err(pg)
        })
    }

    /// Rows whose key is in `[from, to)` (no upper bound with `None`).
    fn select(
        &self,
        space: Space,
        from: Vec<u8>,
        to: Option<Vec<u8>>,
        limit: Option<usize>,
    ) -> Result<Vec<Entry>, Error> {
        let pool = self.pool.clone();
        let space = space_id(space);
        let limit = limit.map_or(i64::MAX, |l| i64::try_from(l).unwrap_or(i64::MAX));
        self.run(async move {
            let client = pool.get().await.map_err(pg)?;
            let rows = match to {
                Some(to) => {
                    client
                        .query(
                            "SELECT key, value FROM waymark_kv WHERE space = $1 AND key >= $2 \
                         AND key < $3 ORDER BY key LIMIT $4",
                            &[&space, &from, &to, &limit],
                        )
                        .await
                }
                None => {
                    client
                        .query(
                            "SELECT key, value FROM waymark_kv WHERE space = $1 AND key >= $2 \
                         ORDER BY key LIMIT $3",
                            &[&space, &from, &limit],
                        )
                        .await
                }
            }
            .map_err(pg)?;
            Ok(rows.into_iter().map(|r| (r.get(0), r.get(1))).collect())
        })
    }
}

/// A URL without its password, for error messages and printed configs.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let credentials = &url[scheme + 3..at];
            let user = credentials.split(':').next().unwrap_or_default();
            format!("{}{user}@{}", &url[..scheme + 3], &url[at + 1..])
        }
        _ => url.to_owned(),
    }
}

impl Store for PostgresStore {
    fn claim(&self, owner: &str, partitions: &[String]) -> Result<Vec<(String, i64)>, Error> {
        let pool = self.pool.clone();
        let owner = owner.to_owned();
        let partitions = partitions.to_vec();
        self.run(async move {
            let client = pool.get().await.map_err(pg)?;
            let rows = client
                .query(
                    "INSERT INTO waymark_owners (partition, owner, epoch) \
                     SELECT p, $2, 1 FROM unnest($1::text[]) AS p \
                     ON CONFLICT (partition) DO UPDATE \
                     SET owner = excluded.owner, epoch = waymark_owners.epoch + 1 \
                     RETURNING partition, epoch",
                    &[&partitions, &owner],
                )
                .await
                .map_err(pg)?;
            Ok(rows.into_iter().map(|r| (r.get(0), r.get(1))).collect())
        })
    }

    fn check_fences(&self, fences: &[(String, i64)]) -> Result<(), Error> {
        if fences.is_empty() {
            return Ok(());
        }
        let pool = self.pool.clone();
        let (partitions, epochs): (Vec<String>, Vec<i64>) = fences.iter().cloned().unzip();
        self.run(async move {
            let client = pool.get().await.map_err(pg)?;
            let rows = client
                .query(
                    "SELECT f.partition FROM unnest($1::text[], $2::bigint[]) AS f(partition, epoch) \
                     LEFT JOIN waymark_owners o USING (partition) \
                     WHERE o.epoch IS DISTINCT FROM f.epoch",
                    &[&partitions, &epochs],
                )
                .await
                .map_err(pg)?;
            fenced(rows.into_iter().map(|r| r.get(0)).collect())
        })
    }

    fn slot(&self) -> Result<u64, Error> {
        self.next_slot()
    }

    fn try_lock(&self, keys: &[i64]) -> Result<bool, Error> {
        self.try_lock_keys(keys)
    }

    fn unlock(&self, keys: &[i64]) -> Result<(), Error> {
        self.unlock_keys(keys)
    }

    fn commit(&self, batch: Batch) -> Result<(), Error> {
        self.write(batch, true)
    }

    fn commit_unsynced(&self, batch: Batch) -> Result<(), Error> {
        self.write(batch, false)
    }

    fn get(&self, space: Space, key: &[u8]) -> Result<Option<Vec<u8>>, Error> {
        let pool = self.pool.clone();
        let (space, key) = (space_id(space), key.to_vec());
        self.run(async move {
            let client = pool.get().await.map_err(pg)?;
            let row = client
                .query_opt(
                    "SELECT value FROM waymark_kv WHERE space = $1 AND key = $2",
                    &[&space, &key],
                )
                .await
                .map_err(pg)?;
            Ok(row.map(|r| r.get(0)))
        })
    }

    fn get_many(&self, space: Space, keys: &[&[u8]]) -> Result<Vec<Option<Vec<u8>>>, Error> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let pool = self.pool.clone();
        let space = space_id(space);
        let wanted: Vec<Vec<u8>> = keys.iter().map(|k| k.to_vec()).collect();
        let found: std::collections::HashMap<Vec<u8>, Vec<u8>> = self.run(async move {
            let client = pool.get().await.map_err(pg)?;
            let rows = client
                .query(
                    // A join, not `key = ANY($2)`, which the planner runs as
                    // a scan of the whole space (docs/benchmarks.md).
                    "SELECT v.key, v.value FROM unnest($2::bytea[]) AS k(key) \
                     JOIN waymark_kv v ON v.space = $1 AND v.key = k.key",
                    &[&space, &wanted],
                )
                .await
                .map_err(pg)?;
            Ok(rows.into_iter().map(|r| (r.get(0), r.get(1))).collect())
        })?;
        Ok(keys.iter().map(|k| found.get(*k).cloned()).collect())
    }

    fn scan(&self, space: Space, prefix: &[u8]) -> Result<Vec<Entry>, Error> {
        self.select(space, prefix.to_vec(), after_prefix(prefix), None)
    }

    fn range(
        &self,
        space: Space,
        from: &[u8],
        to: &[u8],
        limit: usize,
    ) -> Result<Vec<Entry>, Error> {
        self.select(space, from.to_vec(), Some(to.to_vec()), Some(limit))
    }
}

/// [`Error::Fenced`] naming `partitions` (each once, sorted), unless there are none.
fn fenced(mut partitions: Vec<String>) -> Result<(), Error> {
    if partitions.is_empty() {
        return Ok(());
    }
    partitions.sort();
    partitions.dedup();
    Err(Error::Fenced { partitions })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_end_where_their_keys_do() {
        assert_eq!(after_prefix(b"ab"), Some(b"ac".to_vec()));
        assert_eq!(after_prefix(&[1, 0xff]), Some(vec![2]));
        assert_eq!(after_prefix(&[0xff, 0xff]), None);
        assert_eq!(after_prefix(b""), None);
    }

    #[test]
    fn urls_lose_their_password_in_errors() {
        assert_eq!(
            redact_url("postgres://me:pw@h:5432/db"),
            "postgres://me@h:5432/db"
        );
        assert_eq!(redact_url("host=h user=me"), "host=h user=me");
        assert!(checked_schema("t_1").is_ok());
        assert!(checked_schema("1t").is_err() && checked_schema("a;drop").is_err());
    }
}
