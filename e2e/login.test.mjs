// The whole login through HTTP with a cookie jar: /sso/start -> IdP (login, consent) ->
// /sso/callback -> session cookie -> /sso/me -> /sso/logout -> IdP end_session. Then key
// rotation, return_to handling, and the callback's refusals.
import { strict as assert } from 'node:assert';
import { createHash } from 'node:crypto';
import { after, before, describe, test } from 'node:test';

import {
  HttpClient,
  acmeConfig,
  login,
  loginToCallback,
  me,
  start,
  startStack,
} from './fixtures.mjs';
import { driveIdp, parseSetCookie } from './http.mjs';

let stack;
let discovery;
before(async () => {
  stack = await startStack();
  await stack.admin.mustPut('acme', acmeConfig(stack.idp));
  discovery = await (await fetch(`${stack.idp.issuer}/.well-known/openid-configuration`)).json();
});
after(() => stack?.stop());

const setCookie = (response, name) =>
  response.headers.getSetCookie().map(parseSetCookie).find((c) => c.name === name);
/** The transaction cookie of the login whose state is `state` (plain-http names: no __Host-). */
const txName = (state) => `sso_tx_${createHash('sha256').update(state).digest('hex').slice(0, 8)}`;
/** The transaction cookies a response sets or clears. */
const txCookies = (response) =>
  response.headers.getSetCookie().map(parseSetCookie).filter((c) => c.name.startsWith('sso_tx_'));

const isCleared = (c) =>
  c && (c.value === '' || c.attributes['max-age'] === '0' || Date.parse(c.attributes.expires) < Date.now());

function assertRedirectTo(response, expected) {
  assert.ok([302, 303].includes(response.status), `expected a redirect, got ${response.status}`);
  const target = new URL(response.headers.get('location'), stack.origin);
  assert.equal(target.href, new URL(expected, stack.origin).href);
}

describe('full login as alice', () => {
  let client;
  let oldSession;

  test('start -> IdP -> callback sets the session cookie and redirects to /', async () => {
    client = new HttpClient();
    const { response, text } = await login(client, stack.origin, { login: 'alice' });
    assert.equal(response.status, 302, text.slice(0, 1000));
    assertRedirectTo(response, '/');
    const session = setCookie(response, 'sso_session');
    assert.ok(session && session.value, 'sso_session is set');
    assert.equal(session.attributes.httponly, true);
    assert.equal(String(session.attributes.samesite).toLowerCase(), 'lax');
    assert.equal(session.attributes.path, '/');
    assert.ok(!session.value.includes('alice'), 'the session cookie is an opaque handle');
    const tx = txCookies(response);
    assert.ok(tx.length === 1 && isCleared(tx[0]), `the transaction cookie is cleared: ${JSON.stringify(tx)}`);
    assert.match(response.headers.get('cache-control') ?? '', /no-store/);
    oldSession = session.value;
  });

  test('/sso/me shows alice as admin of acme', async () => {
    const { status, body, headers } = await me(client, stack.origin);
    assert.equal(status, 200, JSON.stringify(body));
    assert.match(headers.get('cache-control') ?? '', /no-store/);
    const acme = body.orgs.acme;
    assert.deepEqual(Object.keys(body.orgs), ['acme']);
    assert.deepEqual(
      { sub: acme.sub, email: acme.email, role: acme.role },
      { sub: 'alice', email: 'alice@acme.test', role: 'admin' },
    );
    assert.equal(typeof acme.expires_at, 'number');
    assert.ok(acme.expires_at > Date.now() / 1000, 'expires in the future');
    assert.ok(acme.expires_at < Date.now() / 1000 + 40 * 24 * 3600, 'and not absurdly far');
  });

  test('/sso/me without a cookie is 401', async () => {
    const r = await me(new HttpClient(), stack.origin);
    assert.equal(r.status, 401);
  });

  test('POST /sso/logout from another origin is refused and keeps the session', async () => {
    const res = await client.fetch(`${stack.origin}/sso/logout`, {
      method: 'POST',
      headers: { origin: 'http://evil.example', accept: 'application/json' },
    });
    await res.arrayBuffer();
    assert.equal(res.status, 403);
    assert.equal((await me(client, stack.origin)).status, 200);
  });

  test('POST /sso/logout -> 303 to the IdP end_session_endpoint and the cookie is cleared', async () => {
    const res = await client.fetch(`${stack.origin}/sso/logout`, {
      method: 'POST',
      headers: { origin: stack.origin },
    });
    await res.arrayBuffer();
    assert.equal(res.status, 303);
    const location = new URL(res.headers.get('location'));
    assert.equal(`${location.origin}${location.pathname}`, discovery.end_session_endpoint);
    assert.ok(location.searchParams.get('id_token_hint'), 'id_token_hint');
    const postLogout = location.searchParams.get('post_logout_redirect_uri');
    assert.ok(postLogout && postLogout.startsWith(stack.origin), `post_logout_redirect_uri=${postLogout}`);
    assert.ok(isCleared(setCookie(res, 'sso_session')), 'sso_session cleared');
    assert.equal((await me(client, stack.origin)).status, 401);

    // The IdP accepts the request (id_token_hint verifies, post_logout_redirect_uri is registered)
    // and sends the browser back to the worker.
    const back = await driveIdp(client, location.href);
    assert.ok(back.startsWith(stack.origin), `IdP logout ended at ${back}`);
  });

  test('the old session cookie replayed after logout is 401', async () => {
    const replay = new HttpClient();
    replay.jar.set(stack.origin, 'sso_session', oldSession);
    assert.equal((await me(replay, stack.origin)).status, 401);
  });
});

