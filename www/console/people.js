// The Members, SCIM, Audit and Domains tabs: lists read from the org's ledger, revocation,
// the SCIM token (shown once) and domain claims (issue 12; the tab appears only when the
// server has the endpoint).

import { api, copy, describe, el, field, orgPath, when } from './api.js';

/** A table whose cells carry their column name, so that narrow screens can stack them. */
function table(caption, columns) {
  const head = el('tr', {}, ...columns.map((c) => el('th', { scope: 'col' }, c)));
  const body = el('tbody');
  const t = el('table', { className: 'list' }, el('caption', { className: 'sr-only' }, caption), el('thead', {}, head), body);
  t.addRow = (...cells) => {
    const tr = el('tr');
    cells.forEach((c, i) => {
      const td = el('td', { dataset: { label: columns[i] } });
      if (c !== null && c !== undefined) td.append(typeof c === 'object' ? c : String(c));
      tr.append(td);
    });
    body.append(tr);
    return tr;
  };
  t.clear = () => body.replaceChildren();
  return t;
}

/** A two-step destructive action: the button reveals "Yes, ..." and "Cancel". */
function confirmed(label, question, yesLabel, action) {
  const btn = el('button', { type: 'button', className: 'danger' }, label);
  const box = el('div', { className: 'row confirm', hidden: true });
  const yes = el('button', { type: 'button', className: 'danger' }, yesLabel);
  const no = el('button', { type: 'button', className: 'secondary' }, 'Cancel');
  box.append(el('p', {}, question), yes, no);
  btn.addEventListener('click', () => { box.hidden = false; yes.focus(); });
  no.addEventListener('click', () => { box.hidden = true; btn.focus(); });
  yes.addEventListener('click', async () => { box.hidden = true; btn.focus(); await action(); });
  return el('div', {}, el('div', { className: 'row' }, btn), box);
}

/** Builds the Members tab: search, role, last sign-in, sessions, revoke one or all. */
export function membersPanel(panel, ctx) {
  const search = el('input', { type: 'search', autocomplete: 'off', spellcheck: false });
  const t = table('Members of ' + ctx.slug, ['Email', 'Role', 'Status', 'Last sign-in', 'Sessions', 'Source', 'Actions']);
  const more = el('button', { type: 'button', className: 'secondary', hidden: true }, 'Load more');
  const count = el('p', { className: 'meta', 'aria-live': 'polite' });
  let members = [];
  let cursor = null;

  const render = () => {
    const q = search.value.trim().toLowerCase();
    t.clear();
    const shown = members.filter((m) => !q || [m.email, m.sub, m.role].some((v) => String(v || '').toLowerCase().includes(q)));
    for (const m of shown) {
      const who = m.email || m.sub || m.id;
      const revoke = el('button', {
        type: 'button',
        className: 'secondary',
        'aria-label': 'Revoke sessions of ' + who,
        onclick: async () => {
          const r = await api('POST', orgPath(ctx.slug, '/revoke'), m.email ? { email: m.email } : { sub: m.sub });
          if (!r.ok) return ctx.notice.failed(r);
          ctx.notice.problem('');
          ctx.notice.say('Revoked ' + (r.data ? r.data.revoked : 0) + ' session(s) of ' + who + '.');
          load(false);
        },
      }, 'Revoke');
      t.addRow(m.email || '', m.role || 'none', m.active === false ? 'inactive' : 'active', when(m.last_login) || 'never', m.sessions ?? 0, m.source || '', revoke);
    }
    count.textContent = shown.length + ' of ' + members.length + ' loaded member(s) shown.';
  };

  async function load(append) {
    const q = '?limit=100' + (append && cursor ? '&cursor=' + encodeURIComponent(cursor) : '');
    const r = await api('GET', orgPath(ctx.slug, '/members' + q));
    if (!r.ok) return ctx.notice.failed(r);
    const page = (r.data && r.data.members) || [];
    members = append ? members.concat(page) : page;
    cursor = r.data && r.data.next_cursor;
    more.hidden = !cursor;
    render();
  }

  search.addEventListener('input', render);
  more.addEventListener('click', () => load(true));
  panel.append(
    field('Search members', search, { hint: 'Filters the loaded members by email, subject or role.' }),
    el('div', { className: 'row' }, el('button', { type: 'button', className: 'secondary', onclick: () => load(false) }, 'Refresh members')),
    count,
    el('div', { className: 'scroll' }, t),
    el('div', { className: 'row' }, more),
    el('h3', {}, 'Everyone'),
    confirmed('Revoke all sessions', 'End every session of ' + ctx.slug + '? Members sign in again.', 'Yes, revoke all sessions', async () => {
      const r = await api('POST', orgPath(ctx.slug, '/revoke'), { all: true });
      if (!r.ok) return ctx.notice.failed(r);
      ctx.notice.say('Revoked ' + (r.data ? r.data.revoked : 0) + ' session(s).');
      load(false);
    }),
  );
  let loaded = false;
  panel.onshow = () => {
    if (!loaded) load(false);
    loaded = true;
  };
}

