// The in-workerd benchmarks (run by scripts/bench.sh after the builds and `cargo bench`):
//   1. ID-token verification inside workerd: the Rust/Wasm worker (build-bench/, `bench` feature)
//      versus the same tokens verified by `jose` in a JS worker (bench/jose), same keys,
//      interleaved rounds.
//   2. HTTP load on loopback with autocannon: /__bench/floor, /sso/me (valid session),
//      /sso/start (discovery cached), and complete callbacks against the local IdP.
//   3. Footprint: time from `wrangler dev` start to the first answered request (build/).
//   4. `gateway`: edge-sso's gated GET of a signed-in member versus a pass-through JS worker
//      (bench/passthrough) to the same loopback origin (bench/origin.mjs): sequential requests
//      timed one by one and autocannon rounds, interleaved; KV reads counted during the gated runs.
//   5. `memory`: a 50 MB upload and a 50 MB download through the gate (and through the
//      pass-through worker), workerd's resident memory sampled every 100 ms.
//   6. `revocation`: time from a revoking request's answer (admin revoke, back-channel logout,
//      SCIM deactivation) to the first refused gated request, in the isolate that handled the
//      revocation (A) and in a second isolate with its own caches (B, another worker of the same
//      `wrangler dev` sharing A's Durable Object and KV), polled every 50 ms.
//   7. `soak` (bench/soak.mjs): 60 s of mixed load against the real worker, every response
//      counted, the isolate's memory read (DevTools) and workerd's RSS sampled; `coldstart` (bench/coldstart.mjs): fresh `wrangler dev`
//      to first answer, edge-sso vs a trivial JS worker (bench/trivial); `lookup`
//      (bench/lookup.mjs): /sso/start vs the trivial worker's same route, interleaved.
// Writes bench/.out/results.json; scripts/bench.sh renders bench/RESULTS.md from it.
//
// Verification time is taken two ways: inside the worker (Date.now / performance.now around the
// loop; workerd's clock has 1 ms resolution, hence batches) and from outside (request time minus
// the median time of an empty request, divided by the batch size; noisier: wrangler dev's proxy
// adds several ms per request).
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { SignJWT, importJWK } from 'jose';

import { acmeConfig, AdminClient, login, loginToCallback } from '../e2e/fixtures.mjs';
import { HttpClient } from '../e2e/http.mjs';
import { startIdp } from '../e2e/idp.mjs';
import { freePort } from '../e2e/ports.mjs';
import { startWorker, testConfig } from '../e2e/worker.mjs';
import { generateAssertionKey } from '../e2e/keys.mjs';
import { coldstartBench, coldstartParams } from './coldstart.mjs';
import { lookupBench, lookupParams } from './lookup.mjs';
import { startBenchOrigin } from './origin.mjs';
import { soakBench, soakParams } from './soak.mjs';
import {
  cannon as libCannon, log, logoutToken, median, nowMs, quantile, rssKiB, sessionCookie, shuffle, sleep, workerdPids,
} from './lib.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(HERE, '..');
const OUT = join(HERE, '.out');
mkdirSync(OUT, { recursive: true });

// Bounded sizes (override with env for a quicker or longer run).
// Verification: batches of 1000 put the isolate's 1 ms clock at 1 us steps per verification
// (at 200 a step was 5 us, larger than the difference measured), and more of each verifier's
// garbage collection then falls inside the batches that cause it (likely why jose's median rose
// from ~35 us at 200 to 43-47 us at 1000 on 2026-12-01 while the Rust verifier's stayed at
// 38-40 us).
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 20); // interleaved rounds per variant
const BATCH = Number(process.env.BENCH_BATCH ?? 1000); // verifications per request
const LOAD_SECS = Number(process.env.BENCH_LOAD_SECS ?? 8);
const LOAD_CONNS = Number(process.env.BENCH_LOAD_CONNS ?? 8);
const CALLBACKS = Number(process.env.BENCH_CALLBACKS ?? 20);
const STARTUPS = Number(process.env.BENCH_STARTUPS ?? 3);
const GATE_ROUNDS = Number(process.env.BENCH_GATE_ROUNDS ?? 6); // autocannon rounds per variant
const GATE_SECS = Number(process.env.BENCH_GATE_SECS ?? 3); // seconds per autocannon round
const GATE_SEQ = Number(process.env.BENCH_GATE_SEQ ?? 600); // sequential requests per variant
const BIG_MIB = Number(process.env.BENCH_BIG_MIB ?? 50); // upload and download size
const REVOKE_TRIALS = Number(process.env.BENCH_REVOKE_TRIALS ?? 20); // per channel
const POLL_MS = 50; // the gated request is repeated this often until it is refused
const REFUSAL_TIMEOUT_MS = 20_000; // a trial that is not refused by then is reported as such

