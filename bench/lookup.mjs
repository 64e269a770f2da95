// The lookup benchmark (issue 11, Performance; bench/run.mjs section `lookup`):
// `GET /sso/start?email=...` of the real worker (build/, org acme configured, its discovery
// document in the isolate cache after the warm-up) against the same request to two trivial JS
// workers, each under its own `wrangler dev`, in the same run: `trivial` (bench/trivial: a fixed
// 302 and Set-Cookie) and `trivial_rl` (bench/trivial-rl: the same, after the one call to the
// Rate Limiting binding that the issue requires on this route, as edge-sso makes it). Sequential: BENCH_LOOKUP_SEQ (600) requests per variant, one at a time, each timed to
// its last byte, the variants interleaved request by request in shuffled order. Under load:
// autocannon, 8 connections, BENCH_LOOKUP_ROUNDS (6) rounds of BENCH_LOOKUP_SECS (3) s per
// variant, the variants shuffled within each round. Target: edge-sso's p50 <= 1.3x the trivial
// worker's; both ratios are reported (the binding's call is wrangler dev's simulator here).
import { join } from 'node:path';

import { acmeConfig, AdminClient } from '../e2e/fixtures.mjs';
import { startIdp } from '../e2e/idp.mjs';
import { freePort } from '../e2e/ports.mjs';
import { ROOT, startWorker } from '../e2e/worker.mjs';
import { cannon, log, median, nowMs, shuffle, summary } from './lib.mjs';

const SEQ = Number(process.env.BENCH_LOOKUP_SEQ ?? 600);
const ROUNDS = Number(process.env.BENCH_LOOKUP_ROUNDS ?? 6);
const ROUND_SECS = Number(process.env.BENCH_LOOKUP_SECS ?? 3);
const CONNS = 8;
const QUERY = `/sso/start?email=${encodeURIComponent('alice@acme.test')}`;

export const lookupParams = { SEQ, ROUNDS, ROUND_SECS, CONNS };

/** One GET of `url`, timed from the call to the last body byte; must answer 302. */
async function timed302(url) {
  const t0 = nowMs();
  const res = await fetch(url, { redirect: 'manual' });
  await res.arrayBuffer();
  const ms = nowMs() - t0;
  if (res.status !== 302) throw new Error(`GET ${url} -> ${res.status}`);
  return ms;
}

/** Runs the lookup comparison and returns its figures (see the header). */
export async function lookupBench() {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const idp = await startIdp({ redirectUris: [`${url}/sso/callback`] });
  let edge;
  let trivial;
  let trivialRl;
  try {
    edge = await startWorker({ port });
    trivial = await startWorker({ cwd: join(ROOT, 'bench/trivial') });
    trivialRl = await startWorker({ cwd: join(ROOT, 'bench/trivial-rl') });
    await new AdminClient(url, edge.adminToken).mustPut('acme', acmeConfig(idp));
    const variants = { trivial: `${trivial.url}${QUERY}`, trivial_rl: `${trivialRl.url}${QUERY}`, edge_sso: `${url}${QUERY}` };

    for (let i = 0; i < 50; i++) for (const u of Object.values(variants)) await timed302(u);
    const seq = Object.fromEntries(Object.keys(variants).map((k) => [k, []]));
    for (let i = 0; i < SEQ; i++) for (const k of shuffle(Object.keys(variants))) seq[k].push(await timed302(variants[k]));
    const sequential = Object.fromEntries(Object.keys(variants).map((k) => [k, summary(seq[k])]));
    sequential.ratio_p50 = sequential.edge_sso.p50_ms / sequential.trivial.p50_ms;
    sequential.ratio_p50_rl = sequential.edge_sso.p50_ms / sequential.trivial_rl.p50_ms;
    log('lookup sequential', JSON.stringify(sequential));

    for (const u of Object.values(variants)) await cannon({ url: u, duration: 1, connections: CONNS });
    const rounds = [];
    for (let r = 0; r < ROUNDS; r++) {
      const round = {};
      for (const k of shuffle(Object.keys(variants))) {
        const res = await cannon({ url: variants[k], duration: ROUND_SECS, connections: CONNS });
        round[k] = {
          req_per_s: res.requests.average,
          p50_ms: res.latency.p50,
          mean_ms: res.latency.mean,
          p99_ms: res.latency.p99,
          requests: res.requests.total,
          // Anything but the 302 (autocannon counts 3xx apart) is a failure of the round.
          other: res.requests.total - res['3xx'] + res.errors + res.timeouts,
        };
      }
      round.ratio_p50 = round.edge_sso.p50_ms / round.trivial.p50_ms;
      round.ratio_mean = round.edge_sso.mean_ms / round.trivial.mean_ms;
      round.ratio_p50_rl = round.edge_sso.p50_ms / round.trivial_rl.p50_ms;
      round.ratio_mean_rl = round.edge_sso.mean_ms / round.trivial_rl.mean_ms;
      rounds.push(round);
      log('lookup round', r, JSON.stringify(round));
    }
    const agg = (k) => ({
      req_per_s: median(rounds.map((r) => r[k].req_per_s)),
      p50_ms: median(rounds.map((r) => r[k].p50_ms)),
      mean_ms: median(rounds.map((r) => r[k].mean_ms)),
      p99_ms: median(rounds.map((r) => r[k].p99_ms)),
      requests: rounds.reduce((n, r) => n + r[k].requests, 0),
      other: rounds.reduce((n, r) => n + r[k].other, 0),
    });
    const load = { trivial: agg('trivial'), trivial_rl: agg('trivial_rl'), edge_sso: agg('edge_sso'), rounds };
    load.ratio_p50 = load.edge_sso.p50_ms / load.trivial.p50_ms;
    load.ratio_mean = load.edge_sso.mean_ms / load.trivial.mean_ms;
    load.ratio_p50_per_round = rounds.map((r) => r.ratio_p50);
    load.ratio_p50_rl = load.edge_sso.p50_ms / load.trivial_rl.p50_ms;
    load.ratio_mean_rl = load.edge_sso.mean_ms / load.trivial_rl.mean_ms;
    load.ratio_p50_rl_per_round = rounds.map((r) => r.ratio_p50_rl);
    log('lookup load', JSON.stringify({ ...load, rounds: undefined }));
    return { sequential, load };
  } finally {
    await trivial?.stop();
    await trivialRl?.stop();
    await edge?.stop();
    await idp.stop();
  }
}
