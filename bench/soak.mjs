// The soak (issue 11, item 8; bench/run.mjs section `soak`): BENCH_SOAK_SECS (60) of mixed
// loopback load against the real worker (build/, rate limits raised as the e2e tests raise them:
// the soak is not about 429s) with the local IdP (e2e/idp.mjs) and the demo origin
// (e2e/origin.mjs, which verifies every Edge-SSO-Assertion against the worker's JWKS).
// BENCH_SOAK_CONNS (8) loops each pick a kind at random by weight, one request (or flow) at a time:
//   gated     GET of a gated path as one of four signed-in members       -> 200, assertion verified
//   lookup    GET /sso/start?email=...                                   -> 302
//   scim      GET /scim/v2/acme/Users with the org's SCIM token          -> 200
//   signin    /sso/start -> IdP login and consent -> /sso/callback       -> 302, 302
//             as one of BENCH_SOAK_USERS (64) members, in turn (a fixed population: the org's
//             member list is state, not traffic; new members are onboarding, not a soak)
//   logout    a logout token for a member signed in by `signin`, POSTed
//             to /sso/backchannel-logout/acme (signed like the e2e tests) -> 200,
//             then that member's gated GET (kind `revoked`)                 -> 401
// Every response is counted; an unexpected status or a thrown error is an error (pass: zero).
// "Memory flat" is judged by the isolate's own memory, read through DevTools (wrangler dev's
// inspector proxy; bench/lib.mjs isolateMemory) after a requested GC: the Wasm linear memory and
// the JS heap in use, before the load (after set-up and a warm-up), at mid-run (under load) and
// after it (after 3 s idle). The warm-up brings every bounded structure to its steady state
// first: BENCH_SOAK_WARM_SIGNINS (1100) sign-ins, each followed by `GET /sso/me` with its
// session, fill the isolate's session cache past its 1,024 entries
// (SESSION_CACHE_MAX_ENTRIES: at the cap it drops expired entries, then the oldest) and sign in
// every member of the population; then every kind runs once per loop. Flat = the Wasm memory grew by at most WASM_BOUND from before to
// after, and the JS heap after GC did not grow from mid-run to the end by more than JS_BOUND.
// workerd's resident memory (the sum of the workerd processes of that wrangler dev) is reported
// too, sampled before, every BENCH_SOAK_SAMPLE_MS (2000) during, and after (slope = least-squares
// fit over the samples during), with its growth per worker request next to the same figure for
// the trivial JS worker (bench/trivial, GET /healthz) under the same number of loops for
// BENCH_SOAK_TRIVIAL_SECS (20): workerd's RSS under wrangler dev grows per request for any
// worker (h-mem, bench/memprobe.mjs), so RSS cannot judge the isolate.
import { acmeConfig, AdminClient, login } from '../e2e/fixtures.mjs';
import { HttpClient } from '../e2e/http.mjs';
import { startIdp } from '../e2e/idp.mjs';
import { startOrigin } from '../e2e/origin.mjs';
import { join } from 'node:path';

import { freePort } from '../e2e/ports.mjs';
import { ROOT, startWorker } from '../e2e/worker.mjs';
import { isolateMemory, log, logoutToken, median, nowMs, openInspector, rssKiB, sessionCookie, sleep, summary, workerdPids } from './lib.mjs';

const SECS = Number(process.env.BENCH_SOAK_SECS ?? 60);
const CONNS = Number(process.env.BENCH_SOAK_CONNS ?? 8);
const SAMPLE_MS = Number(process.env.BENCH_SOAK_SAMPLE_MS ?? 2000);
const TRIVIAL_SECS = Number(process.env.BENCH_SOAK_TRIVIAL_SECS ?? 20);
const USERS = Number(process.env.BENCH_SOAK_USERS ?? 64);
const WARM_SIGNINS = Number(process.env.BENCH_SOAK_WARM_SIGNINS ?? 1100);
/** Wasm linear memory growth allowed from before to after the load (16 pages of 64 KiB). */
const WASM_BOUND = 1024 * 1024;
/** JS heap growth allowed from mid-run to the end, both after a requested GC. */
const JS_BOUND = 1024 * 1024;
const GATED_PATH = '/orgs/acme/models/m1/resolve/main/config.json';
const MEMBERS = ['alice', 'bob', 'carol', 'dave'];
/**
 * Relative weight of each kind a loop picks (`revoked` follows every `logout`);
 * BENCH_SOAK_WEIGHTS='{"gated":1}' (JSON) runs another mix, e.g. to find which kind grows memory.
 */
const WEIGHTS = JSON.parse(process.env.BENCH_SOAK_WEIGHTS ?? '{"gated":70,"lookup":12,"scim":8,"signin":6,"logout":4}');
/** Errors kept for the report (status, kind, start of the body). */
const MAX_ERROR_SAMPLES = 10;

