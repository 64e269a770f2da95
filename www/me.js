// The login page's "you are signed in" panel: GET /sso/me (JSON) lists the organisations of
// this browser's session with role and expiry, each with its own sign-out form (POST
// /sso/logout?org=SLUG), plus sign-out everywhere. Signed out, the page stays the email form.
// Server data is rendered with textContent only.
'use strict';

(function () {
  const el = (tag, props, ...children) => {
    const node = document.createElement(tag);
    Object.assign(node, props || {});
    for (const c of children) if (c !== null && c !== undefined) node.append(c);
    return node;
  };
  const when = (secs) => new Date(secs * 1000).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
  const logoutForm = (slug, label) => {
    const form = el('form', { method: 'post', action: '/sso/logout' + (slug ? '?org=' + encodeURIComponent(slug) : '') });
    form.append(el('button', { type: 'submit', className: slug ? 'secondary' : '' }, label));
    return form;
  };

  async function show() {
    let body;
    try {
      const res = await fetch('/sso/me', { headers: { Accept: 'application/json' }, credentials: 'same-origin', cache: 'no-store' });
      if (!res.ok) return;
      body = await res.json();
    } catch (e) {
      return;
    }
    const orgs = body && body.orgs && typeof body.orgs === 'object' ? Object.entries(body.orgs) : [];
    if (!orgs.length) return;
    const panel = document.getElementById('signed-in');
    const list = el('ul', { className: 'sessions' });
    for (const [slug, s] of orgs) {
      const groups = s.resource_groups && typeof s.resource_groups === 'object' ? Object.entries(s.resource_groups) : [];
      const li = el('li', { className: 'session' },
        el('p', { className: 'slug' }, String(slug)),
        el('p', {}, String(s.email || s.sub || '')),
        el('p', { className: 'meta' }, 'Role: ' + (s.role || 'none') +
          (groups.length ? ' (' + groups.map(([g, r]) => g + ': ' + r).join(', ') + ')' : '') +
          (typeof s.expires_at === 'number' ? ' · until ' + when(s.expires_at) : '')),
        logoutForm(String(slug), 'Sign out of ' + slug));
      li.dataset.org = String(slug);
      list.append(li);
    }
    panel.replaceChildren(
      el('h2', { id: 'signed-in-h' }, 'You are signed in'),
      list,
      logoutForm(null, 'Sign out everywhere'));
    panel.hidden = false;
    const fallback = document.getElementById('signout-fallback');
    if (fallback) fallback.hidden = true;
    const heading = document.getElementById('login-h');
    heading.textContent = 'Sign in to another organisation';
    heading.classList.remove('sr-only');
  }

  show();
})();
