// Diagnostic (h-mem): which workerd process grows under a load, for edge-sso's gated GET, its
// /healthz floor, and the pass-through / trivial JS workers. Each variant gets its own wrangler dev.
//   node bench/memprobe.mjs [variant ...]   variants: gated healthz passthrough trivial
// BENCH_PROBE_SECS (20), BENCH_PROBE_CONNS (8).
import { join } from 'node:path';
import { readFileSync } from 'node:fs';

import { acmeConfig, AdminClient, login } from '../e2e/fixtures.mjs';
import { HttpClient } from '../e2e/http.mjs';
import { startIdp } from '../e2e/idp.mjs';
import { freePort } from '../e2e/ports.mjs';
import { ROOT, startWorker } from '../e2e/worker.mjs';
import { startBenchOrigin } from './origin.mjs';
import { isolateMemory, log, nowMs, openInspector, rssKiB, sleep, workerdPids } from './lib.mjs';

const SECS = Number(process.env.BENCH_PROBE_SECS ?? 20);
const CONNS = Number(process.env.BENCH_PROBE_CONNS ?? 8);
const GATED_PATH = '/orgs/acme/models/m1/resolve/main/config.json';

function slopePerMin(points) {
  const n = points.length;
  if (n < 2) return NaN;
  const mt = points.reduce((a, p) => a + p.t, 0) / n;
  const mk = points.reduce((a, p) => a + p.kib, 0) / n;
  const num = points.reduce((a, p) => a + (p.t - mt) * (p.kib - mk), 0);
  const den = points.reduce((a, p) => a + (p.t - mt) ** 2, 0);
  return (num / den) * 60_000;
}

const cmdOf = (pid) => readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter((a) => /--|\.capnp|serve/.test(a)).join(' ').slice(0, 160);

async function load(port, target, headers) {
  const pids = workerdPids(port);
  const insp = await openInspector(port);
  const isoBefore = await isolateMemory(insp).catch((e) => String(e));
  const samples = pids.map(() => []);
  let n = 0;
  let bad = 0;
  const t0 = nowMs();
  const sample = () => pids.forEach((p, i) => samples[i].push({ t: nowMs() - t0, kib: rssKiB(p) }));
  sample();
  const timer = setInterval(sample, 1000);
  const deadline = t0 + SECS * 1000;
  await Promise.all(Array.from({ length: CONNS }, async () => {
    while (nowMs() < deadline) {
      const res = await fetch(target(), { redirect: 'manual', headers: headers() });
      await res.arrayBuffer();
      n += 1;
      if (res.status >= 400) bad += 1;
    }
  }));
  clearInterval(timer);
  sample();
  await sleep(2000);
  const isoAfter = await isolateMemory(insp).catch((e) => String(e));
  const rssAfter = pids.map((p) => Math.round(rssKiB(p) / 1024));
  const isoAfterGc = process.env.BENCH_PROBE_GC ? await isolateMemory(insp, { gc: true }).catch((e) => String(e)) : null;
  const rssAfterGc = pids.map((p) => Math.round(rssKiB(p) / 1024));
  insp.close();
  const secs = (nowMs() - t0) / 1000;
  return {
    isolate: { before: isoBefore, after: isoAfter, after_forced_gc_diagnostic: isoAfterGc, rss_mib_before_gc: rssAfter, rss_mib_after_gc: rssAfterGc },
    requests: n, bad, req_per_s: Math.round(n / secs),
    procs: pids.map((p, i) => {
      const s = samples[i];
      const half = s.filter((x) => x.t >= s[s.length - 1].t / 2);
      return {
        pid: p, cmd: cmdOf(p),
        before_mib: Math.round(s[0].kib / 1024), after_mib: Math.round(s[s.length - 1].kib / 1024),
        idle_after_mib: Math.round(rssKiB(p) / 1024),
        slope_mib_min: Math.round(slopePerMin(s) / 1024), second_half_mib_min: Math.round(slopePerMin(half) / 1024),
        kib_per_req: Math.round((s[s.length - 1].kib - s[0].kib) / n * 10) / 10,
      };
    }),
  };
}

const variants = {
  async gated() {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const idp = await startIdp({ redirectUris: [`${url}/sso/callback`] });
    const origin = await startBenchOrigin();
    const w = await startWorker({ port, vars: { ORIGIN_URL: origin.url } });
    try {
      await new AdminClient(url, w.adminToken).mustPut('acme', acmeConfig(idp, { enforced: true }));
      const cookies = [];
      for (const m of ['alice', 'bob', 'carol', 'dave']) {
        const c = new HttpClient();
        const { response } = await login(c, url, { email: `${m}@acme.test`, login: m });
        if (response.status !== 302) throw new Error(`login ${m} -> ${response.status}`);
        cookies.push(c.jar.headerFor(`${url}${GATED_PATH}`));
      }
      for (let i = 0; i < 200; i++) await (await fetch(`${url}${GATED_PATH}`, { headers: { cookie: cookies[i % 4] } })).arrayBuffer();
      return await load(port, () => `${url}${GATED_PATH}`, () => ({ accept: 'application/json', cookie: cookies[Math.floor(Math.random() * 4)] }));
    } finally {
      await w.stop(); await origin.stop(); await idp.stop();
    }
  },
  async healthz() {
    const port = await freePort();
    const w = await startWorker({ port });
    try {
      return await load(port, () => `${w.url}/healthz`, () => ({}));
    } finally { await w.stop(); }
  },
  async passthrough() {
    const port = await freePort();
    const origin = await startBenchOrigin();
    const w = await startWorker({ port, cwd: join(ROOT, 'bench/passthrough'), vars: { ORIGIN: origin.url } });
    try {
      return await load(port, () => `${w.url}${GATED_PATH}`, () => ({ accept: 'application/json' }));
    } finally { await w.stop(); await origin.stop(); }
  },
  async trivial() {
    const port = await freePort();
    const w = await startWorker({ port, cwd: join(ROOT, 'bench/trivial') });
    try {
      return await load(port, () => `${w.url}/healthz`, () => ({}));
    } finally { await w.stop(); }
  },
};

const want = process.argv.slice(2).length ? process.argv.slice(2) : Object.keys(variants);
for (const v of want) {
  const r = await variants[v]();
  log('probe', v, JSON.stringify(r, null, 1));
}
