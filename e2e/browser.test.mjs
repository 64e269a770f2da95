// A real browser (headless Chromium via playwright-core) signs in through the login page, the
// IdP's forms and the worker's callback; the pages must work under the worker's CSP.
import { strict as assert } from 'node:assert';
import { after, before, describe, test } from 'node:test';

import { launchChromium, newLoopbackPage } from './chromium.mjs';

import { acmeConfig, startStack } from './fixtures.mjs';

let stack;
let browser;
before(async () => {
  stack = await startStack();
  await stack.admin.mustPut('acme', acmeConfig(stack.idp));
  browser = await launchChromium();
});
after(async () => {
  await browser?.close();
  await stack?.stop();
});

/** A fresh loopback-only page recording CSP violations and page errors on the worker's pages. */
const newPage = (options = {}) => newLoopbackPage(browser, stack.origin, options);

describe('browser login', () => {
  test('alice signs in through the login page and is admin of acme', async () => {
    const { context, page, problems } = await newPage();
    try {
      await page.goto(`${stack.origin}/`);
      assert.equal(await page.getAttribute('html', 'lang'), 'en');
      const email = page.getByLabel('Work email');
      assert.equal(await email.getAttribute('type'), 'email');
      assert.equal(await email.getAttribute('required'), '');
      // Keyboard: the email field is reachable and focused with Tab.
      await page.keyboard.press('Tab');
      assert.equal(await page.evaluate(() => document.activeElement?.id), 'email');
      await email.fill('alice@acme.test');
      await page.getByRole('button', { name: 'Continue' }).click();

      // The IdP's dev login form.
      await page.waitForURL((u) => u.origin === stack.idp.issuer);
      await page.locator('input[name="login"]').fill('alice');
      await page.locator('input[name="password"]').fill('whatever');
      await page.getByRole('button', { name: 'Sign-in' }).click();
      // Consent.
      await page.getByRole('button', { name: 'Continue' }).click();

      await page.waitForURL((u) => u.origin === stack.origin);
      const res = await page.goto(`${stack.origin}/sso/me`);
      assert.equal(res.status(), 200);
      const body = JSON.parse(await res.text());
      assert.equal(body.orgs.acme.sub, 'alice');
      assert.equal(body.orgs.acme.role, 'admin');

      const cookies = await context.cookies(stack.origin);
      const session = cookies.find((c) => c.name === 'sso_session');
      assert.ok(session?.httpOnly, 'session cookie is HttpOnly');
      assert.equal(await page.evaluate(() => document.cookie.includes('sso_session')), false);

      // Sign out from the login page's signed-in panel: a same-origin POST (Origin: null
      // under the page's no-referrer policy, Sec-Fetch-Site: same-origin) hands over to the
      // IdP's end_session_endpoint, which confirms and returns to the worker.
      await page.goto(`${stack.origin}/`);
      await page.getByRole('button', { name: 'Sign out everywhere' }).click();
      await page.waitForURL((u) => u.origin === stack.idp.issuer);
      const confirm = page.locator('button[type="submit"], input[type="submit"]').first();
      if (await confirm.count()) await confirm.click();
      await page.waitForURL((u) => u.origin === stack.origin);
      const after = await page.goto(`${stack.origin}/sso/me`);
      assert.equal(after.status(), 401, 'signed out');
      assert.deepEqual(problems, []);
    } finally {
      await context.close();
    }
  });

  test('an unknown domain shows the error on the login page', async () => {
    const { context, page, problems } = await newPage();
    try {
      await page.goto(`${stack.origin}/`);
      await page.getByLabel('Work email').fill('someone@unknown.test');
      await page.getByRole('button', { name: 'Continue' }).click();
      const alert = page.getByRole('alert');
      await alert.waitFor();
      const text = (await alert.textContent()).trim();
      assert.ok(text.length > 0, 'the alert says something');
      assert.ok(!/acme/i.test(text), 'and names no org');
      assert.equal(new URL(page.url()).origin, stack.origin);
      // The form is still there to try again.
      assert.equal(await page.getByLabel('Work email').count(), 1);
      assert.deepEqual(problems, []);
    } finally {
      await context.close();
    }
  });
});

describe('admin page', () => {
  test('lists orgs with the token and shows API errors next to the field', async () => {
    const { context, page, problems } = await newPage();
    try {
      await page.goto(`${stack.origin}/admin`);
      await page.getByLabel('Admin token').fill(stack.worker.adminToken);
      await page.getByRole('button', { name: 'Use token' }).click();
      await page.getByRole('button', { name: 'Manage acme' }).waitFor();
      assert.equal(
        await page.evaluate(() => sessionStorage.getItem('edge-sso-admin-token')) !== null,
        true,
      );

      // A rejected PUT shows the API's message next to the field it names.
      await page.getByRole('button', { name: 'Manage acme' }).click();
      const sso = page.locator('#panel-sso');
      await sso.getByLabel('Email domains').fill('*.wild.test');
      await sso.getByRole('button', { name: 'Save SSO settings' }).click();
      const error = sso.locator('.field', { has: page.locator('[data-field="domains"]') }).locator('.field-error');
      await error.waitFor({ state: 'visible' });
      assert.match(await error.textContent(), /Error 4\d\d/);
      assert.deepEqual(problems, []);
    } finally {
      await context.close();
    }
  });
});
