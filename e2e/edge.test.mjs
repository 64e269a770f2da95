// The edge adapter in workerd: every method reaches the router (405 with Allow for a known path),
// and request bodies are read as a stream under the 64 KiB cap: refused on Content-Length before
// reading, counted (and drained) without it.
import { strict as assert } from 'node:assert';
import { after, before, describe, test } from 'node:test';

import { acmeConfig, startStack } from './fixtures.mjs';

let stack;
before(async () => {
  stack = await startStack();
});
after(() => stack?.stop());

const CAP = 64 * 1024;

/** A request body sent chunked (no Content-Length): `chunks` pieces of `size` bytes. */
function chunked(chunks, size, byte = 0x20) {
  let sent = 0;
  return new ReadableStream({
    pull(controller) {
      if (sent === chunks) {
        controller.close();
        return;
      }
      sent += 1;
      controller.enqueue(new Uint8Array(size).fill(byte));
    },
  });
}

async function send(method, path, { body, headers = {} } = {}) {
  const init = {
    method,
    headers: { accept: 'application/json', authorization: `Bearer ${stack.worker.adminToken}`, ...headers },
    redirect: 'manual',
  };
  if (body !== undefined) {
    init.body = body;
    if (body instanceof ReadableStream) init.duplex = 'half';
  }
  const res = await fetch(`${stack.origin}${path}`, init);
  const text = await res.text();
  let json = null;
  try {
    json = JSON.parse(text);
  } catch {
    json = null;
  }
  return { status: res.status, headers: res.headers, text, json };
}

function assertError(r, status, code) {
  assert.equal(r.status, status, r.text);
  assert.equal(r.json?.error, code, r.text);
  assert.equal(typeof r.json?.correlation_id, 'string', r.text);
  assert.equal(r.headers.get('x-content-type-options'), 'nosniff');
}

describe('methods', () => {
  test('PATCH on an admin path is 405 naming the allowed methods', async () => {
    const r = await send('PATCH', '/admin/orgs/acme', { body: '{}' });
    assertError(r, 405, 'method_not_allowed');
    assert.equal(r.headers.get('allow'), 'GET, PUT, DELETE');
  });

  test('OPTIONS / is 405 with Allow: GET, HEAD', async () => {
    const r = await send('OPTIONS', '/');
    assertError(r, 405, 'method_not_allowed');
    assert.equal(r.headers.get('allow'), 'GET, HEAD');
  });

  test('an unknown path is 404 whatever the method', async () => {
    assertError(await send('PATCH', '/nowhere'), 404, 'not_found');
  });
});

describe('request bodies', () => {
  test('a declared Content-Length over the cap is 413 and writes nothing', async () => {
    const r = await send('PUT', '/admin/orgs/big', {
      body: JSON.stringify({ ...acmeConfig(stack.idp), client_id: 'x'.repeat(CAP) }),
      headers: { 'content-type': 'application/json' },
    });
    assertError(r, 413, 'too_large');
    assert.equal((await stack.admin.get('big')).status, 404);
  });

  test('a chunked body over the cap is drained, then 413', async () => {
    const r = await send('PUT', '/admin/orgs/big', {
      body: chunked(40, 4096),
      headers: { 'content-type': 'application/json' },
    });
    assertError(r, 413, 'too_large');
    assert.equal((await stack.admin.get('big')).status, 404);
  });

  test('a chunked body under the cap is read whole', async () => {
    const bytes = new TextEncoder().encode(JSON.stringify(acmeConfig(stack.idp, { domains: ['chunked.test'] })));
    const body = new ReadableStream({
      start(controller) {
        // Several small pieces, as a slow client would send them.
        for (let i = 0; i < bytes.length; i += 7) controller.enqueue(bytes.slice(i, i + 7));
        controller.close();
      },
    });
    const r = await send('PUT', '/admin/orgs/chunked', { body, headers: { 'content-type': 'application/json' } });
    assert.equal(r.status, 201, r.text);
    assert.equal((await stack.admin.delete('chunked')).status, 204);
  });
});
