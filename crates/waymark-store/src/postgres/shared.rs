//! What several workers on one PostgreSQL store need beyond the key-value
//! contract: a slot each (a sequence), and locks on the people a worker
//! decides for (session advisory locks, all or none, on one connection
//! kept for them: a session lock is given back by the session that took
//! it).

use std::sync::Arc;

use deadpool_postgres::{Object, Pool};

use super::{PostgresStore, pg};
use crate::Error;

/// The connection holding this store's locks, taken from the pool when
/// first needed.
pub(super) type LockConnection = Arc<tokio::sync::Mutex<Option<Object>>>;

/// The lock connection, connected.
async fn connection<'a>(
    pool: &Pool,
    held: &'a tokio::sync::Mutex<Option<Object>>,
) -> Result<tokio::sync::MutexGuard<'a, Option<Object>>, Error> {
    let mut guard = held.lock().await;
    if guard.is_none() {
        *guard = Some(pool.get().await.map_err(pg)?);
    }
    Ok(guard)
}

impl PostgresStore {
    pub(super) fn next_slot(&self) -> Result<u64, Error> {
        let pool = self.pool.clone();
        self.run(async move {
            let client = pool.get().await.map_err(pg)?;
            let row = client
                .query_one("SELECT nextval('waymark_slot')", &[])
                .await
                .map_err(pg)?;
            Ok(u64::try_from(row.get::<_, i64>(0)).unwrap_or(0))
        })
    }

    pub(super) fn try_lock_keys(&self, keys: &[i64]) -> Result<bool, Error> {
        if keys.is_empty() {
            return Ok(true);
        }
        let (pool, held, keys) = (self.pool.clone(), Arc::clone(&self.locks), keys.to_vec());
        self.run(async move {
            let guard = connection(&pool, &held).await?;
            let client = guard.as_ref().ok_or_else(|| pg("no lock connection"))?;
            let row = client
                .query_one("SELECT waymark_try_lock($1::bigint[])", &[&keys])
                .await
                .map_err(pg)?;
            Ok(row.get(0))
        })
    }

    pub(super) fn unlock_keys(&self, keys: &[i64]) -> Result<(), Error> {
        if keys.is_empty() {
            return Ok(());
        }
        let (pool, held, keys) = (self.pool.clone(), Arc::clone(&self.locks), keys.to_vec());
        self.run(async move {
            let guard = connection(&pool, &held).await?;
            let client = guard.as_ref().ok_or_else(|| pg("no lock connection"))?;
            client
                .execute(
                    "SELECT pg_advisory_unlock(k) FROM unnest($1::bigint[]) AS k",
                    &[&keys],
                )
                .await
                .map_err(pg)?;
            Ok(())
        })
    }
}
