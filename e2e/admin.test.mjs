// Admin API: authentication, create/update/read/list/delete, and every rejected input leaves the
// stored configuration untouched.
import { strict as assert } from 'node:assert';
import { after, before, describe, test } from 'node:test';

import { HttpClient, acmeConfig, startStack } from './fixtures.mjs';

let stack;
before(async () => {
  stack = await startStack();
});
after(() => stack?.stop());

const orgSlugs = (body) => (body?.orgs ?? []).map((o) => (typeof o === 'string' ? o : o.slug));

function assertJsonError(r, { status, field } = {}) {
  assert.ok(r.status >= 400 && r.status < 500, `expected 4xx, got ${r.status}: ${r.text}`);
  if (status !== undefined) assert.equal(r.status, status, r.text);
  assert.match(r.headers.get('content-type') ?? '', /application\/json/);
  assert.ok(r.body && typeof r.body.error === 'string', `JSON error body expected: ${r.text}`);
  if (field !== undefined) {
    assert.ok(
      typeof r.body.field === 'string' && (r.body.field === field || r.body.field.startsWith(`${field}[`) || r.body.field.startsWith(`${field}.`)),
      `field ${JSON.stringify(r.body.field)} should name ${field}: ${r.text}`,
    );
  }
}

function assertNoSecret(r, secret) {
  assert.ok(!r.text.includes(secret), 'the client secret must never be returned');
  assert.ok(!/"client_secret"\s*:/.test(r.text), `client_secret key returned: ${r.text}`);
}

describe('authentication', () => {
  test('401 without a token', async () => {
    const r = await stack.admin.list({ token: null });
    assertJsonError(r, { status: 401 });
  });
  test('401 with a wrong token', async () => {
    for (const token of ['wrong', `${stack.worker.adminToken}x`, stack.worker.adminToken.slice(0, -1)]) {
      assertJsonError(await stack.admin.list({ token }), { status: 401 });
      assertJsonError(await stack.admin.put('acme', acmeConfig(stack.idp), { token }), { status: 401 });
    }
    const r = await stack.admin.get('acme');
    assert.equal(r.status, 404, 'nothing was created by unauthenticated PUTs');
  });
  test('401 with a non-bearer scheme', async () => {
    const r = await stack.admin.request('GET', '/admin/orgs', {
      token: null,
      headers: { authorization: `Basic ${Buffer.from(`admin:${stack.worker.adminToken}`).toString('base64')}` },
    });
    assertJsonError(r, { status: 401 });
  });
});

describe('create, update, read, list', () => {
  test('PUT creates (201), PUT again updates (200); the secret is never returned', async () => {
    const cfg = acmeConfig(stack.idp);
    const created = await stack.admin.put('acme', cfg);
    assert.equal(created.status, 201, created.text);
    assertNoSecret(created, cfg.client_secret);
    assert.equal(created.body.client_secret_set, true);

    const updated = await stack.admin.put('acme', { ...cfg, domains: ['acme.test', 'acme-corp.test'] });
    assert.equal(updated.status, 200, updated.text);
    assertNoSecret(updated, cfg.client_secret);

    const got = await stack.admin.get('acme');
    assert.equal(got.status, 200, got.text);
    assertNoSecret(got, cfg.client_secret);
    assert.equal(got.body.client_secret_set, true);
    assert.deepEqual(got.body.domains, ['acme.test', 'acme-corp.test']);
    assert.equal(got.body.issuer, stack.idp.issuer);
    assert.equal(got.body.client_id, stack.idp.clientId);
    assert.equal(got.body.default_role, 'read');
    assert.deepEqual(got.body.role_mapping, cfg.role_mapping);
  });

  test('GET /admin/orgs lists the org', async () => {
    const r = await stack.admin.list();
    assert.equal(r.status, 200, r.text);
    assert.ok(Array.isArray(r.body.orgs));
    assert.ok(orgSlugs(r.body).includes('acme'), r.text);
    assertNoSecret(r, stack.idp.clientSecret);
  });

  test('GET of an unknown org is a 404 JSON error', async () => {
    assertJsonError(await stack.admin.get('nope'), { status: 404 });
  });
});

