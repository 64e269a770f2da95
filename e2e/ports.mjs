// Free loopback TCP ports for the servers a test file starts.
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

/**
 * The first port of the kernel's ephemeral range (Linux; 32768 elsewhere). The OS hands those
 * ports to outgoing sockets too, and workerd and wrangler open many loopback connections, so a
 * port picked there could be taken by one of them before `wrangler dev` binds it (seen once in
 * CI as "Address already in use"). Ports are therefore picked below it.
 */
function ephemeralLow() {
  try {
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    return Number.isInteger(low) && low > 2048 ? low : 32768;
  } catch {
    return 32768;
  }
}

const LOW = ephemeralLow();
const FIRST = Math.max(1024, LOW - 12_000);
/** Ports this process has handed out (never twice). */
const handedOut = new Set();

function canBind(port) {
  return new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** A port free on 127.0.0.1 a moment ago, below the ephemeral range, new to this process. */
export async function freePort() {
  for (let tries = 0; tries < 500; tries++) {
    const port = FIRST + Math.floor(Math.random() * (LOW - FIRST));
    if (handedOut.has(port)) continue;
    if (await canBind(port)) {
      handedOut.add(port);
      return port;
    }
  }
  throw new Error(`no free loopback port in ${FIRST}-${LOW - 1}`);
}
