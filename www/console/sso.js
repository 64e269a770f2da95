// The SSO tab: IdP profile, issuer, client, secret (write-only), scopes, enforcement, session
// length, provisioning; test connection and the setup link when the server has them; deleting
// the organisation (operator). Also the form that creates a new organisation.

import { api, clearErrors, copy, describe, el, field, missing, orgPath, roleSelect, words } from './api.js';

/** IdP profiles and their setup guides (docs/idp/, served under /www/docs/idp/). */
const PROFILES = [
  ['generic', 'Generic OpenID Connect', null],
  ['okta', 'Okta', 'docs/idp/okta.md'],
  ['entra', 'Microsoft Entra ID', 'docs/idp/entra.md'],
  ['google', 'Google Workspace', 'docs/idp/google.md'],
  ['onelogin', 'OneLogin', 'docs/idp/onelogin.md'],
  ['keycloak', 'Keycloak', 'docs/idp/keycloak.md'],
  ['auth0', 'Auth0', 'docs/idp/auth0.md'],
];

/**
 * Optional profile fields: sent only when set (or already stored). A kind is 'list' (words) or
 * a list of [value, label] options whose first value '' means "leave out".
 */
const EXTRAS = [
  ['tenants', 'Tenants (Entra ID)', 'list', 'Directory (tenant) ids allowed to sign in, separated by spaces; required for the organizations and common authorities.'],
  ['email_claim', 'Email claim (Entra ID)', [['', 'Default'], ['email', 'email'], ['upn', 'upn'], ['preferred_username', 'preferred_username']], 'The claim trusted as the member\'s email in a pinned tenant.'],
  ['hosted_domains', 'Hosted domains (Google)', 'list', 'Google Workspace domains ("hd") admitted, separated by spaces; empty means the email domains.'],
  ['email_verified_claim', 'email_verified (generic)', [['', 'Required (default)'], ['optional', 'May be absent']], 'Only for IdPs that never send email_verified and hold only addresses their admins assign.'],
];

