// GET /sso/start: the authorization request the worker builds, the transaction cookie, and the
// refusals (unknown domain without naming any org, malformed emails).
import { strict as assert } from 'node:assert';
import { createHash } from 'node:crypto';
import { after, before, describe, test } from 'node:test';

import { HttpClient, acmeConfig, startStack } from './fixtures.mjs';
import { parseSetCookie } from './http.mjs';

let stack;
let discovery;
before(async () => {
  stack = await startStack();
  await stack.admin.mustPut('acme', acmeConfig(stack.idp));
  discovery = await (await fetch(`${stack.idp.issuer}/.well-known/openid-configuration`)).json();
});
after(() => stack?.stop());

const B64URL = /^[A-Za-z0-9_-]+$/;

async function startWith(query, headers = {}) {
  const client = new HttpClient();
  const response = await client.fetch(`${stack.origin}/sso/start?${query}`, { headers });
  const text = await response.text();
  return { client, response, text };
}

function assertAuthorizationRedirect({ response, text }) {
  assert.equal(response.status, 302, text.slice(0, 500));
  const location = new URL(response.headers.get('location'));
  assert.equal(`${location.origin}${location.pathname}`, discovery.authorization_endpoint);
  const p = location.searchParams;
  assert.equal(p.get('response_type'), 'code');
  assert.equal(p.get('client_id'), stack.idp.clientId);
  assert.equal(p.get('redirect_uri'), `${stack.origin}/sso/callback`);
  assert.ok(p.get('scope').split(' ').includes('openid'), p.get('scope'));
  for (const name of ['state', 'nonce', 'code_challenge']) {
    const v = p.get(name);
    assert.ok(v && B64URL.test(v) && v.length >= 22, `${name}=${v}`);
  }
  assert.equal(p.get('code_challenge').length, 43, 'S256 challenge is 32 bytes base64url');
  assert.equal(p.get('code_challenge_method'), 'S256');
  assert.equal(p.get('client_secret'), null, 'the secret never travels through the browser');

  // One cookie per transaction, named after a hash of its state.
  const hash = createHash('sha256').update(p.get('state')).digest('hex').slice(0, 8);
  const tx = response.headers.getSetCookie().map(parseSetCookie).find((c) => c.name === `sso_tx_${hash}`);
  assert.ok(tx, `sso_tx_${hash} cookie expected: ${response.headers.getSetCookie()}`);
  assert.equal(tx.attributes['max-age'], '600');
  assert.ok(tx.value.length > 0);
  assert.equal(tx.attributes.httponly, true);
  assert.equal(String(tx.attributes.samesite).toLowerCase(), 'lax');
  assert.equal(tx.attributes.path, '/');
  assert.equal(tx.attributes.domain, undefined, 'host-only cookie');
  assert.match(response.headers.get('cache-control') ?? '', /no-store/);
  return { location, tx };
}

describe('a known domain starts an authorization request', () => {
  test('email with an upper-case domain', async () => {
    assertAuthorizationRedirect(await startWith('email=someone%40ACME.test'));
  });

  test('?org=acme', async () => {
    assertAuthorizationRedirect(await startWith('org=acme'));
  });

  test('each start has its own state, nonce, challenge and transaction cookie', async () => {
    const a = assertAuthorizationRedirect(await startWith('email=someone%40acme.test'));
    const b = assertAuthorizationRedirect(await startWith('email=someone%40acme.test'));
    for (const name of ['state', 'nonce', 'code_challenge']) {
      assert.notEqual(a.location.searchParams.get(name), b.location.searchParams.get(name), name);
    }
    assert.notEqual(a.tx.value, b.tx.value);
  });

  test('the state does not carry the email or the return_to in clear', async () => {
    const { location } = assertAuthorizationRedirect(await startWith('email=someone%40acme.test&return_to=%2Fsecret-path'));
    const state = location.searchParams.get('state');
    assert.ok(!state.includes('someone') && !state.includes('secret-path'));
  });
});