describe('roles and identities', () => {
  test('bob (no admin group) gets the default role', async () => {
    const client = new HttpClient();
    const { response } = await login(client, stack.origin, { email: 'bob@acme.test', login: 'bob' });
    assert.equal(response.status, 302);
    const { body } = await me(client, stack.origin);
    assert.equal(body.orgs.acme.role, 'read');
    assert.equal(body.orgs.acme.sub, 'bob');
  });

  test('an IdP account whose email is outside the org domains is refused', async () => {
    const client = new HttpClient();
    const callback = await loginToCallback(client, stack.origin, { email: 'x@acme.test', login: 'mallory@evil.test' });
    const res = await client.fetch(callback, { headers: { accept: 'application/json' } });
    const text = await res.text();
    assert.ok(res.status >= 400 && res.status < 500, `${res.status} ${text}`);
    assert.equal(setCookie(res, 'sso_session')?.value || '', '');
    assert.equal((await me(client, stack.origin)).status, 401);
  });
});

describe('return_to', () => {
  test('a local path is honoured', async () => {
    const client = new HttpClient();
    const { response } = await login(client, stack.origin, { returnTo: '/dashboard?tab=1' });
    assertRedirectTo(response, '/dashboard?tab=1');
  });

  for (const evil of ['//evil.example', 'https://evil.example/', '/\\evil.example', 'javascript:alert(1)']) {
    test(`${evil} ends at /`, async () => {
      const client = new HttpClient();
      const { response } = await login(client, stack.origin, { returnTo: evil });
      assertRedirectTo(response, '/');
    });
  }
});

