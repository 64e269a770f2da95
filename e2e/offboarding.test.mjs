// Offboarding end to end (issue 9): the built worker in workerd, its OrgLedger Durable Object
// (SQLite storage, as wrangler dev runs it), npm oidc-provider and a loopback origin behind the
// gate. Every channel that ends a member's access is driven as the IdP or the admin drives it,
// and each test asserts that the session is refused at the gate within the revocation bound
// (REVOCATION_BOUND_MS = 10 s), counted from the answer to the revoking request:
//   - admin revoke: POST /admin/orgs/acme/revoke by email and for the whole org; the member list;
//   - OpenID Connect Back-Channel Logout 1.0: the user signs out AT THE IdP (its own logout page,
//     never the worker's /sso/logout), so the worker can only learn of it from oidc-provider's
//     logout-token POST; a forged token is refused; a sub-only token and its replay;
//   - SCIM 2.0: Okta's and Microsoft Entra's documented request sequences.
// One stack (IdP + worker + origin) per describe block; users are claimsFor() logins (idp.mjs).
import { strict as assert } from 'node:assert';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';

import { SignJWT, importJWK } from 'jose';

import {
  ACCESS_RULES_FIELD,
  AdminClient,
  HttpClient,
  acmeConfig,
  login,
  me,
  refusedWithinBound,
  startStack,
} from './fixtures.mjs';
import { parseForms, rawRequest } from './http.mjs';
import { generateSigningKey, startIdp } from './idp.mjs';
import { startOrigin } from './origin.mjs';
import { freePort } from './ports.mjs';
import { startWorker } from './worker.mjs';

const NAVIGATE = { 'sec-fetch-mode': 'navigate', 'sec-fetch-dest': 'document', accept: 'text/html,application/xhtml+xml' };
const API = { 'sec-fetch-mode': 'cors', 'sec-fetch-dest': 'empty', accept: 'application/json' };

const SCIM_USER = 'urn:ietf:params:scim:schemas:core:2.0:User';
const SCIM_GROUP = 'urn:ietf:params:scim:schemas:core:2.0:Group';
const SCIM_PATCH = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
const SCIM_ERROR = 'urn:ietf:params:scim:api:messages:2.0:Error';
const SCIM_LIST = 'urn:ietf:params:scim:api:messages:2.0:ListResponse';

/** acme, enforced at the gate; SCIM group "Engineering" grants write. */
const offboardingConfig = (idp) =>
  acmeConfig(idp, {
    enforced: true,
    role_mapping: [
      { claim: 'groups', value: 'hub-admins', role: 'admin' },
      { scim_group: 'Engineering', role: 'write' },
    ],
    default_role: 'read',
    [ACCESS_RULES_FIELD]: [],
  });

/** A path no other request used. */
const unique = () => `/orgs/acme/models/x?n=${randomBytes(6).toString('hex')}`;

/**
 * One gated request as `client`: an API call (fetch) or a navigation (node:http, since undici
 * always sends Sec-Fetch-Mode: cors). Resolves to { status, json, location, text }.
 */
async function gate(stack, client, { navigate = false, path = unique() } = {}) {
  if (navigate) {
    const cookie = client.jar.headerFor(`${stack.origin}${path}`);
    const r = await rawRequest(stack.origin, path, { headers: cookie ? { ...NAVIGATE, cookie } : NAVIGATE });
    return { status: r.status, json: r.body, location: r.headers.location ?? null, text: r.text };
  }
  const response = await client.fetch(`${stack.origin}${path}`, { headers: API });
  const text = await response.text();
  let json = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    json = null;
  }
  return { status: response.status, json, location: response.headers.get('location'), text };
}

/** The gate forwards `client` to the origin (a live acme session). */
async function assertForwarded(stack, client, what) {
  const r = await gate(stack, client);
  assert.equal(r.status, 200, `${what}: the gate should forward: ${r.text.slice(0, 300)}`);
}

/** The gate refuses `client` as signed out of acme: 401 sso_required to an API call. */
async function refusedAtGate(stack, client) {
  const r = await gate(stack, client);
  return r.status === 401 && r.json?.error === 'sso_required';
}

/** /sso/me does not list acme for `client`. */
async function meWithoutAcme(stack, client) {
  const m = await me(client, stack.origin);
  return !(m.body?.orgs && Object.hasOwn(m.body.orgs, 'acme'));
}

