// The dev command's runner (`make dev` -> scripts/dev.sh -> here, under Node 22): a local OpenID
// Provider as the demo organisation's IdP, the built worker in `wrangler dev` (workerd, local KV
// persisted under .wrangler/), the demo organisation seeded through the admin API, and the URL.
// Ctrl-C stops everything (wrangler and workerd by process group).

import { spawn } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';

import { startIdp } from '../e2e/idp.mjs';

const PORT = Number(process.env.DEV_PORT ?? 8787);
const IDP_PORT = Number(process.env.DEV_IDP_PORT ?? 9100);
const ORIGIN = `http://127.0.0.1:${PORT}`;
const ADMIN_TOKEN = process.env.DEV_ADMIN_TOKEN ?? 'dev-admin-token-change-me';

const idp = await startIdp({
  port: IDP_PORT,
  redirectUris: [`${ORIGIN}/sso/callback`],
  postLogoutRedirectUris: [`${ORIGIN}/`],
  clientId: 'edge-sso-demo',
  clientSecret: 'demo-client-secret',
});

const vars = {
  PUBLIC_ORIGIN: ORIGIN,
  ADMIN_TOKEN,
  ALLOW_INSECURE_LOOPBACK_IDP: 'true',
};
const args = [
  'node_modules/wrangler/bin/wrangler.js', 'dev', '--local', '--ip', '127.0.0.1',
  '--port', String(PORT), '--persist-to', '.wrangler/state', '--show-interactive-dev-session=false',
];
for (const [k, v] of Object.entries(vars)) args.push('--var', `${k}:${v}`);
const wrangler = spawn(process.execPath, args, {
  detached: true,
  stdio: ['ignore', 'inherit', 'inherit'],
  env: { ...process.env, WRANGLER_SEND_METRICS: 'false', EDGE_SSO_SKIP_BUILD: '1' },
});

let stopping = false;
async function stop(code = 0) {
  if (stopping) return;
  stopping = true;
  try { process.kill(-wrangler.pid, 'SIGTERM'); } catch { /* gone */ }
  await sleep(500);
  try { process.kill(-wrangler.pid, 'SIGKILL'); } catch { /* gone */ }
  await idp.stop();
  process.exit(code);
}
process.on('SIGINT', () => stop(0));
process.on('SIGTERM', () => stop(0));
wrangler.on('exit', (code) => {
  if (!stopping) {
    console.error(`wrangler dev exited (${code})`);
    stop(1);
  }
});

// Wait for the worker.
const deadline = Date.now() + 90_000;
for (;;) {
  try {
    const r = await fetch(`${ORIGIN}/healthz`);
    if (r.ok) break;
  } catch { /* not up yet */ }
  if (Date.now() > deadline) {
    console.error('the worker did not answer /healthz within 90 s');
    await stop(1);
  }
  await sleep(250);
}

// Seed the demo organisation (idempotent: PUT replaces it).
const demo = {
  domains: ['acme.test'],
  issuer: idp.issuer,
  client_id: idp.clientId,
  client_secret: idp.clientSecret,
  scopes: ['openid', 'email', 'profile', 'groups'],
  role_mapping: [
    { claim: 'groups', value: 'hub-admins', role: 'admin' },
    { claim: 'groups', value: 'hub-writers', role: 'write' },
  ],
  default_role: 'read',
  session_ttl_secs: 28800,
  enforced: true,
};
const put = await fetch(`${ORIGIN}/admin/orgs/acme`, {
  method: 'PUT',
  headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
  body: JSON.stringify(demo),
});
if (!put.ok) {
  console.error(`seeding the demo org failed: ${put.status} ${await put.text()}`);
  await stop(1);
}

console.log(`
  edge-sso is running at ${ORIGIN}

  Login page     ${ORIGIN}/            (try alice@acme.test: role admin; bob@acme.test: write;
                                          anyone@acme.test: read; any password)
  Who am I       ${ORIGIN}/sso/me
  Admin page     ${ORIGIN}/admin       (admin token: ${ADMIN_TOKEN})
  Demo IdP       ${idp.issuer}         (oidc-provider, dev login form)

  Ctrl-C stops the worker and the IdP.
`);
