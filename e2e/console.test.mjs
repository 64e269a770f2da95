// The SSO console (/admin) in a real browser (headless Chromium via playwright-core) against the
// built worker and the real OP: the operator pastes the token, creates an org through the form
// (a bad issuer is refused next to its field), edits the role mapping and sees a signed-in
// member's role change, lists and revokes members, mints a SCIM token and reads each step in
// the audit log; all under the worker's CSP, keyboard-operable, and readable at 375 px. Then an
// org's IT admin, with no token: opens a setup link, tests the connection, claims and verifies
// a domain (loopback DoH), edits roles, stages and discards a sign-in change, is refused a
// cross-site write, reads it all in the audit log; the first admin's sign-in ends the link and
// that admin then runs the console on their SSO session.
import { strict as assert } from 'node:assert';
import { after, before, describe, test } from 'node:test';

import { launchChromium, newLoopbackPage } from './chromium.mjs';

import { startDoh } from './doh.mjs';
import { HttpClient, acmeConfig, login, me, refusedWithinBound, startStack, waitFor } from './fixtures.mjs';

let doh;
let stack;
let browser;
before(async () => {
  doh = await startDoh();
  stack = await startStack({ vars: { DOH_URL: doh.url } });
  browser = await launchChromium();
});
after(async () => {
  await browser?.close();
  await stack?.stop();
  await doh?.stop();
});

/** A fresh loopback-only page recording CSP violations and page errors on the worker's pages. */
const newPage = (options = {}) => newLoopbackPage(browser, stack.origin, options);

/** Signs `name` in to acme over HTTP; returns the client holding the session cookie. */
async function signIn(name) {
  const client = new HttpClient();
  const { response, text } = await login(client, stack.origin, { email: `${name}@acme.test`, login: name });
  assert.equal(response.status, 302, text);
  return client;
}

/** The role /sso/me reports for acme, or null when signed out. */
async function roleOf(client) {
  const m = await me(client, stack.origin);
  return m.status === 200 ? m.body.orgs.acme?.role ?? null : null;
}

