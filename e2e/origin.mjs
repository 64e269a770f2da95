// A loopback demo/test origin for the access gateway (node:http, no framework).
//
// Library:  const origin = await startOrigin({ jwksUrl, issuer, audience });
//           origin.url, origin.requests (one record per request), origin.clear(), await origin.stop()
// CLI:      node e2e/origin.mjs --port 8788 --jwks-url http://127.0.0.1:8787/.well-known/jwks.json \
//             --issuer http://127.0.0.1:8787 [--audience http://127.0.0.1:8788]
//
// The worker forwards authorized `/orgs/{slug}/...` requests here with a signed identity header
// (`Edge-SSO-Assertion`, a compact JWS, ES256) that this origin verifies against the worker's
// JWKS with npm `jose`, exactly as a real origin would. What it answers:
//   PUT/POST .../upload         {"received": n, "sha256": hex}: the body counted as it streams
//   GET .../download?bytes=N    N bytes, streamed in chunks with Content-Length (never buffered);
//                               byte i is `i % 251`, so a client can check what it got
//   .../redirect                302 to /elsewhere (the gateway must pass it back, not follow it)
//   .../set-cookie              Set-Cookie for every edge-sso cookie name plus `theme=dark`
//   anything else               the request as received and the verified identity (or why it
//                               did not verify): HTML when the client accepts text/html, else JSON
// Every request is recorded in `requests` (method, raw path+query, headers, body size, and the
// assertion's verification result) before it is answered; bodies are counted, never buffered.

import { createHash } from 'node:crypto';
import { createServer } from 'node:http';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';

import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';

/** The gateway's identity headers (lower-case, as node:http reports them). */
export const ASSERTION_HEADER = 'edge-sso-assertion';
export const IDENTITY_HEADERS = ['edge-sso-assertion', 'edge-sso-email', 'edge-sso-org', 'edge-sso-role'];

/**
 * The worker's own cookie names (src/core/cookie.rs: `__Host-` on https, bare on loopback http).
 * The origin sets all of them on /set-cookie so a test can check the gateway strips each one.
 */
export const EDGE_SSO_COOKIES = ['__Host-sso_session', 'sso_session', '__Host-sso_tx', 'sso_tx'];

/** Largest body GET .../download will produce (a typo must not stream for hours). */
export const MAX_DOWNLOAD_BYTES = 4 * 1024 ** 3;

// 64 repetitions of 0..250: every chunk starts at a multiple of 251, so one buffer serves all.
const PATTERN = Buffer.from(Array.from({ length: 251 * 64 }, (_, i) => i % 251));

const escapeHtml = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/**
 * Verify one Edge-SSO-Assertion value.
 * @returns {Promise<{present: boolean, verified: boolean, claims: object|null, header: object|null, error: string|null}>}
 */
async function verifyAssertion(value, { jwks, issuer, audience }) {
  if (value === undefined) return { present: false, verified: false, claims: null, header: null, error: null };
  let header = null;
  try {
    header = decodeProtectedHeader(value);
  } catch {
    // not even a JWS: reported below by jwtVerify
  }
  if (!jwks) {
    return { present: true, verified: false, claims: null, header, error: 'origin has no JWKS URL configured' };
  }
  try {
    const { payload, protectedHeader } = await jwtVerify(value, jwks, {
      issuer,
      audience,
      algorithms: ['ES256'],
      typ: 'JWT',
    });
    return { present: true, verified: true, claims: payload, header: protectedHeader, error: null };
  } catch (err) {
    return { present: true, verified: false, claims: null, header, error: `${err.code ?? err.name}: ${err.message}` };
  }
}

/** Count a request body's bytes (and hash them) as they stream, holding none of them. */
function drain(req) {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256');
    let n = 0;
    req.on('data', (chunk) => {
      n += chunk.length;
      hash.update(chunk);
    });
    req.on('end', () => resolve({ bytes: n, sha256: hash.digest('hex') }));
    req.on('error', reject);
    req.on('aborted', () => reject(new Error('client aborted the body')));
  });
}

/** Stream `n` pattern bytes with backpressure. */
function streamBytes(res, n) {
  res.writeHead(200, {
    'content-type': 'application/octet-stream',
    'content-length': String(n),
    'cache-control': 'no-store',
  });
  let left = n;
  const pump = () => {
    while (left > 0) {
      const k = Math.min(left, PATTERN.length);
      left -= k;
      if (!res.write(k === PATTERN.length ? PATTERN : PATTERN.subarray(0, k))) {
        res.once('drain', pump);
        return;
      }
    }
    res.end();
  };
  res.on('close', () => {
    left = 0;
  });
  pump();
}

function sendJson(res, status, value, headers = {}) {
  const body = JSON.stringify(value, null, 2);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
    ...headers,
  });
  res.end(body);
}

