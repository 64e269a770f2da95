// Helpers shared by the soak, cold-start and lookup benchmarks (bench/soak.mjs,
// bench/coldstart.mjs, bench/lookup.mjs): order statistics, timing, autocannon, the workerd
// processes of a `wrangler dev` and their memory, a signed-in session and a back-channel logout
// token.
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';

import autocannon from 'autocannon';
import WebSocketClient from 'ws';
import { SignJWT, importJWK } from 'jose';

import { login } from '../e2e/fixtures.mjs';
import { HttpClient } from '../e2e/http.mjs';

export const log = (...a) => console.log('[bench]', ...a);
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
/** Monotonic milliseconds (sub-millisecond resolution). */
export const nowMs = () => Number(process.hrtime.bigint()) / 1e6;

/** The q-quantile of `xs` (nearest rank); NaN for no samples. */
export function quantile(xs, q) {
  const s = [...xs].sort((a, b) => a - b);
  if (!s.length) return NaN;
  const i = Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1));
  return s[i];
}
export const median = (xs) => quantile(xs, 0.5);

/** p50, p99 and count of a list of milliseconds. */
export const summary = (xs) => ({ p50_ms: median(xs), p99_ms: quantile(xs, 0.99), requests: xs.length });

export function shuffle(xs) {
  const a = [...xs];
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a;
}

/** One autocannon run (8 connections unless `opts` says otherwise). */
export function cannon(opts) {
  return new Promise((resolve, reject) => {
    autocannon({ connections: 8, pipelining: 1, ...opts }, (err, res) => (err ? reject(err) : resolve(res)));
  });
}

/** The fields of /proc/<pid>/stat after the command name. */
function procStat(pid) {
  const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return { comm: s.slice(s.indexOf('(') + 1, s.lastIndexOf(')')), rest: s.slice(s.lastIndexOf(')') + 2).split(' ') };
}

/**
 * The pids of the workerd processes of the `wrangler dev` that listens on `port`: wrangler
 * (started detached by e2e/worker.mjs, so it leads its own process group) has
 * `worker-<port>/wrangler.toml` in its command line; its workerd processes are those named
 * workerd in that group.
 */
export function workerdPids(port) {
  const pids = readdirSync('/proc').filter((d) => /^\d+$/.test(d));
  const cmd = (p) => {
    try {
      return readFileSync(`/proc/${p}/cmdline`, 'utf8');
    } catch {
      return '';
    }
  };
  const leader = pids.find((p) => cmd(p).includes('wrangler.js') && cmd(p).includes(`worker-${port}/wrangler.toml`));
  if (!leader) throw new Error(`no wrangler dev process for port ${port}`);
  const out = [];
  for (const p of pids) {
    try {
      const { comm, rest } = procStat(p);
      if (comm === 'workerd' && rest[2] === leader) out.push(Number(p)); // rest: state ppid pgrp ...
    } catch {
      // exited meanwhile
    }
  }
  if (!out.length) throw new Error(`no workerd in the process group of ${leader}`);
  return out;
}

/** VmRSS of `pid` in KiB. */
export const rssKiB = (pid) => Number(readFileSync(`/proc/${pid}/status`, 'utf8').match(/^VmRSS:\s+(\d+)/m)[1]);

/**
 * Logs `loginName` (`<loginName>@acme.test`) in through the real IdP and returns the session's
 * Cookie header for `origin` + `path`; throws unless the sign-in ends in the callback's 302.
 */
export async function sessionCookie(origin, loginName, path) {
  const client = new HttpClient();
  const { response, text } = await login(client, origin, { email: `${loginName}@acme.test`, login: loginName });
  if (response.status !== 302) throw new Error(`login as ${loginName} -> ${response.status}: ${text.slice(0, 300)}`);
  const cookie = client.jar.headerFor(`${origin}${path}`);
  if (!cookie) throw new Error('no session cookie after login');
  return cookie;
}

