// The loopback origin of the gateway benchmarks (bench/run.mjs): node:http, as little work per
// request as possible, so that the gate is what is measured (e2e/origin.mjs verifies every
// assertion and records every request: right for the tests, not for a load test).
//   GET  .../download?bytes=N   N bytes (at most 1 GiB) in 64 KiB chunks, with Content-Length
//   POST/PUT anything           the body counted as it streams: {"received": n}
//   anything else               200 "ok"
import { createServer } from 'node:http';

const CHUNK = Buffer.alloc(64 * 1024, 0x61);
const MAX_DOWNLOAD = 1024 ** 3;

/** @returns {Promise<{url: string, stop: () => Promise<void>}>} */
export async function startBenchOrigin() {
  const server = createServer((req, res) => {
    const url = new URL(req.url, 'http://origin');
    if (req.method === 'POST' || req.method === 'PUT') {
      let n = 0;
      req.on('data', (c) => {
        n += c.length;
      });
      req.on('end', () => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ received: n }));
      });
      return;
    }
    if (url.pathname.endsWith('/download')) {
      const total = Math.min(MAX_DOWNLOAD, Math.max(0, Number(url.searchParams.get('bytes')) || 0));
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(total) });
      let left = total;
      const pump = () => {
        while (left > 0) {
          const n = Math.min(left, CHUNK.length);
          left -= n;
          if (!res.write(n === CHUNK.length ? CHUNK : CHUNK.subarray(0, n))) return res.once('drain', pump);
        }
        res.end();
      };
      pump();
      return;
    }
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '2' });
    res.end('ok');
  });
  server.keepAliveTimeout = 60_000;
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    async stop() {
      server.closeAllConnections?.();
      await new Promise((r) => server.close(() => r()));
    },
  };
}
