/** Turning host names into the IPv4 addresses sockets bind and advertise (zeromq runs IPv4-only here). */
import { createSocket } from 'node:dgram';
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import type { Socket } from 'zeromq';
import { UserError } from '../src/util/errors.js';

/** `what` names the setting the host came from, for the error message. */
export async function resolveIPv4(host: string, what: string): Promise<string> {
  if (isIP(host) === 4) return host;
  try {
    return (await lookup(host, { family: 4 })).address;
  } catch (err) {
    throw new UserError(`${what}='${host}' does not resolve to an IPv4 address (${(err as Error).message})`);
  }
}

/**
 * The local address the OS routes through to reach ip:port: the one peers on that route can connect back to.
 * Connecting a UDP socket only selects the route; no packet is sent.
 */
export function localAddressTowards(ip: string, port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = createSocket('udp4');
    sock.once('error', (err) => {
      sock.close();
      reject(new UserError(`no route from this host to the rendezvous master ${ip}:${port} (${err.message}); set the bind address explicitly`));
    });
    sock.connect(port, ip, () => {
      const { address } = sock.address();
      sock.close();
      resolve(address);
    });
  });
}

/**
 * Binds `socket` to tcp://ip:port, an ephemeral port when port is 0, and returns the port bound. On failure the
 * socket is closed and a UserError names `what` (the setting the address came from).
 */
export async function bindTcp(socket: Socket, ip: string, port: number, what: string): Promise<number> {
  const address = `tcp://${ip}:${port === 0 ? '*' : port}`;
  try {
    await socket.bind(address);
  } catch (err) {
    socket.close();
    throw new UserError(`cannot bind ${what} to ${address}: ${(err as Error).message}`);
  }
  const bound = socket.lastEndpoint ?? '';
  return Number(bound.slice(bound.lastIndexOf(':') + 1));
}