/** A back-channel logout token (OIDC Back-Channel Logout 1.0, 2.4) for `sub`, signed with the IdP's key. */
export async function logoutToken(idp, sub) {
  const jwk = idp.keys[0];
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ events: { 'http://schemas.openid.net/event/backchannel-logout': {} }, jti: randomBytes(12).toString('hex') })
    .setProtectedHeader({ alg: 'RS256', kid: jwk.kid, typ: 'logout+jwt' })
    .setIssuer(idp.issuer)
    .setAudience(idp.clientId)
    .setSubject(sub)
    .setIssuedAt(now)
    .setExpirationTime(now + 120)
    .sign(await importJWK(jwk, 'RS256'));
}

// ---- the worker's isolate through DevTools (wrangler dev's inspector proxy) -----------------
// workerd's RSS under wrangler dev grows per request for any worker, a trivial JS one included
// (h-mem, bench/memprobe.mjs): the isolate's own memory is the JS heap and the Wasm memory.

/** The inspector port wrangler dev was given (e2e/worker.mjs passes --inspector-port). */
function inspectorPort(port) {
  for (const d of procPids()) {
    let c = '';
    try { c = readFileSync(`/proc/${d}/cmdline`, 'utf8'); } catch { continue; }
    if (c.includes('wrangler.js') && c.includes(`worker-${port}/wrangler.toml`)) {
      const a = c.split('\0');
      return Number(a[a.indexOf('--inspector-port') + 1]);
    }
  }
  throw new Error('no wrangler');
}
const procPids = () => readdirSync('/proc').filter((d) => /^\d+$/.test(d));

/** One DevTools connection to the worker's isolate, through wrangler's inspector proxy. */
export async function openInspector(port) {
  const ip = inspectorPort(port);
  const targets = await (await fetch(`http://127.0.0.1:${ip}/json`)).json();
  const ws = new WebSocketClient(targets[0].webSocketDebuggerUrl, { headers: { origin: 'http://localhost' } });
  let id = 0;
  const pending = new Map();
  let context = null;
  ws.on('message', (m) => {
    const d = JSON.parse(String(m));
    if (d.method === 'Runtime.executionContextCreated') context = d.params.context.uniqueId;
    if (d.id && pending.has(d.id)) { pending.get(d.id)(d); pending.delete(d.id); }
  });
  await new Promise((r, j) => { ws.on('open', r); ws.on('error', j); });
  const call = (method, params = {}) => new Promise((r, j) => {
    const i = ++id; pending.set(i, r); ws.send(JSON.stringify({ id: i, method, params }));
    setTimeout(() => j(new Error(`${method} timed out`)), 60_000);
  });
  for (let i = 0; i < 40 && !context; i++) await sleep(50);
  return { call, context: () => context, close: () => ws.close() };
}

/**
 * JS heap use and the Wasm memories of the isolate. With `gc`, HeapProfiler.collectGarbage is
 * requested first; `gc` in the answer says whether the inspector accepted it ('ok', the error it
 * returned, or 'not requested'). Runtime.queryObjects walks the heap (tens of ms in this
 * isolate): fine a few times per run, not as a sampler.
 */
export async function isolateMemory(insp, { gc = false } = {}) {
  const { call } = insp;
  let gcStatus = 'not requested';
  if (gc) {
    const r = await call('HeapProfiler.collectGarbage');
    gcStatus = r.error ? `refused: ${JSON.stringify(r.error)}` : 'ok';
  }
  const heap = (await call('Runtime.getHeapUsage')).result;
  const ev = await call('Runtime.evaluate', { expression: 'WebAssembly.Memory.prototype', uniqueContextId: insp.context() });
  if (!ev.result) return { heap, gc: gcStatus, error: JSON.stringify(ev) };
  const arr = (await call('Runtime.queryObjects', { prototypeObjectId: ev.result.result.objectId })).result.objects.objectId;
  const mem = (await call('Runtime.callFunctionOn', { objectId: arr, functionDeclaration: 'function(){return this.map(m=>m.buffer.byteLength)}', returnByValue: true })).result.result.value;
  return {
    gc: gcStatus,
    js_used_bytes: heap.usedSize,
    js_total_bytes: heap.totalSize,
    wasm_memory_bytes: mem.reduce((a, b) => a + b, 0),
    js_used_mib: +(heap.usedSize / 2 ** 20).toFixed(1),
    js_total_mib: +(heap.totalSize / 2 ** 20).toFixed(1),
    wasm_memory_mib: mem.map((b) => b / 2 ** 20),
  };
}
