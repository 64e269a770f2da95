// A small OpenID Provider of the tests that impersonates the real IdPs edge-sso's profiles are
// about (issue 10), on loopback, with no dependency beyond node:
//
//   const op = await startMiniOp({ persona: 'entra', redirectUris: [`${worker}/sso/callback`] });
//   op.issuer        // what the org configures (entra: `${op.url}/organizations/v2.0`)
//   op.setLogin({ claims: { xms_edov: null }, userinfo: {...}, groups: [...] })
//   op.hits('/v1.0/me/transitiveMemberOf'), await op.stop()
//
// Personas:
// * `entra`: a multi-tenant Entra ID authority (`authority` = `organizations` or `common`).
//   Discovery at `/{authority}/v2.0/.well-known/openid-configuration` publishes the literal
//   issuer `http://127.0.0.1:PORT/{tenantid}/v2.0`; JWKS keys carry the same `issuer` member as
//   Entra's common keys; ID tokens carry `iss` = the tenant's real issuer, `tid`, `oid`,
//   `xms_edov`, `email`, and optionally `groups` or the overage form (`overage: true` gives
//   `_claim_names`/`_claim_sources` pointing at `/claim-source`, which must never be called;
//   `overage: 'hasgroups'` gives `hasgroups: true`). The Graph stand-in answers
//   `/v1.0/me/transitiveMemberOf?...` for the access tokens this OP issued, `pageSize` groups a
//   page, linked through `@odata.nextLink`. No RFC 9207 `iss` (Entra sends none).
// * `google`: a shared issuer (the origin itself) whose tokens carry `hd`; RFC 9207 `iss`.
// * `okta`: a custom authorization server (`/oauth2/default`) whose ID token lacks `email` and
//   `groups`: the relying party must call `userinfo_endpoint`; RFC 9207 `iss`.
//
// Every persona: code flow only, PKCE S256 required and checked at the token endpoint, the
// client authenticated by client_secret_basic or client_secret_post, consent automatic (the
// authorization endpoint answers with the redirect at once). What the next sign-ins carry is
// set with `setLogin()` (kept until changed) or `POST /_admin/login` with the same JSON.

import { createHash, generateKeyPairSync, randomBytes, sign, timingSafeEqual } from 'node:crypto';
import { createServer } from 'node:http';

/** The tenant the Entra persona signs in by default. */
export const TENANT = '72f988bf-86f1-41af-91ab-2d7cd011db47';
/** Another real-looking tenant (not in an org's `tenants`). */
export const OTHER_TENANT = '11111111-2222-3333-4444-555555555555';
/** The Microsoft personal-account (MSA) tenant. */
export const MSA_TENANT = '9188040d-6c67-4c5b-b112-36a304b66dad';
/** The placeholder of Entra's multi-tenant issuer template. */
export const TENANT_PLACEHOLDER = '{tenantid}';

const b64u = (v) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');

/** A fresh RS256 key: `{ privateKey, jwk }` (the public JWK with kid, alg, use). */
function signingKey() {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const { kty, n, e } = publicKey.export({ format: 'jwk' });
  return { privateKey, jwk: { kty, n, e, kid: `mini-${randomBytes(6).toString('hex')}`, alg: 'RS256', use: 'sig' } };
}

/** A compact JWS (RS256) of `payload` with `key`. */
function jws(payload, key) {
  const input = `${b64u({ alg: 'RS256', kid: key.jwk.kid, typ: 'JWT' })}.${b64u(payload)}`;
  return `${input}.${sign('sha256', Buffer.from(input), key.privateKey).toString('base64url')}`;
}

/** `base` with `over`'s members set; a `null` member deletes the claim. */
function overlay(base, over = {}) {
  const out = { ...base };
  for (const [k, v] of Object.entries(over)) {
    if (v === null) delete out[k];
    else out[k] = v;
  }
  return out;
}

const sameSecret = (a, b) => {
  const x = Buffer.from(String(a));
  const y = Buffer.from(String(b));
  return x.length === y.length && timingSafeEqual(x, y);
};

