// A tiny cookie-jar HTTP client for the end-to-end tests: redirects are never followed
// automatically (every hop is visible to the test), cookies are kept per host:port and path,
// and the oidc-provider dev interaction forms (login, consent, logout) can be driven by hand.

/** One cookie as the jar keeps it. */
class StoredCookie {
  constructor(name, value, path, expiresAt, attributes) {
    this.name = name;
    this.value = value;
    this.path = path;
    this.expiresAt = expiresAt; // ms since epoch, or null for a session cookie
    this.attributes = attributes; // lower-cased attribute names -> value (true when valueless)
  }
}

/** Parse one Set-Cookie header into { name, value, attributes } (attribute names lower-cased). */
export function parseSetCookie(header) {
  const [pair, ...rest] = header.split(';');
  const eq = pair.indexOf('=');
  const name = (eq < 0 ? '' : pair.slice(0, eq)).trim();
  const value = (eq < 0 ? pair : pair.slice(eq + 1)).trim();
  const attributes = {};
  for (const part of rest) {
    const i = part.indexOf('=');
    const key = (i < 0 ? part : part.slice(0, i)).trim().toLowerCase();
    if (!key) continue;
    attributes[key] = i < 0 ? true : part.slice(i + 1).trim();
  }
  return { name, value, attributes };
}

/** Cookies keyed by host:port (the tests only talk to loopback origins on distinct ports). */
export class CookieJar {
  constructor() {
    this.byHost = new Map();
  }

  /** Store the Set-Cookie headers of `response`, received for `url`. */
  store(url, response) {
    const u = new URL(url);
    const headers = response.headers.getSetCookie?.() ?? [];
    for (const header of headers) this.storeOne(u, header);
  }

  storeOne(u, header) {
    const { name, value, attributes } = parseSetCookie(header);
    if (!name) return;
    let path = typeof attributes.path === 'string' && attributes.path.startsWith('/') ? attributes.path : null;
    if (!path) {
      const dir = u.pathname.slice(0, u.pathname.lastIndexOf('/'));
      path = dir || '/';
    }
    let expiresAt = null;
    if (attributes['max-age'] !== undefined) {
      expiresAt = Date.now() + Number(attributes['max-age']) * 1000;
    } else if (typeof attributes.expires === 'string') {
      expiresAt = Date.parse(attributes.expires);
    }
    const cookies = this.byHost.get(u.host) ?? [];
    const kept = cookies.filter((c) => !(c.name === name && c.path === path));
    if (expiresAt === null || expiresAt > Date.now()) {
      kept.push(new StoredCookie(name, value, path, expiresAt, attributes));
    }
    this.byHost.set(u.host, kept);
  }

  /** The live cookies that a request to `url` would carry. */
  cookiesFor(url) {
    const u = new URL(url);
    const now = Date.now();
    return (this.byHost.get(u.host) ?? []).filter(
      (c) =>
        (c.expiresAt === null || c.expiresAt > now) &&
        (u.pathname === c.path ||
          u.pathname.startsWith(c.path.endsWith('/') ? c.path : `${c.path}/`)),
    );
  }

  /** The Cookie header value for `url`, or undefined when no cookie applies. */
  headerFor(url) {
    const cookies = this.cookiesFor(url);
    return cookies.length ? cookies.map((c) => `${c.name}=${c.value}`).join('; ') : undefined;
  }

  /** Value of cookie `name` for `url`'s host (any path), or undefined. */
  get(url, name) {
    return (this.byHost.get(new URL(url).host) ?? []).find((c) => c.name === name)?.value;
  }

  /** Set a cookie by hand (e.g. to replay an old session cookie). */
  set(url, name, value, path = '/') {
    this.storeOne(new URL(url), `${name}=${value}; Path=${path}`);
  }

  /** Forget cookie `name` for `url`'s host (all paths). */
  delete(url, name) {
    const host = new URL(url).host;
    this.byHost.set(host, (this.byHost.get(host) ?? []).filter((c) => c.name !== name));
  }
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);

/** An HTTP client with a cookie jar; `redirect: 'manual'` on every request. */
export class HttpClient {
  constructor(jar = new CookieJar()) {
    this.jar = jar;
  }

  /** fetch() with the jar's cookies; stores Set-Cookie; never follows redirects. */
  async fetch(url, init = {}) {
    const headers = new Headers(init.headers ?? {});
    const cookie = this.jar.headerFor(url);
    if (cookie && !headers.has('cookie')) headers.set('cookie', cookie);
    const response = await fetch(url, { ...init, headers, redirect: 'manual' });
    this.jar.store(url, response);
    return response;
  }

  /** GET `url` and keep following redirects while `shouldFollow(nextUrl)` says yes. */
  async follow(url, { shouldFollow = () => true, max = 20, headers } = {}) {
    const chain = [];
    let current = url;
    for (let i = 0; i < max; i++) {
      const response = await this.fetch(current, { headers });
      chain.push({ url: current, status: response.status });
      if (!REDIRECTS.has(response.status)) return { response, url: current, chain };
      const next = new URL(response.headers.get('location'), current).href;
      if (!shouldFollow(next)) return { response, url: current, next, chain };
      await response.arrayBuffer();
      current = next;
    }
    throw new Error(`too many redirects: ${JSON.stringify(chain)}`);
  }

