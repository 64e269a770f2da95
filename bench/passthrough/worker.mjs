// The yardstick of the gateway benchmark (bench/run.mjs, part `gateway`): a JS worker that
// forwards every request to ORIGIN unchanged (method, headers, body stream), nothing else.
// edge-sso's gated GET is compared with it against the same loopback origin, in the same run.
export default {
  fetch(req, env) {
    const u = new URL(req.url);
    return fetch(new URL(u.pathname + u.search, env.ORIGIN), req);
  },
};
