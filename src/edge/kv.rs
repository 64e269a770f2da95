//! [`KvStore`] over a Workers KV namespace.

use crate::core::store::{KvStore, StoreError, MIN_TTL_SECS};

/// The KV namespace binding named in wrangler.toml.
pub const KV_BINDING: &str = "SSO_KV";

/// Workers KV behind the core's storage port.
pub struct WorkersKv(pub worker::kv::KvStore);

/// Index of `get` in the bench build's operation counts; then `put`, `delete`, `list`.
pub const GET: usize = 0;
/// Index of `put`.
pub const PUT: usize = 1;
/// Index of `delete`.
pub const DELETE: usize = 2;
/// Index of `list`.
pub const LIST: usize = 3;

/// Bench builds count the operations the worker sends to KV (read back and reset by
/// `GET /__bench/kv`); production builds count nothing.
#[cfg(feature = "bench")]
pub mod counts {
    use std::cell::Cell;

    thread_local! {
        static OPS: Cell<[u64; 4]> = const { Cell::new([0; 4]) };
    }

    pub use super::{DELETE, GET, LIST, PUT};

    pub(super) fn bump(op: usize) {
        OPS.with(|c| {
            let mut v = c.get();
            v[op] += 1;
            c.set(v);
        });
    }

    /// The counts so far (`[get, put, delete, list]`), resetting them.
    pub fn take() -> [u64; 4] {
        OPS.with(|c| c.replace([0; 4]))
    }
}

#[cfg(feature = "bench")]
use counts::bump;
#[cfg(not(feature = "bench"))]
#[inline(always)]
fn bump(_op: usize) {}

fn err(e: worker::kv::KvError) -> StoreError {
    StoreError(e.to_string())
}

/// A value handed to KV's `put` as the JS string it already is. `worker`'s `put` takes
/// `T: ToRawKvValue`, which a `&str` meets only through the blanket `impl<T: Serialize>`: that
/// converts through serde_wasm_bindgen and checks for a number, code this value (always a
/// string) never needs. The stored value is the same JS string either way.
struct Text<'a>(&'a str);

impl worker::kv::ToRawKvValue for Text<'_> {
    fn raw_kv_value(&self) -> Result<wasm_bindgen::JsValue, worker::kv::KvError> {
        Ok(wasm_bindgen::JsValue::from_str(self.0))
    }
}

impl KvStore for WorkersKv {
    async fn get(&self, key: &str) -> Result<Option<String>, StoreError> {
        bump(GET);
        self.0.get(key).text().await.map_err(err)
    }

    async fn put(&self, key: &str, value: &str, ttl_secs: Option<u64>) -> Result<(), StoreError> {
        bump(PUT);
        let mut put = self.0.put(key, Text(value)).map_err(err)?;
        if let Some(ttl) = ttl_secs {
            put = put.expiration_ttl(ttl.max(MIN_TTL_SECS));
        }
        put.execute().await.map_err(err)
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        bump(DELETE);
        self.0.delete(key).await.map_err(err)
    }

    async fn list(&self, prefix: &str, limit: usize) -> Result<Vec<String>, StoreError> {
        bump(LIST);
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
