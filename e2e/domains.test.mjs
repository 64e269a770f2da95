// Domain ownership in workerd: claims proven by a TXT record read through DNS over HTTPS (a
// loopback DoH responder, e2e/doh.mjs), public mail domains refused, a second org's pending and
// verified claims, the scheduled re-check (wrangler's scheduled-event route) unverifying a
// domain whose record disappeared, and /sso/start routing following the status.
import { strict as assert } from 'node:assert';
import { after, before, describe, test } from 'node:test';

import { startDoh } from './doh.mjs';
import { acmeConfig, startStack } from './fixtures.mjs';

let doh;
let stack;
before(async () => {
  doh = await startDoh();
  stack = await startStack({ vars: { DOH_URL: doh.url } });
  await stack.admin.mustPut('acme', acmeConfig(stack.idp));
  await stack.admin.mustPut('beta', acmeConfig(stack.idp, { domains: ['beta.test'], client_id: 'beta-client' }));
});
after(async () => {
  await stack?.stop();
  await doh?.stop();
});

const DOMAIN = 'acme-dns.test';
const TXT_NAME = `_edge-sso-challenge.${DOMAIN}`;

const claim = (org, domain) => stack.admin.request('PUT', `/admin/orgs/${org}/domains/${domain}`);
const verify = (org, domain) => stack.admin.request('POST', `/admin/orgs/${org}/domains/${domain}/verify`);
const domains = async (org) => {
  const r = await stack.admin.request('GET', `/admin/orgs/${org}/domains`);
  assert.equal(r.status, 200, r.text);
  return r.body.domains;
};
const claimOf = async (org, domain) => (await domains(org)).find((d) => d.domain === domain);

/** Where /sso/start sends `someone@domain`: the client_id of the org it routes to, or the 404. */
async function routesTo(domain) {
  const res = await fetch(`${stack.origin}/sso/start?email=${encodeURIComponent(`someone@${domain}`)}`, {
    redirect: 'manual',
    headers: { accept: 'application/json' },
  });
  const text = await res.text();
  if (res.status === 404) {
    assert.equal(JSON.parse(text).error, 'unknown_domain', text);
    return null;
  }
  assert.equal(res.status, 302, text);
  return new URL(res.headers.get('location')).searchParams.get('client_id');
}

/** Runs the cron trigger once, as the platform would (PLATFORM.md "Cron triggers"). */
async function runCron() {
  const res = await fetch(`${stack.origin}/cdn-cgi/handler/scheduled?cron=${encodeURIComponent('*/30 * * * *')}`);
  await res.arrayBuffer();
  assert.equal(res.status, 200, 'the scheduled handler ran');
}

describe('claims', () => {
  test('public mail domains are refused, in claims and in the operator config', async () => {
    for (const d of ['gmail.com', 'Outlook.com', 'proton.me']) {
      const r = await claim('acme', d);
      assert.equal(r.status, 400, r.text);
      assert.equal(r.body.field, 'domain');
      assert.match(r.body.message, /public mail domain/);
    }
    const r = await stack.admin.put('acme', acmeConfig(stack.idp, { domains: ['acme.test', 'yahoo.com'] }));
    assert.equal(r.status, 400, r.text);
    assert.equal(r.body.field, 'domains[1]');
    assert.equal(await routesTo('yahoo.com'), null);
  });

  test('malformed domains are refused naming the field', async () => {
    for (const d of ['a..test', 'acme-dns.test.', '*.acme.test', '%zz']) {
      const r = await claim('acme', d);
      assert.equal(r.status, 400, `${d}: ${r.text}`);
      assert.equal(r.body.field, 'domain');
    }
    const r = await claim('nobody', DOMAIN);
    assert.equal(r.status, 404, r.text);
  });

  test('a claim is pending, shows the TXT record to publish, and does not route', async () => {
    const r = await claim('acme', 'ACME-DNS.test');
    assert.equal(r.status, 201, r.text);
    assert.equal(r.body.domain, DOMAIN);
    assert.equal(r.body.status, 'pending');
    assert.equal(r.body.txt_name, TXT_NAME);
    assert.match(r.body.txt_value, /^edge-sso-verify=[A-Za-z0-9_-]{32}$/);
    const again = await claim('acme', DOMAIN);
    assert.equal(again.status, 200);
    assert.equal(again.body.txt_value, r.body.txt_value, 'the challenge stays the same');
    const listed = await claimOf('acme', DOMAIN);
    assert.equal(listed.status, 'pending');
    assert.equal(listed.source, 'dns');
    assert.equal((await claimOf('acme', 'acme.test')).source, 'operator');
    assert.equal(await routesTo(DOMAIN), null);
  });
});