/** Builds the SSO tab into `panel`. */
export function ssoPanel(panel, ctx) {
  const cfg = ctx.config() || {};
  const form = el('form', { className: 'stack', noValidate: true });
  const input = (props) => el('input', Object.assign({ type: 'text', autocomplete: 'off', spellcheck: false }, props));

  const slug = input({ required: true, pattern: '[a-z0-9\\-]+', maxLength: 48 });
  if (ctx.creating) {
    form.append(field('Slug', slug, { name: 'slug', hint: 'Lower-case letters, digits and hyphens; used in URLs. Cannot be changed later.' }));
  }

  const profile = el('select');
  for (const [value, label] of PROFILES) profile.append(el('option', { value }, label));
  profile.value = cfg.idp || 'generic';
  const guide = el('p', { className: 'hint guide' });
  const showGuide = () => {
    const p = PROFILES.find((x) => x[0] === profile.value);
    if (p && p[2]) {
      // The guides are served by the worker itself under /www/ (the same files as docs/idp/).
      guide.replaceChildren('Setup guide for ' + p[1] + ' (what to create at the IdP, redirect URIs, claims, groups): ',
        el('a', { href: '/www/' + p[2], target: '_blank', rel: 'noopener' }, p[2]), '.');
    } else {
      guide.textContent = 'Any OpenID Connect provider: register the callback URL ' + location.origin + '/sso/callback.';
    }
  };
  profile.addEventListener('change', showGuide);
  showGuide();
  const profileField = field('Identity provider', profile, { name: 'idp' });
  profileField.insertBefore(guide, profileField.querySelector('.field-error'));
  form.append(profileField);

  // Only the operator sets domains by their word; an org admin claims them by DNS (Domains).
  const domains = input({ value: (cfg.domains || []).join(' '), required: true, readOnly: !ctx.operator });
  form.append(field('Email domains', domains, {
    name: 'domains',
    hint: ctx.operator
      ? 'The domains of the members\' work emails, separated by spaces (acme.com), on the operator\'s word.'
      : 'Set by the operator. Claim more of your domains with a DNS record in the Domains tab.',
  }));
  const issuer = input({ type: 'url', value: cfg.issuer || '', required: true, placeholder: 'https://idp.example.com' });
  form.append(field('Issuer URL', issuer, { name: 'issuer', hint: 'Exactly the "iss" of your IdP\'s ID tokens, from its discovery document.' }));
  const clientId = input({ value: cfg.client_id || '', required: true });
  form.append(field('Client ID', clientId, { name: 'client_id' }));
  const secret = input({ type: 'password', value: '', required: !!ctx.creating, autocomplete: 'new-password' });
  form.append(field('Client secret', secret, {
    name: 'client_secret',
    hint: ctx.creating ? 'Never shown again after saving.' : 'A secret is set and never shown. Leave empty to keep it; type a new one to replace it.',
  }));
  const scopes = input({ value: (cfg.scopes || ['openid', 'email', 'profile']).join(' ') });
  form.append(field('Scopes', scopes, { name: 'scopes', hint: 'Separated by spaces; must include openid.' }));
  const ttl = input({ type: 'number', min: 5, max: 1440, step: 1, value: Math.round((cfg.session_ttl_secs || 28800) / 60), inputMode: 'numeric' });
  form.append(field('Session length (minutes)', ttl, { name: 'session_ttl_secs', hint: 'From 5 minutes to 24 hours (1440).' }));
  const enforced = el('input', { type: 'checkbox', checked: cfg.enforced !== false });
  const enforcedField = field('Enforce SSO for these domains', enforced, {
    name: 'enforced',
    hint: 'When on, members must sign in with SSO and the gateway checks their role.',
  });
  enforcedField.classList.add('check');
  form.append(enforcedField);
  const provisioning = el('select', {}, el('option', { value: 'sso' }, 'At first sign-in (SSO)'), el('option', { value: 'scim' }, 'Only SCIM-provisioned users'));
  provisioning.value = cfg.provisioning || 'sso';
  form.append(field('Provisioning', provisioning, { name: 'provisioning' }));
  let defaultRole = null;
  if (ctx.creating) {
    defaultRole = roleSelect('read', 'No role: deny');
    form.append(field('Role of members no rule matches', defaultRole, { name: 'default_role', hint: 'Role-mapping rules are set in the Roles tab once the organisation exists.' }));
  }

  const extras = el('details', { className: 'extras' }, el('summary', {}, 'Provider-specific settings'));
  const extraInputs = {};
  for (const [name, label, kind, hint] of EXTRAS) {
    const v = cfg[name];
    let i;
    if (Array.isArray(kind)) {
      i = el('select');
      for (const [value, text] of kind) i.append(el('option', { value }, text));
      i.value = v || '';
    } else {
      i = input({ value: Array.isArray(v) ? v.join(' ') : v || '' });
    }
    extraInputs[name] = { input: i, kind };
    extras.append(field(label, i, { name, hint }));
  }
  if (EXTRAS.some(([n]) => cfg[n] !== undefined)) extras.open = true;
  form.append(extras);

  const submit = el('button', { type: 'submit' }, ctx.creating ? 'Create organisation' : 'Save SSO settings');
  form.append(el('div', { className: 'row' }, submit));

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    clearErrors(panel);
    const ttlMinutes = Number(ttl.value);
    const changes = {
      domains: words(domains.value),
      issuer: issuer.value.trim(),
      client_id: clientId.value.trim(),
      scopes: words(scopes.value),
      session_ttl_secs: Number.isFinite(ttlMinutes) ? Math.round(ttlMinutes * 60) : ttl.value,
      enforced: enforced.checked,
      provisioning: provisioning.value,
      // Write-only: absent keeps the stored secret.
      client_secret: secret.value ? secret.value : undefined,
    };
    // The profile field exists only on servers that know it: send it when it matters.
    if (profile.value !== 'generic' || cfg.idp !== undefined) changes.idp = profile.value;
    for (const [name, { input: i, kind }] of Object.entries(extraInputs)) {
      const text = i.value.trim();
      if (text) changes[name] = kind === 'list' ? words(text) : text;
      else if (cfg[name] !== undefined) changes[name] = undefined;
    }
    if (defaultRole) changes.default_role = defaultRole.value || null;
    const target = ctx.creating ? slug.value.trim() : ctx.slug;
    if (ctx.creating && !target) {
      ctx.notice.failed({ status: 400, data: { field: 'slug', message: 'slug: required' } }, panel);
      return;
    }
    submit.disabled = true;
    const ok = await ctx.save(changes, panel, ctx.creating ? target : undefined);
    submit.disabled = false;
    if (ok) secret.value = '';
  });
  if (cfg.staged && typeof cfg.staged === 'object') panel.append(stagedBox(cfg, ctx));
  panel.append(form);
  if (ctx.creating) return;

  // Test connection (issue 10): hidden again when the server has no such endpoint.
  const testOut = el('div', { className: 'checks', 'aria-live': 'polite' });
  const testBtn = el('button', { type: 'button', className: 'secondary' }, 'Test connection');
  testBtn.addEventListener('click', async () => {
    testOut.replaceChildren(el('p', { className: 'meta' }, 'Testing…'));
    // No body: the stored settings are tested.
    const r = await api('POST', orgPath(ctx.slug, '/test'));
    if (missing(r)) {
      testBtn.hidden = true;
      testOut.replaceChildren(el('p', { className: 'meta' }, 'This server cannot test connections yet.'));
      return;
    }
    const d = r.data || {};
    if (!Array.isArray(d.checks)) {
      testOut.replaceChildren(el('p', { className: 'field-error' }, describe(r)));
      return;
    }
    const list = el('ul', { className: 'check-list' });
    for (const c of d.checks) {
      list.append(el('li', { className: c.ok ? 'pass' : 'fail' },
        el('strong', {}, (c.ok ? 'Passed: ' : 'Failed: ') + String(c.name || '')),
        c.detail ? el('span', {}, ' ' + String(c.detail)) : null,
        c.hint && !c.ok ? el('span', { className: 'hint' }, ' ' + String(c.hint)) : null));
    }
    testOut.replaceChildren(el('p', {}, d.ok ? 'Connection works.' : 'Connection has problems.'), list);
  });
  // Test sign-in (issue 10): a one-time link that runs the whole sign-in and shows the claims,
  // identity and role instead of a session.
  const signInBtn = el('button', { type: 'button', className: 'secondary' }, 'Test sign-in');
  signInBtn.addEventListener('click', () => testSignIn(ctx, false, testOut, signInBtn));
  const tools = el('div', { className: 'row' }, testBtn, signInBtn);
  panel.append(el('h3', {}, 'Check'), tools, testOut);

  if (!ctx.operator) return;
  // Setup link (operator): a one-time URL for the org's IT admin, when the server has it.
  const linkOut = el('div', { 'aria-live': 'polite' });
  const linkBtn = el('button', { type: 'button', className: 'secondary' }, 'Create setup link');
  linkBtn.addEventListener('click', async () => {
    const r = await api('POST', orgPath(ctx.slug, '/setup-link'));
    if (missing(r)) {
      linkBtn.hidden = true;
      linkOut.replaceChildren(el('p', { className: 'meta' }, 'This server has no setup links yet.'));
      return;
    }
    if (!r.ok || !r.data || !r.data.url) {
      linkOut.replaceChildren(el('p', { className: 'field-error' }, describe(r)));
      return;
    }
    const out = el('input', { type: 'text', readOnly: true, value: String(r.data.url) });
    linkOut.replaceChildren(field('Setup link (shown once)', out, {
      hint: 'Send it to the organisation\'s IT admin. ' + (r.data.expires_at ? 'Valid until ' + new Date(r.data.expires_at * 1000).toLocaleString() + '.' : ''),
    }), el('button', { type: 'button', className: 'secondary', onclick: () => copy(out.value, out, ctx.notice) }, 'Copy setup link'));
  });
  const unlink = el('button', { type: 'button', className: 'secondary' }, 'Revoke setup link');
  unlink.addEventListener('click', async () => {
    const r = await api('DELETE', orgPath(ctx.slug, '/setup-link'));
    if (missing(r)) {
      unlink.hidden = true;
      return;
    }
    if (!r.ok) return ctx.notice.failed(r);
    linkOut.replaceChildren();
    ctx.notice.say('Setup link revoked.');
  });
  tools.append(linkBtn, unlink);
  panel.append(linkOut);

  // Deleting the org: two steps, no window.confirm.
  const del = el('button', { type: 'button', className: 'danger' }, 'Delete organisation');
  const sure = el('div', { className: 'row confirm', hidden: true },
    el('p', {}, 'Delete ' + ctx.slug + '? Its domains stop routing and every session ends.'),
    el('button', {
      type: 'button',
      className: 'danger',
      onclick: async () => {
        const r = await api('DELETE', orgPath(ctx.slug));
        if (!r.ok) {
          ctx.notice.failed(r);
          return;
        }
        await ctx.deleted();
      },
    }, 'Yes, delete ' + ctx.slug),
    el('button', { type: 'button', className: 'secondary', onclick: () => { sure.hidden = true; del.focus(); } }, 'Cancel'));
  del.addEventListener('click', () => {
    sure.hidden = false;
    sure.querySelector('button').focus();
  });
  panel.append(el('h3', {}, 'Danger zone'), el('div', { className: 'row' }, del), sure);
}

