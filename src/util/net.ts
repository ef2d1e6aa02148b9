/** Small networking helpers shared by the launcher and the tests. */
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

/** Ports picked from here, below Linux's default ephemeral range (32768-60999), where binds of port 0 land. */
const LOW = 20000;
const TRIES = 50;

/**
 * A TCP port that is free on `host` right now. It is picked at random below the OS's ephemeral port range:
 * every socket that binds port 0 (our own ranks' listeners, other programs) gets a port from that range, so a
 * port outside it is not taken by one of them between this check and the caller's bind. Falls back to a port
 * the OS picks. Another process could still take it; the launcher accepts that small race as torchrun does.
 */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  const [ephemeralLow] = ephemeralRange();
  for (let i = 0; i < TRIES && ephemeralLow > LOW + 1000; i++) {
    const port = LOW + Math.floor(Math.random() * (ephemeralLow - LOW));
    if (await canListen(host, port)) return port;
  }
  return listenOn(host, 0);
}

function ephemeralRange(): [number, number] {
  try {
    const [lo, hi] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
    if (lo > 0 && hi >= lo) return [lo, hi];
  } catch {
    // not Linux: the usual default
  }
  return [32768, 60999];
}

async function canListen(host: string, port: number): Promise<boolean> {
  try {
    return (await listenOn(host, port)) === port;
  } catch {
    return false;
  }
}

/** Binds host:port (0: any), closes it again and returns the port that was bound. */
function listenOn(host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(port, host, () => {
      const bound = (srv.address() as { port: number }).port;
      srv.close(() => resolve(bound));
    });
  });
}