describe('verification', () => {
  test('absent, empty, wrong, SERVFAIL: each its own check, nothing routes', async () => {
    let r = await verify('acme', DOMAIN);
    assert.equal(r.status, 200, r.text);
    assert.equal(r.body.check, 'nxdomain');
    assert.equal(r.body.status, 'pending');
    doh.set(TXT_NAME, { txt: [] });
    assert.equal((await verify('acme', DOMAIN)).body.check, 'no_record');
    doh.setTxt(TXT_NAME, ['edge-sso-verify=someone-else']);
    assert.equal((await verify('acme', DOMAIN)).body.check, 'wrong_value');
    doh.set(TXT_NAME, { status: 2 });
    assert.equal((await verify('acme', DOMAIN)).body.check, 'servfail');
    assert.ok(doh.queries(TXT_NAME) >= 4, 'the worker asked the DoH responder');
    assert.equal(await routesTo(DOMAIN), null);
    const listed = await claimOf('acme', DOMAIN);
    assert.equal(listed.status, 'pending');
    assert.equal(listed.last_check, 'servfail');
    assert.equal(typeof listed.last_checked, 'number');
  });

  test('the record present: verified, and /sso/start routes the domain', async () => {
    const { txt_value: value } = await claimOf('acme', DOMAIN);
    // Several records, one of them ours.
    doh.setTxt(TXT_NAME, ['v=spf1 -all', value]);
    const r = await verify('acme', DOMAIN);
    assert.equal(r.status, 200, r.text);
    assert.equal(r.body.check, 'verified');
    assert.equal(r.body.status, 'verified');
    assert.equal(typeof r.body.verified_at, 'number');
    assert.equal(await routesTo(DOMAIN), stack.idp.clientId);
    const org = await stack.admin.get('acme');
    assert.deepEqual(org.body.verified_domains, [DOMAIN]);
  });

  test('a second org: its pending claim is allowed, its verification is 409 naming the holder', async () => {
    const r = await claim('beta', DOMAIN);
    assert.equal(r.status, 201, r.text);
    assert.equal(r.body.status, 'pending');
    doh.setTxt(TXT_NAME, [(await claimOf('acme', DOMAIN)).txt_value, r.body.txt_value]);
    const v = await verify('beta', DOMAIN);
    assert.equal(v.status, 409, v.text);
    assert.equal(v.body.error, 'domain_claimed');
    assert.equal(v.body.org, 'acme');
    assert.equal(await routesTo(DOMAIN), stack.idp.clientId);
    // The operator cannot hand it to beta either.
    const put = await stack.admin.put('beta', acmeConfig(stack.idp, { domains: ['beta.test', DOMAIN], client_id: 'beta-client' }));
    assert.equal(put.status, 409, put.text);
    // Nor can DNS take a domain another org's config lists.
    const c = await claim('acme', 'beta.test');
    assert.equal(c.status, 201, c.text);
    doh.setTxt('_edge-sso-challenge.beta.test', [c.body.txt_value]);
    const w = await verify('acme', 'beta.test');
    assert.equal(w.status, 409, w.text);
    assert.equal(w.body.org, 'beta');
    assert.equal(await routesTo('beta.test'), 'beta-client');
  });

  test('a pending claim of another org never blocks a verification', async () => {
    const b = await claim('beta', 'shared.test');
    assert.equal(b.status, 201);
    const a = await claim('acme', 'shared.test');
    doh.setTxt('_edge-sso-challenge.shared.test', [a.body.txt_value]);
    assert.equal((await verify('acme', 'shared.test')).body.status, 'verified');
    assert.equal(await routesTo('shared.test'), stack.idp.clientId);
    // Released: it stops routing.
    const del = await stack.admin.request('DELETE', '/admin/orgs/acme/domains/shared.test');
    assert.equal(del.status, 204, del.text);
    assert.equal(await routesTo('shared.test'), null);
    assert.equal((await stack.admin.request('DELETE', '/admin/orgs/acme/domains/shared.test')).status, 404);
  });
});

describe('re-verification', () => {
  test('the cron re-check unverifies a domain after 3 consecutive misses; SERVFAIL never counts', async () => {
    const acme = await claimOf('acme', DOMAIN);
    assert.equal(acme.status, 'verified');
    await runCron();
    assert.equal((await claimOf('acme', DOMAIN)).misses, 0, 'the record is still there');
    // The record disappears (beta's stays: it is pending and waiting).
    doh.setTxt(TXT_NAME, [(await claimOf('beta', DOMAIN)).txt_value]);
    await runCron();
    await runCron();
    let now = await claimOf('acme', DOMAIN);
    assert.equal(now.status, 'verified');
    assert.equal(now.misses, 2);
    assert.equal(now.last_check, 'wrong_value');
    assert.equal(await routesTo(DOMAIN), stack.idp.clientId, 'still routing after 2 misses');
    doh.set(TXT_NAME, { status: 2 });
    await runCron();
    now = await claimOf('acme', DOMAIN);
    assert.equal(now.status, 'verified', 'a SERVFAIL never flips a verified domain');
    assert.equal(now.last_check, 'servfail');
    doh.delete(TXT_NAME);
    await runCron();
    now = await claimOf('acme', DOMAIN);
    assert.equal(now.status, 'unverified');
    assert.equal(now.last_check, 'nxdomain');
    assert.equal(await routesTo(DOMAIN), null, 'an unverified domain stops routing');
    assert.equal((await stack.admin.get('acme')).body.verified_domains, undefined);
  });

  test('once unverified, the domain is free for the org that now proves it', async () => {
    doh.setTxt(TXT_NAME, [(await claimOf('beta', DOMAIN)).txt_value]);
    const v = await verify('beta', DOMAIN);
    assert.equal(v.status, 200, v.text);
    assert.equal(v.body.status, 'verified');
    assert.equal(await routesTo(DOMAIN), 'beta-client');
    // And acme cannot take it back while beta holds it.
    const a = await verify('acme', DOMAIN);
    assert.equal(a.status, 409, a.text);
    assert.equal(a.body.org, 'beta');
  });

  test('deleting an org releases its claims and their routing', async () => {
    assert.equal((await stack.admin.delete('beta')).status, 204);
    assert.equal(await routesTo(DOMAIN), null);
    assert.equal(await routesTo('beta.test'), null);
  });
});