export const soakParams = { SECS, CONNS, SAMPLE_MS, WEIGHTS, TRIVIAL_SECS, WASM_BOUND, JS_BOUND, USERS, WARM_SIGNINS };

function pick() {
  const total = Object.values(WEIGHTS).reduce((a, b) => a + b, 0);
  let r = Math.random() * total;
  for (const [k, w] of Object.entries(WEIGHTS)) {
    r -= w;
    if (r < 0) return k;
  }
  return 'gated';
}

/** Least-squares slope of (t_ms, kib) points, in KiB per minute. */
function slopePerMin(points) {
  if (points.length < 2) return NaN;
  const n = points.length;
  const mt = points.reduce((a, p) => a + p.t, 0) / n;
  const mk = points.reduce((a, p) => a + p.kib, 0) / n;
  const num = points.reduce((a, p) => a + (p.t - mt) * (p.kib - mk), 0);
  const den = points.reduce((a, p) => a + (p.t - mt) ** 2, 0);
  return den ? (num / den) * 60_000 : NaN;
}


/** Median of the summed workerd RSS over `ms` of idle, sampled every 250 ms. */
async function idleRss(rss, ms) {
  const xs = [];
  for (let t = 0; t < ms; t += 250) {
    xs.push(rss());
    await sleep(250);
  }
  return median(xs);
}

/**
 * The isolate's memory after a requested GC, timed (the heap walk pauses the isolate briefly).
 * An idle isolate left HeapProfiler.collectGarbage unanswered (timed out after 60 s) in a trial
 * run, while the same call under load answered at once: workerd serves the inspector's commands
 * when the isolate runs, so `GET /healthz` is sent every 100 ms until the reading is done.
 */
async function isolateNow(insp, url) {
  const t0 = nowMs();
  let done = false;
  const poke = (async () => {
    while (!done) {
      try {
        await (await fetch(`${url}/healthz`)).arrayBuffer();
      } catch {
        // the reading decides
      }
      await sleep(100);
    }
  })();
  try {
    return { ...(await isolateMemory(insp, { gc: true })), took_ms: Math.round(nowMs() - t0) };
  } catch (err) {
    return { error: String(err.message ?? err) };
  } finally {
    done = true;
    await poke;
  }
}

/**
 * workerd's RSS growth per request for the trivial JS worker (bench/trivial, GET /healthz),
 * CONNS loops for TRIVIAL_SECS: the runtime's own per-request growth under wrangler dev.
 */
async function trivialRss() {
  const w = await startWorker({ cwd: join(ROOT, 'bench/trivial') });
  try {
    const target = `${w.url}/healthz`;
    for (let i = 0; i < 50; i++) await (await fetch(target)).arrayBuffer();
    const pids = workerdPids(w.port);
    const rss = () => pids.reduce((a, p) => a + rssKiB(p), 0);
    const perProcessBefore = pids.map(rssKiB);
    const beforeKib = await idleRss(rss, 2000);
    let n = 0;
    let bad = 0;
    const t0 = nowMs();
    const deadline = t0 + TRIVIAL_SECS * 1000;
    await Promise.all(Array.from({ length: CONNS }, async () => {
      while (nowMs() < deadline) {
        const res = await fetch(target);
        await res.arrayBuffer();
        n += 1;
        if (res.status !== 200) bad += 1;
      }
    }));
    const secs = (nowMs() - t0) / 1000;
    const afterKib = await idleRss(rss, 3000);
    return {
      secs,
      requests: n,
      non_200: bad,
      req_per_s: n / secs,
      workerd_processes: pids.length,
      per_process_kib: pids.map((p, i) => [perProcessBefore[i], rssKiB(p)]),
      before_kib: beforeKib,
      after_kib: afterKib,
      delta_kib: afterKib - beforeKib,
      kib_per_request: (afterKib - beforeKib) / n,
    };
  } finally {
    await w.stop();
  }
}