/**
 * Mints a test sign-in link (of the staged settings when `staged`) and opens it in a new tab;
 * the link is also shown, in case the browser blocked the tab.
 */
async function testSignIn(ctx, staged, out, btn) {
  const r = await api('POST', orgPath(ctx.slug, '/test-login'), staged ? { staged: true } : undefined);
  if (missing(r)) {
    btn.hidden = true;
    out.replaceChildren(el('p', { className: 'meta' }, 'This server cannot run test sign-ins yet.'));
    return;
  }
  if (!r.ok || !r.data || !r.data.url) {
    out.replaceChildren(el('p', { className: 'field-error' }, describe(r)));
    return;
  }
  const url = String(r.data.url);
  window.open(url, '_blank', 'noopener');
  out.replaceChildren(el('p', {},
    'Sign in in the new tab to see what your identity provider sends and which role it gives. ',
    el('a', { href: url, target: '_blank', rel: 'noopener' }, 'Open the test sign-in'),
    ' (one use, valid 10 minutes).'));
}

/** Staged vs active sign-in settings, with Test sign-in, Apply and Discard. */
function stagedBox(cfg, ctx) {
  const staged = cfg.staged;
  const box = el('section', { className: 'staged', 'aria-labelledby': 'staged-h' },
    el('h3', { id: 'staged-h' }, 'Staged sign-in settings (not active yet)'),
    el('p', { className: 'hint' }, 'Changes to how members sign in to an enforced organisation wait here so that nobody is locked out; sign-in keeps using the active settings.'));
  const t = el('table', { className: 'list' }, el('caption', { className: 'sr-only' }, 'Staged and active settings'),
    el('thead', {}, el('tr', {}, el('th', { scope: 'col' }, 'Setting'), el('th', { scope: 'col' }, 'Active'), el('th', { scope: 'col' }, 'Staged'))));
  const body = el('tbody');
  const show = (v) => (v === undefined || v === null ? '' : Array.isArray(v) ? v.join(' ') : String(v));
  for (const k of ['idp', 'issuer', 'client_id', 'tenants', 'email_claim', 'hosted_domains', 'email_verified_claim']) {
    if (show(cfg[k]) === show(staged[k]) && k !== 'issuer') continue;
    body.append(el('tr', { dataset: { setting: k } },
      el('td', { dataset: { label: 'Setting' } }, k),
      el('td', { dataset: { label: 'Active' } }, show(cfg[k])),
      el('td', { dataset: { label: 'Staged' } }, show(staged[k]))));
  }
  t.append(body);
  box.append(el('div', { className: 'scroll' }, t));
  const row = el('div', { className: 'row' });
  const testOut = el('div', { 'aria-live': 'polite' });
  if (!ctx.operator) {
    box.append(el('p', { className: 'meta' }, staged.tested_by
      ? 'Tested by ' + String(staged.tested_by) + ': you may apply these settings.'
      : 'Run a test sign-in with the staged settings as a member who would be admin under them; then you may apply them.'));
  }
  const stagedTest = el('button', { type: 'button', className: 'secondary' }, 'Test sign-in with staged settings');
  stagedTest.addEventListener('click', () => testSignIn(ctx, true, testOut, stagedTest));
  row.append(stagedTest, el('button', {
    type: 'button',
    onclick: async () => {
      const r = await api('POST', orgPath(ctx.slug, '/staged/apply'));
      if (!r.ok) return ctx.notice.failed(r);
      await ctx.reload('Staged settings applied.');
    },
  }, 'Apply staged settings'));
  row.append(el('button', {
    type: 'button',
    className: 'secondary',
    onclick: async () => {
      const r = await api('DELETE', orgPath(ctx.slug, '/staged'));
      if (!r.ok) return ctx.notice.failed(r);
      await ctx.reload('Staged settings discarded.');
    },
  }, 'Discard staged settings'));
  box.append(row, testOut);
  return box;
}