// ---- fixture keys and tokens --------------------------------------------------------------
const fixture = (name) => JSON.parse(readFileSync(join(ROOT, 'tests/fixtures', name), 'utf8'));
const PRIVATE = ['d', 'p', 'q', 'dp', 'dq', 'qi'];
const publicOf = (jwk, kid) =>
  Object.fromEntries([...Object.entries(jwk).filter(([k]) => !PRIVATE.includes(k)), ['kid', kid]]);

const ISS = 'https://idp.example.com';
const AUD = 'client-123';
const NONCE = 'nonce-Zk3x9';

async function token(alg, jwk, kid) {
  const key = await importJWK(jwk, alg);
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({
    nonce: NONCE,
    email: 'ada@example.org',
    email_verified: true,
    sid: 'session-7',
    auth_time: now - 20,
    groups: ['admins'],
  })
    .setProtectedHeader({ alg, typ: 'JWT', kid })
    .setIssuer(ISS)
    .setAudience(AUD)
    .setSubject('user-42')
    .setIssuedAt(now - 10)
    .setExpirationTime(now + 3600)
    .sign(key);
}

async function post(url, body, headers = {}) {
  const t0 = nowMs();
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  const ms = nowMs() - t0;
  if (res.status !== 200) throw new Error(`${url} -> ${res.status}: ${text.slice(0, 300)}`);
  return { ms, body: JSON.parse(text) };
}

// ---- 1. verification: Rust/Wasm vs jose --------------------------------------------------
/**
 * One `wrangler dev` with three configs (bench/verify/router.mjs in front, the edge-sso bench
 * build and the jose peer behind it): both verifiers run in the same workerd process, which is
 * checked (exactly one workerd under this wrangler). Stopped with the process group.
 */
async function startVerifyPair() {
  const port = await freePort();
  const persist = join(OUT, `verify-${port}`);
  rmSync(persist, { recursive: true, force: true });
  const dev = await startWranglerDev({
    port,
    configs: ['verify', 'rust', 'jose'].map((d) => join(HERE, d, 'wrangler.toml')),
    persist,
    logFile: join(OUT, `verify-${port}.log`),
    what: 'the verification wrangler dev',
    // The bench routes answer before the worker reads its configuration (none is set here).
    ready: async (url) => (await Promise.all([['rust', '/__bench/floor'], ['jose', '/floor']].map(async ([peer, path]) => {
      const res = await fetch(`${url}${path}`, { headers: { 'x-bench-peer': peer }, signal: AbortSignal.timeout(2000) });
      await res.arrayBuffer();
      return res.status === 200;
    }))).every(Boolean),
    cleanup: async () => rmSync(persist, { recursive: true, force: true }),
  });
  return { url: dev.url, workerds: workerdsUnder(dev.child.pid), stop: dev.stop };
}

/**
 * One `wrangler dev` on `port` running every config of `configs` (paths) in one workerd, as the
 * verification pair and the two locations need. Its output is kept (the newest 2000 chunks) and
 * written to `logFile` when it stops. Resolves once `ready(url)` answers true (a probe that
 * throws is "not yet"), within 90 s, else stops it and throws naming `what`. `stop()` ends the
 * process group (SIGTERM, then SIGKILL), then runs `cleanup`.
 */
async function startWranglerDev({ port, configs, persist, logFile, what, ready, cleanup }) {
  const inspectorPort = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const child = spawn(
    join(ROOT, 'node_modules/node/bin/node'),
    [join(ROOT, 'node_modules/wrangler/bin/wrangler.js'), 'dev',
      ...configs.flatMap((c) => ['-c', c]),
      '--local', '--ip', '127.0.0.1', '--port', String(port), '--inspector-port', String(inspectorPort),
      '--persist-to', persist, '--show-interactive-dev-session=false', '--log-level', 'log'],
    { cwd: ROOT, detached: true, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, WRANGLER_SEND_METRICS: 'false', CI: '1', NO_COLOR: '1' } },
  );
  const logs = [];
  const keep = (d) => {
    logs.push(d);
    if (logs.length > 2000) logs.shift();
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const stop = async () => {
    for (const sig of ['SIGTERM', 'SIGKILL']) {
      try {
        process.kill(-child.pid, sig);
      } catch {
        // gone
      }
      await sleep(1000);
    }
    writeFileSync(logFile, Buffer.concat(logs));
    await cleanup();
  };
  const t0 = nowMs();
  for (;;) {
    try {
      if (await ready(url)) break;
    } catch {
      // not yet
    }
    if (child.exitCode !== null || nowMs() - t0 > 90_000) {
      await stop();
      throw new Error(`${what} did not answer; see ${logFile}`);
    }
    await sleep(250);
  }
  return { url, child, stop };
}

/**
 * The workerd processes in the process group of `pgid` (Linux /proc) that run workers' code:
 * wrangler dev starts two, its proxy on the dev port and the runtime holding every configured
 * worker, the one with an inspector address.
 */
function workerdsUnder(pgid) {
  const found = [];
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      // Fields after the parenthesised command: state ppid pgrp ...
      const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(rest[2]) !== pgid) continue;
      const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      if (/workerd$/.test(argv[0]) && argv.some((a) => a.startsWith('--inspector-addr'))) found.push(Number(pid));
    } catch {
      // gone
    }
  }
  return found;
}