describe('starts that must not start anything', () => {
  test('HEAD (a link prefetcher) answers without a cookie or a redirect', async () => {
    const res = await fetch(`${stack.origin}/sso/start?email=someone%40acme.test`, { method: 'HEAD', redirect: 'manual' });
    assert.equal(res.status, 200);
    assert.deepEqual(res.headers.getSetCookie(), []);
    assert.equal(res.headers.get('location'), null);
  });

  test('a start from another site shows a confirmation naming the org', async () => {
    const { response, text } = await startWith('email=someone%40acme.test&return_to=%2Fdocs', { 'sec-fetch-site': 'cross-site' });
    assert.equal(response.status, 200, text.slice(0, 500));
    assert.deepEqual(response.headers.getSetCookie(), [], 'no transaction yet');
    assert.match(text, /Sign in to acme\?/);
    assert.match(text, /<form action="\/sso\/start" method="get">/);
    assert.match(text, /name="email" value="someone@acme.test"/);
    assert.match(text, /name="return_to" value="\/docs"/);
    // The button's request comes from our own page.
    assertAuthorizationRedirect(await startWith('email=someone%40acme.test&return_to=%2Fdocs', { 'sec-fetch-site': 'same-origin' }));
  });
});

describe('unknown domains and orgs', () => {
  test('HTML 404 that names no org', async () => {
    const { response, text } = await startWith('email=someone%40unknown.test');
    assert.equal(response.status, 404);
    assert.match(response.headers.get('content-type') ?? '', /text\/html/);
    assert.ok(!/acme/i.test(text), 'the page must not reveal which orgs exist');
    assert.ok(!response.headers.getSetCookie().some((c) => c.startsWith('sso_tx')), 'no transaction for an unknown domain');
  });

  test('JSON 404 unknown_domain', async () => {
    const { response, text } = await startWith('email=someone%40unknown.test', { accept: 'application/json' });
    assert.equal(response.status, 404, text);
    const body = JSON.parse(text);
    assert.equal(body.error, 'unknown_domain');
    assert.equal(typeof body.message, 'string');
    assert.ok(!/acme/i.test(text));
  });

  test('a subdomain of a known domain is not that domain', async () => {
    const { response } = await startWith('email=someone%40eu.acme.test', { accept: 'application/json' });
    assert.equal(response.status, 404);
  });

  test('unknown org slug is a 404', async () => {
    const { response, text } = await startWith('org=nope', { accept: 'application/json' });
    assert.equal(response.status, 404, text);
    assert.ok(!/acme/i.test(text));
  });
});

describe('malformed emails are 400', () => {
  const bad = {
    'two @': 'a@b@acme.test',
    'fullwidth @': 'alice\uFF20acme.test',
    'inner whitespace': 'ali ce@acme.test',
    'newline': 'alice@acme.test\nx',
    'no @': 'alice.acme.test',
    'empty local part': '@acme.test',
    'empty domain': 'alice@',
    'empty': '',
    'overlong': `${'a'.repeat(300)}@acme.test`,
  };
  for (const [name, email] of Object.entries(bad)) {
    test(name, async () => {
      const q = new URLSearchParams({ email }).toString();
      const { response, text } = await startWith(q, { accept: 'application/json' });
      assert.equal(response.status, 400, `${JSON.stringify(email)} -> ${response.status} ${text}`);
      assert.equal(typeof JSON.parse(text).error, 'string');
    });
  }

  test('missing email and org', async () => {
    const { response } = await startWith('', { accept: 'application/json' });
    assert.equal(response.status, 400);
  });

  test('HTML error for a browser escapes the input', async () => {
    const { response, text } = await startWith(new URLSearchParams({ email: '<b>x</b>@acme@test' }).toString());
    assert.equal(response.status, 400);
    assert.match(response.headers.get('content-type') ?? '', /text\/html/);
    assert.ok(!text.includes('<b>x</b>'), 'user input must be HTML-escaped');
    assert.match(text, /role="alert"/);
  });
});

describe('security headers on pages', () => {
  test('GET / carries a CSP, nosniff and no framing', async () => {
    const res = await fetch(`${stack.origin}/`);
    const text = await res.text();
    assert.equal(res.status, 200);
    assert.match(text, /<form action="\/sso\/start" method="get">/);
    assert.ok(!text.includes('<!--ERROR-->') && !text.includes('<!--RETURN_TO-->'), 'placeholders are filled');
    const csp = res.headers.get('content-security-policy') ?? '';
    assert.match(csp, /default-src 'none'/);
    assert.match(csp, /frame-ancestors 'none'/);
    assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
  });

  test('static assets are served', async () => {
    for (const [path, type] of [['/www/style.css', /text\/css/], ['/www/admin.js', /javascript/], ['/admin', /text\/html/]]) {
      const res = await fetch(`${stack.origin}${path}`);
      await res.arrayBuffer();
      assert.equal(res.status, 200, path);
      assert.match(res.headers.get('content-type') ?? '', type, path);
    }
  });
});
