//! Key-value storage as a port, shaped like Workers KV: string keys and values, optional TTL,
//! prefix listing. Workers KV is eventually consistent (a write can take up to ~60 s to be seen
//! at other locations) and its minimum TTL is 60 s; callers must design for both.

#[cfg(any(test, feature = "testkit"))]
use crate::core::clock::{Clock, UnixTime};
#[cfg(any(test, feature = "testkit"))]
use std::cell::RefCell;
#[cfg(any(test, feature = "testkit"))]
use std::collections::BTreeMap;
use std::rc::Rc;

/// Workers KV rejects `expirationTtl` below 60 seconds; TTLs are raised to this.
pub const MIN_TTL_SECS: u64 = 60;

/// The store could not be reached or answered with an error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreError(pub String);

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "key-value store error: {}", self.0)
    }
}

impl std::error::Error for StoreError {}

/// A Workers-KV-like store. Futures are not `Send`: Workers isolates are single-threaded.
#[allow(async_fn_in_trait)]
pub trait KvStore {
    /// The value under `key`, if present and not expired.
    async fn get(&self, key: &str) -> Result<Option<String>, StoreError>;
    /// Stores `value` under `key`, expiring after `ttl_secs` (raised to [`MIN_TTL_SECS`]) if given.
    async fn put(&self, key: &str, value: &str, ttl_secs: Option<u64>) -> Result<(), StoreError>;
    /// Removes `key` (no error if absent).
    async fn delete(&self, key: &str) -> Result<(), StoreError>;
    /// Up to `limit` keys starting with `prefix`, in lexicographic order.
    async fn list(&self, prefix: &str, limit: usize) -> Result<Vec<String>, StoreError>;
}

impl<T: KvStore + ?Sized> KvStore for &T {
    async fn get(&self, key: &str) -> Result<Option<String>, StoreError> {
        (**self).get(key).await
    }
    async fn put(&self, key: &str, value: &str, ttl_secs: Option<u64>) -> Result<(), StoreError> {
        (**self).put(key, value, ttl_secs).await
    }
    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        (**self).delete(key).await
    }
    async fn list(&self, prefix: &str, limit: usize) -> Result<Vec<String>, StoreError> {
        (**self).list(prefix, limit).await
    }
}

#[cfg(any(test, feature = "testkit"))]
/// An in-memory [`KvStore`] with TTLs on an injected clock, for tests and benchmarks.
/// It counts operations so tests can assert how many KV calls a request makes.
pub struct MemoryStore<C: Clock> {
    clock: C,
    map: RefCell<BTreeMap<String, (String, Option<UnixTime>)>>,
    /// Failure injection: when set, every operation fails.
    pub fail: std::cell::Cell<bool>,
    counts: RefCell<OpCounts>,
}

#[cfg(any(test, feature = "testkit"))]
/// How many operations of each kind a [`MemoryStore`] served.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct OpCounts {
    /// `get` calls.
    pub gets: u64,
    /// `put` calls.
    pub puts: u64,
    /// `delete` calls.
    pub deletes: u64,
    /// `list` calls.
    pub lists: u64,
}

#[cfg(any(test, feature = "testkit"))]
impl<C: Clock> MemoryStore<C> {
    /// An empty store on `clock`.
    pub fn new(clock: C) -> Self {
        MemoryStore {
            clock,
            map: RefCell::new(BTreeMap::new()),
            fail: std::cell::Cell::new(false),
            counts: RefCell::new(OpCounts::default()),
        }
    }
    /// Operation counts so far.
    pub fn counts(&self) -> OpCounts {
        *self.counts.borrow()
    }
    /// Every live key and value, sorted (to assert that a failed write changed nothing).
    pub fn snapshot(&self) -> Vec<(String, String)> {
        let now = self.clock.now();
        self.map
            .borrow()
            .iter()
            .filter(|(_, (_, exp))| exp.is_none_or(|e| e > now))
            .map(|(k, (v, _))| (k.clone(), v.clone()))
            .collect()
    }
    fn check(&self) -> Result<(), StoreError> {
        if self.fail.get() {
            Err(StoreError("injected failure".into()))
        } else {
            Ok(())
        }
    }
}

