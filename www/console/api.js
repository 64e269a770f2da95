// The console's plumbing: who is signed in, the admin API client, field errors and small DOM
// helpers. Server data only ever reaches the page through textContent and attribute setters.

const TOKEN_KEY = 'edge-sso-admin-token';

/** The operator token of this tab (sessionStorage), or ''. */
export function token() {
  return sessionStorage.getItem(TOKEN_KEY) || '';
}

/** Keeps (or with '' forgets) the operator token for this tab only. */
export function setToken(value) {
  if (value) sessionStorage.setItem(TOKEN_KEY, value);
  else sessionStorage.removeItem(TOKEN_KEY);
}

/**
 * One admin API call. Resolves to { ok, status, data } and never throws: a network failure is
 * status 0. The operator's token rides as a bearer token; without one the request carries the
 * session cookie (an org admin), same-origin only, and a JSON content type on bodies, which the
 * server's CSRF check asks for.
 */
export async function api(method, path, body) {
  const headers = { Accept: 'application/json' };
  if (token()) headers.Authorization = 'Bearer ' + token();
  const init = { method, headers, credentials: 'same-origin', redirect: 'error', cache: 'no-store' };
  // Every change carries the JSON content type, body or not: no cross-site form can send it.
  if (method !== 'GET' && method !== 'HEAD') headers['Content-Type'] = 'application/json';
  if (body !== undefined) init.body = JSON.stringify(body);
  let res;
  try {
    res = await fetch(path, init);
  } catch (e) {
    return { ok: false, status: 0, data: { message: 'Network error: ' + e.message } };
  }
  // The body can fail too (the connection dropped mid-answer): that is a network error as well.
  let text;
  try {
    text = await res.text();
  } catch (e) {
    return { ok: false, status: 0, data: { message: 'Network error: ' + e.message } };
  }
  let data = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch (e) {
      data = null;
    }
  }
  return { ok: res.ok, status: res.status, data };
}

/**
 * Whether an answer means "this server has no such endpoint": 404 or 405, or the 400 a server
 * without the sub-resource gives when the unknown suffix is read as part of the slug.
 */
export function missing(r) {
  if (r.status === 404 || r.status === 405) {
    // An unknown org is a 404 too, but that one names itself.
    return !(r.data && r.data.error === 'unknown_org');
  }
  return r.status === 400 && !!r.data && r.data.field === 'slug';
}

/** The path of org `slug`, plus `sub` (already encoded). */
export function orgPath(slug, sub) {
  return '/admin/orgs/' + encodeURIComponent(slug) + (sub || '');
}

/** A human sentence for a failed answer. */
export function describe(r) {
  const d = r.data;
  if (r.status === 0) return d.message;
  let text = 'Error ' + r.status;
  if (d && typeof d === 'object' && (d.message || d.error)) {
    text += ': ' + (d.message || d.error);
    if (d.correlation_id) text += ' (reference ' + d.correlation_id + ')';
  }
  return text;
}

/** document.getElementById. */
export const $ = (id) => document.getElementById(id);

/**
 * A new element: `el('td', {className: 'x', dataset: {field: 'a'}}, 'text', child)`. Strings
 * become text nodes; properties are set as properties (never innerHTML), except `aria-*`,
 * `role` and `for`, which are attributes.
 */
export function el(tag, props, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(props || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'dataset') Object.assign(node.dataset, v);
    else if (k.startsWith('aria-') || k === 'role' || k === 'for') node.setAttribute(k, String(v));
    else if (k === 'onclick') node.addEventListener('click', v);
    else if (k === 'onchange') node.addEventListener('change', v);
    else if (k === 'oninput') node.addEventListener('input', v);
    else node[k] = v;
  }
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    node.append(typeof c === 'string' || typeof c === 'number' ? String(c) : c);
  }
  return node;
}

let nextId = 0;
/** A fresh element id. */
export function uid(prefix) {
  nextId += 1;
  return (prefix || 'f') + '-' + nextId;
}

/**
 * A labelled field: `<div class="field"><label>..</label>input<p hint><p error></div>`. The
 * input gets `data-field` (the API's field name) so that an error naming the field lands here.
 */