const STYLE = `
:root { color-scheme: light dark; --fg: #1d1d1f; --bg: #fafafa; --muted: #6b6b70; --line: #dcdce0;
  --ok: #1a7f37; --bad: #c62828; --card: #fff; }
@media (prefers-color-scheme: dark) { :root { --fg: #ececf0; --bg: #16161a; --muted: #a0a0a8;
  --line: #33333a; --ok: #5bd17a; --bad: #ff7b72; --card: #1f1f24; } }
* { box-sizing: border-box; }
body { margin: 0; font: 16px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg); background: var(--bg); }
main { max-width: 60rem; margin: 0 auto; padding: 2rem 1rem 4rem; }
h1 { font-size: 1.5rem; margin: 0 0 .25rem; }
h2 { font-size: 1.1rem; margin: 2rem 0 .5rem; }
p { margin: .5rem 0; }
.lead { color: var(--muted); }
.card { background: var(--card); border: 1px solid var(--line); border-radius: .5rem; padding: 1rem 1.25rem; }
.ok { color: var(--ok); font-weight: 600; }
.bad { color: var(--bad); font-weight: 600; }
table { width: 100%; border-collapse: collapse; font-size: .9rem; }
th, td { text-align: left; vertical-align: top; padding: .35rem .5rem; border-bottom: 1px solid var(--line); }
th { width: 14rem; font-weight: 600; white-space: nowrap; }
td code, th code { word-break: break-all; }
code { font: .85rem/1.4 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
tr.identity th { color: var(--ok); }
ul { padding-left: 1.25rem; }
a { color: inherit; }
`;
const STYLE_HASH = createHash('sha256').update(STYLE).digest('base64');

function row(name, value, cls = '') {
  return `<tr${cls ? ` class="${cls}"` : ''}><th scope="row"><code>${escapeHtml(name)}</code></th><td><code>${escapeHtml(value)}</code></td></tr>`;
}

const when = (secs) => (typeof secs === 'number' ? `${secs} (${new Date(secs * 1000).toISOString()})` : String(secs));

function identityHtml(a) {
  if (!a.present) {
    return `<div class="card"><p class="bad">No Edge-SSO-Assertion header.</p>
<p>The gateway forwarded this request without an identity: the organisation is not enforced or
not known, or you are not signed in.</p></div>`;
  }
  if (!a.verified) {
    const header = a.header ? `<table>${Object.entries(a.header).map(([k, v]) => row(k, JSON.stringify(v))).join('')}</table>` : '';
    return `<div class="card"><p class="bad">The Edge-SSO-Assertion did not verify.</p>
<p><code>${escapeHtml(a.error)}</code></p>${header}</div>`;
  }
  const c = a.claims;
  const claimRows = Object.entries(c)
    .map(([k, v]) => row(k, ['iat', 'exp', 'nbf'].includes(k) ? when(v) : typeof v === 'string' ? v : JSON.stringify(v)))
    .join('');
  const headerRows = Object.entries(a.header).map(([k, v]) => row(k, String(v))).join('');
  return `<div class="card"><p class="ok">Verified: signed by the gateway's key <code>${escapeHtml(a.header.kid ?? '?')}</code>.</p>
<p>You are <strong>${escapeHtml(c.email ?? c.sub)}</strong>, role <strong>${escapeHtml(c.role ?? '?')}</strong>
in <strong>${escapeHtml(c.org ?? '?')}</strong>.</p>
<h3>Claims</h3><table>${claimRows}</table>
<h3>JWS header</h3><table>${headerRows}</table></div>`;
}