#[cfg(any(test, feature = "testkit"))]
impl<C: Clock> KvStore for MemoryStore<C> {
    async fn get(&self, key: &str) -> Result<Option<String>, StoreError> {
        self.counts.borrow_mut().gets += 1;
        self.check()?;
        let now = self.clock.now();
        Ok(self
            .map
            .borrow()
            .get(key)
            .filter(|(_, exp)| exp.is_none_or(|e| e > now))
            .map(|(v, _)| v.clone()))
    }
    async fn put(&self, key: &str, value: &str, ttl_secs: Option<u64>) -> Result<(), StoreError> {
        self.counts.borrow_mut().puts += 1;
        self.check()?;
        let exp = ttl_secs.map(|t| self.clock.now().plus(t.max(MIN_TTL_SECS)));
        self.map
            .borrow_mut()
            .insert(key.to_owned(), (value.to_owned(), exp));
        Ok(())
    }
    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.counts.borrow_mut().deletes += 1;
        self.check()?;
        self.map.borrow_mut().remove(key);
        Ok(())
    }
    async fn list(&self, prefix: &str, limit: usize) -> Result<Vec<String>, StoreError> {
        self.counts.borrow_mut().lists += 1;
        self.check()?;
        let now = self.clock.now();
        Ok(self
            .map
            .borrow()
            .range(prefix.to_owned()..)
            .take_while(|(k, _)| k.starts_with(prefix))
            .filter(|(_, (_, exp))| exp.is_none_or(|e| e > now))
            .take(limit)
            .map(|(k, _)| k.clone())
            .collect())
    }
}

/// Shared ownership of a store (tests hold one handle, the app another).
impl<T: KvStore> KvStore for Rc<T> {
    async fn get(&self, key: &str) -> Result<Option<String>, StoreError> {
        (**self).get(key).await
    }
    async fn put(&self, key: &str, value: &str, ttl_secs: Option<u64>) -> Result<(), StoreError> {
        (**self).put(key, value, ttl_secs).await
    }
    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        (**self).delete(key).await
    }
    async fn list(&self, prefix: &str, limit: usize) -> Result<Vec<String>, StoreError> {
        (**self).list(prefix, limit).await
    }
}

#[cfg(any(test, feature = "testkit"))]
/// Runs a future that never waits on I/O to completion (the in-memory ports complete at once).
/// For native tests and benchmarks only; panics if the future is genuinely pending.
pub fn block_on<F: std::future::Future>(fut: F) -> F::Output {
    let mut fut = std::pin::pin!(fut);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    match fut.as_mut().poll(&mut cx) {
        std::task::Poll::Ready(v) => v,
        std::task::Poll::Pending => panic!("block_on: future is pending on real I/O"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::clock::FixedClock;

    #[test]
    fn ttl_expires_and_minimum_applies() {
        let clock = FixedClock::at(1_000);
        let s = MemoryStore::new(&clock);
        block_on(s.put("a", "1", Some(10))).unwrap();
        clock.advance(59);
        assert_eq!(block_on(s.get("a")).unwrap().as_deref(), Some("1"));
        clock.advance(1);
        assert_eq!(block_on(s.get("a")).unwrap(), None);
    }

    #[test]
    fn list_by_prefix() {
        let clock = FixedClock::at(0);
        let s = MemoryStore::new(&clock);
        for k in ["org:a", "org:b", "dom:x", "orh"] {
            block_on(s.put(k, "v", None)).unwrap();
        }
        assert_eq!(
            block_on(s.list("org:", 10)).unwrap(),
            vec!["org:a", "org:b"]
        );
        assert_eq!(block_on(s.list("org:", 1)).unwrap(), vec!["org:a"]);
    }
}