/**
 * Rust/Wasm and jose verifying the same tokens in one workerd process, rounds interleaved in a
 * random order. `rust` and `jose` are the full verifications compared by the issue; the other
 * variants break the Rust cost down (`part` of /__bench/verify, see src/edge/bench.rs) next to
 * `jose_subtle`, a bare `crypto.subtle.verify` loop in JavaScript (the floor of any verifier).
 */
async function verifyBench(pair) {
  const rsa = fixture('rsa2048-a.private.jwk.json');
  const p256 = fixture('p256.private.jwk.json');
  const jwks = { keys: [publicOf(rsa, 'rsa'), publicOf(p256, 'ec')] };
  const cases = [
    { alg: 'RS256', token: await token('RS256', rsa, 'rsa') },
    { alg: 'ES256', token: await token('ES256', p256, 'ec') },
  ];
  const rust = (name, extra) => ({ name, peer: 'rust', path: '/__bench/verify', extra });
  const variants = [
    rust('rust', {}),
    { name: 'jose', peer: 'jose', path: '/verify', extra: {} },
    { name: 'jose_subtle', peer: 'jose', path: '/verify', extra: { part: 'subtle' } },
    rust('rust_subtle', { part: 'subtle' }),
    rust('rust_signature', { part: 'signature' }),
    rust('rust_parse', { part: 'parse' }),
    rust('rust_no_crypto', { part: 'no_crypto' }),
    rust('rust_no_key_cache', { cache_keys: false }),
  ];
  const results = {};
  for (const c of cases) {
    const job = (v, n) => ({ token: c.token, jwks, iss: ISS, aud: AUD, nonce: NONCE, n, ...v.extra });
    const send = (v, n) => post(`${pair.url}${v.path}`, job(v, n), { 'x-bench-peer': v.peer });
    // Warm-up: JIT, Wasm tier-up, key caches.
    for (let i = 0; i < 5; i++) for (const v of variants) await send(v, BATCH);
    const samples = Object.fromEntries(variants.map((v) => [v.name, { empty: [], full: [], inner: [] }]));
    for (let r = 0; r < ROUNDS; r++) {
      for (const v of shuffle(variants)) {
        const s = samples[v.name];
        s.empty.push((await send(v, 0)).ms);
        const full = await send(v, BATCH);
        if (full.body.verified !== BATCH) throw new Error(`${v.name}: ${JSON.stringify(full.body)}`);
        s.full.push(full.ms);
        s.inner.push(full.body.inner_ms);
      }
    }
    results[c.alg] = {};
    for (const v of variants) {
      const s = samples[v.name];
      const overhead = median(s.empty);
      // Per verification: (request with BATCH verifications - median empty request) / BATCH.
      const per = s.full.map((ms) => ((ms - overhead) * 1000) / BATCH);
      const inner = s.inner.map((ms) => (ms * 1000) / BATCH);
      results[c.alg][v.name] = {
        inner_median_us: median(inner),
        inner_p99_us: quantile(inner, 0.99),
        outer_median_us: median(per),
        outer_p99_us: quantile(per, 0.99),
        request_overhead_ms: overhead,
        batches: per.length,
        batch: BATCH,
      };
      log(c.alg, v.name, JSON.stringify(results[c.alg][v.name]));
    }
    const { rust: rr, jose: jr } = results[c.alg];
    const ratio = (k) => (rr[k] / jr[k]).toFixed(3);
    log(c.alg, 'rust/jose outside median', ratio('outer_median_us'), 'p99', ratio('outer_p99_us'), 'in-worker median', ratio('inner_median_us'), 'p99', ratio('inner_p99_us'));
  }
  return results;
}

// ---- 2. HTTP load -------------------------------------------------------------------------
/** bench/lib.mjs's autocannon run with this section's defaults (LOAD_CONNS, LOAD_SECS). */
const cannon = (opts) => libCannon({ connections: LOAD_CONNS, duration: LOAD_SECS, ...opts });

async function load(opts, expectStatus) {
  // One request first: the route must answer as expected before it is loaded.
  const probe = await fetch(opts.url, { headers: opts.headers, redirect: 'manual' });
  await probe.arrayBuffer();
  if (probe.status !== expectStatus) throw new Error(`${opts.url} -> ${probe.status}, expected ${expectStatus}`);
  await cannon({ ...opts, duration: 1 }); // warm-up
  const r = await cannon(opts);
  return {
    req_per_s: r.requests.average,
    p50_ms: r.latency.p50,
    p99_ms: r.latency.p99,
    requests: r.requests.total,
    errors: r.errors,
    timeouts: r.timeouts,
    status_other: expectStatus === 200 ? r.non2xx : r.requests.total - r['3xx'],
  };
}

