// Keys for the access gateway's signed identity header (Edge-SSO-Assertion, JWS ES256).
//
//   const jwk = generateAssertionKey();   // a JSON string: the value of ASSERTION_SIGNING_KEY
//   JSON.parse(jwk).kid                   // the kid the worker puts in the JWS header and JWKS
//
// The worker reads the private key from the secret ASSERTION_SIGNING_KEY (and, during a
// rotation, ASSERTION_SIGNING_KEY_PREVIOUS) and publishes the public halves at
// GET /.well-known/jwks.json.

import { createHash, generateKeyPairSync } from 'node:crypto';

/**
 * The RFC 7638 JWK thumbprint of an EC public key (SHA-256 over the required members in
 * lexicographic order, base64url): a kid that names the key itself, so a regenerated key never
 * reuses an old kid.
 */
export function ecThumbprint({ crv, kty, x, y }) {
  const canonical = JSON.stringify({ crv, kty, x, y });
  return createHash('sha256').update(canonical).digest('base64url');
}

/**
 * A fresh private EC P-256 JWK with a `kid`, as the JSON string the worker's
 * ASSERTION_SIGNING_KEY secret holds: `{"kty":"EC","crv":"P-256","x","y","d","kid"}`.
 * @returns {string}
 */
export function generateAssertionKey() {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const { kty, crv, x, y, d } = privateKey.export({ format: 'jwk' });
  return JSON.stringify({ kty, crv, x, y, d, kid: ecThumbprint({ crv, kty, x, y }) });
}

/** The public half of a private JWK string (what the JWKS should publish for it). */
export function publicJwk(privateJwkJson) {
  const { kty, crv, x, y, kid } = JSON.parse(privateJwkJson);
  return { kty, crv, x, y, kid };
}
