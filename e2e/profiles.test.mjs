// IdP profiles end to end (issue 10): the built worker in workerd signs members in through the
// tests' mini OP (e2e/mini-op.mjs) impersonating a multi-tenant Entra ID authority (templated
// issuer, tenant allow-list, MSA tenant, tid/iss agreement, xms_edov, groups overage through a
// Graph stand-in), a Google-like shared issuer (hd) and an Okta-like authorization server whose
// ID token lacks email and groups (userinfo fallback, userinfo sub checked). Then the operator
// tests the Entra org's connection and runs test sign-ins from the console in headless Chromium:
// the refusals name the fix.
import { strict as assert } from 'node:assert';
import { after, before, describe, test } from 'node:test';

import { launchChromium, newLoopbackPage } from './chromium.mjs';
import { AdminClient, HttpClient, me, start } from './fixtures.mjs';
import { MSA_TENANT, OTHER_TENANT, TENANT, startMiniOp } from './mini-op.mjs';
import { freePort } from './ports.mjs';
import { startWorker } from './worker.mjs';

const OID = '00000000-0000-0000-66f3-3332eca7ea81';
const ADMINS_GROUP = '0b0e0e0e-0000-4000-8000-00000000adad';

let origin;
let worker;
let admin;
const ops = {};
before(async () => {
  const port = await freePort();
  origin = `http://127.0.0.1:${port}`;
  const redirectUris = [`${origin}/sso/callback`];
  ops.entra = await startMiniOp({ persona: 'entra', authority: 'organizations', redirectUris });
  ops.google = await startMiniOp({ persona: 'google', redirectUris });
  ops.okta = await startMiniOp({ persona: 'okta', redirectUris });
  worker = await startWorker({ port });
  admin = new AdminClient(origin, worker.adminToken);
  const client = (op) => ({ issuer: op.issuer, client_id: op.clientId, client_secret: op.clientSecret, default_role: 'read' });
  await admin.mustPut('contoso', {
    ...client(ops.entra),
    idp: 'entra',
    domains: ['contoso.test'],
    tenants: [TENANT],
    role_mapping: [{ claim: 'groups', value: ADMINS_GROUP, role: 'admin' }],
  });
  await admin.mustPut('gdom', { ...client(ops.google), idp: 'google', domains: ['gdom.test'] });
  await admin.mustPut('oktaco', {
    ...client(ops.okta),
    idp: 'okta',
    domains: ['oktaco.test'],
    role_mapping: [{ claim: 'groups', value: 'hub-admins', role: 'admin' }],
  });
});
after(async () => {
  await worker?.stop();
  for (const op of Object.values(ops)) await op.stop();
});

/**
 * A whole sign-in as `email` through the worker: /sso/start, the mini OP's authorization
 * endpoint (consent is automatic), the worker's callback. Returns the callback's answer.
 */
async function signIn(email, client = new HttpClient()) {
  const { location } = await start(client, origin, { email });
  const authz = await client.fetch(location.href);
  await authz.arrayBuffer();
  assert.equal(authz.status, 302, `the OP answered ${authz.status}`);
  const callback = new URL(authz.headers.get('location'));
  assert.equal(`${callback.origin}${callback.pathname}`, `${origin}/sso/callback`);
  const response = await client.fetch(callback.href);
  return { client, response, text: await response.text() };
}

/** The org `slug` of a signed-in client's /sso/me. */
async function signedIn(result, slug) {
  assert.equal(result.response.status, 302, result.text.slice(0, 2000));
  const m = await me(result.client, origin);
  assert.equal(m.status, 200);
  return m.body.orgs[slug];
}

