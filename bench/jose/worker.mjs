// The JavaScript peer for the in-workerd verification benchmark: a Worker that verifies an ID
// token with `jose` (WebCrypto-backed), the way a JS Worker would do it: the JWKS is held at
// module level (createLocalJWKSet keeps its imported CryptoKeys), jwtVerify checks signature,
// issuer, audience and time, and the nonce is compared afterwards.
//
// POST /verify {token, jwks, iss, aud, nonce, n, part}: verifies n times, answers {"verified": n, "inner_ms": ..}.
// `part: "subtle"` runs only `crypto.subtle.verify` on the token's signing input with an
// imported key (imported once): the floor any verifier in this runtime pays, for the breakdown.
import { base64url, createLocalJWKSet, decodeProtectedHeader, importJWK, jwtVerify } from 'jose';

let cached = { json: null, set: null };

function keySet(jwks) {
  const json = JSON.stringify(jwks);
  if (cached.json !== json) cached = { json, set: createLocalJWKSet(jwks) };
  return cached.set;
}

const SUBTLE = {
  RS256: { name: 'RSASSA-PKCS1-v1_5' },
  PS256: { name: 'RSA-PSS', saltLength: 32 },
  ES256: { name: 'ECDSA', hash: 'SHA-256' },
  EdDSA: { name: 'Ed25519' },
};
let subtleKey = { id: null, key: null };

async function subtleOnly(job) {
  const { alg, kid } = decodeProtectedHeader(job.token);
  const id = `${JSON.stringify(job.jwks)} ${alg} ${kid}`;
  if (subtleKey.id !== id) {
    const jwk = job.jwks.keys.find((k) => k.kid === kid);
    subtleKey = { id, key: await importJWK(jwk, alg) };
  }
  const dot = job.token.lastIndexOf('.');
  const data = new TextEncoder().encode(job.token.slice(0, dot));
  const signature = base64url.decode(job.token.slice(dot + 1));
  const params = SUBTLE[alg];
  const started = performance.now();
  for (let i = 0; i < job.n; i++) {
    if (!(await crypto.subtle.verify(params, subtleKey.key, signature, data))) {
      return new Response('bad signature', { status: 400 });
    }
  }
  return Response.json({ verified: job.n, inner_ms: performance.now() - started });
}

export default {
  async fetch(request) {
    const { pathname } = new URL(request.url);
    if (pathname === '/healthz') return new Response('ok');
    if (pathname === '/floor') return new Response('ok');
    if (pathname !== '/verify' || request.method !== 'POST') return new Response('not found', { status: 404 });
    const job = await request.json();
    if (job.part === 'subtle') return subtleOnly(job);
    const jwks = keySet(job.jwks);
    const started = performance.now();
    for (let i = 0; i < job.n; i++) {
      const { payload } = await jwtVerify(job.token, jwks, {
        issuer: job.iss,
        audience: job.aud,
        algorithms: ['RS256', 'PS256', 'ES256', 'EdDSA'],
        clockTolerance: 60,
        requiredClaims: ['sub', 'iat', 'exp'],
      });
      if (payload.nonce !== job.nonce) return new Response('nonce mismatch', { status: 400 });
    }
    // inner_ms shows whether the isolate's clock moved (workerd may freeze it during CPU work).
    return Response.json({ verified: job.n, inner_ms: performance.now() - started });
  },
};