/** Sign `name` in through the IdP with a fresh cookie jar; the client (asserts the 302). */
async function signIn(stack, name) {
  const client = new HttpClient();
  const { response, text } = await login(client, stack.origin, { email: `${name}@acme.test`, login: name });
  assert.equal(response.status, 302, `sign-in as ${name}: ${text.slice(0, 500)}`);
  return client;
}

/** A sign-in attempt of `name` that the worker answers at its callback; that response. */
async function trySignIn(stack, name) {
  const client = new HttpClient();
  const { response, text } = await login(client, stack.origin, { email: `${name}@acme.test`, login: name });
  return { status: response.status, text, client };
}

/** Assert that `name`'s refused session is refused everywhere the issue names, in time. */
async function assertRevoked(stack, client, answeredAt, what) {
  await refusedWithinBound(answeredAt, () => refusedAtGate(stack, client), { what: `${what}: gate 401` });
  const nav = await gate(stack, client, { navigate: true, path: '/orgs/acme/models/x' });
  assert.equal(nav.status, 302, `${what}: a navigation is sent to sign in: ${nav.text.slice(0, 300)}`);
  assert.equal(nav.location, '/sso/start?org=acme&return_to=%2Forgs%2Facme%2Fmodels%2Fx', what);
  assert.ok(await meWithoutAcme(stack, client), `${what}: /sso/me no longer lists acme`);
}

describe('admin revoke', () => {
  let stack;
  before(async () => {
    stack = await startStack({ upstream: true });
    await stack.admin.mustPut('acme', offboardingConfig(stack.idp));
  });
  after(() => stack?.stop());

  test('the member list shows a signed-in member with source, role, last_login and sessions', async () => {
    const before = Math.floor(Date.now() / 1000);
    await signIn(stack, 'alice');
    const r = await stack.admin.request('GET', '/admin/orgs/acme/members');
    assert.equal(r.status, 200, r.text);
    assert.ok(Array.isArray(r.body.members), r.text);
    assert.ok('next_cursor' in r.body, r.text);
    const alice = r.body.members.find((m) => m.email === 'alice@acme.test');
    assert.ok(alice, `alice is listed: ${r.text}`);
    assert.equal(alice.sub, 'alice');
    assert.equal(alice.source, 'sso');
    assert.equal(alice.role, 'admin', 'hub-admins -> admin');
    assert.equal(alice.active, true);
    assert.ok(Number.isInteger(alice.last_login) && alice.last_login >= before - 1, `last_login ${alice.last_login}`);
    assert.equal(alice.sessions, 1);
    assert.equal(typeof alice.id, 'string');
    const bad = await stack.admin.request('GET', '/admin/orgs/acme/members?limit=0');
    assert.equal(bad.status, 400, bad.text);
    assert.equal(bad.body?.field, 'limit');
  });

  test('revoking by email refuses the member at the gate and /sso/me within the bound', async () => {
    const alice = await signIn(stack, 'alice');
    await assertForwarded(stack, alice, 'alice before the revoke');
    assert.ok(!(await meWithoutAcme(stack, alice)), '/sso/me lists acme before the revoke');
    const r = await stack.admin.request('POST', '/admin/orgs/acme/revoke', { body: { email: 'alice@acme.test' } });
    const answeredAt = Date.now();
    assert.equal(r.status, 200, r.text);
    assert.ok(Number.isInteger(r.body?.revoked) && r.body.revoked >= 1, r.text);
    await assertRevoked(stack, alice, answeredAt, 'revoke by email');
    const list = await stack.admin.request('GET', '/admin/orgs/acme/members');
    const row = list.body.members.find((m) => m.email === 'alice@acme.test');
    assert.equal(row.sessions, 0, 'no live sessions left');
    // Revoking is not deprovisioning: signing in again gives a live session.
    const again = await signIn(stack, 'alice');
    await assertForwarded(stack, again, 'alice signed in again');
  });

  test('past the snapshot window an unchanged revocation state is confirmed, not lost: access stays, a later revoke still lands in time', async () => {
    // The isolate's copy of the org's revocation snapshot lives 4 s; after that its refresh
    // sends the copy's version and the Durable Object confirms it (nothing changed: sign-ins do
    // not change it). A broken confirmation would answer 503 here, or keep a stale copy below.
    const carol = await signIn(stack, 'carol');
    await assertForwarded(stack, carol, 'carol at first');
    await new Promise((resolve) => setTimeout(resolve, 4500));
    await assertForwarded(stack, carol, 'carol after a refresh of the unchanged snapshot');
    await signIn(stack, 'dave');
    await new Promise((resolve) => setTimeout(resolve, 4500));
    await assertForwarded(stack, carol, 'carol after another refresh');
    const r = await stack.admin.request('POST', '/admin/orgs/acme/revoke', { body: { sub: 'carol' } });
    const answeredAt = Date.now();
    assert.equal(r.status, 200, r.text);
    await assertRevoked(stack, carol, answeredAt, 'revoke by sub after confirmed refreshes');
  });

  test('revoking {"all": true} refuses every member of the org within the bound', async () => {
    const bob = await signIn(stack, 'bob');
    const carol = await signIn(stack, 'carol');
    await assertForwarded(stack, bob, 'bob');
    await assertForwarded(stack, carol, 'carol');
    const r = await stack.admin.request('POST', '/admin/orgs/acme/revoke', { body: { all: true } });
    const answeredAt = Date.now();
    assert.equal(r.status, 200, r.text);
    assert.ok(r.body?.revoked >= 2, r.text);
    await assertRevoked(stack, bob, answeredAt, 'revoke all (bob)');
    await assertRevoked(stack, carol, answeredAt, 'revoke all (carol)');
    const fresh = await signIn(stack, 'carol');
    await assertForwarded(stack, fresh, 'a sign-in after the revoke');
  });

  test('a revoke body that is not exactly one selector is 400 naming the field, and ends nothing', async () => {
    const dave = await signIn(stack, 'dave');
    for (const [body, field] of [
      [{}, 'body'],
      [{ email: 'dave@acme.test', all: true }, 'body'],
      [{ email: 'dave' }, 'email'],
      [{ sub: '' }, 'sub'],
      [{ all: false }, 'all'],
      [{ everyone: true }, 'everyone'],
    ]) {
      const r = await stack.admin.request('POST', '/admin/orgs/acme/revoke', { body });
      assert.equal(r.status, 400, `${JSON.stringify(body)}: ${r.text}`);
      assert.equal(r.body?.error, 'invalid_field', JSON.stringify(body));
      assert.equal(r.body?.field, field, JSON.stringify(body));
    }
    const notJson = await stack.admin.request('POST', '/admin/orgs/acme/revoke', { body: '{nope', raw: true });
    assert.equal(notJson.status, 400, notJson.text);
    const noToken = await stack.admin.request('POST', '/admin/orgs/acme/revoke', { body: { all: true }, token: null });
    assert.equal(noToken.status, 401, noToken.text);
    await assertForwarded(stack, dave, 'nothing was revoked');
  });
});

