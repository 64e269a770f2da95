// The user's own page (/ when signed in) in a real browser: who you are in which organisations,
// with role and expiry, sign-out of one organisation and sign-out everywhere; signed out it is
// the email form again. /sso/me stays JSON.
import { strict as assert } from 'node:assert';
import { after, before, describe, test } from 'node:test';

import { launchChromium, newLoopbackPage } from './chromium.mjs';

import { acmeConfig, startStack } from './fixtures.mjs';

let stack;
let browser;
before(async () => {
  stack = await startStack();
  await stack.admin.mustPut('acme', acmeConfig(stack.idp));
  // A second org at the same IdP: carol@beta.test matches no rule and gets the default role.
  await stack.admin.mustPut('beta', acmeConfig(stack.idp, { domains: ['beta.test'] }));
  browser = await launchChromium();
});
after(async () => {
  await browser?.close();
  await stack?.stop();
});

/** A fresh loopback-only page recording CSP violations and page errors on the worker's pages. */
const newPage = (options = {}) => newLoopbackPage(browser, stack.origin, options);

/** From the login page: email, then the IdP's dev login and consent, back on the worker. */
async function signInFromLoginPage(page, email, login) {
  await page.getByLabel('Work email').fill(email);
  await page.getByRole('button', { name: 'Continue' }).click();
  await page.waitForURL((u) => u.origin === stack.idp.issuer);
  await page.locator('input[name="login"]').fill(login);
  await page.locator('input[name="password"]').fill('whatever');
  await page.getByRole('button', { name: 'Sign-in' }).click();
  await page.getByRole('button', { name: 'Continue' }).click();
  await page.waitForURL((u) => u.origin === stack.origin);
}

/** Submits a sign-out form and follows the IdP's end-session confirmation back to the worker. */
async function signOut(page, buttonName) {
  await page.getByRole('button', { name: buttonName, exact: true }).click();
  await page.waitForURL((u) => u.origin === stack.idp.issuer || u.pathname === '/');
  if (new URL(page.url()).origin === stack.idp.issuer) {
    const confirm = page.locator('button[type="submit"], input[type="submit"]').first();
    if (await confirm.count()) await confirm.click();
    await page.waitForURL((u) => u.origin === stack.origin);
  }
}

/** The org slugs the signed-in panel lists. */
function listed(page) {
  return page.locator('#signed-in li[data-org]').evaluateAll((items) => items.map((i) => i.dataset.org));
}

describe('the user page', () => {
  test('shows each organisation with role and expiry, signs out of one, then everywhere', async () => {
    const { context, page, problems } = await newPage();
    try {
      // Signed out: the email form, no panel.
      await page.goto(`${stack.origin}/`);
      await page.getByLabel('Work email').waitFor();
      assert.equal(await page.locator('#signed-in').isVisible(), false);

      await signInFromLoginPage(page, 'alice@acme.test', 'alice');
      await page.goto(`${stack.origin}/`);
      const panel = page.getByRole('region', { name: 'You are signed in' });
      await panel.waitFor();
      assert.deepEqual(await listed(page), ['acme']);
      const acme = panel.locator('li[data-org="acme"]');
      assert.match(await acme.innerText(), /alice@acme\.test/);
      assert.match(await acme.innerText(), /Role: admin/);
      assert.match(await acme.innerText(), /until /);
      assert.equal(await page.locator('#signout-fallback').isVisible(), false);

      // Sign in to a second organisation from the same page, as another IdP account: the IdP's
      // own session is dropped first (its cookies share the host), the worker's is kept.
      const keep = (await context.cookies()).filter((c) => /(^|-)sso_/.test(c.name));
      await context.clearCookies();
      await context.addCookies(keep);
      await page.getByRole('heading', { name: 'Sign in to another organisation' }).waitFor();
      await signInFromLoginPage(page, 'carol@beta.test', 'carol@beta.test');
      await page.goto(`${stack.origin}/`);
      await panel.waitFor();
      await page.locator('#signed-in li[data-org="beta"]').waitFor();
      assert.deepEqual((await listed(page)).sort(), ['acme', 'beta']);
      assert.match(await panel.locator('li[data-org="beta"]').innerText(), /carol@beta\.test[\s\S]*Role: read/);

      // /sso/me stays JSON for programs.
      const res = await page.request.get(`${stack.origin}/sso/me`);
      assert.match(res.headers()['content-type'], /application\/json/);
      assert.deepEqual(Object.keys((await res.json()).orgs).sort(), ['acme', 'beta']);

      // Sign out of beta only: acme stays.
      await signOut(page, 'Sign out of beta');
      await page.goto(`${stack.origin}/`);
      await panel.waitFor();
      assert.deepEqual(await listed(page), ['acme']);

      // Sign out everywhere: the email form again, and /sso/me is 401.
      await signOut(page, 'Sign out everywhere');
      const asked = page.waitForResponse((r) => new URL(r.url()).pathname === '/sso/me');
      await page.goto(`${stack.origin}/`);
      await page.getByLabel('Work email').waitFor();
      assert.equal((await asked).status(), 401, "the page's own /sso/me check");
      assert.equal(await page.locator('#signed-in').isVisible(), false);
      assert.equal((await page.request.get(`${stack.origin}/sso/me`)).status(), 401);
      assert.deepEqual(problems, []);
    } finally {
      await context.close();
    }
  });
});