  /** Submit a parsed form (see parseForms) with `overrides`; returns the response. */
  async submit(form, overrides = {}) {
    const fields = { ...form.fields, ...overrides };
    if (form.method === 'GET') {
      const u = new URL(form.action);
      for (const [k, v] of Object.entries(fields)) u.searchParams.set(k, v);
      return this.fetch(u.href);
    }
    return this.fetch(form.action, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(fields).toString(),
    });
  }
}

const decodeEntities = (s) =>
  s
    .replace(/&#(\d+);/g, (_, n) => String.fromCodePoint(Number(n)))
    .replace(/&#x([0-9a-f]+);/gi, (_, n) => String.fromCodePoint(parseInt(n, 16)))
    .replace(/&quot;/g, '"')
    .replace(/&#39;|&apos;/g, "'")
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');

function attrs(tag) {
  const out = {};
  const re = /([a-zA-Z_:][-a-zA-Z0-9_:.]*)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'=<>`]+)))?/g;
  const inner = tag.replace(/^<\s*[a-zA-Z]+/, '').replace(/\/?>$/, '');
  let m;
  while ((m = re.exec(inner))) {
    out[m[1].toLowerCase()] = decodeEntities(m[2] ?? m[3] ?? m[4] ?? '');
  }
  return out;
}

/**
 * Forms of an HTML page (regex-based: good enough for oidc-provider's and our own pages).
 * @returns {{action: string, method: string, fields: Record<string,string>,
 *   inputs: {name: string, type: string, value: string}[], buttons: {name?: string, value?: string, text: string}[]}[]}
 */
export function parseForms(html, baseUrl) {
  const forms = [];
  const formRe = /<form\b[^>]*>([\s\S]*?)<\/form>/gi;
  let m;
  while ((m = formRe.exec(html))) {
    const a = attrs(m[0].match(/<form\b[^>]*>/i)[0]);
    const body = m[1];
    const inputs = [...body.matchAll(/<input\b[^>]*>/gi)].map((t) => {
      const x = attrs(t[0]);
      return { name: x.name, type: (x.type ?? 'text').toLowerCase(), value: x.value ?? '' };
    });
    const buttons = [...body.matchAll(/<button\b([^>]*)>([\s\S]*?)<\/button>/gi)].map((t) => {
      const x = attrs(`<button${t[1]}>`);
      return { name: x.name, value: x.value, text: decodeEntities(t[2].replace(/<[^>]+>/g, '').trim()) };
    });
    const fields = {};
    for (const i of inputs) {
      if (i.name && ['hidden', 'text', 'email', 'password'].includes(i.type)) fields[i.name] = i.value;
    }
    forms.push({
      action: new URL(a.action ?? '', baseUrl).href,
      method: (a.method ?? 'GET').toUpperCase(),
      fields,
      inputs,
      buttons,
    });
  }
  return forms;
}

/**
 * Drive the oidc-provider dev interactions starting at `url` (normally the authorization URL
 * the worker redirected to): log in as `login`, consent, and stop at the first redirect that
 * leaves the IdP's origin. Returns that URL (e.g. the worker's /sso/callback?code=...).
 * Also handles the RP-initiated logout confirmation page (answers "yes").
 */
export async function driveIdp(client, url, { login = 'alice', password = 'any-password', max = 20 } = {}) {
  const idpOrigin = new URL(url).origin;
  let response = await client.fetch(url);
  let current = url;
  for (let step = 0; step < max; step++) {
    if (REDIRECTS.has(response.status)) {
      const next = new URL(response.headers.get('location'), current).href;
      await response.arrayBuffer();
      if (new URL(next).origin !== idpOrigin) return next;
      current = next;
      response = await client.fetch(current);
      continue;
    }
    const html = await response.text();
    if (response.status !== 200) {
      throw new Error(`IdP answered ${response.status} at ${current}: ${html.slice(0, 2000)}`);
    }
    const [form] = parseForms(html, current);
    if (!form) throw new Error(`no form on IdP page ${current}: ${html.slice(0, 2000)}`);
    if ('login' in form.fields) {
      response = await client.submit(form, { login, password });
    } else if (form.fields.prompt === 'consent') {
      response = await client.submit(form);
    } else if ('xsrf' in form.fields) {
      response = await client.submit(form, { logout: 'yes' });
    } else {
      throw new Error(`unknown IdP form at ${current}: ${JSON.stringify(form)}`);
    }
    current = form.action;
  }
  throw new Error('IdP interaction did not finish');
}

/** Assert-free helper: the JSON body of a response, or null when it is not JSON. */
export async function jsonOrNull(response) {
  const text = await response.text();
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

/**
 * One HTTP request through node:http with `path` sent exactly as given (fetch and `new URL`
 * resolve dot segments and would hide what a gate must judge). No redirects, no cookie jar.
 * @returns {Promise<{status: number, headers: import('node:http').IncomingHttpHeaders, text: string, body: any}>}
 */
export async function rawRequest(origin, path, { method = 'GET', headers = {}, body } = {}) {
  const { request } = await import('node:http');
  const u = new URL(origin);
  return new Promise((resolve, reject) => {
    const req = request(
      { host: u.hostname, port: u.port, method, path, headers, setHost: true },
      (res) => {
        const chunks = [];
        let size = 0;
        res.on('data', (c) => {
          // Error pages are small; keep at most 1 MiB of whatever comes back.
          if (size < 1 << 20) chunks.push(c);
          size += c.length;
        });
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed = null;
          try {
            parsed = text ? JSON.parse(text) : null;
          } catch {
            parsed = null;
          }
          resolve({ status: res.statusCode, headers: res.headers, text, body: parsed });
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}
