// The SSO console (/admin): who is signed in (operator token or an org admin's SSO session),
// the organisation list, and per organisation a set of tabs, each built by its own module.
// No framework and no build step; server data is rendered with textContent only.

import { $, Notice, api, el, missing, orgPath, setToken, token } from './console/api.js';
import { ssoPanel } from './console/sso.js';
import { rolesPanel } from './console/roles.js';
import { auditPanel, domainsPanel, membersPanel, scimPanel } from './console/people.js';

const notice = new Notice($('status'), $('problem'));
const state = { operator: false, slug: null, config: null };

const TABS = [
  { id: 'sso', label: 'SSO', build: ssoPanel },
  { id: 'domains', label: 'Domains', build: domainsPanel, probe: 'domains' },
  { id: 'roles', label: 'Roles', build: rolesPanel },
  { id: 'members', label: 'Members', build: membersPanel },
  { id: 'scim', label: 'SCIM', build: scimPanel },
  { id: 'audit', label: 'Audit', build: auditPanel },
];

/**
 * The fields a PUT takes (README "Admin API"). GET and PUT answers add read-only ones (slug,
 * client_secret_set, verified_domains, staged, guide, warnings), which a PUT would refuse.
 */
const WRITABLE = ['domains', 'issuer', 'client_id', 'scopes', 'role_mapping', 'default_role',
  'session_ttl_secs', 'enforced', 'access_rules', 'resource_groups', 'provisioning', 'idp',
  'tenants', 'email_claim', 'hosted_domains', 'email_verified_claim'];

/** The stored config as a PUT body: its writable fields only. */
function editable(config) {
  const body = {};
  for (const k of WRITABLE) if (config && config[k] !== undefined) body[k] = config[k];
  return body;
}

/** What every panel gets: the org, the notice, and how to save a change to its config. */
function context(slug, creating) {
  return {
    slug,
    creating,
    operator: state.operator,
    notice,
    config: () => state.config,
    /** PUTs the stored config with `changes` applied; errors land next to their field in `root`. */
    async save(changes, root, newSlug) {
      const target = newSlug || slug;
      const body = Object.assign(editable(state.config), changes);
      for (const [k, v] of Object.entries(changes)) if (v === undefined) delete body[k];
      const r = await api('PUT', orgPath(target), body);
      if (!r.ok) {
        notice.failed(r, root);
        return false;
      }
      notice.problem('');
      if (r.status === 202) {
        // Staged (an org admin's sign-in change to an enforced org): the active settings stay.
        await openOrg(target);
        notice.say('Staged, not applied: ' + String((r.data && r.data.message) || 'the active settings stay until the staged ones are applied.'));
        return true;
      }
      state.config = Object.assign({}, r.data, { staged: state.config && state.config.staged });
      const warnings = Array.isArray(r.data && r.data.warnings) ? r.data.warnings.map(String) : [];
      notice.say((r.status === 201 ? 'Created ' : 'Saved ') + target + '.' + (warnings.length ? ' Warning: ' + warnings.join(' ') : ''));
      if (r.status === 201 || creating) {
        await refreshList();
        await openOrg(target);
      }
      return true;
    },
    /** Reads the org again and rebuilds its tabs (after staging, applying or discarding). */
    async reload(message) {
      await openOrg(slug);
      if (message) notice.say(message);
    },
    async deleted() {
      notice.say('Deleted ' + slug + '.');
      closeOrg();
      await refreshList();
    },
  };
}

function closeOrg() {
  state.slug = null;
  state.config = null;
  $('org-view').hidden = true;
  $('tabs').replaceChildren();
  $('panels').replaceChildren();
}

/** Selects tab `id` (ARIA tabs: aria-selected, roving tabindex, one panel shown). */
function select(id, focus) {
  for (const tab of $('tabs').querySelectorAll('[role="tab"]')) {
    const on = tab.dataset.tab === id;
    tab.setAttribute('aria-selected', String(on));
    tab.tabIndex = on ? 0 : -1;
    if (on && focus) tab.focus();
  }
  for (const panel of $('panels').children) {
    const on = panel.dataset.tab === id;
    panel.hidden = !on;
    if (on && panel.onshow) panel.onshow();
  }
}

/** Left/Right/Home/End move between tabs (WAI-ARIA Authoring Practices, tabs pattern). */
function tabKeys(event) {
  const tabs = [...$('tabs').querySelectorAll('[role="tab"]:not([hidden])')];
  const i = tabs.indexOf(document.activeElement);
  if (i < 0) return;
  const next = { ArrowRight: i + 1, ArrowLeft: i - 1, Home: 0, End: tabs.length - 1 }[event.key];
  if (next === undefined) return;
  event.preventDefault();
  const t = tabs[(next + tabs.length) % tabs.length];
  select(t.dataset.tab, true);
}

