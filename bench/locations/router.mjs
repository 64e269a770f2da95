// The front of the two-location revocation benchmark (bench/run.mjs, part `revocation`): one
// `wrangler dev` runs this router and two edge-sso workers, A and B, each in its own isolate
// with its own caches; B's org-ledger binding points at A's Durable Object class, so both
// judge sessions against one ledger, as two Cloudflare locations do. `X-Bench-Location: b`
// sends a request to B, anything else to A.
export default {
  fetch(req, env) {
    return req.headers.get('x-bench-location') === 'b' ? env.B.fetch(req) : env.A.fetch(req);
  },
};
