// The JavaScript peer for the in-workerd verification benchmark: a Worker that verifies an ID
// token with `jose` (WebCrypto-backed), the way a JS Worker would do it: the JWKS is held at
// module level (createLocalJWKSet keeps its imported CryptoKeys), jwtVerify checks signature,
// issuer, audience and time, and the nonce is compared afterwards.
//
// POST /verify {token, jwks, iss, aud, nonce, n}: verifies n times, answers {"verified": n, "inner_ms": ..}.
import { createLocalJWKSet, jwtVerify } from 'jose';

let cached = { json: null, set: null };

function keySet(jwks) {
  const json = JSON.stringify(jwks);
  if (cached.json !== json) cached = { json, set: createLocalJWKSet(jwks) };
  return cached.set;
}

export default {
  async fetch(request) {
    const { pathname } = new URL(request.url);
    if (pathname === '/healthz') return new Response('ok');
    if (pathname === '/floor') return new Response('ok');
    if (pathname !== '/verify' || request.method !== 'POST') return new Response('not found', { status: 404 });
    const job = await request.json();
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
