// Run the built worker in workerd through `wrangler dev --local` for the end-to-end tests.
//
//   const worker = await startWorker({ port, vars: { ... } });
//   worker.url, worker.adminToken, await worker.stop()
//
// wrangler is spawned detached so that stop() can signal the whole process group: killing only
// the node process would leave workerd running. Its output goes to e2e/.out/worker-<port>.log.
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
 * `main` becomes an absolute path, so the copy can live in e2e/.out.
 */
export function testConfig(cwd, out) {
  const source = readFileSync(join(cwd, 'wrangler.toml'), 'utf8');
  const lines = [];
  let inBuild = false;
  let main = null;
  for (const line of source.split('\n')) {
    const header = line.match(/^\s*\[\[?\s*([^\]\s]+)\s*\]\]?/);
    if (header) inBuild = header[1] === 'build' || header[1].startsWith('build.');
    if (inBuild) continue;
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

/**
 * Start `wrangler dev` on 127.0.0.1:`port` and wait for GET /healthz to answer 200.
 * Vars PUBLIC_ORIGIN, ADMIN_TOKEN and ALLOW_INSECURE_LOOPBACK_IDP are set unless overridden.
 * @returns {Promise<{url: string, port: number, adminToken: string, logFile: string, stop: () => Promise<void>}>}
 */
export async function startWorker({ port, vars = {}, timeoutMs = 60_000, cwd = process.env.E2E_WORKER_DIR ?? ROOT } = {}) {
  port ??= await freePort();
  const inspectorPort = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const adminToken = vars.ADMIN_TOKEN ?? randomBytes(24).toString('base64url');
  const allVars = {
    PUBLIC_ORIGIN: url,
    ADMIN_TOKEN: adminToken,
    ALLOW_INSECURE_LOOPBACK_IDP: 'true',
    ...vars,
  };
  if (!existsSync(join(cwd, 'wrangler.toml'))) {
    throw new Error(`no wrangler.toml in ${cwd}`);
  }
  mkdirSync(OUT, { recursive: true });
  const config = testConfig(cwd, join(OUT, `wrangler-${port}.toml`));
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
  for (const [k, v] of Object.entries(allVars)) args.push('--var', `${k}:${v}`);

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
    rmSync(config, { force: true });
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
      if (res.status === 200) return { url, port, adminToken, logFile, stop };
    } catch {
      // not listening yet
    }
    await sleep(250);
  }
  await stop();
  throw new Error(`worker did not answer /healthz within ${timeoutMs} ms; ${logFile}:\n${tail(logFile)}`);
}