export function field(labelText, input, { hint, name } = {}) {
  if (!input.id) input.id = uid('in');
  if (name) input.dataset.field = name;
  const wrap = el('div', { className: 'field' }, el('label', { for: input.id }, labelText), input);
  const described = [];
  if (hint) {
    const h = el('p', { className: 'hint', id: uid('hint') }, hint);
    described.push(h.id);
    wrap.append(h);
  }
  const err = el('p', { className: 'field-error', id: uid('err'), hidden: true });
  described.push(err.id);
  wrap.append(err);
  input.setAttribute('aria-describedby', described.join(' '));
  return wrap;
}

/** Removes every field error shown inside `root`. */
export function clearErrors(root) {
  for (const e of root.querySelectorAll('.field-error')) {
    e.textContent = '';
    e.hidden = true;
  }
  for (const i of root.querySelectorAll('[aria-invalid]')) i.removeAttribute('aria-invalid');
}

/** `role_mapping[2].role` -> `role_mapping[2]` -> `role_mapping` -> ''. */
function parentPath(path) {
  const m = path.match(/^(.*)(\.[^.[\]]+|\[\d+\])$/);
  return m ? m[1] : '';
}

/**
 * Shows `message` next to the element of `root` whose data-field is `fieldName`, or the
 * nearest enclosing path that has one (a row, then its table). Returns whether it found one.
 */
export function showFieldError(root, fieldName, message) {
  for (let path = fieldName || ''; path; path = parentPath(path)) {
    const target = root.querySelector('[data-field="' + CSS.escape(path) + '"]');
    if (!target) continue;
    const box = target.closest('.field, .rule, fieldset') || target;
    const err = box.querySelector(':scope > .field-error') || box.querySelector('.field-error');
    if (!err) continue;
    err.textContent = message;
    err.hidden = false;
    target.setAttribute('aria-invalid', 'true');
    if (typeof target.focus === 'function' && target.matches('input, select, textarea')) target.focus();
    else err.scrollIntoView({ block: 'nearest' });
    return true;
  }
  return false;
}

/** A status line (polite) and an alert box under one root. */
export class Notice {
  constructor(statusEl, alertEl) {
    this.statusEl = statusEl;
    this.alertEl = alertEl;
  }
  say(text) {
    this.statusEl.textContent = text || '';
  }
  problem(text) {
    this.alertEl.textContent = text || '';
    this.alertEl.hidden = !text;
  }
  /** Shows a failed answer: next to its field inside `root` when it names one, else as an alert. */
  failed(r, root) {
    const d = r.data || {};
    this.say('');
    if (root && d.field && showFieldError(root, d.field, describe(r))) {
      this.problem('');
      return;
    }
    this.problem(describe(r));
  }
}

/** A Unix time (seconds) or ISO string as a readable local date, '' when absent. */
export function when(t) {
  if (t === null || t === undefined || t === '') return '';
  const d = typeof t === 'number' ? new Date(t * 1000) : new Date(t);
  if (Number.isNaN(d.getTime())) return String(t);
  return d.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
}

/** Splits a list typed as text (commas, spaces or new lines) into its non-empty items. */
export function words(text) {
  return String(text || '')
    .split(/[\s,]+/)
    .map((w) => w.trim())
    .filter(Boolean);
}

/** Copies `text` to the clipboard; falls back to selecting `input` for Ctrl+C. */
export async function copy(text, input, notice) {
  try {
    await navigator.clipboard.writeText(text);
    notice.say('Copied.');
  } catch (e) {
    if (input) {
      input.focus();
      input.select();
    }
    notice.say('Press Ctrl+C (or Cmd+C) to copy the selected text.');
  }
}

/** The roles, least to most privileged. */
export const ROLES = ['read', 'contributor', 'write', 'admin'];

/** A <select> of roles; `none` adds a first option with value '' and that label. */
export function roleSelect(value, none) {
  const s = el('select');
  if (none) s.append(el('option', { value: '' }, none));
  for (const r of ROLES) s.append(el('option', { value: r }, r));
  s.value = value || '';
  return s;
}
