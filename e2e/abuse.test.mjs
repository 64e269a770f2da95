// Abuse resistance in real workerd with the real rate-limit bindings (wrangler dev simulates the
// Workers Rate Limiting binding per key): sign-in routes and failed admin authentications are
// limited per client address, and a 100 MB chunked upload to an app route is refused without
// taking the isolate down.
import { strict as assert } from 'node:assert';
import { after, before, describe, test } from 'node:test';

import { acmeConfig, startStack } from './fixtures.mjs';

let stack;
before(async () => {
  stack = await startStack({ realRateLimits: true });
  await stack.admin.mustPut('acme', acmeConfig(stack.idp));
});
after(() => stack?.stop());

const start = (ip) =>
  fetch(`${stack.origin}/sso/start?email=alice@acme.test`, {
    redirect: 'manual',
    headers: { 'cf-connecting-ip': ip, accept: 'application/json' },
  });

// wrangler dev's simulated binding counts in fixed windows aligned to the wall clock (a key's
// count starts again at every whole minute), so a burst that straddles a minute is counted in two
// windows and never reaches the limit. Each burst starts with at least 15 s of its minute left.
async function atStartOfAWindow(periodMs = 60_000) {
  const left = periodMs - (Date.now() % periodMs);
  if (left < 15_000) await new Promise((resolve) => setTimeout(resolve, left + 100));
}

describe('rate limits (per CF-Connecting-IP)', () => {
  test('the 61st sign-in start in a minute is 429 with Retry-After; another address is not affected', async () => {
    await atStartOfAWindow();
    const ip = `198.51.100.${10 + Math.floor(Math.random() * 200)}`;
    const statuses = [];
    for (let i = 0; i < 70; i++) {
      const r = await start(ip);
      statuses.push(r.status);
      if (r.status === 429) {
        assert.equal(r.headers.get('retry-after'), '60');
        const body = await r.json();
        assert.equal(body.error, 'rate_limited');
      } else {
        await r.arrayBuffer();
      }
    }
    assert.equal(statuses.filter((s) => s === 302).length, 60, statuses.join(','));
    assert.equal(statuses.slice(60).every((s) => s === 429), true, statuses.join(','));
    const other = await start('203.0.113.200');
    assert.equal(other.status, 302);
  });

  test('failed admin authentications are limited; the right token still works', async () => {
    const ip = '192.0.2.77';
    await atStartOfAWindow();
    const get = (token) =>
      fetch(`${stack.origin}/admin/orgs`, { headers: { authorization: `Bearer ${token}`, 'cf-connecting-ip': ip } });
    for (let i = 0; i < 10; i++) assert.equal((await get('wrong-token-wrong')).status, 401, `attempt ${i}`);
    const limited = await get('wrong-token-wrong');
    assert.equal(limited.status, 429);
    assert.ok(limited.headers.get('retry-after'));
    assert.equal((await get(stack.worker.adminToken)).status, 200);
  });
});

describe('inbound bodies', () => {
  test('a 100 MB chunked POST is refused with 413 and the isolate keeps answering', async () => {
    const chunk = new Uint8Array(1 << 20).fill(0x20);
    let sent = 0;
    const body = new ReadableStream({
      pull(controller) {
        if (sent === 100) return controller.close();
        sent++;
        controller.enqueue(chunk);
      },
    });
    const r = await fetch(`${stack.origin}/admin/orgs/acme`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${stack.worker.adminToken}`, 'content-type': 'application/json' },
      body,
      duplex: 'half',
    });
    assert.equal(r.status, 413);
    assert.equal((await r.json()).error, 'too_large');
    const health = await fetch(`${stack.origin}/healthz`);
    assert.equal(health.status, 200);
    const org = await stack.admin.get('acme');
    assert.equal(org.status, 200, 'the org was not touched');
  });
});
