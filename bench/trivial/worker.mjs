// The yardstick of the cold-start and lookup benchmarks (bench/coldstart.mjs, bench/lookup.mjs):
// a JavaScript worker with edge-sso's route shape and none of its work. `/healthz` answers
// `200 ok`; `/sso/start?email=...` answers a `302` to a fixed authorization URL with a
// transaction-sized `Set-Cookie`, as edge-sso's lookup does; anything else is `404`. No storage,
// no crypto, no config: what is left is workerd, wrangler dev's proxy and the loopback socket.
// With an `RL_LOGIN` binding (bench/trivial-rl/wrangler.toml) `/sso/start` first counts the
// client against it, keyed like edge-sso (`CF-Connecting-IP`, else "unknown"), and answers 429
// over budget: the one platform call the issue requires on that route.
const LOCATION = 'http://127.0.0.1:9/authorize?response_type=code&client_id=trivial&state=s&nonce=n&code_challenge=c&code_challenge_method=S256';
const COOKIE = `sso_tx=${'x'.repeat(200)}; Path=/sso/callback; HttpOnly; SameSite=Lax; Max-Age=600`;

export default {
  async fetch(req, env) {
    const url = new URL(req.url);
    if (url.pathname === '/healthz') return new Response('ok', { headers: { 'content-type': 'text/plain' } });
    if (url.pathname === '/sso/start' && url.searchParams.has('email')) {
      if (env.RL_LOGIN) {
        const { success } = await env.RL_LOGIN.limit({ key: req.headers.get('cf-connecting-ip') ?? 'unknown' });
        if (!success) return new Response('rate limited', { status: 429, headers: { 'retry-after': '60' } });
      }
      return new Response(null, { status: 302, headers: { location: LOCATION, 'set-cookie': COOKIE, 'cache-control': 'no-store' } });
    }
    return new Response('not found', { status: 404 });
  },
};
