// The access gateway in a real browser (headless Chromium via playwright-core): a signed-out
// visit to /orgs/acme/models/x goes to sign in, through the IdP's forms, and lands back on
// /orgs/acme/models/x showing the origin's page with the identity the origin verified.
import { strict as assert } from 'node:assert';
import { after, before, describe, test } from 'node:test';

import { launchChromium, newLoopbackPage } from './chromium.mjs';

import { ACCESS_RULES_FIELD, acmeConfig, startStack } from './fixtures.mjs';

let stack;
let browser;
before(async () => {
  stack = await startStack({ upstream: true });
  await stack.admin.mustPut('acme', acmeConfig(stack.idp, {
    enforced: true,
    [ACCESS_RULES_FIELD]: [{ path: 'settings/**', role: 'admin' }],
  }));
  browser = await launchChromium();
});
after(async () => {
  await browser?.close();
  await stack?.stop();
});

/** A fresh loopback-only page recording CSP violations and page errors on the worker's pages. */
const newPage = (options = {}) => newLoopbackPage(browser, stack.origin, options);

describe('gateway in a browser', () => {
  test('signed out -> sign in at the IdP -> back on the gated page with a verified identity', async () => {
    const { context, page, problems } = await newPage();
    try {
      const target = `${stack.origin}/orgs/acme/models/x`;
      await page.goto(target);

      // The gateway sends a signed-out navigation to /sso/start?org=acme&return_to=...; with
      // the org known that goes straight to the IdP. Should the worker show its login page
      // instead, enter the work email there.
      if (new URL(page.url()).origin === stack.origin) {
        await page.getByLabel('Work email').fill('alice@acme.test');
        await page.getByRole('button', { name: 'Continue' }).click();
      }
      await page.waitForURL((u) => u.origin === stack.idp.issuer);
      await page.locator('input[name="login"]').fill('alice');
      await page.locator('input[name="password"]').fill('whatever');
      await page.getByRole('button', { name: 'Sign-in' }).click();
      await page.getByRole('button', { name: 'Continue' }).click();

      await page.waitForURL((u) => u.href === target);
      await page.getByRole('heading', { name: 'Demo origin' }).waitFor();
      const text = await page.locator('main').innerText();
      assert.match(text, /Verified/);
      assert.match(text, /alice@acme\.test/);
      assert.match(text, /admin/);

      // The origin's own record of that page view.
      const seen = stack.upstream.requests.filter((r) => r.path === '/orgs/acme/models/x');
      assert.ok(seen.length >= 1, 'the origin served the page');
      const last = seen.at(-1);
      assert.ok(last.assertion.verified, last.assertion.error);
      assert.equal(last.assertion.claims.email, 'alice@acme.test');
      assert.equal(last.assertion.claims.org, 'acme');
      assert.equal(last.assertion.claims.role, 'admin');
      assert.ok(!/(^|;\s*)(__Host-)?sso_(session|tx)=/.test(last.headers.cookie ?? ''), 'no edge-sso cookie reached the origin');
      assert.deepEqual(problems, []);
    } finally {
      await context.close();
    }
  });
});