describe('invalid input is refused and changes nothing', () => {
  const big = 'x'.repeat(300_000);
  /** [name, slug, body (object or raw string), expected field (or undefined)] */
  const cases = () => {
    const ok = acmeConfig(stack.idp);
    return [
      ['bad slug (space and !)', 'bad%20slug!', ok, 'slug'],
      ['bad slug (upper case)', 'ACME', ok, 'slug'],
      ['bad slug (too long)', 'a'.repeat(300), ok, 'slug'],
      ['bad slug (leading hyphen)', '-acme', ok, 'slug'],
      ['bad slug (percent-encoded slash)', 'a%2Fb', ok, 'slug'],
      ['bad JSON', 'acme', { raw: '{"domains": ["acme.test"],' }, undefined],
      ['JSON that is not an object', 'acme', { raw: '["acme.test"]' }, undefined],
      ['unknown field', 'acme', { ...ok, colour: 'blue' }, 'colour'],
      ['domain with a trailing dot', 'acme', { ...ok, domains: ['acme.test.'] }, 'domains'],
      ['wildcard domain', 'acme', { ...ok, domains: ['*.acme.test'] }, 'domains'],
      ['empty domain list', 'acme', { ...ok, domains: [] }, 'domains'],
      ['non-https issuer', 'acme', { ...ok, issuer: 'http://example.com' }, 'issuer'],
      ['issuer with a query', 'acme', { ...ok, issuer: 'https://idp.example.com/?tenant=1' }, 'issuer'],
      ['issuer with a fragment', 'acme', { ...ok, issuer: 'https://idp.example.com/#x' }, 'issuer'],
      ['bad role in role_mapping', 'acme', { ...ok, role_mapping: [{ claim: 'groups', value: 'x', role: 'superuser' }] }, 'role_mapping'],
      ['bad default_role', 'acme', { ...ok, default_role: 'owner' }, 'default_role'],
      ['scopes without openid', 'acme', { ...ok, scopes: ['email', 'profile'] }, 'scopes'],
      ['missing client_id', 'acme', (({ client_id, ...rest }) => rest)(ok), 'client_id'],
      ['oversized body', 'acme', { ...ok, client_id: big }, undefined],
    ];
  };

  test('each invalid PUT is a 4xx JSON error naming the field; GET shows the previous config', async (t) => {
    const before = await stack.admin.get('acme');
    assert.equal(before.status, 200, 'the create test must have run first');
    const listBefore = await stack.admin.list();
    for (const [name, slug, body, field] of cases()) {
      const r = body.raw !== undefined
        ? await stack.admin.put(slug, body.raw, { raw: true })
        : await stack.admin.put(slug, body);
      await t.test(name, () => {
        assertJsonError(r, { field });
        if (name === 'oversized body') assert.ok([400, 413].includes(r.status), `oversized: ${r.status}`);
      });
      const after = await stack.admin.get('acme');
      assert.deepEqual(after.body, before.body, `${name}: the stored config changed`);
    }
    const listAfter = await stack.admin.list();
    assert.deepEqual(orgSlugs(listAfter.body).sort(), orgSlugs(listBefore.body).sort(), 'no org was created');
  });

  test('409 when a domain belongs to another org', async () => {
    const before = await stack.admin.get('acme');
    const r = await stack.admin.put('other', acmeConfig(stack.idp, { domains: ['other.test', 'ACME.test'] }));
    assertJsonError(r, { status: 409, field: 'domains' });
    assert.equal((await stack.admin.get('other')).status, 404);
    assert.deepEqual((await stack.admin.get('acme')).body, before.body);
    // ... and other.test was not claimed either: a second org can still take it.
    const ok = await stack.admin.put('other', acmeConfig(stack.idp, { domains: ['other.test'] }));
    assert.equal(ok.status, 201, ok.text);
    assert.equal((await stack.admin.delete('other')).status, 204);
  });
});

describe('delete', () => {
  test('DELETE 204, then the org and its domain are gone', async () => {
    const client = new HttpClient();
    const start = await client.fetch(`${stack.origin}/sso/start?email=someone@acme.test`);
    assert.equal(start.status, 302, 'the domain resolves before the delete');

    const r = await stack.admin.delete('acme');
    assert.equal(r.status, 204, r.text);
    assert.equal(r.text, '');
    assert.equal((await stack.admin.get('acme')).status, 404);
    assert.ok(!orgSlugs((await stack.admin.list()).body).includes('acme'));

    const gone = await client.fetch(`${stack.origin}/sso/start?email=someone@acme.test`, {
      headers: { accept: 'application/json' },
    });
    assert.equal(gone.status, 404);
    assert.equal((await gone.json()).error, 'unknown_domain');

    assertJsonError(await stack.admin.delete('acme'), { status: 404 });
  });

  test('the domain is free again after the delete', async () => {
    const r = await stack.admin.put('acme2', acmeConfig(stack.idp));
    assert.equal(r.status, 201, r.text);
  });
});
