// A tiny loopback DNS-over-HTTPS responder (JSON flavour, `accept: application/dns-json`, as
// Cloudflare's https://cloudflare-dns.com/dns-query answers) for the domain ownership tests and
// `make dev`. Plain http on 127.0.0.1: the worker admits it as DOH_URL only with
// ALLOW_INSECURE_LOOPBACK_IDP=true.
//
//   const doh = await startDoh({ port });        // doh.url = http://127.0.0.1:<port>/dns-query
//   doh.setTxt('_edge-sso-challenge.acme.test', ['edge-sso-verify=...']);
//   doh.set(name, { status: 2 });                // SERVFAIL; { status: 0, txt: [] } no record
//   doh.delete(name);                            // NXDOMAIN again
//   await doh.stop();
//
// Records can also be set over HTTP (what `make dev` users do, see README "Domain ownership"):
//   PUT    /records/<name>   body {"txt": ["value", ...]} or {"status": 2}
//   DELETE /records/<name>
//   GET    /records          every record
// Names are compared as DNS does: case-insensitive, trailing dot optional. A name with no
// record is NXDOMAIN. `queries` counts the DoH queries answered per name.

import { createServer } from 'node:http';

const norm = (name) => String(name).trim().replace(/\.$/, '').toLowerCase();

/** A TXT value as a resolver writes it: quoted <character-string>s of at most 255 bytes. */
export function quoteTxt(value) {
  const bytes = Buffer.from(value, 'utf8');
  const parts = [];
  for (let i = 0; i < bytes.length || parts.length === 0; i += 255) {
    parts.push(`"${bytes.subarray(i, i + 255).toString('utf8').replace(/["\\]/g, (c) => `\\${c}`)}"`);
  }
  return parts.join(' ');
}

/** Start the responder on 127.0.0.1:`port` (0: any free port). */
export async function startDoh({ port = 0 } = {}) {
  const records = new Map(); // name -> { status, txt: [] }
  const queries = new Map();

  const answer = (name, type) => {
    const rec = records.get(norm(name));
    const base = { TC: false, RD: true, RA: true, AD: false, CD: false, Question: [{ name: `${norm(name)}.`, type }] };
    if (!rec) return { Status: 3, ...base };
    if (rec.status !== 0) return { Status: rec.status, ...base };
    const txt = type === 16 ? rec.txt : [];
    return {
      Status: 0,
      ...base,
      ...(txt.length ? { Answer: txt.map((v) => ({ name: `${norm(name)}.`, type: 16, TTL: 60, data: quoteTxt(v) })) } : {}),
    };
  };

  const readJson = async (req) => {
    let body = '';
    for await (const chunk of req) {
      body += chunk;
      if (body.length > 65536) throw new Error('body too large');
    }
    return body ? JSON.parse(body) : {};
  };

  const server = createServer(async (req, res) => {
    const url = new URL(req.url, 'http://127.0.0.1');
    const send = (status, body, type = 'application/json') => {
      res.writeHead(status, { 'content-type': type });
      res.end(typeof body === 'string' ? body : JSON.stringify(body));
    };
    try {
      if (url.pathname === '/dns-query' && req.method === 'GET') {
        const name = url.searchParams.get('name');
        const rtype = (url.searchParams.get('type') ?? 'A').toUpperCase();
        if (!name) return send(400, { error: 'name is required' });
        queries.set(norm(name), (queries.get(norm(name)) ?? 0) + 1);
        const type = rtype === 'TXT' || rtype === '16' ? 16 : 1;
        return send(200, answer(name, type), 'application/dns-json');
      }
      if (url.pathname === '/records' && req.method === 'GET') {
        return send(200, Object.fromEntries(records));
      }
      if (url.pathname.startsWith('/records/')) {
        const name = norm(decodeURIComponent(url.pathname.slice('/records/'.length)));
        if (!name) return send(400, { error: 'a name is required' });
        if (req.method === 'PUT' || req.method === 'POST') {
          const body = await readJson(req);
          set(name, body);
          return send(200, { [name]: records.get(name) });
        }
        if (req.method === 'DELETE') {
          records.delete(name);
          return send(204, '');
        }
      }
      return send(404, { error: 'not found' });
    } catch (err) {
      return send(400, { error: String(err.message ?? err) });
    }
  });

  function set(name, { status = 0, txt = [] } = {}) {
    if (!Number.isInteger(status)) throw new Error('status must be a DNS RCODE number');
    if (!Array.isArray(txt) || !txt.every((t) => typeof t === 'string')) throw new Error('txt must be a list of strings');
    records.set(norm(name), { status, txt });
  }

  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  const actual = server.address().port;
  return {
    url: `http://127.0.0.1:${actual}/dns-query`,
    port: actual,
    set,
    setTxt: (name, txt) => set(name, { txt }),
    delete: (name) => records.delete(norm(name)),
    queries: (name) => queries.get(norm(name)) ?? 0,
    stop: () => new Promise((resolve) => {
      server.closeAllConnections?.();
      server.close(() => resolve());
    }),
  };
}

// `node e2e/doh.mjs [port]` runs it on its own.
if (import.meta.url === `file://${process.argv[1]}`) {
  const doh = await startDoh({ port: Number(process.argv[2] ?? 8053) });
  console.log(`DoH responder at ${doh.url} (PUT /records/<name> {"txt":["..."]} to add a record)`);
}