// KV operations per step, from the bench build's counters (GET /__bench/kv reads and resets).
async function kvCounts(origin) {
  const take = async () => (await fetch(`${origin}/__bench/kv`)).json();
  const meOnce = async (client) => {
    const r = await client.fetch(`${origin}/sso/me`, { headers: { accept: 'application/json' } });
    await r.arrayBuffer();
    if (r.status !== 200) throw new Error(`/sso/me -> ${r.status}`);
  };
  const client = new HttpClient();
  await take();
  const callback = await loginToCallback(client, origin, { login: 'alice' });
  const start = await take(); // /sso/start (the IdP steps do not reach the worker)
  const res = await client.fetch(callback);
  await res.arrayBuffer();
  if (res.status !== 302) throw new Error(`callback -> ${res.status}`);
  const cb = await take();
  await meOnce(client);
  const meFirst = await take();
  await meOnce(client);
  const meCached = await take();
  await sleep(11_000); // past the 10 s session cache
  await meOnce(client);
  const meAfterExpiry = await take();
  return {
    start_discovery_cached: start,
    callback_jwks_cached: cb,
    me_first_after_login: meFirst,
    me_within_10s: meCached,
    me_after_11s: meAfterExpiry,
  };
}

async function loadBench() {
  const port = await freePort();
  const origin = `http://127.0.0.1:${port}`;
  const idp = await startIdp({ redirectUris: [`${origin}/sso/callback`] });
  const worker = await startWorker({ port, cwd: join(HERE, 'rust') });
  try {
    const admin = new AdminClient(origin, worker.adminToken);
    await admin.mustPut('acme', acmeConfig(idp));
    const client = new HttpClient();
    const { response } = await login(client, origin, { login: 'alice' });
    if (response.status !== 302) throw new Error(`login -> ${response.status}`);
    const cookie = client.jar.headerFor(`${origin}/sso/me`);
    if (!cookie) throw new Error('no session cookie after login');

    const results = {};
    results.kv = await kvCounts(origin);
    log('kv', JSON.stringify(results.kv));
    results.floor = await load({ url: `${origin}/__bench/floor` }, 200);
    log('floor', JSON.stringify(results.floor));
    results.me = await load({ url: `${origin}/sso/me`, headers: { cookie, accept: 'application/json' } }, 200);
    log('me', JSON.stringify(results.me));
    results.start = await load({ url: `${origin}/sso/start?email=alice%40acme.test` }, 302);
    log('start', JSON.stringify(results.start));

    // Complete callbacks: each needs a fresh code, so they run one after another; the time is
    // the callback request alone (token request to the IdP, ID-token verification, KV writes).
    const times = [];
    for (let i = 0; i < CALLBACKS; i++) {
      const c = new HttpClient();
      const callback = await loginToCallback(c, origin, { login: 'alice' });
      const t0 = nowMs();
      const res = await c.fetch(callback);
      await res.arrayBuffer();
      times.push(nowMs() - t0);
      if (res.status !== 302) throw new Error(`callback -> ${res.status}`);
    }
    results.callback = { p50_ms: median(times), p99_ms: quantile(times, 0.99), requests: times.length, sequential: true };
    log('callback', JSON.stringify(results.callback));
    return results;
  } finally {
    await worker.stop();
    await idp.stop();
  }
}