/** Runs the soak and returns its figures (see the header). */
export async function soakBench() {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const idp = await startIdp({ redirectUris: [`${url}/sso/callback`] });
  // The origin verifies each forwarded request's assertion; an unverified one on a gated request
  // of a signed-in member is an error of the soak.
  const assertions = { verified: 0, unverified: 0 };
  const upstream = await startOrigin({
    jwksUrl: `${url}/.well-known/jwks.json`,
    issuer: url,
    onRequest: (r) => {
      if (r.assertion.verified) assertions.verified += 1;
      else assertions.unverified += 1;
    },
  });
  let worker;
  try {
    worker = await startWorker({ port, vars: { ORIGIN_URL: upstream.url } });
    const admin = new AdminClient(url, worker.adminToken);
    await admin.mustPut('acme', acmeConfig(idp, { enforced: true }));
    const minted = await admin.request('POST', '/admin/orgs/acme/scim-token');
    if (minted.status !== 200 && minted.status !== 201) throw new Error(`scim-token -> ${minted.status} ${minted.text}`);
    const scimToken = minted.body.token;
    const cookies = [];
    for (const m of MEMBERS) cookies.push(await sessionCookie(url, m, GATED_PATH));

    const counts = {}; // kind -> status -> n
    const times = {}; // kind -> [ms]
    const errors = [];
    let errorCount = 0;
    let workerRequests = 0; // requests the worker answered (a sign-in is two: start and callback)
    const count = (kind, status, ms, ok, detail = '') => {
      counts[kind] ??= {};
      counts[kind][status] = (counts[kind][status] ?? 0) + 1;
      if (status !== 'exception') workerRequests += kind === 'signin' ? 2 : 1;
      if (ms !== null) (times[kind] ??= []).push(ms);
      if (!ok) {
        errorCount += 1;
        if (errors.length < MAX_ERROR_SAMPLES) errors.push({ kind, status, detail: String(detail).slice(0, 300) });
      }
    };
    /** One request, timed to its last body byte, counted against `expect`. */
    const timed = async (kind, target, init, expect) => {
      const t0 = nowMs();
      try {
        const res = await fetch(target, { redirect: 'manual', ...init });
        const text = await res.text();
        const ms = nowMs() - t0;
        count(kind, res.status, ms, res.status === expect, text);
        return res.status === expect;
      } catch (err) {
        count(kind, 'exception', null, false, err.message);
        return false;
      }
    };
    const signedOut = []; // cookies of members signed in by `signin`, with their sub
    let serial = 0;
    let signins = 0;
    const kinds = {
      gated: () => {
        const cookie = cookies[Math.floor(Math.random() * cookies.length)];
        return timed('gated', `${url}${GATED_PATH}`, { headers: { accept: 'application/json', cookie } }, 200);
      },
      lookup: () => timed('lookup', `${url}/sso/start?email=${encodeURIComponent(`user${serial++}@acme.test`)}`, {}, 302),
      scim: () =>
        timed('scim', `${url}/scim/v2/acme/Users?count=10`, { headers: { authorization: `Bearer ${scimToken}`, accept: 'application/scim+json' } }, 200),
      signin: async () => {
        const sub = `soak${signins++ % USERS}`;
        const client = new HttpClient();
        const t0 = nowMs();
        try {
          const { response, text } = await login(client, url, { email: `${sub}@acme.test`, login: sub });
          const ms = nowMs() - t0;
          count('signin', response.status, ms, response.status === 302, text);
          const cookie = client.jar.headerFor(`${url}${GATED_PATH}`);
          if (response.status === 302 && cookie) signedOut.push({ sub, cookie });
        } catch (err) {
          count('signin', 'exception', null, false, err.message);
        }
      },
      logout: async () => {
        const target = signedOut.shift();
        if (!target) return kinds.gated();
        const body = new URLSearchParams({ logout_token: await logoutToken(idp, target.sub) });
        const ok = await timed('logout', `${url}/sso/backchannel-logout/acme`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body,
        }, 200);
        // The isolate that answered the logout refuses the session at once (README Offboarding).
        if (ok) await timed('revoked', `${url}${GATED_PATH}`, { headers: { accept: 'application/json', cookie: target.cookie } }, 401);
      },
    };

    // Warm-up: the population signed in and the session cache past its cap (see the header),
    // then every kind once per loop; then the idle "before" memory.
    let warm = 0;
    await Promise.all(Array.from({ length: CONNS }, () => (async () => {
      while (warm < WARM_SIGNINS) {
        const cookie = await sessionCookie(url, `soak${warm++ % USERS}`, '/sso/me');
        const me = await fetch(`${url}/sso/me`, { headers: { cookie } });
        await me.arrayBuffer();
        if (me.status !== 200) throw new Error(`soak warm-up /sso/me -> ${me.status}`);
      }
    })()));
    log('soak warm-up:', warm, 'sign-ins');
    await Promise.all(Array.from({ length: CONNS }, () => (async () => {
      for (const k of ['gated', 'lookup', 'scim', 'signin', 'logout']) await kinds[k]();
    })()));
    if (errorCount) throw new Error(`soak warm-up: ${JSON.stringify(errors)}`);
    for (const k of Object.keys(counts)) delete counts[k];
    for (const k of Object.keys(times)) delete times[k];
    assertions.verified = 0;
    assertions.unverified = 0;
    workerRequests = 0;

    const pids = workerdPids(port);
    const rss = () => pids.reduce((a, p) => a + rssKiB(p), 0);
    const perProcessBefore = pids.map(rssKiB);
    const insp = await openInspector(port);
    const isolate = { before: await isolateNow(insp, url) };
    const beforeKib = await idleRss(rss, 2000);
    const during = [];
    const t0 = nowMs();
    const sampler = setInterval(() => during.push({ t: nowMs() - t0, kib: rss() }), SAMPLE_MS);
    const deadline = t0 + SECS * 1000;
    // Mid-run, under load: the isolate's memory once (the loops keep running meanwhile).
    const mid = sleep((SECS * 1000) / 2).then(async () => {
      isolate.mid = { ...(await isolateNow(insp, url)), at_s: +((nowMs() - t0) / 1000).toFixed(1) };
    });
    await Promise.all(Array.from({ length: CONNS }, () => (async () => {
      while (nowMs() < deadline) await kinds[pick()]();
    })()));
    const elapsedMs = nowMs() - t0;
    clearInterval(sampler);
    during.push({ t: elapsedMs, kib: rss() });
    await mid;
    const afterKib = await idleRss(rss, 3000);
    isolate.after = await isolateNow(insp, url);
    insp.close();

    const byKind = {};
    for (const k of ['gated', 'lookup', 'scim', 'signin', 'logout', 'revoked']) {
      byKind[k] = { ...summary(times[k] ?? []), statuses: counts[k] ?? {} };
    }
    const total = Object.values(counts).reduce((a, c) => a + Object.values(c).reduce((x, y) => x + y, 0), 0);
    // Gated GETs of the four members reached the origin with a verified assertion; the IdP's
    // and the worker's own requests never reach it.
    if (assertions.unverified) {
      errorCount += assertions.unverified;
      errors.push({ kind: 'gated', status: 'assertion not verified at the origin', detail: `${assertions.unverified} requests` });
    }
    const second = during.filter((p) => p.t >= elapsedMs / 2);
    const { before: ib, mid: im, after: ia } = isolate;
    const measured = [ib, im, ia].every((x) => x && !x.error);
    const verdict = measured
      ? {
          gc_requested: [ib, im, ia].every((x) => x.gc === 'ok') ? 'ok' : [ib.gc, im.gc, ia.gc].join(' / '),
          wasm_growth_bytes: ia.wasm_memory_bytes - ib.wasm_memory_bytes,
          wasm_growth_mid_to_end_bytes: ia.wasm_memory_bytes - im.wasm_memory_bytes,
          js_growth_mid_to_end_bytes: ia.js_used_bytes - im.js_used_bytes,
          js_growth_before_to_end_bytes: ia.js_used_bytes - ib.js_used_bytes,
        }
      : { error: [ib, im, ia].map((x) => x?.error ?? 'ok').join(' / ') };
    if (measured) {
      verdict.flat = verdict.wasm_growth_bytes <= WASM_BOUND && verdict.js_growth_mid_to_end_bytes <= JS_BOUND;
    } else {
      verdict.flat = null;
    }
    const result = {
      secs: elapsedMs / 1000,
      conns: CONNS,
      weights: WEIGHTS,
      responses: total,
      req_per_s: total / (elapsedMs / 1000),
      errors: errorCount,
      worker_requests: workerRequests,
      error_samples: errors,
      origin_assertions: { ...assertions },
      by_kind: byKind,
      isolate: { ...isolate, ...verdict, wasm_bound_bytes: WASM_BOUND, js_bound_bytes: JS_BOUND },
      memory: {
        workerd_processes: pids.length,
        // Which process grew: [before, after] per workerd process, KiB.
        per_process_kib: pids.map((p, i) => [perProcessBefore[i], rssKiB(p)]),
        before_kib: beforeKib,
        after_kib: afterKib,
        delta_kib: afterKib - beforeKib,
        kib_per_worker_request: (afterKib - beforeKib) / workerRequests,
        peak_kib: Math.max(...during.map((p) => p.kib)),
        slope_kib_per_min: slopePerMin(during),
        slope_second_half_kib_per_min: slopePerMin(second),
        samples: during.map((p) => [Math.round(p.t), p.kib]),
      },
    };
    log('soak', JSON.stringify({ ...result, memory: { ...result.memory, samples: undefined } }));
    await worker.stop();
    worker = null;
    // The same per-request RSS figure for a worker that does nothing (its own wrangler dev).
    result.trivial_rss = await trivialRss();
    log('soak trivial', JSON.stringify(result.trivial_rss));
    return result;
  } finally {
    await worker?.stop();
    await upstream.stop();
    await idp.stop();
  }
}