async function readBody(req, max = 64 * 1024) {
  const chunks = [];
  let size = 0;
  for await (const c of req) {
    size += c.length;
    if (size > max) throw new Error('body too large');
    chunks.push(c);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function send(res, status, body, headers = {}) {
  const json = typeof body !== 'string';
  res.writeHead(status, { 'content-type': json ? 'application/json' : 'text/plain; charset=utf-8', 'cache-control': 'no-store', ...headers });
  res.end(json ? JSON.stringify(body) : body);
}

/**
 * Start a mini OP on 127.0.0.1.
 * @param {object} o
 * @param {'entra'|'google'|'okta'} o.persona
 * @param {string} [o.authority] entra: `organizations` (default) or `common`
 * @param {string[]} o.redirectUris the client's registered redirect URIs
 * @param {number} [o.pageSize] entra: groups per Graph page (default 2)
 * @returns {Promise<{url: string, issuer: string, clientId: string, clientSecret: string,
 *   setLogin: (spec: object) => void, hits: (path: string) => number,
 *   requests: {method: string, path: string, authorization?: string}[], stop: () => Promise<void>}>}
 */
export async function startMiniOp({ persona, authority = 'organizations', redirectUris = [], clientId = 'mini-client', clientSecret = randomBytes(18).toString('base64url'), pageSize = 2, port = 0 } = {}) {
  if (!['entra', 'google', 'okta'].includes(persona)) throw new Error(`unknown persona ${persona}`);
  const key = signingKey();
  const codes = new Map(); // code -> grant
  const accessTokens = new Map(); // access token -> grant
  const requests = [];
  // What the next sign-ins carry: `claims` over the persona's ID-token claims, `userinfo` over
  // its userinfo answer, `groups` (the member's groups; entra: what Graph lists), `tenant`
  // (entra), `overage` (entra: true or 'hasgroups').
  let login = {};

  const server = createServer((req, res) => {
    requests.push({ method: req.method, path: req.url, authorization: req.headers.authorization });
    if (requests.length > 10_000) requests.shift();
    handle(req, res).catch((err) => send(res, 500, { error: 'server_error', error_description: String(err?.message ?? err) }));
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  const url = `http://127.0.0.1:${server.address().port}`;
  const base = { entra: `${url}/${authority}/v2.0`, google: url, okta: `${url}/oauth2/default` }[persona];
  const issuer = base;
  // The issuer the discovery document publishes (entra: the template).
  const docIssuer = persona === 'entra' ? `${url}/${TENANT_PLACEHOLDER}/v2.0` : issuer;
  const tenantIssuer = (tid) => `${url}/${tid}/v2.0`;
  const endpoints = persona === 'entra'
    ? { authorization_endpoint: `${base}/oauth2/v2.0/authorize`, token_endpoint: `${base}/oauth2/v2.0/token`, jwks_uri: `${url}/${authority}/discovery/v2.0/keys`, userinfo_endpoint: `${url}/oidc/userinfo` }
    : { authorization_endpoint: `${base}/authorize`, token_endpoint: `${base}/token`, jwks_uri: `${base}/keys`, userinfo_endpoint: `${base}/userinfo` };

  function discovery() {
    return {
      issuer: docIssuer,
      ...endpoints,
      response_types_supported: ['code'],
      subject_types_supported: [persona === 'entra' ? 'pairwise' : 'public'],
      id_token_signing_alg_values_supported: ['RS256'],
      scopes_supported: ['openid', 'email', 'profile', 'groups', 'offline_access'],
      token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
      code_challenge_methods_supported: ['S256'],
      claims_supported: ['sub', 'iss', 'aud', 'exp', 'iat', 'nonce', 'email', 'name', 'tid', 'oid', 'hd', 'groups'],
      ...(persona === 'entra' ? {} : { authorization_response_iss_parameter_supported: true }),
    };
  }

  function jwks() {
    // Entra's common keys name the issuer they sign for (the template, for multi-tenant keys).
    const jwk = persona === 'entra' ? { ...key.jwk, issuer: docIssuer } : key.jwk;
    return { keys: [jwk] };
  }

  /** The ID-token claims of a grant (persona defaults under `login.claims`). */
  function idTokenClaims(grant) {
    const now = Math.floor(Date.now() / 1000);
    const std = { aud: clientId, iat: now, nbf: now, exp: now + 600, nonce: grant.nonce };
    const spec = grant.login;
    const groups = spec.groups ?? [];
    let claims;
    if (persona === 'entra') {
      const tid = spec.tenant ?? TENANT;
      claims = {
        ver: '2.0',
        iss: tenantIssuer(tid),
        tid,
        oid: spec.oid ?? '00000000-0000-0000-66f3-3332eca7ea81',
        sub: 'AAAAAAAAAAAAAAAAAAAAAIkzqFVrSaSaFHy782bbtaQ',
        name: 'Ada Lovelace',
        preferred_username: spec.email ?? 'ada@contoso.test',
        email: spec.email ?? 'ada@contoso.test',
        xms_edov: true,
      };
      if (spec.overage === 'hasgroups') claims.hasgroups = true;
      else if (spec.overage) {
        claims._claim_names = { groups: 'src1' };
        claims._claim_sources = { src1: { endpoint: `${url}/claim-source` } };
      } else if (groups.length) claims.groups = groups;
    } else if (persona === 'google') {
      claims = {
        iss: issuer,
        azp: clientId,
        sub: spec.sub ?? '110169484474386276334',
        hd: spec.hd ?? 'gdom.test',
        email: spec.email ?? 'ada@gdom.test',
        email_verified: true,
        name: 'Ada Lovelace',
      };
    } else {
      // Okta's ID token from a custom authorization server without email or groups claims.
      claims = { iss: issuer, sub: spec.sub ?? '00u1okta2user3', name: 'Ada Lovelace', ver: 1 };
    }
    return overlay({ ...std, ...claims }, spec.claims);
  }

  /** The userinfo answer of a grant (okta persona: the email and groups the ID token lacks). */
  function userinfoClaims(grant) {
    const spec = grant.login;
    const sub = idTokenClaims(grant).sub;
    const claims = persona === 'okta'
      ? { sub, email: spec.email ?? 'ada@oktaco.test', email_verified: true, groups: spec.groups ?? [] }
      : { sub };
    return overlay(claims, spec.userinfo);
  }

  /** The grant an `Authorization: Bearer` header names, or null. */
  function bearer(req) {
    const m = /^Bearer ([A-Za-z0-9_-]+)$/.exec(req.headers.authorization ?? '');
    return m ? accessTokens.get(m[1]) ?? null : null;
  }

  /** The client of a token request (RFC 6749 2.3.1: basic, or the form's members). */
  function clientOf(req, form) {
    const basic = /^Basic ([A-Za-z0-9+/=]+)$/.exec(req.headers.authorization ?? '');
    if (basic) {
      const [id, secret] = Buffer.from(basic[1], 'base64').toString('utf8').split(':').map((s) => decodeURIComponent(s.replace(/\+/g, ' ')));
      return { id, secret };
    }
    return { id: form.get('client_id'), secret: form.get('client_secret') };
  }

  async function handle(req, res) {
    const u = new URL(req.url, url);
    const path = u.pathname;
    if (req.method === 'POST' && path === '/_admin/login') {
      login = JSON.parse((await readBody(req)) || '{}');
      return send(res, 204, '');
    }
    const wellKnown = persona === 'entra' ? `/${authority}/v2.0/.well-known/openid-configuration` : `${new URL(base).pathname.replace(/\/$/, '')}/.well-known/openid-configuration`;
    if (req.method === 'GET' && path === wellKnown) return send(res, 200, discovery());
    if (req.method === 'GET' && path === new URL(endpoints.jwks_uri).pathname) return send(res, 200, jwks());
    if (req.method === 'GET' && path === new URL(endpoints.authorization_endpoint).pathname) return authorize(u, res);
    if (req.method === 'POST' && path === new URL(endpoints.token_endpoint).pathname) return token(req, res);
    if (path === new URL(endpoints.userinfo_endpoint).pathname) {
      const grant = bearer(req);
      if (!grant) return send(res, 401, { error: 'invalid_token' }, { 'www-authenticate': 'Bearer error="invalid_token"' });
      return send(res, 200, userinfoClaims(grant));
    }
    if (persona === 'entra' && req.method === 'GET' && path === '/v1.0/me/transitiveMemberOf') return graph(req, u, res);
    if (path === '/claim-source') return send(res, 418, { error: 'the _claim_sources endpoint must never be called' });
    return send(res, 404, { error: 'not_found' });
  }

  function authorize(u, res) {
    const q = u.searchParams;
    const redirect = q.get('redirect_uri');
    if (q.get('client_id') !== clientId || !redirectUris.includes(redirect)) {
      return send(res, 400, 'unknown client or redirect_uri');
    }
    const back = new URL(redirect);
    const fail = (error, description) => {
      back.searchParams.set('error', error);
      back.searchParams.set('error_description', description);
      if (q.has('state')) back.searchParams.set('state', q.get('state'));
      res.writeHead(302, { location: back.href });
      res.end();
    };
    if (q.get('response_type') !== 'code') return fail('unsupported_response_type', 'code only');
    if (!(q.get('scope') ?? '').split(' ').includes('openid')) return fail('invalid_scope', 'openid is required');
    if (q.get('code_challenge_method') !== 'S256' || !/^[A-Za-z0-9_-]{43}$/.test(q.get('code_challenge') ?? '')) {
      return fail('invalid_request', 'PKCE S256 is required');
    }
    const code = randomBytes(24).toString('base64url');
    codes.set(code, {
      redirect,
      nonce: q.get('nonce') ?? undefined,
      challenge: q.get('code_challenge'),
      scope: q.get('scope'),
      login: structuredClone(login),
      expires: Date.now() + 60_000,
    });
    back.searchParams.set('code', code);
    if (q.has('state')) back.searchParams.set('state', q.get('state'));
    // RFC 9207: the issuer in the authorization response (Entra sends none).
    if (persona !== 'entra') back.searchParams.set('iss', issuer);
    res.writeHead(302, { location: back.href });
    res.end();
  }

  async function token(req, res) {
    const form = new URLSearchParams(await readBody(req));
    const client = clientOf(req, form);
    if (client.id !== clientId || !sameSecret(client.secret ?? '', clientSecret)) {
      return send(res, 401, { error: 'invalid_client' });
    }
    if (form.get('grant_type') !== 'authorization_code') return send(res, 400, { error: 'unsupported_grant_type' });
    const code = form.get('code') ?? '';
    const grant = codes.get(code);
    codes.delete(code); // single use
    if (!grant || grant.expires < Date.now() || grant.redirect !== form.get('redirect_uri')) {
      return send(res, 400, { error: 'invalid_grant' });
    }
    const verifier = form.get('code_verifier') ?? '';
    const challenge = createHash('sha256').update(verifier).digest('base64url');
    if (!/^[A-Za-z0-9._~-]{43,128}$/.test(verifier) || challenge !== grant.challenge) {
      return send(res, 400, { error: 'invalid_grant', error_description: 'PKCE verification failed' });
    }
    const accessToken = randomBytes(24).toString('base64url');
    accessTokens.set(accessToken, grant);
    return send(res, 200, {
      access_token: accessToken,
      token_type: 'Bearer',
      expires_in: 600,
      scope: grant.scope,
      id_token: jws(idTokenClaims(grant), key),
    });
  }

  function graph(req, u, res) {
    const grant = bearer(req);
    if (!grant) return send(res, 401, { error: { code: 'InvalidAuthenticationToken', message: 'Access token is empty or invalid.' } });
    const groups = grant.login.groups ?? [];
    const skip = Number(u.searchParams.get('$skiptoken') ?? '0');
    const page = groups.slice(skip, skip + pageSize).map((id) => ({ '@odata.type': '#microsoft.graph.group', id }));
    const body = { '@odata.context': `${url}/v1.0/$metadata#directoryObjects(id)`, value: page };
    if (skip + pageSize < groups.length) {
      body['@odata.nextLink'] = `${url}/v1.0/me/transitiveMemberOf?$select=id&$top=999&$skiptoken=${skip + pageSize}`;
    }
    return send(res, 200, body);
  }

  return {
    url,
    issuer,
    clientId,
    clientSecret,
    /** What the next sign-ins carry (kept until changed); see the module comment. */
    setLogin(spec = {}) {
      login = structuredClone(spec);
    },
    /** How many requests reached `path` (the path without the query). */
    hits(path) {
      return requests.filter((r) => new URL(r.path, url).pathname === path).length;
    },
    requests,
    stop: () => new Promise((resolve) => {
      server.closeAllConnections?.();
      server.close(() => resolve());
    }),
  };
}