/** Builds the SCIM tab: base URL and the token, minted or rotated, shown once. */
export function scimPanel(panel, ctx) {
  const base = el('input', { type: 'text', readOnly: true, value: location.origin + '/scim/v2/' + ctx.slug });
  const out = el('div', { 'aria-live': 'polite' });
  const mint = el('button', { type: 'button' }, 'Mint SCIM token');
  mint.addEventListener('click', async () => {
    const r = await api('POST', orgPath(ctx.slug, '/scim-token'));
    if (!r.ok || !r.data || !r.data.token) {
      ctx.notice.failed(r);
      return;
    }
    ctx.notice.problem('');
    if (r.data.base_url) base.value = String(r.data.base_url);
    const tok = el('input', { type: 'text', readOnly: true, value: String(r.data.token), spellcheck: false });
    out.replaceChildren(
      field('SCIM token (shown once)', tok, { hint: 'Copy it into your IdP\'s provisioning settings now: it is not shown again. Minting again replaces it.' }),
      el('button', { type: 'button', className: 'secondary', onclick: () => copy(tok.value, tok, ctx.notice) }, 'Copy token'),
    );
    mint.textContent = 'Rotate SCIM token';
    ctx.notice.say('New SCIM token minted.');
    tok.focus();
  });
  panel.append(
    el('p', { className: 'hint' }, 'Point your IdP\'s SCIM 2.0 provisioning at this base URL with the token as a bearer token. Choose "Only SCIM-provisioned users" under SSO, Provisioning, to let only provisioned users sign in.'),
    field('SCIM base URL', base),
    el('div', { className: 'row' }, el('button', { type: 'button', className: 'secondary', onclick: () => copy(base.value, base, ctx.notice) }, 'Copy base URL')),
    el('div', { className: 'row' }, mint),
    out,
    el('h3', {}, 'Disable'),
    confirmed('Disable SCIM token', 'Disable the SCIM token? Provisioning requests fail until a new one is minted.', 'Yes, disable the token', async () => {
      const r = await api('DELETE', orgPath(ctx.slug, '/scim-token'));
      if (!r.ok) return ctx.notice.failed(r);
      out.replaceChildren();
      mint.textContent = 'Mint SCIM token';
      ctx.notice.say('SCIM token disabled.');
    }),
  );
}

/** Event families for the audit filter (`type` matches a name or a dotted prefix of one). */
const FAMILIES = [
  ['', 'All events'],
  ['org.settings', 'Settings changes'],
  ['org.sso_login', 'Sign-ins'],
  ['org.sso_login_denied', 'Refused sign-ins'],
  ['org.member', 'Members (revocations, deprovisioning)'],
  ['org.scim', 'SCIM'],
  ['org.domain', 'Domains'],
  ['org.sso_logout', 'Logouts'],
  ['org.created', 'Organisation created'],
];

/** A short text of an event's detail: settings changes by field, else compact JSON. */
function summary(detail) {
  if (!detail || typeof detail !== 'object') return detail === undefined || detail === null ? '' : String(detail);
  if (detail.changes && typeof detail.changes === 'object') {
    return Object.entries(detail.changes).map(([k, v]) => {
      if (v && typeof v === 'object' && v.changed === true && !('new' in v)) return k + ' changed';
      return k + ': ' + JSON.stringify(v && 'old' in v ? v.old : null) + ' → ' + JSON.stringify(v && 'new' in v ? v.new : v);
    }).join('; ');
  }
  const s = JSON.stringify(detail);
  return s === '{}' ? '' : s;
}

