//! What the edge's two Durable Objects (the org ledger and the domain registry) share: reading a
//! JSON command under a cap, writing changed rows in one storage transaction, and the worker's
//! side of a call. Each object keeps its platform-free state machine in memory; these are only
//! the platform's parts.

use serde::de::DeserializeOwned;
use serde::Serialize;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use worker::{Env, Request, Response, SqlStorage, Storage};

/// The command of a request to an object, read under `max_bytes`; otherwise the answer to give.
pub(super) async fn read_command<C: DeserializeOwned>(
    req: &mut Request,
    max_bytes: usize,
) -> worker::Result<Result<C, Response>> {
    let body = req.text().await?;
    if body.len() > max_bytes {
        return Ok(Err(Response::error("command too large", 413)?));
    }
    match crate::core::json::from_str(&body) {
        Ok(cmd) => Ok(Ok(cmd)),
        Err(_) => Ok(Err(Response::error("unreadable command", 400)?)),
    }
}

/// Runs `write` in one storage transaction (`transactionSync`: an error, a JS throw, rolls it
/// back). worker 0.8.7 has no wrapper for it (PLATFORM.md).
pub(super) fn in_transaction(
    storage: &Storage,
    write: impl FnOnce(&SqlStorage) -> worker::Result<()> + 'static,
) -> Result<(), String> {
    let sql = storage.sql();
    let raw: &JsValue = storage.as_raw().as_ref();
    let tx = js_sys::Reflect::get(raw, &JsValue::from_str("transactionSync"))
        .ok()
        .and_then(|f| f.dyn_into::<js_sys::Function>().ok())
        .ok_or("transactionSync is unavailable")?;
    let write = Closure::once_into_js(move || -> Result<(), JsValue> {
        write(&sql).map_err(|e| JsValue::from_str(&e.to_string()))
    });
    tx.call1(raw, &write)
        .map(|_| ())
        .map_err(|e| format!("write failed: {e:?}"))
}

/// Sends `cmd` to the object `name` of `binding` and reads its JSON reply; an error describes
/// the failure (the caller names the object).
pub(super) async fn call<C: Serialize, R: DeserializeOwned>(
    env: &Env,
    binding: &str,
    name: &str,
    cmd: &C,
) -> Result<R, String> {
    let ns = env.durable_object(binding).map_err(|_| {
        format!("the Durable Object binding {binding} is missing (see wrangler.toml)")
    })?;
    let stub = ns
        .id_from_name(name)
        .and_then(|id| id.get_stub())
        .map_err(|e| e.to_string())?;
    let body = serde_json::to_string(cmd).map_err(|_| "encode".to_owned())?;
    let mut init = worker::RequestInit::new();
    init.with_method(worker::Method::Post)
        .with_body(Some(JsValue::from_str(&body)));
    let req =
        Request::new_with_init("https://object.internal/", &init).map_err(|e| e.to_string())?;
    let mut resp = stub
        .fetch_with_request(req)
        .await
        .map_err(|e| e.to_string())?;
    if resp.status_code() != 200 {
        return Err(format!("status {}", resp.status_code()));
    }
    let text = resp.text().await.map_err(|e| e.to_string())?;
    crate::core::json::from_str(&text).map_err(|_| "unreadable reply".to_owned())
}
