// The front of the in-workerd verification benchmark (bench/run.mjs, part `verify`): one
// `wrangler dev` runs this router, the edge-sso bench worker (../rust) and the jose peer
// (../jose), so both verifiers live in the same workerd process and every request takes the
// same extra hop. `X-Bench-Peer: jose` sends a request to the jose worker, anything else to
// edge-sso.
export default {
  fetch(req, env) {
    return req.headers.get('x-bench-peer') === 'jose' ? env.JOSE.fetch(req) : env.RUST.fetch(req);
  },
};
