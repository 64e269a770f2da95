// A local OpenID Provider (npm `oidc-provider`) for the end-to-end tests and the dev command.
//
// Library:  const idp = await startIdp({ port: 0, redirectUris: [...] });
//           idp.issuer, idp.url, await idp.rotateKeys(), await idp.stop()
// CLI:      node e2e/idp.mjs --port 9100 --redirect-uri http://127.0.0.1:8787/sso/callback \
//             [--post-logout-redirect-uri http://127.0.0.1:8787/] [--client-id hub] [--client-secret s]
//           (without --post-logout-redirect-uri, the redirect URIs' origins are admitted)
//
// Accounts: any login name at the dev interaction form (the password is ignored).
//   sub = login; email = `${login}@acme.test` unless the login contains '@';
//   groups: alice -> hub-admins, bob -> hub-writers, anyone else -> everyone.
// The HTTP server stays up across `rotateKeys()`: only the Provider behind it is rebuilt, so the
// issuer (and its port) never changes while the signing key (and its kid) does.

import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';

import Provider from 'oidc-provider';

/** A fresh RS256 signing key as a private JWK with a unique kid. */
export function generateSigningKey() {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = privateKey.export({ format: 'jwk' });
  return { ...jwk, kid: `k-${randomBytes(6).toString('hex')}`, alg: 'RS256', use: 'sig' };
}

/** Claims for a dev-interaction login name. */
export function claimsFor(login) {
  const email = login.includes('@') ? login : `${login}@acme.test`;
  const local = email.split('@')[0];
  const groups = { alice: ['hub-admins'], bob: ['hub-writers'] }[local] ?? ['everyone'];
  return {
    sub: login,
    email,
    email_verified: true,
    name: local.charAt(0).toUpperCase() + local.slice(1),
    groups,
  };
}

/** Whether `url` points at this machine (the test worker), by literal loopback host. */
function isLoopback(url) {
  const host = new URL(url).hostname;
  return host === '127.0.0.1' || host === 'localhost' || host === '[::1]';
}

const escapeHtml = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

const page = (title, body) => `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title></head>
<body><main><h1>${escapeHtml(title)}</h1>${body}</main></body></html>`;

function buildProvider(issuer, opts, keys) {
  const client = {
    client_id: opts.clientId,
    client_secret: opts.clientSecret,
    redirect_uris: opts.redirectUris,
    post_logout_redirect_uris: opts.postLogoutRedirectUris,
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: opts.tokenEndpointAuthMethod,
    id_token_signed_response_alg: 'RS256',
  };
  if (opts.backchannelLogoutUri) {
    client.backchannel_logout_uri = opts.backchannelLogoutUri;
    client.backchannel_logout_session_required = true;
  }

  const configuration = {
    clients: [client],
    jwks: { keys },
    cookies: { keys: [opts.cookieKey] },
    // Put the scope claims into the ID token too (default: userinfo only).
    conformIdTokenClaims: false,
    claims: {
      openid: ['sub'],
      email: ['email', 'email_verified'],
      // `groups` also rides on `profile`, so a relying party that asks only for the standard
      // scopes still gets the claim that role mapping reads.
      profile: ['name', 'groups'],
      groups: ['groups'],
    },
    scopes: ['openid', 'email', 'profile', 'groups'],
    async findAccount(_ctx, sub) {
      return {
        accountId: sub,
        async claims() {
          return claimsFor(sub);
        },
      };
    },
    pkce: { required: () => true },
    // oidc-provider (9.13) guards its outgoing requests against SSRF by adding a dispatcher that
    // drops connections to special-use addresses, 127.0.0.1 included: its back-channel logout
    // POSTs (the only requests this IdP sends) would never reach the loopback worker. Drop that
    // dispatcher for loopback targets only.
    fetch: (url, options) => {
      const { dispatcher, ...rest } = options;
      return globalThis.fetch(url, isLoopback(url) ? rest : options);
    },
    ttl: { AuthorizationCode: 60, Interaction: 600, Session: 3600, Grant: 3600, AccessToken: 600, IdToken: 600 },
    features: {
      devInteractions: { enabled: true },
      rpInitiatedLogout: {
        enabled: true,
        async logoutSource(ctx, form) {
          // Put the "yes" button inside the form so a plain HTML form parser can submit it.
          const withButton = form.replace(
            '</form>',
            '<button type="submit" name="logout" value="yes">Yes, sign me out</button></form>',
          );
          ctx.body = page('Sign out?', withButton);
        },
        async postLogoutSuccessSource(ctx) {
          ctx.body = page('Signed out', '<p>You are signed out of the IdP.</p>');
        },
      },
      backchannelLogout: { enabled: true },
    },
    async renderError(ctx, out) {
      ctx.type = 'html';
      const rows = Object.entries(out)
        .map(([k, v]) => `<p><strong>${escapeHtml(k)}</strong>: ${escapeHtml(v)}</p>`)
        .join('');
      ctx.body = page('IdP error', rows);
    },
  };

  const provider = quietly(opts.quiet, () => new Provider(issuer, configuration));
  provider.on('server_error', (_ctx, err) => console.error('[idp] server_error', err));
  return provider;
}