/** Builds the Audit tab: newest first, filtered by event family, paged. */
export function auditPanel(panel, ctx) {
  const type = el('select');
  for (const [v, label] of FAMILIES) type.append(el('option', { value: v }, label));
  const t = table('Audit log of ' + ctx.slug, ['Time', 'Event', 'Actor', 'Detail', 'Reference']);
  const more = el('button', { type: 'button', className: 'secondary', hidden: true }, 'Load older events');
  const count = el('p', { className: 'meta', 'aria-live': 'polite' });
  let cursor = null;
  let n = 0;

  async function load(append) {
    let q = '?limit=100';
    if (type.value) q += '&type=' + encodeURIComponent(type.value);
    if (append && cursor !== null && cursor !== undefined) q += '&cursor=' + encodeURIComponent(cursor);
    const r = await api('GET', orgPath(ctx.slug, '/audit' + q));
    if (!r.ok) return ctx.notice.failed(r);
    if (!append) {
      t.clear();
      n = 0;
    }
    for (const e of (r.data && r.data.events) || []) {
      const tr = t.addRow(when(e.at), e.event || '', e.actor || '', summary(e.detail), e.cid || '');
      tr.dataset.event = String(e.event || '');
      n += 1;
    }
    cursor = r.data ? r.data.next_cursor : null;
    more.hidden = cursor === null || cursor === undefined;
    count.textContent = n + ' event(s) shown, newest first.';
  }

  type.addEventListener('change', () => load(false));
  more.addEventListener('click', () => load(true));
  panel.append(
    field('Event type', type),
    el('div', { className: 'row' }, el('button', { type: 'button', className: 'secondary', onclick: () => load(false) }, 'Refresh log')),
    count,
    el('div', { className: 'scroll' }, t),
    el('div', { className: 'row' }, more),
  );
  // Every visit shows the latest events.
  panel.onshow = () => load(false);
}

/** Builds the Domains tab from the probe's answer `first` (GET .../domains). */
export function domainsPanel(panel, ctx, first) {
  const t = table('Domains of ' + ctx.slug, ['Domain', 'Status', 'TXT record', 'Verified', 'Last checked', 'Actions']);
  const name = el('input', { type: 'text', autocomplete: 'off', spellcheck: false, placeholder: 'acme.com' });
  const path = (d, sub) => orgPath(ctx.slug, '/domains/' + encodeURIComponent(d) + (sub || ''));

  const render = (r) => {
    if (!r.ok) return ctx.notice.failed(r);
    t.clear();
    for (const d of (r.data && r.data.domains) || []) {
      if (d.source === 'operator') {
        // Listed by the operator: nothing to prove or release here.
        t.addRow(d.domain, 'verified (set by the operator)', '', '', '', '');
        continue;
      }
      const txt = el('div', { className: 'txt' },
        el('code', {}, String(d.txt_name || '')), ' ', el('code', {}, String(d.txt_value || '')),
        d.txt_value ? el('button', { type: 'button', className: 'secondary', 'aria-label': 'Copy TXT value of ' + d.domain, onclick: () => copy(String(d.txt_value), null, ctx.notice) }, 'Copy') : null);
      const actions = el('div', { className: 'row' },
        d.status !== 'verified' ? el('button', {
          type: 'button',
          'aria-label': 'Verify ' + d.domain,
          onclick: async () => {
            const v = await api('POST', path(d.domain, '/verify'));
            if (!v.ok) return ctx.notice.failed(v);
            const vd = v.data || {};
            ctx.notice.say(d.domain + ': ' + String(vd.status || 'checked') + (vd.message ? '. ' + String(vd.message) : '.'));
            reload();
          },
        }, 'Verify') : null,
        el('button', {
          type: 'button',
          className: 'danger',
          'aria-label': 'Remove ' + d.domain,
          onclick: async () => {
            const v = await api('DELETE', path(d.domain));
            if (!v.ok) return ctx.notice.failed(v);
            ctx.notice.say('Removed ' + d.domain + '.');
            reload();
          },
        }, 'Remove'));
      t.addRow(d.domain, d.status || '', txt, when(d.verified_at), when(d.last_checked), actions);
    }
  };
  const reload = async () => render(await api('GET', orgPath(ctx.slug, '/domains')));
  const form = el('form', { className: 'stack', noValidate: true });
  form.append(field('Domain to claim', name, { name: 'domain', hint: 'Then publish the TXT record shown and press Verify.' }), el('div', { className: 'row' }, el('button', { type: 'submit' }, 'Claim domain')));
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const d = name.value.trim().toLowerCase();
    if (!d) return;
    const r = await api('PUT', path(d));
    if (!r.ok) {
      const p = form.querySelector('.field-error');
      p.textContent = describe(r);
      p.hidden = false;
      return;
    }
    name.value = '';
    ctx.notice.say('Claimed ' + d + '; publish its TXT record, then verify.');
    reload();
  });
  panel.append(el('div', { className: 'scroll' }, t), el('h3', {}, 'Claim a domain'), form);
  render(first);
}
