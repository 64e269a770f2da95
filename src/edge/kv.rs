//! [`KvStore`] over a Workers KV namespace.

use crate::core::store::{KvStore, StoreError, MIN_TTL_SECS};

/// The KV namespace binding named in wrangler.toml.
pub const KV_BINDING: &str = "SSO_KV";

/// Workers KV behind the core's storage port.
pub struct WorkersKv(pub worker::kv::KvStore);

fn err(e: worker::kv::KvError) -> StoreError {
    StoreError(e.to_string())
}

impl KvStore for WorkersKv {
    async fn get(&self, key: &str) -> Result<Option<String>, StoreError> {
        self.0.get(key).text().await.map_err(err)
    }

    async fn put(&self, key: &str, value: &str, ttl_secs: Option<u64>) -> Result<(), StoreError> {
        let mut put = self.0.put(key, value).map_err(err)?;
        if let Some(ttl) = ttl_secs {
            put = put.expiration_ttl(ttl.max(MIN_TTL_SECS));
        }
        put.execute().await.map_err(err)
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.0.delete(key).await.map_err(err)
    }

    async fn list(&self, prefix: &str, limit: usize) -> Result<Vec<String>, StoreError> {
        let limit = limit.clamp(1, 1000) as u64;
        let res = self
            .0
            .list()
            .prefix(prefix.to_owned())
            .limit(limit)
            .execute()
            .await
            .map_err(err)?;
        Ok(res.keys.into_iter().map(|k| k.name).collect())
    }
}