describe('operator console', () => {
  test('create an org, map roles, revoke a member, mint a SCIM token, read the audit log', async () => {
    const { context, page, problems } = await newPage();
    try {
      await page.goto(`${stack.origin}/admin`);
      await page.getByLabel('Admin token').fill(stack.worker.adminToken);
      await page.getByRole('button', { name: 'Use token' }).click();
      await page.getByText('Signed in as the operator.').waitFor();

      // Create acme through the form; a bad issuer is refused next to the Issuer URL field.
      await page.getByRole('button', { name: 'New organisation' }).click();
      const sso = page.locator('#panel-sso');
      await sso.getByLabel('Slug').fill('acme');
      // Each IdP profile links its set-up guide, served by the worker itself.
      await sso.getByLabel('Identity provider').selectOption('okta');
      const guide = sso.getByRole('link', { name: 'docs/idp/okta.md' });
      assert.equal(await guide.getAttribute('href'), '/www/docs/idp/okta.md');
      const served = await context.request.get(`${stack.origin}/www/docs/idp/okta.md`);
      assert.equal(served.status(), 200);
      assert.match(await served.text(), /^# Okta/);
      await sso.getByLabel('Identity provider').selectOption('generic');
      await sso.getByLabel('Email domains').fill('acme.test');
      await sso.getByLabel('Issuer URL').fill('not a url');
      await sso.getByLabel('Client ID').fill(stack.idp.clientId);
      await sso.getByLabel('Client secret').fill(stack.idp.clientSecret);
      await sso.getByLabel('Role of members no rule matches').selectOption('read');
      await sso.getByRole('button', { name: 'Create organisation' }).click();
      const issuer = sso.getByLabel('Issuer URL');
      await waitFor(async () => (await issuer.getAttribute('aria-invalid')) === 'true', { what: 'issuer marked invalid' });
      const issuerError = sso.locator('.field', { has: page.locator('[data-field="issuer"]') }).locator('.field-error');
      assert.ok(await issuerError.isVisible(), 'the error shows next to the issuer');
      assert.match(await issuerError.textContent(), /Error 400/);
      assert.equal(await page.locator('#problem').isVisible(), false, 'and not only as a page alert');
      assert.equal((await stack.admin.get('acme')).status, 404, 'nothing was stored');

      await issuer.fill(stack.idp.issuer);
      await sso.getByRole('button', { name: 'Create organisation' }).click();
      await page.getByRole('heading', { name: 'Organisation acme' }).waitFor();
      assert.equal((await stack.admin.get('acme')).status, 200);
      await page.getByRole('button', { name: 'Manage acme' }).waitFor();

      // Tabs: ARIA roles and arrow keys.
      const ssoTab = page.getByRole('tab', { name: 'SSO' });
      assert.equal(await ssoTab.getAttribute('aria-selected'), 'true');
      await ssoTab.focus();
      await page.keyboard.press('ArrowRight');
      const second = page.locator('[role="tab"][aria-selected="true"]');
      assert.notEqual(await second.textContent(), 'SSO');
      assert.equal(await page.evaluate(() => document.activeElement?.getAttribute('aria-selected')), 'true');
      await page.keyboard.press('Home');
      assert.equal(await ssoTab.getAttribute('aria-selected'), 'true');

      // Roles: a rule for hub-admins; a rule with an empty claim is refused in its own row.
      await page.getByRole('tab', { name: 'Roles' }).click();
      const roles = page.locator('#panel-roles');
      await roles.getByRole('button', { name: 'Add rule' }).click();
      const rule1 = roles.getByRole('group', { name: 'Rule 1' });
      await rule1.getByLabel('Claim').fill('groups');
      await rule1.getByLabel('Value').fill('hub-admins');
      await rule1.getByLabel('Role').selectOption('admin');
      await roles.getByRole('button', { name: 'Add rule' }).click();
      const rule2 = roles.getByRole('group', { name: 'Rule 2' });
      await rule2.getByLabel('Value').fill('x');
      await roles.getByRole('button', { name: 'Save roles' }).click();
      const rule2Error = rule2.locator('.field-error:visible');
      await rule2Error.first().waitFor();
      assert.match(await rule2Error.first().textContent(), /Error 400/);
      assert.equal(await rule1.locator('.field-error:visible').count(), 0, 'the error is in its own row');
      await rule2.getByRole('button', { name: 'Remove rule 2' }).click();
      await roles.getByRole('button', { name: 'Save roles' }).click();
      await page.getByRole('status').getByText('Saved acme.').waitFor();
      assert.deepEqual((await stack.admin.get('acme')).body.role_mapping, [{ claim: 'groups', value: 'hub-admins', role: 'admin' }]);

      // Two members sign in: alice (hub-admins) is admin, bob (hub-writers) has the default role.
      const bob = await signIn('bob');
      const alice = await signIn('alice');
      assert.equal(await roleOf(bob), 'read');
      assert.equal(await roleOf(alice), 'admin');

      // A rule for hub-writers: bob's live role follows, without signing in again.
      await page.locator('#status').evaluate((n) => { n.textContent = ''; });
      await roles.getByRole('button', { name: 'Add rule' }).click();
      await rule2.getByLabel('Claim').fill('groups');
      await rule2.getByLabel('Value').fill('hub-writers');
      await rule2.getByLabel('Role').selectOption('write');
      await roles.getByRole('button', { name: 'Save roles' }).click();
      await page.getByRole('status').getByText('Saved acme.').waitFor();
      const stored = (await stack.admin.get('acme')).body;
      assert.deepEqual(stored.role_mapping, [
        { claim: 'groups', value: 'hub-admins', role: 'admin' },
        { claim: 'groups', value: 'hub-writers', role: 'write' },
      ]);
      await waitFor(async () => (await roleOf(bob)) === 'write', { what: "bob's role becomes write" });

      // Members: both listed; the search filters; revoke bob.
      await page.getByRole('tab', { name: 'Members' }).click();
      const members = page.locator('#panel-members');
      await members.getByRole('cell', { name: 'bob@acme.test', exact: true }).waitFor();
      await members.getByRole('cell', { name: 'alice@acme.test', exact: true }).waitFor();
      await members.getByLabel('Search members').fill('bob');
      await members.getByText('1 of 2 loaded member(s) shown.').waitFor();
      assert.equal(await members.getByRole('cell', { name: 'alice@acme.test', exact: true }).count(), 0);
      await members.getByRole('button', { name: 'Revoke sessions of bob@acme.test' }).click();
      await page.getByRole('status').getByText(/Revoked \d+ session\(s\) of bob@acme\.test\./).waitFor();
      await refusedWithinBound(Date.now(), async () => (await roleOf(bob)) === null, { what: "bob's session refused" });
      assert.equal(await roleOf(alice), 'admin', 'alice stays signed in');

      // SCIM: mint a token, shown once, that the SCIM API takes.
      await page.getByRole('tab', { name: 'SCIM' }).click();
      const scim = page.locator('#panel-scim');
      await scim.getByRole('button', { name: 'Mint SCIM token' }).click();
      const tokenBox = scim.getByLabel('SCIM token (shown once)');
      await tokenBox.waitFor();
      const scimToken = await tokenBox.inputValue();
      const baseUrl = await scim.getByLabel('SCIM base URL').inputValue();
      assert.equal(baseUrl, `${stack.origin}/scim/v2/acme`);
      const users = await fetch(`${baseUrl}/Users`, { headers: { authorization: `Bearer ${scimToken}`, accept: 'application/scim+json' } });
      await users.arrayBuffer();
      assert.equal(users.status, 200);
      assert.ok(await scim.getByRole('button', { name: 'Rotate SCIM token' }).isVisible());

      // Audit: each step above, newest first; the filter narrows to a family.
      await page.getByRole('tab', { name: 'Audit' }).click();
      const audit = page.locator('#panel-audit');
      const events = () => audit.locator('tbody tr').evaluateAll((rows) => rows.map((r) => r.dataset.event));
      const wanted = ['org.created', 'org.settings.sso', 'org.sso_login', 'org.member.revoked', 'org.scim.token.minted'];
      await waitFor(async () => {
        const seen = await events();
        if (wanted.every((e) => seen.includes(e))) return true;
        await audit.getByRole('button', { name: 'Refresh log' }).click();
        return false;
      }, { what: 'audit entries of every step' });
      const seen = await events();
      assert.equal(seen[0], 'org.scim.token.minted', 'newest first');
      const revoked = audit.locator('tbody tr[data-event="org.member.revoked"]');
      assert.match(await revoked.first().innerText(), /bob@acme\.test|operator/);
      assert.ok(!(await audit.innerText()).includes(scimToken), 'the token is not in the log');
      await audit.getByLabel('Event type').selectOption('org.scim');
      await waitFor(async () => {
        const only = await events();
        return only.length > 0 && only.every((e) => e.startsWith('org.scim.'));
      }, { what: 'filtered to SCIM events' });

      // A phone-width window: nothing overflows the page sideways.
      await page.setViewportSize({ width: 375, height: 800 });
      await audit.getByLabel('Event type').selectOption('');
      for (const tab of ['Audit', 'Members', 'Roles', 'SSO']) {
        await page.getByRole('tab', { name: tab }).click();
        const width = await page.evaluate(() => document.documentElement.scrollWidth);
        assert.ok(width <= 375, `${tab} at 375 px is ${width} px wide`);
      }
      assert.deepEqual(problems, []);
    } finally {
      await context.close();
    }
  });

  test('a link to /admin#org=SLUG opens that org once the token is given', async () => {
    await stack.admin.mustPut('initech', acmeConfig(stack.idp, { domains: ['initech.test'] }));
    const { context, page, problems } = await newPage();
    try {
      await page.goto(`${stack.origin}/admin#org=initech`);
      await page.getByLabel('Admin token').fill(stack.worker.adminToken);
      await page.getByRole('button', { name: 'Use token' }).click();
      await page.getByRole('heading', { name: 'Organisation initech' }).waitFor();
      // An org the list does not have opens nothing (a new document: a hash change alone
      // would not load the page again).
      await page.goto('about:blank');
      await page.goto(`${stack.origin}/admin#org=nobody`);
      await page.getByText('Signed in as the operator.').waitFor();
      await page.getByRole('button', { name: 'Manage initech' }).waitFor();
      assert.equal(await page.locator('#org-view').isVisible(), false);
      assert.deepEqual(problems, []);
    } finally {
      await context.close();
    }
  });

  test('without a token or an admin session the console asks for the token', async () => {
    const { context, page, problems } = await newPage();
    try {
      await page.goto(`${stack.origin}/admin`);
      await page.getByLabel('Admin token').waitFor();
      assert.equal(await page.locator('#orgs-section').isVisible(), false);
      await page.getByLabel('Admin token').fill('wrong-token');
      await page.getByRole('button', { name: 'Use token' }).click();
      const alert = page.locator('#problem');
      await alert.waitFor({ state: 'visible' });
      assert.match(await alert.textContent(), /Error 401/);
      assert.deepEqual(problems, []);
    } finally {
      await context.close();
    }
  });
});

/** The audit event names the Audit tab of the open org shows (refreshing until `wanted`). */
async function auditEvents(page, wanted) {
  await page.getByRole('tab', { name: 'Audit' }).click();
  const audit = page.locator('#panel-audit');
  const events = () => audit.locator('tbody tr').evaluateAll((rows) => rows.map((r) => r.dataset.event));
  await waitFor(async () => {
    const seen = await events();
    if (wanted.every((e) => seen.includes(e))) return true;
    await audit.getByRole('button', { name: 'Refresh log' }).click();
    return false;
  }, { what: `audit entries ${wanted.join(', ')}` });
  return audit;
}

describe('org admin console', () => {
  test('setup link, test connection, domain, roles, staging, CSRF, audit; then the first admin', async () => {
    // The operator creates globex with no role rules yet and hands out a setup link.
    await stack.admin.mustPut('globex', acmeConfig(stack.idp, { domains: ['globex.test'], role_mapping: [], default_role: 'read' }));
    const op = await newPage();
    let setupUrl;
    try {
      await op.page.goto(`${stack.origin}/admin`);
      await op.page.getByLabel('Admin token').fill(stack.worker.adminToken);
      await op.page.getByRole('button', { name: 'Use token' }).click();
      await op.page.getByRole('button', { name: 'Manage globex' }).click();
      await op.page.getByRole('button', { name: 'Create setup link' }).click();
      setupUrl = await op.page.getByLabel('Setup link (shown once)').inputValue();
      assert.match(setupUrl, /\/admin\/setup\?token=globex\./);
      assert.deepEqual(op.problems, []);
    } finally {
      await op.context.close();
    }

    // The IT admin opens it: the console of globex, no token asked.
    const it = await newPage();
    try {
      const { page } = it;
      await page.goto(setupUrl);
      await page.getByRole('heading', { name: 'Organisation globex' }).waitFor();
      assert.equal(await page.locator('#access').isVisible(), false, 'no token form');
      assert.equal(await page.getByRole('button', { name: 'New organisation' }).isVisible(), false);
      assert.equal(await page.getByLabel('Email domains').getAttribute('readonly'), '', 'domains are the operator\'s');

      // Test connection against the real OP.
      await page.getByRole('button', { name: 'Test connection' }).click();
      await page.locator('#panel-sso .check-list li').first().waitFor();
      assert.match(await page.locator('#panel-sso .checks').innerText(), /Passed: /);

      // Domains: claim one, publish its TXT record, verify.
      await page.getByRole('tab', { name: 'Domains' }).click();
      const domains = page.locator('#panel-domains');
      await domains.getByLabel('Domain to claim').fill('globex-dns.test');
      await domains.getByRole('button', { name: 'Claim domain' }).click();
      const row = domains.locator('tbody tr', { hasText: 'globex-dns.test' });
      await row.getByText('pending').waitFor();
      const [txtName, txtValue] = await row.locator('code').allTextContents();
      assert.equal(txtName, '_edge-sso-challenge.globex-dns.test');
      doh.setTxt(txtName, [txtValue]);
      await row.getByRole('button', { name: 'Verify globex-dns.test' }).click();
      await row.getByRole('cell', { name: 'verified', exact: true }).waitFor();

      // Roles: dana becomes admin by her email claim.
      await page.getByRole('tab', { name: 'Roles' }).click();
      const roles = page.locator('#panel-roles');
      await roles.getByRole('button', { name: 'Add rule' }).click();
      const rule1 = roles.getByRole('group', { name: 'Rule 1' });
      await rule1.getByLabel('Claim').fill('email');
      await rule1.getByLabel('Value').fill('dana@globex.test');
      await rule1.getByLabel('Role').selectOption('admin');
      await roles.getByRole('button', { name: 'Save roles' }).click();
      await page.getByRole('status').getByText('Saved globex.').waitFor();

      // A sign-in change of the enforced org is staged, shown next to the active one, discarded.
      await page.getByRole('tab', { name: 'SSO' }).click();
      const sso = page.locator('#panel-sso');
      await sso.getByLabel('Client ID').fill('another-client');
      await sso.getByLabel('Client secret').fill('another-secret');
      await sso.getByRole('button', { name: 'Save SSO settings' }).click();
      const staged = page.getByRole('region', { name: 'Staged sign-in settings (not active yet)' });
      await staged.waitFor();
      assert.match(await staged.locator('tr[data-setting="client_id"]').innerText(), new RegExp(`${stack.idp.clientId}[\\s\\S]*another-client`));
      assert.equal((await stack.admin.get('globex')).body.client_id, stack.idp.clientId, 'still active');
      await staged.getByRole('button', { name: 'Discard staged settings' }).click();
      await page.getByRole('status').getByText('Staged settings discarded.').waitFor();
      assert.equal(await staged.count(), 0);

      // The same browser, from another site: refused.
      const cross = await it.context.request.put(`${stack.origin}/admin/orgs/globex`, {
        headers: { origin: 'http://evil.example', 'content-type': 'application/json' },
        data: JSON.stringify({ ...acmeConfig(stack.idp, { domains: ['globex.test'] }), default_role: 'admin' }),
      });
      assert.equal(cross.status(), 403);
      assert.equal((await cross.json()).error, 'cross_site');

      // Every step in the audit log, by the setup link.
      const wanted = ['org.setup_link.created', 'org.domain.claimed', 'org.domain.verified', 'org.settings.sso', 'org.settings.sso.staged', 'org.settings.sso.discarded'];
      const audit = await auditEvents(page, wanted);
      assert.match(await audit.locator('tbody tr[data-event="org.settings.sso"]').first().innerText(), /setup-link/);
      assert.deepEqual(it.problems, []);
    } finally {
      await it.context.close();
    }

    // dana, the first admin, signs in: the link ends, and her session runs the console.
    const dana = await newPage();
    try {
      const { page } = dana;
      await page.goto(`${stack.origin}/`);
      await page.getByLabel('Work email').fill('dana@globex.test');
      await page.getByRole('button', { name: 'Continue' }).click();
      await page.waitForURL((u) => u.origin === stack.idp.issuer);
      await page.locator('input[name="login"]').fill('dana@globex.test');
      await page.locator('input[name="password"]').fill('whatever');
      await page.getByRole('button', { name: 'Sign-in' }).click();
      await page.getByRole('button', { name: 'Continue' }).click();
      await page.waitForURL((u) => u.origin === stack.origin);
      await page.goto(`${stack.origin}/admin`);
      await page.getByRole('heading', { name: 'Organisation globex' }).waitFor();
      await page.getByText('Signed in as dana@globex.test.').waitFor();
      await page.getByRole('tab', { name: 'Members' }).click();
      await page.locator('#panel-members').getByRole('cell', { name: 'dana@globex.test', exact: true }).waitFor();
      assert.equal((await stack.admin.request('GET', '/admin/whoami', { token: null })).status, 401);
      const reopened = await fetch(setupUrl, { redirect: 'manual' });
      await reopened.arrayBuffer();
      assert.ok(reopened.status >= 400, `the used setup link is refused (${reopened.status})`);
      await auditEvents(page, ['org.sso_login']);

      // Test sign-in from the SSO tab: a new tab runs the whole sign-in at the real OP and shows
      // the claims and role, with no token and no new member or session.
      await page.getByRole('tab', { name: 'SSO' }).click();
      const [tab] = await Promise.all([
        page.context().waitForEvent('page'),
        page.locator('#panel-sso').getByRole('button', { name: 'Test sign-in', exact: true }).click(),
      ]);
      tab.setDefaultTimeout(10_000);
      const result = tab.getByRole('heading', { name: /^Test sign-in/ });
      for (let i = 0; i < 6; i++) {
        const loginField = tab.locator('input[name="login"]');
        const cont = tab.getByRole('button', { name: 'Continue' });
        await loginField.or(cont).or(result).first().waitFor();
        if (await result.count()) break;
        if (await loginField.count()) {
          await loginField.fill('dana@globex.test');
          await tab.locator('input[name="password"]').fill('whatever');
          await Promise.all([tab.waitForEvent('framenavigated'), tab.getByRole('button', { name: 'Sign-in' }).click()]);
        } else {
          await Promise.all([tab.waitForEvent('framenavigated'), cont.click()]);
        }
      }
      await tab.getByRole('heading', { name: /would be admitted/ }).waitFor();
      const report = await tab.locator('main').innerText();
      assert.match(report, /dana@globex\.test/);
      assert.match(report, /"role": "admin"/);
      assert.match(report, /Nothing was recorded/);
      assert.doesNotMatch(report, /eyJ/, 'no token on the page');
      await tab.close();
      assert.deepEqual(dana.problems, []);
    } finally {
      await dana.context.close();
    }
  });
});
