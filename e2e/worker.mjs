// Run the built worker in workerd through `wrangler dev --local` for the end-to-end tests.
//
//   const worker = await startWorker({ port, vars: { ... } });
//   worker.url, worker.adminToken, worker.assertionKey, await worker.stop()
//
// wrangler is spawned detached so that stop() can signal the whole process group: killing only
// the node process would leave workerd running. Its output goes to e2e/.out/worker-<port>.log.
// Secrets (SECRET_VARS) never go on wrangler's command line: they are written to a `.dev.vars`
// next to the worker's private copy of wrangler.toml (e2e/.out/worker-<port>/), which is where
// wrangler dev reads local secrets from; the directory is removed by stop().
// E2E_WORKER_DIR=<dir> runs the worker of another checkout (its wrangler.toml and build/).

import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  createWriteStream,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { generateAssertionKey } from './keys.mjs';
import { freePort } from './ports.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
/** The repository root (where wrangler.toml and node_modules live). */
export const ROOT = resolve(HERE, '..');
const OUT = join(HERE, '.out');
const NODE = join(ROOT, 'node_modules/node/bin/node');
const WRANGLER = join(ROOT, 'node_modules/wrangler/bin/wrangler.js');

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function tail(file, n = 60) {
  try {
    return readFileSync(file, 'utf8').split('\n').slice(-n).join('\n');
  } catch {
    return '';
  }
}

/**
 * The repository's wrangler.toml rewritten for the tests: the `[build]` table is dropped (the
 * worker is built once by `make build`; wrangler must not rebuild it for every test file) and
 * `main` becomes an absolute path, so the copy can live in e2e/.out. Unless `realRateLimits`, the
 * rate-limit bindings get budgets no test reaches (the suites sign in many times a minute from
 * one address); the tests of the limits themselves ask for the real ones.
 */
export function testConfig(cwd, out, { realRateLimits = false } = {}) {
  const source = readFileSync(join(cwd, 'wrangler.toml'), 'utf8');
  const lines = [];
  let inBuild = false;
  let main = null;
  for (const line of source.split('\n')) {
    const header = line.match(/^\s*\[\[?\s*([^\]\s]+)\s*\]\]?/);
    if (header) inBuild = header[1] === 'build' || header[1].startsWith('build.');
    if (inBuild) continue;
    if (!realRateLimits && /^\s*simple\s*=\s*\{/.test(line)) {
      lines.push(line.replace(/limit\s*=\s*\d+/, 'limit = 1000000'));
      continue;
    }
    const m = line.match(/^\s*main\s*=\s*"([^"]+)"/);
    if (m) {
      main = resolve(cwd, m[1]);
      lines.push(`main = ${JSON.stringify(main)}`);
      continue;
    }
    lines.push(line);
  }
  if (!main) throw new Error(`no main = "..." in ${join(cwd, 'wrangler.toml')}`);
  if (!existsSync(main)) throw new Error(`${main} does not exist: build the worker first (make build)`);
  writeFileSync(out, lines.join('\n'));
  return out;
}

/** Vars that are secrets in production: passed through `.dev.vars`, never as `--var`. */
export const SECRET_VARS = new Set([
  'ADMIN_TOKEN', 'ASSERTION_SIGNING_KEY', 'ASSERTION_SIGNING_KEY_PREVIOUS', 'COOKIE_SECRET', 'COOKIE_SECRET_PREVIOUS',
]);

/**
 * One dotenv line for `.dev.vars` (wrangler parses it with dotenv: single-quoted values are
 * taken literally, so JSON such as a JWK survives unchanged).
 */
export function dotenvLine(name, value) {
  const v = String(value);
  if (/[\r\n]/.test(v)) throw new Error(`${name}: a .dev.vars value cannot hold a line break`);
  for (const q of ["'", '"', '`']) if (!v.includes(q)) return `${name}=${q}${v}${q}`;
  throw new Error(`${name}: a .dev.vars value cannot hold all three quote characters`);
}