/** The sign-in was refused with `status`, no session, and the answer says `why`. */
async function refused(result, status, why) {
  assert.equal(result.response.status, status, result.text.slice(0, 2000));
  assert.equal((await me(result.client, origin)).status === 200, false, 'no session');
  const text = result.text.replace(/&quot;|&#34;|&#x22;/g, '"').replace(/&#39;|&#x27;/g, "'");
  assert.match(text, why);
}

describe('Entra ID multi-tenant authority', () => {
  test('a member of an allowed tenant is signed in as tid:oid', async () => {
    ops.entra.setLogin({});
    const org = await signedIn(await signIn('ada@contoso.test'), 'contoso');
    assert.equal(org.sub, `${TENANT}:${OID}`);
    assert.equal(org.email, 'ada@contoso.test');
    assert.equal(org.role, 'read');
  });

  test('a tenant not in "tenants" is refused, naming the fix', async () => {
    ops.entra.setLogin({ tenant: OTHER_TENANT });
    await refused(await signIn('ada@contoso.test'), 403, new RegExp(`tenant ${OTHER_TENANT} is not allowed for this org \\(add it to "tenants"\\)`));
  });

  test('the personal-account (MSA) tenant is refused', async () => {
    ops.entra.setLogin({ tenant: MSA_TENANT });
    await refused(await signIn('ada@contoso.test'), 403, /personal Microsoft account/);
  });

  test('a tid that is not the tenant in iss is refused', async () => {
    ops.entra.setLogin({ tenant: TENANT, claims: { iss: `${ops.entra.url}/${OTHER_TENANT}/v2.0` } });
    await refused(await signIn('ada@contoso.test'), 400, /ID token failed verification/);
    // The literal template is no issuer either.
    ops.entra.setLogin({ claims: { iss: `${ops.entra.url}/{tenantid}/v2.0` } });
    await refused(await signIn('ada@contoso.test'), 400, /ID token failed verification/);
  });

  test('without xms_edov the email is not trusted, and the answer names the optional claim', async () => {
    ops.entra.setLogin({ claims: { xms_edov: null } });
    await refused(await signIn('ada@contoso.test'), 403, /add the optional claims email and xms_edov/);
  });

  test('a groups overage is resolved through Graph (paged), never the _claim_sources URL', async () => {
    const graph = '/v1.0/me/transitiveMemberOf';
    for (const overage of [true, 'hasgroups']) {
      const before = ops.entra.hits(graph);
      // Five groups, two a page: three pages, the admins group on the last.
      ops.entra.setLogin({ overage, groups: ['g-1', 'g-2', 'g-3', 'g-4', ADMINS_GROUP] });
      const org = await signedIn(await signIn('ada@contoso.test'), 'contoso');
      assert.equal(org.role, 'admin', `overage ${overage}`);
      assert.equal(ops.entra.hits(graph) - before, 3, 'every page read');
    }
    assert.equal(ops.entra.hits('/claim-source'), 0);
    const asked = ops.entra.requests.filter((r) => r.path.startsWith('/v1.0/'));
    assert.ok(asked.every((r) => /^Bearer [A-Za-z0-9_-]+$/.test(r.authorization ?? '')), 'asked with the access token');
  });
});

describe('Google-like shared issuer', () => {
  test('hd absent or foreign is refused; the org\'s hd is admitted by sub', async () => {
    ops.google.setLogin({ claims: { hd: null } });
    await refused(await signIn('ada@gdom.test'), 403, /no hd claim/);
    ops.google.setLogin({ hd: 'evil.test' });
    await refused(await signIn('ada@gdom.test'), 403, /domain evil\.test is not one of the org's hosted domains/);
    ops.google.setLogin({});
    const org = await signedIn(await signIn('ada@gdom.test'), 'gdom');
    assert.equal(org.sub, '110169484474386276334');
    assert.equal(org.email, 'ada@gdom.test');
  });
});

describe('Okta-like authorization server', () => {
  test('userinfo fills in the email and groups the ID token lacks', async () => {
    const before = ops.okta.hits('/oauth2/default/userinfo');
    ops.okta.setLogin({ groups: ['hub-admins'] });
    const org = await signedIn(await signIn('ada@oktaco.test'), 'oktaco');
    assert.equal(org.email, 'ada@oktaco.test');
    assert.equal(org.role, 'admin');
    assert.equal(ops.okta.hits('/oauth2/default/userinfo') - before, 1);
  });

  test('a userinfo answer for another sub is refused', async () => {
    ops.okta.setLogin({ groups: ['hub-admins'], userinfo: { sub: '00u-someone-else' } });
    await refused(await signIn('ada@oktaco.test'), 400, /userinfo answer is for another user/);
  });
});

describe('console: test connection and test sign-in against the Entra-like OP', () => {
  let browser;
  before(async () => {
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
  });

  /** Clicks Test sign-in and returns the result tab's text (the mini OP consents at once). */
  async function testSignIn(page) {
    const [tab] = await Promise.all([
      page.context().waitForEvent('page'),
      page.locator('#panel-sso').getByRole('button', { name: 'Test sign-in', exact: true }).click(),
    ]);
    tab.setDefaultTimeout(10_000);
    await tab.getByRole('heading', { name: /^Test sign-in/ }).waitFor();
    const text = await tab.locator('main').innerText();
    await tab.close();
    return text;
  }

  test('the checks pass, and the test sign-ins show which check refused and how to fix it', async () => {
    const { context, page, problems } = await newLoopbackPage(browser, origin);
    try {
      await page.goto(`${origin}/admin`);
      await page.getByLabel('Admin token').fill(worker.adminToken);
      await page.getByRole('button', { name: 'Use token' }).click();
      await page.getByRole('button', { name: 'Manage contoso' }).click();
      await page.getByRole('heading', { name: 'Organisation contoso' }).waitFor();

      await page.getByRole('button', { name: 'Test connection' }).click();
      await page.locator('#panel-sso .check-list li').first().waitFor();
      const checks = await page.locator('#panel-sso .checks').innerText();
      assert.match(checks, /Passed: discovery/);
      assert.match(checks, /Passed: entra_tenants.*\{tenantid\}/);
      assert.ok(checks.includes(`${ops.entra.url}/{tenantid}/v2.0`), checks);

      ops.entra.setLogin({ claims: { xms_edov: null } });
      let report = await testSignIn(page);
      assert.match(report, /would be refused/);
      assert.match(report, /xms_edov/);
      assert.match(report, /Token configuration/);
      assert.match(report, /Nothing was recorded/);
      assert.doesNotMatch(report, /eyJ/, 'no token on the page');

      ops.entra.setLogin({ tenant: OTHER_TENANT });
      report = await testSignIn(page);
      assert.match(report, /would be refused/);
      assert.match(report, new RegExp(`tenant ${OTHER_TENANT} is not allowed for this org \\(add it to "tenants"\\)`));

      ops.entra.setLogin({ overage: true, groups: ['g-1', ADMINS_GROUP] });
      report = await testSignIn(page);
      assert.match(report, /would be admitted/);
      assert.match(report, new RegExp(`${TENANT}:${OID}`));
      assert.match(report, /"role": "admin"/);
      assert.deepEqual(problems, []);
    } finally {
      await context.close();
    }
  });
});
