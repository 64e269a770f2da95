// The local IdP on its own: discovery, a full code + PKCE login through the dev interaction
// forms, the token exchange, ID-token claims, and key rotation. No worker involved.
import { strict as assert } from 'node:assert';
import { createHash, randomBytes } from 'node:crypto';
import { after, before, test } from 'node:test';

import * as jose from 'jose';

import { HttpClient, driveIdp } from './http.mjs';
import { startIdp } from './idp.mjs';

const REDIRECT = 'http://127.0.0.1:1/cb';
let idp;

before(async () => {
  idp = await startIdp({ port: 0, redirectUris: [REDIRECT], postLogoutRedirectUris: ['http://127.0.0.1:1/'] });
});
after(() => idp?.stop());

async function discovery() {
  const res = await fetch(`${idp.issuer}/.well-known/openid-configuration`);
  assert.equal(res.status, 200);
  return res.json();
}

async function login(name) {
  const meta = await discovery();
  const verifier = randomBytes(32).toString('base64url');
  const challenge = createHash('sha256').update(verifier).digest('base64url');
  const state = randomBytes(16).toString('base64url');
  const nonce = randomBytes(16).toString('base64url');
  const auth = new URL(meta.authorization_endpoint);
  auth.search = new URLSearchParams({
    response_type: 'code',
    client_id: idp.clientId,
    redirect_uri: REDIRECT,
    scope: 'openid email profile',
    state,
    nonce,
    code_challenge: challenge,
    code_challenge_method: 'S256',
  }).toString();
  const client = new HttpClient();
  const back = new URL(await driveIdp(client, auth.href, { login: name }));
  assert.equal(back.origin + back.pathname, REDIRECT);
  assert.equal(back.searchParams.get('state'), state);
  assert.equal(back.searchParams.get('iss'), idp.issuer, 'RFC 9207 iss in the authorization response');
  const code = back.searchParams.get('code');
  assert.ok(code);

  const tokenRes = await fetch(meta.token_endpoint, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      authorization: `Basic ${Buffer.from(`${encodeURIComponent(idp.clientId)}:${encodeURIComponent(idp.clientSecret)}`).toString('base64')}`,
    },
    body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: REDIRECT, code_verifier: verifier }),
  });
  const tokens = await tokenRes.json();
  assert.equal(tokenRes.status, 200, JSON.stringify(tokens));
  const jwks = jose.createRemoteJWKSet(new URL(meta.jwks_uri));
  const { payload, protectedHeader } = await jose.jwtVerify(tokens.id_token, jwks, {
    issuer: idp.issuer,
    audience: idp.clientId,
  });
  assert.equal(payload.nonce, nonce);
  return { payload, protectedHeader, meta };
}

test('discovery advertises what the worker relies on', async () => {
  const meta = await discovery();
  assert.equal(meta.issuer, idp.issuer);
  assert.equal(meta.authorization_response_iss_parameter_supported, true);
  assert.deepEqual(meta.code_challenge_methods_supported, ['S256']);
  assert.ok(meta.end_session_endpoint);
  assert.ok(meta.jwks_uri);
  assert.equal(meta.backchannel_logout_supported, true);
});

test('PKCE is required', async () => {
  const meta = await discovery();
  const auth = new URL(meta.authorization_endpoint);
  auth.search = new URLSearchParams({
    response_type: 'code', client_id: idp.clientId, redirect_uri: REDIRECT, scope: 'openid', state: 's', nonce: 'n',
  }).toString();
  const res = await fetch(auth, { redirect: 'manual' });
  const loc = new URL(res.headers.get('location'));
  assert.equal(loc.searchParams.get('error'), 'invalid_request');
});

test('alice logs in: ID token carries email, email_verified, groups', async () => {
  const { payload } = await login('alice');
  assert.equal(payload.sub, 'alice');
  assert.equal(payload.email, 'alice@acme.test');
  assert.equal(payload.email_verified, true);
  assert.deepEqual(payload.groups, ['hub-admins']);
});

test('bob and an explicit email login', async () => {
  assert.deepEqual((await login('bob')).payload.groups, ['hub-writers']);
  const { payload } = await login('carol@other.test');
  assert.equal(payload.email, 'carol@other.test');
  assert.deepEqual(payload.groups, ['everyone']);
});

test('rotateKeys: new ID tokens are signed with a new kid, same issuer', async () => {
  const before = (await login('alice')).protectedHeader.kid;
  const fresh = await idp.rotateKeys();
  const { protectedHeader, meta } = await login('alice');
  assert.notEqual(protectedHeader.kid, before);
  assert.equal(protectedHeader.kid, fresh.kid);
  assert.equal(meta.issuer, idp.issuer);
  const jwks = await (await fetch(meta.jwks_uri)).json();
  assert.deepEqual(jwks.keys.map((k) => k.kid), [fresh.kid, before]);
  assert.ok(jwks.keys.every((k) => !('d' in k)), 'JWKS must not leak private parts');
});