/**
 * Start `wrangler dev` on 127.0.0.1:`port` and wait for GET /healthz to answer 200.
 * Vars PUBLIC_ORIGIN, ADMIN_TOKEN, ALLOW_INSECURE_LOOPBACK_IDP, ASSERTION_SIGNING_KEY (a
 * fresh P-256 key from keys.mjs) and COOKIE_SECRET (32 fresh random bytes) are set unless `vars`
 * names them; a var given as `null` or
 * `undefined` is left out altogether (e.g. `{ ASSERTION_SIGNING_KEY: null }`).
 * @returns {Promise<{url: string, port: number, adminToken: string, assertionKey: string|null,
 *   logFile: string, stop: () => Promise<void>}>}
 */
export async function startWorker({ port, vars = {}, timeoutMs = 60_000, cwd = process.env.E2E_WORKER_DIR ?? ROOT, realRateLimits = false } = {}) {
  port ??= await freePort();
  const inspectorPort = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const defaults = {
    PUBLIC_ORIGIN: url,
    ADMIN_TOKEN: randomBytes(24).toString('base64url'),
    ALLOW_INSECURE_LOOPBACK_IDP: 'true',
    ASSERTION_SIGNING_KEY: generateAssertionKey(),
    COOKIE_SECRET: randomBytes(32).toString('base64url'),
  };
  const allVars = Object.fromEntries(
    Object.entries({ ...defaults, ...vars }).filter(([, v]) => v !== null && v !== undefined),
  );
  const adminToken = allVars.ADMIN_TOKEN;
  if (!existsSync(join(cwd, 'wrangler.toml'))) {
    throw new Error(`no wrangler.toml in ${cwd}`);
  }
  const dir = join(OUT, `worker-${port}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const config = testConfig(cwd, join(dir, 'wrangler.toml'), { realRateLimits });
  const secrets = Object.entries(allVars).filter(([k]) => SECRET_VARS.has(k));
  writeFileSync(join(dir, '.dev.vars'), secrets.map(([k, v]) => `${dotenvLine(k, v)}\n`).join(''), { mode: 0o600 });
  const persistTo = mkdtempSync(join(tmpdir(), 'edge-sso-e2e-'));
  const logFile = join(OUT, `worker-${port}.log`);
  const log = createWriteStream(logFile);
  await new Promise((r) => log.once('open', r));

  const args = [
    WRANGLER,
    'dev',
    '--config', config,
    '--local',
    '--ip', '127.0.0.1',
    '--port', String(port),
    '--inspector-port', String(inspectorPort),
    '--persist-to', persistTo,
    '--show-interactive-dev-session=false',
    '--log-level', 'log',
  ];
  for (const [k, v] of Object.entries(allVars)) if (!SECRET_VARS.has(k)) args.push('--var', `${k}:${v}`);

  const child = spawn(NODE, args, {
    cwd,
    detached: true,
    stdio: ['ignore', log, log],
    env: {
      ...process.env,
      WRANGLER_SEND_METRICS: 'false',
      CI: '1',
      NO_COLOR: '1',
      FORCE_COLOR: '0',
    },
  });
  let exited = null;
  child.on('exit', (code, signal) => {
    exited = { code, signal };
  });

  const stop = async () => {
    if (exited === null) {
      try {
        process.kill(-child.pid, 'SIGTERM');
      } catch {
        // already gone
      }
      for (let i = 0; i < 50 && exited === null; i++) await sleep(100);
      if (exited === null) {
        try {
          process.kill(-child.pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
    }
    // workerd may outlive wrangler's node process for a moment: make sure the group is gone.
    try {
      process.kill(-child.pid, 'SIGKILL');
    } catch {
      // no such process group: good
    }
    log.end();
    rmSync(persistTo, { recursive: true, force: true });
    rmSync(dir, { recursive: true, force: true });
  };

  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (exited !== null) {
      await stop();
      throw new Error(`wrangler dev exited (${JSON.stringify(exited)}) before /healthz answered; ${logFile}:\n${tail(logFile)}`);
    }
    try {
      const res = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(2000) });
      await res.arrayBuffer();
      if (res.status === 200) {
        return { url, port, adminToken, assertionKey: allVars.ASSERTION_SIGNING_KEY ?? null, logFile, stop };
      }
    } catch {
      // not listening yet
    }
    await sleep(250);
  }
  await stop();
  throw new Error(`worker did not answer /healthz within ${timeoutMs} ms; ${logFile}:\n${tail(logFile)}`);
}
