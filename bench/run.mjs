// The in-workerd benchmarks (run by scripts/bench.sh after the builds and `cargo bench`):
//   1. ID-token verification inside workerd: the Rust/Wasm worker (build-bench/, `bench` feature)
//      versus the same tokens verified by `jose` in a JS worker (bench/jose), same keys,
//      interleaved rounds.
//   2. HTTP load on loopback with autocannon: /__bench/floor, /sso/me (valid session),
//      /sso/start (discovery cached), and complete callbacks against the local IdP.
//   3. Footprint: time from `wrangler dev` start to the first answered request (build/).
// Writes bench/.out/results.json; scripts/bench.sh renders bench/RESULTS.md from it.
//
// Verification time is taken two ways: inside the worker (Date.now / performance.now around the
// loop; workerd's clock has 1 ms resolution, hence batches) and from outside (request time minus
// the median time of an empty request, divided by the batch size; noisier: wrangler dev's proxy
// adds several ms per request).
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import autocannon from 'autocannon';
import { SignJWT, importJWK } from 'jose';

import { acmeConfig, AdminClient, login, loginToCallback } from '../e2e/fixtures.mjs';
import { HttpClient } from '../e2e/http.mjs';
import { startIdp } from '../e2e/idp.mjs';
import { freePort } from '../e2e/ports.mjs';
import { startWorker, testConfig } from '../e2e/worker.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(HERE, '..');
const OUT = join(HERE, '.out');
mkdirSync(OUT, { recursive: true });

// Bounded sizes (override with env for a quicker or longer run).
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 40); // interleaved rounds per variant
const BATCH = Number(process.env.BENCH_BATCH ?? 200); // verifications per request
const LOAD_SECS = Number(process.env.BENCH_LOAD_SECS ?? 8);
const LOAD_CONNS = Number(process.env.BENCH_LOAD_CONNS ?? 8);
const CALLBACKS = Number(process.env.BENCH_CALLBACKS ?? 20);
const STARTUPS = Number(process.env.BENCH_STARTUPS ?? 3);

const log = (...a) => console.log('[bench]', ...a);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const nowMs = () => Number(process.hrtime.bigint()) / 1e6;

function quantile(xs, q) {
  const s = [...xs].sort((a, b) => a - b);
  if (!s.length) return NaN;
  const i = Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1));
  return s[i];
}
const median = (xs) => quantile(xs, 0.5);

function shuffle(xs) {
  const a = [...xs];
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a;
}

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

async function post(url, body) {
  const t0 = nowMs();
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  const ms = nowMs() - t0;
  if (res.status !== 200) throw new Error(`${url} -> ${res.status}: ${text.slice(0, 300)}`);
  return { ms, body: JSON.parse(text) };
}

// ---- 1. verification: Rust/Wasm vs jose --------------------------------------------------
async function verifyBench(rust, jose) {
  const rsa = fixture('rsa2048-a.private.jwk.json');
  const p256 = fixture('p256.private.jwk.json');
  const jwks = { keys: [publicOf(rsa, 'rsa'), publicOf(p256, 'ec')] };
  const cases = [
    { alg: 'RS256', token: await token('RS256', rsa, 'rsa') },
    { alg: 'ES256', token: await token('ES256', p256, 'ec') },
  ];
  const variants = [
    { name: 'rust', url: `${rust.url}/__bench/verify`, extra: { cache_keys: true } },
    { name: 'rust_no_key_cache', url: `${rust.url}/__bench/verify`, extra: { cache_keys: false } },
    { name: 'jose', url: `${jose.url}/verify`, extra: {} },
  ];
  const results = {};
  for (const c of cases) {
    const job = (v, n) => ({ token: c.token, jwks, iss: ISS, aud: AUD, nonce: NONCE, n, ...v.extra });
    // Warm-up: JIT, Wasm tier-up, key caches.
    for (let i = 0; i < 5; i++) for (const v of variants) await post(v.url, job(v, BATCH));
    const samples = Object.fromEntries(variants.map((v) => [v.name, { empty: [], full: [], inner: [] }]));
    for (let r = 0; r < ROUNDS; r++) {
      for (const v of shuffle(variants)) {
        const s = samples[v.name];
        s.empty.push((await post(v.url, job(v, 0))).ms);
        const full = await post(v.url, job(v, BATCH));
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
  }
  return results;
}

// ---- 2. HTTP load -------------------------------------------------------------------------
function cannon(opts) {
  return new Promise((resolvePromise, reject) => {
    autocannon(
      { connections: LOAD_CONNS, duration: LOAD_SECS, pipelining: 1, ...opts },
      (err, res) => (err ? reject(err) : resolvePromise(res)),
    );
  });
}

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

async function main() {
  const results = { when: new Date().toISOString(), params: { ROUNDS, BATCH, LOAD_SECS, LOAD_CONNS, CALLBACKS, STARTUPS } };
  const only = process.env.BENCH_ONLY?.split(',');
  const want = (p) => !only || only.includes(p);

  if (want('verify')) {
    const rust = await startWorker({ cwd: join(HERE, 'rust') });
    let jose;
    try {
      jose = await startWorker({ cwd: join(HERE, 'jose') });
      results.verify = await verifyBench(rust, jose);
    } finally {
      await jose?.stop();
      await rust.stop();
    }
  }
  if (want('load')) results.load = await loadBench();
  if (want('startup')) {
    const times = [];
    for (let i = 0; i < STARTUPS; i++) times.push(await startupOnce());
    results.startup = { median_ms: median(times), runs_ms: times };
    log('startup', JSON.stringify(results.startup));
  }
  writeFileSync(join(OUT, 'results.json'), `${JSON.stringify(results, null, 2)}\n`);
  log(`wrote ${join(OUT, 'results.json')}`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
