// Shared set-up for the end-to-end tests: one IdP + one worker per test file (and, for the
// access gateway, a loopback origin behind it), an admin API client, the test org's
// configuration, and a full login through HTTP.

import { strict as assert } from 'node:assert';

import { HttpClient, driveIdp, jsonOrNull } from './http.mjs';
import { startIdp } from './idp.mjs';
import { startOrigin } from './origin.mjs';
import { freePort } from './ports.mjs';
import { startWorker } from './worker.mjs';

/**
 * Start an IdP whose client redirects to a worker on a fresh port, then that worker.
 *
 * With `upstream` (true, or startOrigin options such as `{ port }`), a loopback origin
 * (e2e/origin.mjs) is started first, verifying assertions against the worker's
 * `/.well-known/jwks.json` with iss = the worker's PUBLIC_ORIGIN, and the worker gets
 * `ORIGIN_URL` pointing at it (unless `vars` sets ORIGIN_URL itself).
 * @returns {Promise<{idp, worker, origin: string, upstream: object|null, admin: AdminClient,
 *   stop: () => Promise<void>}>} `origin` is the worker's URL; `upstream` the origin server.
 */
export async function startStack({ idpOptions = {}, vars = {}, upstream = null, realRateLimits = false } = {}) {
  const port = await freePort();
  const origin = `http://127.0.0.1:${port}`;
  const publicOrigin = vars.PUBLIC_ORIGIN ?? origin;
  const idp = await startIdp({
    redirectUris: [`${origin}/sso/callback`],
    postLogoutRedirectUris: [`${origin}/`, origin],
    ...idpOptions,
  });
  let upstreamServer = null;
  let worker;
  try {
    if (upstream) {
      upstreamServer = await startOrigin({
        jwksUrl: `${origin}/.well-known/jwks.json`,
        issuer: publicOrigin,
        ...(upstream === true ? {} : upstream),
      });
    }
    const workerVars = upstreamServer ? { ORIGIN_URL: upstreamServer.url, ...vars } : vars;
    worker = await startWorker({ port, vars: workerVars, realRateLimits });
  } catch (err) {
    await upstreamServer?.stop();
    await idp.stop();
    throw err;
  }
  return {
    idp,
    worker,
    origin,
    upstream: upstreamServer,
    admin: new AdminClient(origin, worker.adminToken),
    async stop() {
      await worker.stop();
      await upstreamServer?.stop();
      await idp.stop();
    },
  };
}

/**
 * The org config field that holds the gateway's access rules (`[{path, role}]`, path relative
 * to `/orgs/{slug}/`, `**` matching any rest). One name for the tests and `make dev`: change
 * it here if the worker names the field differently.
 */
export const ACCESS_RULES_FIELD = 'access_rules';

