// Admin page for edge-sso. The token lives only in sessionStorage; every request sends it as a
// bearer token and asks for JSON. Server data is rendered with textContent only.
'use strict';

(function () {
  const KEY = 'edge-sso-admin-token';
  const $ = (id) => document.getElementById(id);
  const TEMPLATE = {
    domains: ['example.com'],
    issuer: 'https://idp.example.com',
    client_id: 'hub',
    client_secret: '',
    role_mapping: [{ claim: 'groups', value: 'hub-admins', role: 'admin' }],
    default_role: 'read',
  };

  function token() {
    return sessionStorage.getItem(KEY) || '';
  }

  function say(text) {
    $('status').textContent = text;
  }

  function problem(text) {
    const box = $('problem');
    box.textContent = text || '';
    box.hidden = !text;
  }

  function describe(status, body) {
    if (body && typeof body === 'object' && body.error) {
      let text = body.message ? body.message : body.error;
      if (body.field) text += ' (field: ' + body.field + ')';
      if (body.correlation_id) text += ' [ref ' + body.correlation_id + ']';
      return 'Error ' + status + ': ' + text;
    }
    return 'Error ' + status;
  }

  async function api(method, path, body) {
    if (!token()) {
      problem('Enter the admin token first.');
      return null;
    }
    const headers = { Authorization: 'Bearer ' + token(), Accept: 'application/json' };
    const init = { method, headers, credentials: 'same-origin', redirect: 'error' };
    if (body !== undefined) {
      headers['Content-Type'] = 'application/json';
      init.body = body;
    }
    let res;
    try {
      res = await fetch(path, init);
    } catch (e) {
      problem('Network error: ' + e.message);
      return null;
    }
    let data = null;
    const text = await res.text();
    if (text) {
      try {
        data = JSON.parse(text);
      } catch (e) {
        data = null;
      }
    }
    if (!res.ok) {
      problem(describe(res.status, data));
      return null;
    }
    problem('');
    return { status: res.status, data };
  }

  function slugOf(entry) {
    return typeof entry === 'string' ? entry : entry && entry.slug;
  }

  function renderOrgs(orgs) {
    const list = $('orgs');
    list.replaceChildren();
    if (!orgs.length) {
      const li = document.createElement('li');
      li.textContent = 'No organisations yet.';
      list.append(li);
      return;
    }
    for (const entry of orgs) {
      const slug = slugOf(entry);
      if (!slug) continue;
      const li = document.createElement('li');
      const name = document.createElement('span');
      name.className = 'slug';
      name.textContent = slug;
      li.append(name);
      if (entry && Array.isArray(entry.domains)) {
        const d = document.createElement('span');
        d.className = 'hint';
        d.textContent = ' ' + entry.domains.join(', ');
        li.append(d);
      }
      const edit = document.createElement('button');
      edit.type = 'button';
      edit.className = 'secondary';
      edit.textContent = 'Edit';
      edit.setAttribute('aria-label', 'Edit ' + slug);
      edit.addEventListener('click', () => load(slug));
      li.append(' ', edit);
      list.append(li);
    }
  }

  async function refresh() {
    const r = await api('GET', '/admin/orgs');
    if (!r) return;
    const orgs = r.data && Array.isArray(r.data.orgs) ? r.data.orgs : [];
    renderOrgs(orgs);
    say(orgs.length + ' organisation(s).');
  }

  async function load(slug) {
    const r = await api('GET', '/admin/orgs/' + encodeURIComponent(slug));
    if (!r) return;
    const config = Object.assign({}, r.data);
    delete config.slug;
    delete config.client_secret_set;
    $('slug').value = slug;
    $('config').value = JSON.stringify(config, null, 2);
    say('Loaded ' + slug + '.');
    $('config').focus();
  }

  async function save(event) {
    event.preventDefault();
    const slug = $('slug').value.trim();
    const r = await api('PUT', '/admin/orgs/' + encodeURIComponent(slug), $('config').value);
    if (!r) return;
    say((r.status === 201 ? 'Created ' : 'Updated ') + slug + '.');
    refresh();
  }

  async function remove() {
    const slug = $('slug').value.trim();
    if (!slug) {
      problem('Enter the slug of the organisation to delete.');
      return;
    }
    if (!window.confirm('Delete organisation ' + slug + '? Its users can no longer sign in.')) return;
    const r = await api('DELETE', '/admin/orgs/' + encodeURIComponent(slug));
    if (!r) return;
    say('Deleted ' + slug + '.');
    $('config').value = JSON.stringify(TEMPLATE, null, 2);
    refresh();
  }

  document.addEventListener('DOMContentLoaded', () => {
    $('config').value = JSON.stringify(TEMPLATE, null, 2);
    $('token-form').addEventListener('submit', (event) => {
      event.preventDefault();
      sessionStorage.setItem(KEY, $('token').value);
      $('token').value = '';
      say('Token set for this tab.');
      refresh();
    });
    $('forget').addEventListener('click', () => {
      sessionStorage.removeItem(KEY);
      $('orgs').replaceChildren();
      say('Token forgotten.');
    });
    $('refresh').addEventListener('click', refresh);
    $('org-form').addEventListener('submit', save);
    $('delete').addEventListener('click', remove);
    if (token()) refresh();
  });
})();