// oidc-provider prints "development-only" warnings when it is built; keep test output readable.
function quietly(quiet, build) {
  if (!quiet) return build();
  const { warn, info } = console;
  const filter = (orig) => (...args) => {
    if (typeof args[0] === 'string' && args[0].startsWith('oidc-provider')) return;
    orig.apply(console, args);
  };
  console.warn = filter(warn);
  console.info = filter(info);
  try {
    return build();
  } finally {
    console.warn = warn;
    console.info = info;
  }
}

/**
 * Start the IdP on 127.0.0.1.
 * @returns {Promise<{issuer: string, url: string, port: number, clientId: string,
 *   clientSecret: string, keys: object[], requests: {method: string, path: string}[],
 *   rotateKeys: () => Promise<object>, stop: () => Promise<void>}>}
 */
export async function startIdp({
  port = 0,
  redirectUris = [],
  postLogoutRedirectUris = [],
  clientId = 'edge-sso-test',
  clientSecret = randomBytes(24).toString('base64url'),
  keys = [generateSigningKey()],
  tokenEndpointAuthMethod = 'client_secret_basic',
  backchannelLogoutUri,
  quiet = true,
} = {}) {
  const opts = {
    redirectUris,
    postLogoutRedirectUris,
    clientId,
    clientSecret,
    tokenEndpointAuthMethod,
    backchannelLogoutUri,
    quiet,
    cookieKey: randomBytes(32).toString('base64url'),
  };
  const requests = [];
  let handler = (_req, res) => {
    res.statusCode = 503;
    res.end('starting');
  };
  const server = createServer((req, res) => {
    requests.push({ method: req.method, path: req.url });
    if (requests.length > 10_000) requests.shift();
    handler(req, res);
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  const actualPort = server.address().port;
  const issuer = `http://127.0.0.1:${actualPort}`;

  let currentKeys = keys;
  const install = () => {
    handler = buildProvider(issuer, opts, currentKeys).callback();
  };
  install();

  return {
    issuer,
    url: issuer,
    port: actualPort,
    clientId,
    clientSecret,
    requests,
    get keys() {
      return currentKeys;
    },
    /** Sign from now on with a new key (new kid); the old key stays in the JWKS, second. */
    async rotateKeys() {
      const fresh = generateSigningKey();
      currentKeys = [fresh, ...currentKeys].slice(0, 2);
      install();
      return fresh;
    },
    async stop() {
      server.closeAllConnections?.();
      await new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

async function main() {
  const { values } = parseArgs({
    options: {
      port: { type: 'string', default: process.env.IDP_PORT ?? '9100' },
      'redirect-uri': { type: 'string', multiple: true, default: [] },
      'post-logout-redirect-uri': { type: 'string', multiple: true, default: [] },
      'client-id': { type: 'string', default: process.env.IDP_CLIENT_ID ?? 'edge-sso-dev' },
      'client-secret': { type: 'string', default: process.env.IDP_CLIENT_SECRET ?? 'dev-secret-change-me' },
      'token-endpoint-auth-method': { type: 'string', default: 'client_secret_basic' },
      'backchannel-logout-uri': { type: 'string' },
    },
  });
  // Without explicit post-logout URIs, admit the origins of the redirect URIs (dev convenience).
  const postLogout = values['post-logout-redirect-uri'].length
    ? values['post-logout-redirect-uri']
    : [...new Set(values['redirect-uri'].flatMap((u) => [`${new URL(u).origin}/`, new URL(u).origin]))];
  const idp = await startIdp({
    port: Number(values.port),
    redirectUris: values['redirect-uri'],
    postLogoutRedirectUris: postLogout,
    clientId: values['client-id'],
    clientSecret: values['client-secret'],
    tokenEndpointAuthMethod: values['token-endpoint-auth-method'],
    backchannelLogoutUri: values['backchannel-logout-uri'],
    quiet: false,
  });
  console.log(`IdP issuer ${idp.issuer}`);
  console.log(`client_id ${idp.clientId}  client_secret ${idp.clientSecret}`);
  console.log(`redirect_uris ${JSON.stringify(values['redirect-uri'])}`);
  console.log(`post_logout_redirect_uris ${JSON.stringify(postLogout)}`);
  const shutdown = () => idp.stop().then(() => process.exit(0));
  process.on('SIGINT', shutdown);
  process.on('SIGTERM', shutdown);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