/**
 * A stack whose IdP client has `backchannel_logout_uri` = the worker's endpoint for acme: the
 * worker's port is chosen first so the IdP can be told where to POST logout tokens.
 */
async function startBackchannelStack() {
  const port = await freePort();
  const origin = `http://127.0.0.1:${port}`;
  const idp = await startIdp({
    redirectUris: [`${origin}/sso/callback`],
    postLogoutRedirectUris: [`${origin}/`, origin],
    backchannelLogoutUri: `${origin}/sso/backchannel-logout/acme`,
  });
  let upstream;
  let worker;
  try {
    upstream = await startOrigin({ jwksUrl: `${origin}/.well-known/jwks.json`, issuer: origin });
    worker = await startWorker({ port, vars: { ORIGIN_URL: upstream.url } });
  } catch (err) {
    await upstream?.stop();
    await idp.stop();
    throw err;
  }
  return {
    idp,
    worker,
    origin,
    upstream,
    admin: new AdminClient(origin, worker.adminToken),
    async stop() {
      await worker.stop();
      await upstream.stop();
      await idp.stop();
    },
  };
}

/** A logout token (OIDC Back-Channel Logout 1.0 section 2.4) signed with `jwk`. */
async function logoutToken(stack, jwk, claims) {
  const now = Math.floor(Date.now() / 1000);
  const key = await importJWK(jwk, 'RS256');
  return new SignJWT({
    events: { 'http://schemas.openid.net/event/backchannel-logout': {} },
    jti: randomBytes(12).toString('hex'),
    ...claims,
  })
    .setProtectedHeader({ alg: 'RS256', kid: jwk.kid, typ: 'logout+jwt' })
    .setIssuer(stack.idp.issuer)
    .setAudience(stack.idp.clientId)
    .setIssuedAt(now)
    .setExpirationTime(now + 120)
    .sign(key);
}

