// Cold start (issue 11, Performance; bench/run.mjs section `coldstart`): time from a fresh
// isolate to the first answered request (GET /healthz -> 200), for edge-sso (build/, release)
// and for a trivial JavaScript worker with the same route shape (bench/trivial), in the same run,
// the two interleaved trial by trial in shuffled order: a fresh `wrangler dev` process per trial,
// spawn -> first 200, polled every 10 ms. That includes wrangler's own start (Node, config,
// esbuild bundling of the worker, its local proxy) and a fresh workerd process, the same for
// both workers; the difference between the two is what edge-sso's isolate adds (module
// compilation of the Wasm, its instantiation, the first request). A fresh isolate inside one
// long-lived workerd is not reachable through the tooling: wrangler dev (Miniflare) restarts the
// whole workerd process when the script changes.
// BENCH_COLDSTARTS (5) trials per worker, after one unmeasured start of each (file cache); medians.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { freePort } from '../e2e/ports.mjs';
import { dotenvLine, ROOT, testConfig } from '../e2e/worker.mjs';
import { log, median, nowMs, shuffle, sleep } from './lib.mjs';

const TRIALS = Number(process.env.BENCH_COLDSTARTS ?? 5);
const OUT = join(ROOT, 'bench/.out');

export const coldstartParams = { TRIALS };

const WORKERS = { edge_sso: { dir: ROOT }, trivial: { dir: join(ROOT, 'bench/trivial') } };

/** Throwaway secrets for a start-up probe (COOKIE_SECRET is required; see the README). */
const probeSecrets = () => ({
  ADMIN_TOKEN: randomBytes(24).toString('base64url'),
  COOKIE_SECRET: randomBytes(32).toString('base64url'),
});

/** Polls GET `url` every 10 ms until it answers 200; resolves to the time of that answer. */
async function firstAnswer(url, t0, isAlive = () => true) {
  for (;;) {
    if (nowMs() - t0 > 90_000 || !isAlive()) throw new Error(`${url} did not answer`);
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
      await res.arrayBuffer();
      if (res.status === 200) return nowMs();
    } catch {
      // not yet
    }
    await sleep(10);
  }
}

/** One fresh `wrangler dev` of `worker`: spawn -> first 200 from /healthz, in ms. */
async function wranglerOnce(worker) {
  const port = await freePort();
  const inspectorPort = await freePort();
  const dir = join(OUT, `coldstart-${port}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const config = testConfig(worker.dir, join(dir, 'wrangler.toml'));
  // Secrets through .dev.vars next to the config, as e2e/worker.mjs does.
  writeFileSync(join(dir, '.dev.vars'), Object.entries(probeSecrets()).map(([k, v]) => `${dotenvLine(k, v)}\n`).join(''), { mode: 0o600 });
  const t0 = nowMs();
  const child = spawn(
    join(ROOT, 'node_modules/node/bin/node'),
    [join(ROOT, 'node_modules/wrangler/bin/wrangler.js'), 'dev', '--config', config, '--local',
      '--ip', '127.0.0.1', '--port', String(port), '--inspector-port', String(inspectorPort),
      '--persist-to', join(dir, 'persist'), '--show-interactive-dev-session=false',
      '--var', `PUBLIC_ORIGIN:http://127.0.0.1:${port}`],
    { cwd: worker.dir, detached: true, stdio: 'ignore', env: { ...process.env, WRANGLER_SEND_METRICS: 'false', CI: '1' } },
  );
  try {
    return (await firstAnswer(`http://127.0.0.1:${port}/healthz`, t0, () => child.exitCode === null)) - t0;
  } finally {
    for (const sig of ['SIGTERM', 'SIGKILL']) {
      try {
        process.kill(-child.pid, sig);
      } catch {
        // gone
      }
      await sleep(300);
    }
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Runs the trials for both workers, interleaved, and returns the figures (see the header). */
export async function coldstartBench() {
  const runs = { edge_sso: [], trivial: [] };
  for (const name of Object.keys(WORKERS)) await wranglerOnce(WORKERS[name]);
  for (let t = 0; t < TRIALS; t++) {
    for (const name of shuffle(Object.keys(WORKERS))) runs[name].push(await wranglerOnce(WORKERS[name]));
    log('coldstart trial', t, JSON.stringify({ edge_sso: runs.edge_sso.at(-1), trivial: runs.trivial.at(-1) }));
  }
  const out = { trials: TRIALS };
  for (const [name, xs] of Object.entries(runs)) out[name] = { median_ms: median(xs), runs_ms: xs };
  out.ratio = out.edge_sso.median_ms / out.trivial.median_ms;
  out.difference_ms = out.edge_sso.median_ms - out.trivial.median_ms;
  log('coldstart', JSON.stringify(out));
  return out;
}