function pageHtml(record) {
  const headerRows = Object.entries(record.headers)
    .map(([k, v]) => row(k, Array.isArray(v) ? v.join('\n') : v, IDENTITY_HEADERS.includes(k) ? 'identity' : ''))
    .join('');
  const org = record.path.match(/^\/orgs\/([^/?]+)/)?.[1];
  const links = org
    ? `<ul>
<li><a href="/orgs/${escapeHtml(org)}/models/demo">/orgs/${escapeHtml(org)}/models/demo</a>: any member (role read)</li>
<li><a href="/orgs/${escapeHtml(org)}/settings/general">/orgs/${escapeHtml(org)}/settings/general</a>: admins only (access rule <code>settings/**</code>)</li>
<li><a href="/sso/me">/sso/me</a>: your session as the worker sees it</li>
<li><a href="/">/</a>: the login page (sign in as someone else, or sign out)</li>
</ul>`
    : '';
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Demo origin: ${escapeHtml(record.method)} ${escapeHtml(record.path)}</title><style>${STYLE}</style></head>
<body><main>
<h1>Demo origin</h1>
<p class="lead">This page is served by the loopback demo origin (e2e/origin.mjs) behind the edge-sso
gateway. It shows what the origin received and whether the identity assertion verified against
the worker's <code>/.well-known/jwks.json</code>.</p>
<h2>Identity</h2>
${identityHtml(record.assertion)}
<h2>Request</h2>
<div class="card"><table>
${row('method', record.method)}
${row('path', record.path)}
${row('body bytes', String(record.bodyBytes))}
</table></div>
<h2>Headers received</h2>
<div class="card"><table>${headerRows}</table></div>
${links ? `<h2>Try</h2><div class="card">${links}</div>` : ''}
</main></body></html>`;
}

function sendHtml(res, html) {
  res.writeHead(200, {
    'content-type': 'text/html; charset=utf-8',
    'content-length': Buffer.byteLength(html),
    'cache-control': 'no-store',
    'content-security-policy': `default-src 'none'; style-src 'sha256-${STYLE_HASH}'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`,
    'referrer-policy': 'no-referrer',
    'x-content-type-options': 'nosniff',
  });
  res.end(html);
}

/** What the JSON answer shows of a record. */
const echo = (record) => ({
  method: record.method,
  path: record.path,
  headers: record.headers,
  body_bytes: record.bodyBytes,
  assertion: record.assertion,
});

/**
 * Start the origin on 127.0.0.1.
 * @param {{port?: number, jwksUrl?: string, issuer?: string, audience?: string,
 *   onRequest?: (record: object) => void}} options
 *   `audience` defaults to the origin's own URL (the gateway's `aud` is the origin of
 *   ORIGIN_URL); without `jwksUrl` assertions are reported, never verified.
 * @returns {Promise<{url: string, port: number, requests: object[], clear: () => void, stop: () => Promise<void>}>}
 *   Each record: {method, path (raw path+query), headers (node:http's lower-cased object),
 *   bodyBytes (null until the body has streamed in), bodySha256, assertion: {present, verified,
 *   claims, header, error}, at (ms since epoch)}.
 */
export async function startOrigin({ port = 0, jwksUrl, issuer, audience, onRequest } = {}) {
  const requests = [];
  const jwks = jwksUrl ? createRemoteJWKSet(new URL(jwksUrl)) : null;
  let ownUrl = null;

  const server = createServer(async (req, res) => {
    const record = {
      method: req.method,
      path: req.url,
      headers: { ...req.headers },
      bodyBytes: null,
      bodySha256: null,
      assertion: null,
      at: Date.now(),
    };
    requests.push(record);
    if (requests.length > 10_000) requests.shift();
    try {
      const verifying = verifyAssertion(req.headers[ASSERTION_HEADER], { jwks, issuer, audience: audience ?? ownUrl });
      const body = await drain(req);
      record.bodyBytes = body.bytes;
      record.bodySha256 = body.sha256;
      record.assertion = await verifying;
      onRequest?.(record);

      const q = req.url.indexOf('?');
      const pathname = q < 0 ? req.url : req.url.slice(0, q);
      const query = new URLSearchParams(q < 0 ? '' : req.url.slice(q + 1));

      if ((req.method === 'PUT' || req.method === 'POST') && pathname.endsWith('/upload')) {
        return sendJson(res, 200, { received: body.bytes, sha256: body.sha256 });
      }
      if (req.method === 'GET' && pathname.endsWith('/download') && query.has('bytes')) {
        const raw = query.get('bytes');
        const n = /^\d{1,10}$/.test(raw) ? Number(raw) : NaN;
        if (!(n <= MAX_DOWNLOAD_BYTES)) {
          return sendJson(res, 400, { error: 'bytes must be an integer from 0 to 4 GiB' });
        }
        return streamBytes(res, n);
      }
      if (pathname.endsWith('/redirect')) {
        res.writeHead(302, { location: '/elsewhere', 'content-length': '0', 'cache-control': 'no-store' });
        return res.end();
      }
      if (pathname.endsWith('/set-cookie')) {
        const cookies = [
          ...EDGE_SSO_COOKIES.map((name) =>
            name.startsWith('__Host-') ? `${name}=x; Path=/; Secure; HttpOnly; SameSite=Lax` : `${name}=x; Path=/; HttpOnly; SameSite=Lax`,
          ),
          'theme=dark; Path=/; SameSite=Lax',
        ];
        return sendJson(res, 200, echo(record), { 'set-cookie': cookies });
      }
      if (/\btext\/html\b/i.test(req.headers.accept ?? '')) return sendHtml(res, pageHtml(record));
      return sendJson(res, 200, echo(record));
    } catch (err) {
      if (!res.headersSent) sendJson(res, 500, { error: String(err?.message ?? err) });
      else res.destroy();
    }
  });

  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  const actualPort = server.address().port;
  ownUrl = `http://127.0.0.1:${actualPort}`;
  return {
    url: ownUrl,
    port: actualPort,
    requests,
    /** Forget the recorded requests. */
    clear() {
      requests.length = 0;
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
      port: { type: 'string', default: process.env.ORIGIN_PORT ?? '8788' },
      'jwks-url': { type: 'string' },
      issuer: { type: 'string' },
      audience: { type: 'string' },
    },
  });
  const origin = await startOrigin({
    port: Number(values.port),
    jwksUrl: values['jwks-url'],
    issuer: values.issuer,
    audience: values.audience,
    onRequest: (r) => console.log(`${r.method} ${r.path} ${r.assertion.verified ? `as ${r.assertion.claims.email}` : r.assertion.error ?? 'anonymous'}`),
  });
  console.log(`demo origin at ${origin.url}`);
  const shutdown = () => origin.stop().then(() => process.exit(0));
  process.on('SIGINT', shutdown);
  process.on('SIGTERM', shutdown);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