// ---- 3. start-up time ---------------------------------------------------------------------
async function startupOnce() {
  const port = await freePort();
  const inspectorPort = await freePort();
  const config = testConfig(ROOT, join(OUT, `wrangler-startup-${port}.toml`));
  const t0 = nowMs();
  const child = spawn(
    join(ROOT, 'node_modules/node/bin/node'),
    [join(ROOT, 'node_modules/wrangler/bin/wrangler.js'), 'dev', '--config', config, '--local',
      '--ip', '127.0.0.1', '--port', String(port), '--inspector-port', String(inspectorPort),
      '--persist-to', join(OUT, `persist-${port}`), '--show-interactive-dev-session=false',
      '--var', 'PUBLIC_ORIGIN:http://127.0.0.1', '--var', 'ADMIN_TOKEN:bench-token-0123456789abcdef0123',
      // A throwaway key for this start-up probe only (required; see COOKIE_SECRET in the README).
      '--var', `COOKIE_SECRET:${randomBytes(32).toString('base64url')}`],
    { cwd: ROOT, detached: true, stdio: 'ignore', env: { ...process.env, WRANGLER_SEND_METRICS: 'false', CI: '1' } },
  );
  try {
    for (;;) {
      if (nowMs() - t0 > 60_000) throw new Error('wrangler dev did not answer within 60 s');
      try {
        const res = await fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(1000) });
        await res.arrayBuffer();
        if (res.status === 200) return nowMs() - t0;
      } catch {
        // not yet
      }
      await sleep(10);
    }
  } finally {
    try {
      process.kill(-child.pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
}

// ---- 4-6. the gateway: shared set-up --------------------------------------------------------
const GATED_PATH = '/orgs/acme/models/m1/resolve/main/config.json';
const API_HEADERS = { accept: 'application/json' };

/** acme as the gateway benchmarks use it: enforced; alice is admin (hub-admins), others read. */
const gateConfig = (idp) => acmeConfig(idp, { enforced: true });


/** One GET, timed from the call to the last body byte. */
async function timedGet(url, headers) {
  const t0 = nowMs();
  const res = await fetch(url, { headers, redirect: 'manual' });
  await res.arrayBuffer();
  const ms = nowMs() - t0;
  if (res.status !== 200) throw new Error(`GET ${url} -> ${res.status}`);
  return ms;
}

/**
 * The bench origin, the bench build of edge-sso with ORIGIN_URL at it (acme enforced, alice
 * signed in) and the pass-through worker at the same origin.
 */
async function gatewayStack() {
  const upstream = await startBenchOrigin();
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const idp = await startIdp({ redirectUris: [`${url}/sso/callback`] });
  let edge;
  let pass;
  const stop = async () => {
    await pass?.stop();
    await edge?.stop();
    await idp.stop();
    await upstream.stop();
  };
  try {
    edge = await startWorker({ port, cwd: join(HERE, 'rust'), vars: { ORIGIN_URL: upstream.url } });
    pass = await startWorker({ cwd: join(HERE, 'passthrough'), vars: { ORIGIN: upstream.url } });
    await new AdminClient(url, edge.adminToken).mustPut('acme', gateConfig(idp));
    const cookie = await sessionCookie(url, 'alice', GATED_PATH);
    return { upstream, idp, edge, pass, cookie, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

// ---- 4. gated GET vs pass-through -------------------------------------------------------------
async function gatewayBench(stack) {
  const { edge, pass, upstream, cookie } = stack;
  const variants = {
    passthrough: { url: `${pass.url}${GATED_PATH}`, headers: API_HEADERS },
    gated: { url: `${edge.url}${GATED_PATH}`, headers: { ...API_HEADERS, cookie } },
  };
  const direct = { url: `${upstream.url}${GATED_PATH}`, headers: API_HEADERS };
  const kvTake = async () => (await fetch(`${edge.url}/__bench/kv`)).json();

  // a. Sequential: one request at a time, each timed on its own (sub-millisecond resolution),
  //    the variants interleaved in shuffled order.
  const all = { ...variants, origin_direct: direct };
  for (let i = 0; i < 50; i++) for (const v of Object.values(all)) await timedGet(v.url, v.headers);
  const seq = Object.fromEntries(Object.keys(all).map((k) => [k, []]));
  await kvTake();
  for (let i = 0; i < GATE_SEQ; i++) {
    for (const k of shuffle(Object.keys(all))) seq[k].push(await timedGet(all[k].url, all[k].headers));
  }
  const seqKv = await kvTake();
  // A burst right after a request: every entry is in the isolate caches, none may expire.
  await timedGet(variants.gated.url, variants.gated.headers);
  await kvTake();
  for (let i = 0; i < 20; i++) await timedGet(variants.gated.url, variants.gated.headers);
  const burstKv = await kvTake();
  const sequential = Object.fromEntries(
    Object.entries(seq).map(([k, xs]) => [k, { p50_ms: median(xs), p99_ms: quantile(xs, 0.99), requests: xs.length }]),
  );
  sequential.ratio_p50 = sequential.gated.p50_ms / sequential.passthrough.p50_ms;
  sequential.kv_during_gated = seqKv;
  sequential.kv_cached_burst = { requests: 20, ...burstKv };
  log('gateway sequential', JSON.stringify(sequential));

  // b. Under load: autocannon, same connections and duration, rounds interleaved.
  for (const v of Object.values(variants)) await cannon({ url: v.url, headers: v.headers, duration: 1 });
  const rounds = [];
  const kv = { get: 0, put: 0, delete: 0, list: 0 };
  let gatedRequests = 0;
  for (let r = 0; r < GATE_ROUNDS; r++) {
    const round = {};
    for (const k of shuffle(Object.keys(variants))) {
      if (k === 'gated') await kvTake();
      const res = await cannon({ url: variants[k].url, headers: variants[k].headers, duration: GATE_SECS });
      round[k] = {
        req_per_s: res.requests.average,
        p50_ms: res.latency.p50,
        p99_ms: res.latency.p99,
        requests: res.requests.total,
        non2xx: res.non2xx + res.errors + res.timeouts,
      };
      if (k === 'gated') {
        const c = await kvTake();
        for (const op of Object.keys(kv)) kv[op] += c[op];
        gatedRequests += res.requests.total;
      }
    }
    round.ratio_p50 = round.gated.p50_ms / round.passthrough.p50_ms;
    rounds.push(round);
    log('gateway round', r, JSON.stringify(round));
  }
  const agg = (k) => ({
    req_per_s: median(rounds.map((r) => r[k].req_per_s)),
    p50_ms: median(rounds.map((r) => r[k].p50_ms)),
    p99_ms: median(rounds.map((r) => r[k].p99_ms)),
    requests: rounds.reduce((n, r) => n + r[k].requests, 0),
    non2xx: rounds.reduce((n, r) => n + r[k].non2xx, 0),
  });
  const load = { passthrough: agg('passthrough'), gated: agg('gated'), rounds };
  load.ratio_p50 = load.gated.p50_ms / load.passthrough.p50_ms;
  load.ratio_p50_per_round = rounds.map((r) => r.ratio_p50);
  load.ratio_p50_median_of_rounds = median(load.ratio_p50_per_round);
  load.kv_during_gated = kv;
  load.gated_requests_counted = gatedRequests;
  log('gateway load', JSON.stringify({ ...load, rounds: undefined }));
  return { sequential, load };
}

// ---- 5. 50 MB through the gate: workerd's memory ------------------------------------------------
/**
 * The workerd process of the `wrangler dev` that listens on `port` (the first of
 * bench/lib.mjs's `workerdPids`: the runtime that holds the worker).
 */
const workerdOf = (port) => workerdPids(port)[0];

/** Samples `pid`'s VmRSS every 100 ms; `phase(name)` labels the samples from then on. */
function sampler(pid) {
  const samples = [];
  let phase = 'before';
  const take = () => samples.push({ phase, kib: rssKiB(pid) });
  take();
  const timer = setInterval(take, 100);
  return {
    phase(name) {
      take();
      phase = name;
    },
    stop() {
      clearInterval(timer);
      take();
      return samples;
    },
  };
}

function bigBody(bytes) {
  const chunk = new Uint8Array(1024 * 1024).fill(7);
  let sent = 0;
  return new ReadableStream({
    pull(controller) {
      if (sent >= bytes) return controller.close();
      const n = Math.min(chunk.length, bytes - sent);
      sent += n;
      controller.enqueue(n === chunk.length ? chunk : chunk.subarray(0, n));
    },
  });
}

async function memoryBench(stack) {
  const bytes = BIG_MIB * 1024 * 1024;
  const targets = {
    gated: { worker: stack.edge, headers: { ...API_HEADERS, cookie: stack.cookie } },
    passthrough: { worker: stack.pass, headers: API_HEADERS },
  };
  const out = { bytes };
  for (const [name, { worker, headers }] of Object.entries(targets)) {
    const pid = workerdOf(worker.port);
    const base = `${worker.url}/orgs/acme/files`;
    await timedGet(`${base}/warm`, headers);
    const s = sampler(pid);
    await sleep(1000);
    s.phase('upload');
    let t0 = nowMs();
    const up = await fetch(`${base}/upload`, {
      method: 'POST',
      headers: { ...headers, 'content-type': 'application/octet-stream' },
      body: bigBody(bytes),
      duplex: 'half',
    });
    const upBody = await up.json();
    const uploadMs = nowMs() - t0;
    if (up.status !== 200 || upBody.received !== bytes) throw new Error(`${name} upload -> ${up.status} ${JSON.stringify(upBody)}`);
    s.phase('between');
    await sleep(1000);
    s.phase('download');
    t0 = nowMs();
    const down = await fetch(`${base}/download?bytes=${bytes}`, { headers });
    let got = 0;
    for await (const c of down.body) got += c.length;
    const downloadMs = nowMs() - t0;
    if (down.status !== 200 || got !== bytes) throw new Error(`${name} download -> ${down.status}, ${got} bytes`);
    s.phase('after');
    await sleep(1500);
    const samples = s.stop();
    const of = (p) => samples.filter((x) => x.phase === p).map((x) => x.kib);
    const before = median(of('before'));
    const r = {
      before_kib: before,
      upload_peak_kib: Math.max(...of('upload')),
      download_peak_kib: Math.max(...of('download')),
      after_kib: median(of('after')),
      upload_ms: uploadMs,
      download_ms: downloadMs,
      samples: samples.length,
    };
    r.peak_growth_kib = Math.max(r.upload_peak_kib, r.download_peak_kib) - before;
    r.after_growth_kib = r.after_kib - before;
    out[name] = r;
    log('memory', name, JSON.stringify(r));
  }
  return out;
}

// ---- 6. revocation latency ----------------------------------------------------------------------
const tomlString = (v) => JSON.stringify(String(v));

/**
 * One `wrangler dev` with three workers: a router in front (bench/locations/router.mjs), and
 * edge-sso A and B (the bench build). A owns the OrgLedger Durable Object class; B binds A's
 * (`script_name`), and both use the same KV namespace: one deployment seen from two isolates.
 */
async function startLocations(upstreamUrl) {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const idp = await startIdp({ redirectUris: [`${url}/sso/callback`] });
  const dir = join(OUT, `locations-${port}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const tag = `${port}`;
  const adminToken = randomBytes(24).toString('base64url');
  const vars = {
    PUBLIC_ORIGIN: url,
    ADMIN_TOKEN: adminToken,
    ALLOW_INSECURE_LOOPBACK_IDP: 'true',
    ASSERTION_SIGNING_KEY: generateAssertionKey(),
    // One sealing key for both locations: a sign-in started at one completes at the other.
    COOKIE_SECRET: randomBytes(32).toString('base64url'),
    ORIGIN_URL: upstreamUrl,
  };
  const shim = join(ROOT, 'build-bench/worker/shim.mjs');
  const edgeToml = (name, ledger) => [
    `name = ${tomlString(name)}`,
    `main = ${tomlString(shim)}`,
    'compatibility_date = "2026-11-01"',
    '[[kv_namespaces]]',
    'binding = "SSO_KV"',
    'id = "00000000000000000000000000000000"',
    '[vars]',
    ...Object.entries(vars).map(([k, v]) => `${k} = ${tomlString(v)}`),
    ledger,
    '',
  ].join('\n');
  const a = `edge-sso-bench-a-${tag}`;
  const b = `edge-sso-bench-b-${tag}`;
  const files = {
    'router.toml': [
      `name = ${tomlString(`edge-sso-bench-router-${tag}`)}`,
      `main = ${tomlString(join(HERE, 'locations/router.mjs'))}`,
      'compatibility_date = "2026-11-01"',
      `services = [{ binding = "A", service = ${tomlString(a)} }, { binding = "B", service = ${tomlString(b)} }]`,
      '',
    ].join('\n'),
    'a.toml': edgeToml(a, '[[durable_objects.bindings]]\nname = "ORG_LEDGER"\nclass_name = "OrgLedger"\n[[migrations]]\ntag = "v1"\nnew_sqlite_classes = ["OrgLedger"]'),
    'b.toml': edgeToml(b, `[[durable_objects.bindings]]\nname = "ORG_LEDGER"\nclass_name = "OrgLedger"\nscript_name = ${tomlString(a)}`),
  };
  for (const [f, text] of Object.entries(files)) writeFileSync(join(dir, f), text, { mode: 0o600 });
  const dev = await startWranglerDev({
    port,
    configs: ['router.toml', 'a.toml', 'b.toml'].map((f) => join(dir, f)),
    persist: join(dir, 'persist'),
    logFile: join(OUT, `locations-${port}.log`),
    what: 'the two-location wrangler dev',
    ready: async () => (await Promise.all(['a', 'b'].map(async (loc) => {
      const res = await fetch(`${url}/healthz`, { headers: { 'x-bench-location': loc }, signal: AbortSignal.timeout(2000) });
      await res.arrayBuffer();
      return res.status === 200;
    }))).every(Boolean),
    cleanup: async () => {
      rmSync(dir, { recursive: true, force: true });
      await idp.stop();
    },
  });
  return { url, idp, admin: new AdminClient(url, adminToken), stop: dev.stop };
}

/** GET the gated path through location `loc` ('a' or 'b'); resolves to the status. */
async function gatedStatus(url, cookie, loc) {
  const res = await fetch(`${url}${GATED_PATH}`, { headers: { ...API_HEADERS, cookie, 'x-bench-location': loc }, redirect: 'manual' });
  await res.arrayBuffer();
  return res.status;
}

/** Poll location `loc` every POLL_MS from now until the gated request is refused. */
async function untilRefused(url, cookie, loc, answeredAt) {
  let polls = 0;
  for (;;) {
    const status = await gatedStatus(url, cookie, loc);
    polls += 1;
    if (status !== 200) return { ms: nowMs() - answeredAt, status, polls };
    if (nowMs() - answeredAt > REFUSAL_TIMEOUT_MS) return { ms: null, status, polls };
    await sleep(POLL_MS);
  }
}

async function revocationBench(upstreamUrl) {
  const loc = await startLocations(upstreamUrl);
  try {
    const { url, idp, admin } = loc;
    await admin.mustPut('acme', gateConfig(idp));
    const minted = await admin.request('POST', '/admin/orgs/acme/scim-token');
    if (minted.status !== 200 && minted.status !== 201) throw new Error(`scim-token -> ${minted.status} ${minted.text}`);
    const scim = async (method, path, body) => {
      const res = await fetch(`${url}/scim/v2/acme${path}`, {
        method,
        headers: { authorization: `Bearer ${minted.body.token}`, 'content-type': 'application/scim+json', accept: 'application/scim+json' },
        body: JSON.stringify(body),
      });
      const text = await res.text();
      if (res.status >= 300) throw new Error(`SCIM ${method} ${path} -> ${res.status}: ${text.slice(0, 300)}`);
      return JSON.parse(text);
    };
    const channels = {
      // Each returns once the revoking request has been answered (and checks the answer).
      admin_revoke: {
        async revoke(user, i) {
          const body = i % 2 ? { email: `${user}@acme.test` } : { sub: user };
          const r = await admin.request('POST', '/admin/orgs/acme/revoke', { body });
          if (r.status !== 200 || !(r.body?.revoked >= 1)) throw new Error(`revoke -> ${r.status} ${r.text}`);
        },
      },
      backchannel_logout: {
        async revoke(user) {
          const res = await fetch(`${url}/sso/backchannel-logout/acme`, {
            method: 'POST',
            headers: { 'content-type': 'application/x-www-form-urlencoded' },
            body: new URLSearchParams({ logout_token: await logoutToken(idp, user) }),
          });
          const text = await res.text();
          if (res.status !== 200) throw new Error(`backchannel-logout -> ${res.status} ${text}`);
        },
      },
      scim_deactivate: {
        async before(user) {
          const created = await scim('POST', '/Users', {
            schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'],
            userName: `${user}@acme.test`,
            externalId: user,
            active: true,
            emails: [{ value: `${user}@acme.test`, type: 'work', primary: true }],
          });
          return created.id;
        },
        async revoke(_user, _i, id) {
          await scim('PATCH', `/Users/${id}`, {
            schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
            Operations: [{ op: 'replace', value: { active: false } }],
          });
        },
      },
    };
    const results = {};
    for (const [name, ch] of Object.entries(channels)) {
      const trials = [];
      for (let i = 0; i < REVOKE_TRIALS; i++) {
        const user = `rv${name.slice(0, 4)}${i}`;
        const ctx = await ch.before?.(user);
        const cookie = await sessionCookie(url, user, GATED_PATH);
        for (const l of ['a', 'b']) {
          const s = await gatedStatus(url, cookie, l);
          if (s !== 200) throw new Error(`${name}: gated request at ${l} before revoking -> ${s}`);
        }
        // B's snapshot of the org is usually refreshed by the check above (a sign-in takes longer
        // than the 4 s cache window), so what follows sits near the worst case: 4 s minus the pause.
        await sleep(Math.random() * 1000);
        await ch.revoke(user, i, ctx);
        const answeredAt = nowMs();
        const [a, b] = await Promise.all([untilRefused(url, cookie, 'a', answeredAt), untilRefused(url, cookie, 'b', answeredAt)]);
        trials.push({ a, b });
      }
      const summary = (k) => {
        const ms = trials.map((t) => t[k].ms);
        const done = ms.filter((x) => x !== null);
        return {
          p50_ms: median(done),
          max_ms: done.length ? Math.max(...done) : null,
          trials: ms.length,
          not_refused: ms.length - done.length,
          first_poll_refused: trials.filter((t) => t[k].polls === 1 && t[k].ms !== null).length,
          statuses: [...new Set(trials.map((t) => t[k].status))],
        };
      };
      results[name] = { same_isolate: summary('a'), other_isolate: summary('b'), trials_ms: trials.map((t) => [t.a.ms, t.b.ms]) };
      log('revocation', name, JSON.stringify({ ...results[name], trials_ms: undefined }));
    }
    return results;
  } finally {
    await loc.stop();
  }
}

async function main() {
  const results = {
    when: new Date().toISOString(),
    params: { ROUNDS, BATCH, LOAD_SECS, LOAD_CONNS, CALLBACKS, STARTUPS, GATE_ROUNDS, GATE_SECS, GATE_SEQ, BIG_MIB, REVOKE_TRIALS, POLL_MS },
    soak_params: soakParams,
    coldstart_params: coldstartParams,
    lookup_params: lookupParams,
  };
  const only = process.env.BENCH_ONLY?.split(',');
  const want = (p) => !only || only.includes(p);

  if (want('verify')) {
    const pair = await startVerifyPair();
    try {
      log('verify: one wrangler dev, the runtime workerd pid', pair.workerds.join(' '));
      if (pair.workerds.length !== 1) throw new Error(`expected one runtime workerd, found ${pair.workerds.length}`);
      results.verify = await verifyBench(pair);
      results.verify_setup = { one_wrangler_dev: true, runtime_workerd_processes: pair.workerds.length };
    } finally {
      await pair.stop();
    }
  }
  if (want('load')) results.load = await loadBench();
  if (want('startup')) {
    const times = [];
    for (let i = 0; i < STARTUPS; i++) times.push(await startupOnce());
    results.startup = { median_ms: median(times), runs_ms: times };
    log('startup', JSON.stringify(results.startup));
  }
  if (want('gateway') || want('memory')) {
    const stack = await gatewayStack();
    try {
      if (want('gateway')) results.gateway = await gatewayBench(stack);
      if (want('memory')) results.memory = await memoryBench(stack);
    } finally {
      await stack.stop();
    }
  }
  if (want('revocation')) {
    const upstream = await startBenchOrigin();
    try {
      results.revocation = await revocationBench(upstream.url);
    } finally {
      await upstream.stop();
    }
  }
  if (want('soak')) results.soak = await soakBench();
  if (want('coldstart')) results.coldstart = await coldstartBench();
  if (want('lookup')) results.lookup = await lookupBench();
  // BENCH_RESULTS=<file> writes elsewhere (a partial run must not replace the full run's figures).
  const file = process.env.BENCH_RESULTS ?? join(OUT, 'results.json');
  writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
  log(`wrote ${file}`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