describe('callback refusals', () => {
  async function freshCallback() {
    const client = new HttpClient();
    const callback = new URL(await loginToCallback(client, stack.origin));
    return { client, callback };
  }

  /** 4xx JSON error whose code is one of `codes` (so it failed for the intended reason). */
  async function assertRefused(client, url, why, codes) {
    const res = await client.fetch(url, { headers: { accept: 'application/json' } });
    const text = await res.text();
    assert.ok(res.status >= 400 && res.status < 500, `${why}: expected 4xx, got ${res.status} ${text.slice(0, 500)}`);
    const error = JSON.parse(text).error;
    assert.ok(codes.includes(error), `${why}: error ${error}, expected one of ${codes}`);
    assert.ok(!setCookie(res, 'sso_session')?.value, `${why}: no session cookie`);
    assert.equal((await me(client, stack.origin)).status, 401, `${why}: no session`);
    return text;
  }

  test('tampered state', async () => {
    const { client, callback } = await freshCallback();
    const state = callback.searchParams.get('state');
    callback.searchParams.set('state', `${state.slice(0, -2)}${state.endsWith('AA') ? 'BB' : 'AA'}`);
    await assertRefused(client, callback.href, 'tampered state', ['login_expired', 'invalid_callback']);
  });

  test('replayed callback (second use)', async () => {
    const { client, callback } = await freshCallback();
    const name = txName(callback.searchParams.get('state'));
    const tx = client.jar.get(stack.origin, name);
    assert.ok(tx, 'the transaction cookie is named after the state');
    const first = await client.fetch(callback.href);
    await first.arrayBuffer();
    assert.equal(first.status, 302);
    // Replay with a copy of the sealed transaction cookie in a fresh jar: the org's ledger
    // remembers it was spent (nothing about it is stored before the callback).
    const replay = new HttpClient();
    replay.jar.set(stack.origin, name, tx);
    await assertRefused(replay, callback.href, 'replay', ['login_expired']);
  });

  test('tampered transaction cookie', async () => {
    const { client, callback } = await freshCallback();
    const name = txName(callback.searchParams.get('state'));
    const tx = client.jar.get(stack.origin, name);
    const i = Math.floor(tx.length / 2);
    client.jar.set(stack.origin, name, `${tx.slice(0, i)}${tx[i] === 'A' ? 'B' : 'A'}${tx.slice(i + 1)}`);
    const text = await assertRefused(client, callback.href, 'tampered tx cookie', ['login_expired']);
    assert.match(JSON.parse(text).message, /not valid here/);
  });

  test('callback without the transaction cookie', async () => {
    const { client, callback } = await freshCallback();
    client.jar.delete(stack.origin, txName(callback.searchParams.get('state')));
    await assertRefused(client, callback.href, 'no tx cookie', ['login_expired']);
  });

  test('callback with another browser\'s transaction cookie', async () => {
    const a = await freshCallback();
    const b = new HttpClient();
    await start(b, stack.origin, { email: 'alice@acme.test' });
    // b's sealed transaction under a's name: the name is sealed into it, so it does not open.
    const bTx = b.jar.byHost.get(new URL(stack.origin).host).find((c) => c.name.startsWith('sso_tx_'));
    a.client.jar.set(stack.origin, txName(a.callback.searchParams.get('state')), bTx.value);
    await assertRefused(a.client, a.callback.href, 'swapped tx cookie', ['login_expired', 'invalid_callback']);
  });

  test('wrong iss in the authorization response (RFC 9207)', async () => {
    const { client, callback } = await freshCallback();
    callback.searchParams.set('iss', 'https://evil.example');
    await assertRefused(client, callback.href, 'wrong iss', ['invalid_callback']);
  });

  test('forged code', async () => {
    const { client, callback } = await freshCallback();
    callback.searchParams.set('code', 'forged-code');
    await assertRefused(client, callback.href, 'forged code', ['login_expired']);
  });

  test('error=access_denied with a hostile description is shown escaped', async () => {
    const client = new HttpClient();
    const { location } = await start(client, stack.origin, { email: 'alice@acme.test' });
    const cb = new URL(`${stack.origin}/sso/callback`);
    cb.searchParams.set('error', 'access_denied');
    cb.searchParams.set('error_description', '<script>alert(1)</script>');
    cb.searchParams.set('state', location.searchParams.get('state'));
    cb.searchParams.set('iss', stack.idp.issuer);
    const res = await client.fetch(cb.href);
    const html = await res.text();
    assert.ok(res.status >= 400 && res.status < 500, `${res.status}`);
    assert.match(res.headers.get('content-type') ?? '', /text\/html/);
    assert.ok(!html.includes('<script>alert(1)</script>'), 'description must be escaped');
    assert.ok(html.includes('&lt;script&gt;alert(1)&lt;/script&gt;'), `escaped description shown: ${html.slice(0, 1500)}`);
    assert.ok(!setCookie(res, 'sso_session')?.value);
  });
});

// Last: after the rotation every new ID token carries the new kid.
describe('key rotation at the IdP', () => {
  test('a login after rotateKeys() succeeds (the worker refetches the JWKS)', async () => {
    // Warm the worker's JWKS cache with the current key first.
    const warm = await login(new HttpClient(), stack.origin);
    assert.equal(warm.response.status, 302);
    const jwksPath = new URL(discovery.jwks_uri).pathname;
    const fetchesBefore = stack.idp.requests.filter((r) => r.path === jwksPath).length;

    await stack.idp.rotateKeys();
    const client = new HttpClient();
    const { response, text } = await login(client, stack.origin);
    assert.equal(response.status, 302, text.slice(0, 1000));
    assert.equal((await me(client, stack.origin)).body.orgs.acme.role, 'admin');
    const fetchesAfter = stack.idp.requests.filter((r) => r.path === jwksPath).length;
    assert.ok(fetchesAfter > fetchesBefore, 'the JWKS was fetched again for the new kid');
  });
});