/** Builds the tabs of org `slug` (or, with `creating`, the empty SSO form of a new org). */
function buildTabs(slug, creating) {
  const ctx = context(slug, creating);
  $('tabs').replaceChildren();
  $('panels').replaceChildren();
  for (const t of TABS) {
    if (creating && t.id !== 'sso') continue;
    const tab = el('button', {
      type: 'button',
      role: 'tab',
      id: 'tab-' + t.id,
      className: 'tab',
      'aria-controls': 'panel-' + t.id,
      'aria-selected': 'false',
      dataset: { tab: t.id },
      onclick: () => select(t.id),
    }, t.label);
    const panel = el('div', {
      role: 'tabpanel',
      id: 'panel-' + t.id,
      className: 'panel',
      'aria-labelledby': 'tab-' + t.id,
      tabIndex: 0,
      hidden: true,
      dataset: { tab: t.id },
    });
    $('tabs').append(tab);
    $('panels').append(panel);
    if (t.probe) {
      // A part whose endpoint this server lacks stays hidden.
      tab.hidden = true;
      api('GET', orgPath(slug, '/' + t.probe)).then((r) => {
        if (!missing(r) && state.slug === slug) {
          tab.hidden = false;
          t.build(panel, ctx, r);
        }
      });
    } else {
      t.build(panel, ctx);
    }
  }
  $('tabs').onkeydown = tabKeys;
  $('org-view').hidden = false;
  select('sso');
}

async function openOrg(slug) {
  const r = await api('GET', orgPath(slug));
  if (!r.ok) {
    notice.failed(r);
    return;
  }
  state.slug = slug;
  state.config = r.data;
  $('org-title').textContent = 'Organisation ' + slug;
  buildTabs(slug, false);
  notice.say('Opened ' + slug + '.');
  $('tab-sso').focus();
}

function newOrg() {
  state.slug = '';
  state.config = {};
  $('org-title').textContent = 'New organisation';
  buildTabs('', true);
  notice.say('');
  const first = $('panel-sso').querySelector('input');
  if (first) first.focus();
}

function renderOrgs(orgs) {
  const list = $('orgs');
  list.replaceChildren();
  if (!orgs.length) list.append(el('li', {}, 'No organisations yet.'));
  for (const entry of orgs) {
    const slug = typeof entry === 'string' ? entry : entry && entry.slug;
    if (!slug) continue;
    const domains = entry && Array.isArray(entry.domains) ? entry.domains.join(', ') : '';
    list.append(el('li', {},
      el('span', { className: 'slug' }, slug),
      domains ? el('span', { className: 'hint' }, domains) : null,
      el('button', {
        type: 'button',
        className: 'secondary',
        'aria-label': 'Manage ' + slug,
        onclick: () => openOrg(slug),
      }, 'Manage')));
  }
  $('orgs-section').hidden = false;
}

async function refreshList() {
  if (!state.operator) return;
  const r = await api('GET', '/admin/orgs');
  if (!r.ok) {
    notice.failed(r);
    return;
  }
  const orgs = r.data && Array.isArray(r.data.orgs) ? r.data.orgs : [];
  renderOrgs(orgs);
  notice.say(orgs.length + ' organisation(s).');
}

/** The org a link names (`/admin#org=SLUG`, where a setup link lands), or ''. */
function linkedOrg() {
  const m = /^#org=([^&]*)$/.exec(location.hash);
  if (!m) return '';
  try {
    return decodeURIComponent(m[1]);
  } catch (e) {
    return '';
  }
}

/** Opens the org the link names when it is one of `orgs` (slugs or list entries). */
async function openLinked(orgs) {
  const wanted = linkedOrg();
  const slugs = orgs.map((entry) => (typeof entry === 'string' ? entry : entry && entry.slug));
  if (wanted && slugs.includes(wanted)) {
    await openOrg(wanted);
    return true;
  }
  return false;
}

/**
 * Who is this? `GET /admin/whoami` when the server has it (operator, or an org admin by session
 * cookie); without it, the operator token is checked by listing the orgs.
 */
async function boot() {
  notice.problem('');
  const w = await api('GET', '/admin/whoami');
  if (w.ok && w.data && w.data.operator === false) {
    state.operator = false;
    const orgs = Array.isArray(w.data.orgs) ? w.data.orgs : [];
    $('access').hidden = true;
    $('who').hidden = false;
    $('who').textContent = 'Signed in as ' + (w.data.email || 'an organisation admin') + '.';
    $('new-org').hidden = true;
    $('refresh').hidden = true;
    renderOrgs(orgs);
    if (!(await openLinked(orgs)) && orgs.length === 1) await openOrg(orgs[0]);
    return;
  }
  if (w.ok && w.data && w.data.operator === true) {
    state.operator = true;
  } else if (!token()) {
    // No token and no admin session: ask for the token.
    $('orgs-section').hidden = true;
    closeOrg();
    if (w.status !== 401 && !missing(w)) notice.failed(w);
    return;
  } else {
    state.operator = true;
  }
  $('who').hidden = false;
  $('who').textContent = 'Signed in as the operator.';
  $('new-org').hidden = false;
  const r = await api('GET', '/admin/orgs');
  if (!r.ok) {
    state.operator = false;
    $('who').hidden = true;
    $('orgs-section').hidden = true;
    notice.failed(r);
    return;
  }
  const orgs = r.data && Array.isArray(r.data.orgs) ? r.data.orgs : [];
  renderOrgs(orgs);
  notice.say(orgs.length + ' organisation(s).');
  await openLinked(orgs);
}

$('token-form').addEventListener('submit', (event) => {
  event.preventDefault();
  setToken($('token').value.trim());
  $('token').value = '';
  notice.say('Token set for this tab.');
  boot();
});
$('forget').addEventListener('click', () => {
  setToken('');
  state.operator = false;
  $('orgs').replaceChildren();
  $('orgs-section').hidden = true;
  $('who').hidden = true;
  closeOrg();
  notice.say('Token forgotten.');
});
$('refresh').addEventListener('click', refreshList);
$('new-org').addEventListener('click', newOrg);
boot();