/** Poll `probe` until it returns a truthy value (which is returned) or `timeoutMs` passes. */
export async function waitFor(probe, { timeoutMs = 15_000, intervalMs = 250, what = 'condition' } = {}) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    last = await probe();
    if (last) return last;
    if (Date.now() > deadline) throw new Error(`${what} not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** The org configuration the tests use (client registered at the IdP). */
export function acmeConfig(idp, overrides = {}) {
  return {
    domains: ['acme.test'],
    issuer: idp.issuer,
    client_id: idp.clientId,
    client_secret: idp.clientSecret,
    role_mapping: [{ claim: 'groups', value: 'hub-admins', role: 'admin' }],
    default_role: 'read',
    ...overrides,
  };
}

/** The worker's admin API. Each method resolves to { status, body (parsed JSON or null), headers, text }. */
export class AdminClient {
  constructor(origin, token) {
    this.origin = origin;
    this.token = token;
  }

  async request(method, path, { body, token = this.token, raw = false, headers = {} } = {}) {
    const h = { accept: 'application/json', ...headers };
    if (token !== null) h.authorization = `Bearer ${token}`;
    const init = { method, headers: h, redirect: 'manual' };
    if (body !== undefined) {
      h['content-type'] ??= 'application/json';
      init.body = raw ? body : JSON.stringify(body);
    }
    const res = await fetch(`${this.origin}${path}`, init);
    const text = await res.text();
    let parsed = null;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch {
      parsed = null;
    }
    return { status: res.status, body: parsed, headers: res.headers, text };
  }

  put(slug, config, opts) {
    return this.request('PUT', `/admin/orgs/${slug}`, { body: config, ...opts });
  }

  get(slug, opts) {
    return this.request('GET', `/admin/orgs/${slug}`, opts);
  }

  list(opts) {
    return this.request('GET', '/admin/orgs', opts);
  }

  delete(slug, opts) {
    return this.request('DELETE', `/admin/orgs/${slug}`, opts);
  }

  /** PUT and assert that it was accepted (201 or 200). */
  async mustPut(slug, config) {
    const r = await this.put(slug, config);
    assert.ok([200, 201].includes(r.status), `PUT /admin/orgs/${slug} -> ${r.status} ${r.text}`);
    return r;
  }
}

/**
 * GET /sso/start with `query` and return the 302's parsed Location (the authorization URL).
 * @returns {Promise<{response: Response, location: URL}>}
 */
export async function start(client, origin, query) {
  const url = `${origin}/sso/start?${new URLSearchParams(query)}`;
  const response = await client.fetch(url);
  const body = await response.text();
  assert.equal(response.status, 302, `GET ${url} -> ${response.status}: ${body.slice(0, 500)}`);
  return { response, location: new URL(response.headers.get('location')) };
}

/**
 * The whole HTTP login up to (not including) the worker's callback: /sso/start -> IdP login and
 * consent. Returns the callback URL the IdP redirected to.
 */
export async function loginToCallback(client, origin, { email = 'alice@acme.test', login = 'alice', returnTo } = {}) {
  const query = { email };
  if (returnTo !== undefined) query.return_to = returnTo;
  const { location } = await start(client, origin, query);
  const callback = await driveIdp(client, location.href, { login });
  assert.ok(callback.startsWith(`${origin}/sso/callback?`), `IdP sent us to ${callback}`);
  return callback;
}

/** A full login: start, IdP, callback. Returns the callback response (expected 302). */
export async function login(client, origin, opts) {
  const callback = await loginToCallback(client, origin, opts);
  const response = await client.fetch(callback);
  return { callback, response, text: await response.text() };
}

/** GET /sso/me as JSON. */
export async function me(client, origin) {
  const response = await client.fetch(`${origin}/sso/me`, { headers: { accept: 'application/json' } });
  return { status: response.status, body: await jsonOrNull(response), headers: response.headers };
}

export { HttpClient };

/**
 * The offboarding bound (issue 9): a revoked session is refused everywhere within 10 s of the
 * revoking request's answer (the ledger's REVOCATION_CACHE_SECS = 4 plus clock granularity, with
 * room to spare).
 */
export const REVOCATION_BOUND_MS = 10_000;

/**
 * Poll `probe` every 250 ms until it is truthy, and fail unless that happened within
 * REVOCATION_BOUND_MS of `answeredAt` (the `Date.now()` at which the revoking request was
 * answered). Counts from the moment the successful probe was sent, so a slow probe cannot hide
 * a late refusal. Resolves to the elapsed milliseconds.
 */
export async function refusedWithinBound(answeredAt, probe, { what = 'refusal' } = {}) {
  let sentAt = answeredAt;
  await waitFor(
    async () => {
      sentAt = Date.now();
      return probe();
    },
    { timeoutMs: Math.max(0, answeredAt + REVOCATION_BOUND_MS - Date.now()), intervalMs: 250, what },
  );
  const elapsed = sentAt - answeredAt;
  assert.ok(elapsed <= REVOCATION_BOUND_MS, `${what} came ${elapsed} ms after the answer (bound ${REVOCATION_BOUND_MS} ms)`);
  return elapsed;
}