/** POST a logout token to the worker as an IdP would. */
async function postLogoutToken(stack, token) {
  const res = await fetch(`${stack.origin}/sso/backchannel-logout/acme`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ logout_token: token }).toString(),
    redirect: 'manual',
  });
  const text = await res.text();
  let body = null;
  try {
    body = JSON.parse(text);
  } catch {
    body = null;
  }
  return { status: res.status, body, text, headers: res.headers };
}

describe('back-channel logout (oidc-provider)', () => {
  let stack;
  before(async () => {
    stack = await startBackchannelStack();
    await stack.admin.mustPut('acme', offboardingConfig(stack.idp));
  });
  after(() => stack?.stop());

  // Two browsers of alice: separate cookie jars, hence separate IdP sessions (separate `sid`s).
  let laptop;
  let phone;

  test('a forged logout token (another key, same kid) is 400 invalid_request and ends nothing', async () => {
    laptop = await signIn(stack, 'alice');
    phone = await signIn(stack, 'alice');
    const forger = { ...generateSigningKey(), kid: stack.idp.keys[0].kid };
    const r = await postLogoutToken(stack, await logoutToken(stack, forger, { sub: 'alice' }));
    assert.equal(r.status, 400, r.text);
    assert.equal(r.body?.error, 'invalid_request', r.text);
    assert.equal(typeof r.body?.error_description, 'string');
    await assertForwarded(stack, laptop, 'laptop after the forgery');
    await assertForwarded(stack, phone, 'phone after the forgery');
  });

  test("signing out at the IdP ends that IdP session's worker session within the bound, only that one", async () => {
    assert.ok(laptop && phone, 'the previous test signed both in');
    // The IdP's own logout page, with the laptop's IdP cookies and no id_token_hint: the worker
    // is never told directly (no /sso/logout), so only the back-channel POST can reach it.
    const endSession = `${stack.idp.issuer}/session/end`;
    const page = await laptop.fetch(endSession);
    const html = await page.text();
    assert.equal(page.status, 200, html.slice(0, 500));
    const [form] = parseForms(html, endSession);
    assert.ok(form && 'xsrf' in form.fields, `the IdP's logout form: ${html.slice(0, 500)}`);
    // oidc-provider sends the logout tokens (and awaits the answers) before it answers this.
    const confirmed = await laptop.submit(form, { logout: 'yes' });
    const answeredAt = Date.now();
    await confirmed.arrayBuffer();
    assert.ok([302, 303].includes(confirmed.status), `the IdP confirmed the logout: ${confirmed.status}`);
    await assertRevoked(stack, laptop, answeredAt, 'back-channel logout (sid)');
    await assertForwarded(stack, phone, 'the other IdP session stays signed in');
    const members = await stack.admin.request('GET', '/admin/orgs/acme/members');
    const alice = members.body.members.find((m) => m.email === 'alice@acme.test');
    assert.equal(alice.sessions, 1, `one live session left: ${members.text}`);
  });

  test('a logout token with only sub ends every session of the member; its replay ends nothing new', async () => {
    assert.ok(phone, 'the first test signed the phone in');
    const token = await logoutToken(stack, stack.idp.keys[0], { sub: 'alice' });
    const r = await postLogoutToken(stack, token);
    const answeredAt = Date.now();
    assert.equal(r.status, 200, r.text);
    assert.match(r.headers.get('cache-control') ?? '', /no-store/);
    await assertRevoked(stack, phone, answeredAt, 'back-channel logout (sub)');
    const fresh = await signIn(stack, 'alice');
    const replay = await postLogoutToken(stack, token);
    assert.equal(replay.status, 200, `a replay is answered 200: ${replay.text}`);
    await assertForwarded(stack, fresh, 'a replay ends no session made since');
  });
});

/** SCIM request as an IdP's provisioning agent sends it. */
async function scim(stack, token, method, path, body) {
  const headers = { accept: 'application/scim+json' };
  if (token !== null) headers.authorization = `Bearer ${token}`;
  const init = { method, headers, redirect: 'manual' };
  if (body !== undefined) {
    headers['content-type'] = 'application/scim+json; charset=utf-8';
    init.body = JSON.stringify(body);
  }
  const res = await fetch(`${stack.origin}/scim/v2/acme${path}`, init);
  const text = await res.text();
  let parsed = null;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    parsed = null;
  }
  return { status: res.status, body: parsed, text, headers: res.headers };
}

/** The role /sso/me shows for acme. */
async function roleIn(stack, client) {
  const m = await me(client, stack.origin);
  return m.body?.orgs?.acme?.role ?? null;
}

/** A 403 deprovisioned at the callback. */
function assertDeprovisioned(r, what) {
  assert.equal(r.status, 403, `${what}: ${r.text.slice(0, 500)}`);
  assert.match(r.text, /deprovisioned|deactivated/i, what);
}

describe('SCIM deprovisioning', () => {
  let stack;
  let token;
  before(async () => {
    stack = await startStack({ upstream: true });
    await stack.admin.mustPut('acme', offboardingConfig(stack.idp));
    const r = await stack.admin.request('POST', '/admin/orgs/acme/scim-token');
    assert.equal(r.status, 201, r.text);
    assert.equal(r.body.base_url, `${stack.origin}/scim/v2/acme`);
    token = r.body.token;
  });
  after(() => stack?.stop());

  test('a missing or wrong token is 401 in the SCIM error schema', async () => {
    for (const [t, what] of [
      [null, 'no token'],
      ['wrong-token', 'wrong token'],
      [`${token}x`, 'a longer token'],
    ]) {
      const r = await scim(stack, t, 'GET', '/Users');
      assert.equal(r.status, 401, `${what}: ${r.text}`);
      assert.match(r.headers.get('content-type') ?? '', /^application\/scim\+json/, what);
      assert.deepEqual(r.body?.schemas, [SCIM_ERROR], what);
      assert.equal(r.body?.status, '401', what);
      assert.ok(r.headers.get('www-authenticate'), what);
    }
    const ok = await scim(stack, token, 'GET', '/ServiceProviderConfig');
    assert.equal(ok.status, 200, ok.text);
  });

  test("Okta's sequence: match, create, read, deactivate (session ends, sign-in refused), reactivate", async () => {
    const userName = 'dana@acme.test';
    // Okta: GET /Users?filter=userName eq "..."&startIndex=1&count=100 (spaces as %20).
    const filter = encodeURIComponent(`userName eq "${userName}"`);
    const found = await scim(stack, token, 'GET', `/Users?filter=${filter}&startIndex=1&count=100`);
    assert.equal(found.status, 200, found.text);
    assert.deepEqual(found.body.schemas, [SCIM_LIST]);
    assert.equal(found.body.totalResults, 0);
    assert.deepEqual(found.body.Resources ?? [], []);
    // Okta's externalId is its own user id, not the ID token's sub: the join is by email.
    const created = await scim(stack, token, 'POST', '/Users', {
      schemas: [SCIM_USER],
      userName,
      name: { givenName: 'Dana', familyName: 'Scully' },
      emails: [{ primary: true, value: userName, type: 'work' }],
      displayName: 'Dana Scully',
      locale: 'en-US',
      externalId: '00u1dana2okta',
      groups: [],
      password: 'ignored-by-edge-sso',
      active: true,
    });
    assert.equal(created.status, 201, created.text);
    assert.match(created.headers.get('content-type') ?? '', /^application\/scim\+json/);
    const id = created.body.id;
    assert.equal(typeof id, 'string');
    const read = await scim(stack, token, 'GET', `/Users/${id}`);
    assert.equal(read.status, 200, read.text);
    assert.equal(read.body.userName, userName);
    assert.equal(read.body.active, true);
    const again = await scim(stack, token, 'GET', `/Users?filter=${filter}&startIndex=1&count=100`);
    assert.equal(again.body.totalResults, 1, again.text);

    const dana = await signIn(stack, 'dana');
    await assertForwarded(stack, dana, 'dana before deactivation');
    const members = await stack.admin.request('GET', '/admin/orgs/acme/members');
    const row = members.body.members.filter((m) => m.email === userName);
    assert.equal(row.length, 1, `the SCIM user and the sign-in are one member: ${members.text}`);
    assert.equal(row[0].source, 'scim');

    const off = await scim(stack, token, 'PATCH', `/Users/${id}`, {
      schemas: [SCIM_PATCH],
      Operations: [{ op: 'replace', value: { active: false } }],
    });
    const answeredAt = Date.now();
    assert.equal(off.status, 200, off.text);
    assert.equal(off.body.active, false);
    await assertRevoked(stack, dana, answeredAt, 'Okta deactivation');
    assertDeprovisioned(await trySignIn(stack, 'dana'), 'a sign-in while deactivated');

    const on = await scim(stack, token, 'PATCH', `/Users/${id}`, {
      schemas: [SCIM_PATCH],
      Operations: [{ op: 'replace', value: { active: true } }],
    });
    assert.equal(on.status, 200, on.text);
    const back = await signIn(stack, 'dana');
    await assertForwarded(stack, back, 'dana reactivated');
    assert.ok(await refusedAtGate(stack, dana), 'the session ended by deactivation stays dead');
  });

  test("Entra's sequence: match, create, groups, deactivate with \"False\", reactivate, delete", async () => {
    const userName = 'erin@acme.test';
    // Entra: GET /Users?filter=userName eq "..." (spaces as +).
    const found = await scim(stack, token, 'GET', `/Users?filter=userName+eq+%22${encodeURIComponent(userName)}%22`);
    assert.equal(found.status, 200, found.text);
    assert.equal(found.body.totalResults, 0);
    // Entra's default externalId is mailNickname.
    const created = await scim(stack, token, 'POST', '/Users', {
      schemas: [SCIM_USER, 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User'],
      externalId: 'erin',
      userName,
      active: true,
      emails: [{ primary: true, type: 'work', value: userName }],
      meta: { resourceType: 'User' },
      name: { formatted: 'Erin Example', familyName: 'Example', givenName: 'Erin' },
      roles: [],
    });
    assert.equal(created.status, 201, created.text);
    const id = created.body.id;
    let erin = await signIn(stack, 'erin');
    await assertForwarded(stack, erin, 'erin');
    assert.equal(await roleIn(stack, erin), 'read', 'the default role');

    // Groups: GET filter with excludedAttributes=members, POST, PATCH add, PATCH remove.
    const gFilter = `/Groups?excludedAttributes=members&filter=displayName+eq+%22Engineering%22`;
    const noGroup = await scim(stack, token, 'GET', gFilter);
    assert.equal(noGroup.status, 200, noGroup.text);
    assert.equal(noGroup.body.totalResults, 0);
    const group = await scim(stack, token, 'POST', '/Groups', {
      schemas: [SCIM_GROUP],
      externalId: '8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159',
      displayName: 'Engineering',
      meta: { resourceType: 'Group' },
      members: [],
    });
    assert.equal(group.status, 201, group.text);
    const gid = group.body.id;
    const listed = await scim(stack, token, 'GET', gFilter);
    assert.equal(listed.body.totalResults, 1, listed.text);
    assert.equal(listed.body.Resources[0].members, undefined, 'excludedAttributes=members');
    const add = await scim(stack, token, 'PATCH', `/Groups/${gid}`, {
      schemas: [SCIM_PATCH],
      Operations: [{ op: 'Add', path: 'members', value: [{ value: id }] }],
    });
    assert.ok([200, 204].includes(add.status), add.text);
    assert.equal(await roleIn(stack, erin), 'write', 'the SCIM group rule applies to the live session');
    const remove = await scim(stack, token, 'PATCH', `/Groups/${gid}`, {
      schemas: [SCIM_PATCH],
      Operations: [{ op: 'Remove', path: 'members', value: [{ value: id }] }],
    });
    assert.ok([200, 204].includes(remove.status), remove.text);
    assert.equal(await roleIn(stack, erin), 'read', 'out of the group');

    // Entra deactivates with a string boolean.
    const off = await scim(stack, token, 'PATCH', `/Users/${id}`, {
      schemas: [SCIM_PATCH],
      Operations: [{ op: 'Replace', path: 'active', value: 'False' }],
    });
    let answeredAt = Date.now();
    assert.equal(off.status, 200, off.text);
    await assertRevoked(stack, erin, answeredAt, 'Entra deactivation');
    assertDeprovisioned(await trySignIn(stack, 'erin'), 'a sign-in while deactivated');
    const on = await scim(stack, token, 'PATCH', `/Users/${id}`, {
      schemas: [SCIM_PATCH],
      Operations: [{ op: 'Replace', path: 'active', value: 'True' }],
    });
    assert.equal(on.status, 200, on.text);
    erin = await signIn(stack, 'erin');
    await assertForwarded(stack, erin, 'erin reactivated');

    // Entra deletes.
    const del = await scim(stack, token, 'DELETE', `/Users/${id}`);
    answeredAt = Date.now();
    assert.equal(del.status, 204, del.text);
    await assertRevoked(stack, erin, answeredAt, 'Entra delete');
    assert.equal((await scim(stack, token, 'GET', `/Users/${id}`)).status, 404);
    assertDeprovisioned(await trySignIn(stack, 'erin'), 'a sign-in after the delete');
  });
});
