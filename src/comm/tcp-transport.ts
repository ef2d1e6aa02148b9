/**
 * Plain TCP transport: the same messages as the ZeroMQ one (a msgpackr header plus one raw data frame), but
 * each data frame is read by the kernel straight into memory allocated for it, with no intermediate copy and
 * no library thread between socket and JavaScript. zeromq.js hands every received message over from its I/O
 * thread as a fresh allocation; on two cores that costs more CPU than the kernel's own copies (src/comm/README).
 *
 * Roles are reversed with respect to ZeroMQ's PUSH/PULL: each rank connects one socket *to* every peer and
 * receives on it, because only a socket we create can take Node's `onread` buffer generator (the kernel reads
 * into the buffer it returns); the peer sends on the socket it accepted. A connection starts with a hello
 * (magic, protocol version, rank, job token); anything else is logged and dropped without touching the job.
 *
 * Frame: u32 header length, u32 data length (little-endian), header bytes, data bytes.
 */
import { Buffer } from 'node:buffer';
import { timingSafeEqual } from 'node:crypto';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Endpoint } from '../../topology/rendezvous.js';
import { UserError } from '../util/errors.js';
import { MAX_FRAME_BYTES } from './ops/context.js';
import type { Receiver, Transport } from './transport.js';

const MAGIC = 0x54504444; // 'DDPT' little-endian
const PROTOCOL = 1;
/** magic, protocol, rank, token length. */
const HELLO_BYTES = 16;
const MAX_TOKEN_BYTES = 1024;
const PREFIX_BYTES = 8;
/** Headers are a few dozen bytes; the bound keeps a corrupt length from allocating. */
const MAX_HEADER_BYTES = 64 * 1024;
/** A connection that has not said hello by then is not a peer. */
const HELLO_TIMEOUT_MS = 10_000;
/** Bounds how long close() waits for unsent messages to a peer that stopped reading. */
const LINGER_MS = 5000;
/** onread needs a non-empty buffer even when the next message has no data; nothing is ever read into it. */
const SPARE = Buffer.alloc(PREFIX_BYTES);

export interface TcpTransportOptions {
  /** The job token: a connection must present it in its hello. */
  token: string;
  /** Where refused connections are reported. */
  log: (line: string) => void;
}

export class TcpTransport implements Transport {
  /** Sockets this rank sends on, by destination rank (accepted from the peer after its hello). */
  private readonly outbound = new Map<number, Socket>();
  /** Sends waiting for the destination's connection, in call order. */
  private readonly waiting = new Map<number, (() => void)[]>();
  private readonly inbound: Socket[] = [];
  /** Unfinished writes per socket, so close() can let them drain. */
  private readonly inFlight = new Map<Socket, Promise<void>>();
  private readonly pending = new Set<Socket>();
  private receiver: Receiver | null = null;
  private closing = false;

  private constructor(
    private readonly server: Server,
    readonly port: number,
    private readonly rank: number,
    private readonly size: number,
    private readonly opts: TcpTransportOptions,
  ) {
    server.on('connection', (sock) => this.accept(sock));
  }

  /** Listens on ip:port (an ephemeral port when port is 0), the address this rank advertises. */
  static async bind(ip: string, port: number, rank: number, size: number, opts: TcpTransportOptions): Promise<TcpTransport> {
    const server = createServer({ noDelay: true });
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err: NodeJS.ErrnoException) => {
        const why = err.code === 'EADDRINUSE' ? 'address already in use' : err.message;
        reject(new UserError(`cannot bind the communicator socket (bind address and port options) to tcp://${ip}:${port}: ${why}`));
      });
      server.listen({ host: ip, port, exclusive: true }, resolve);
    });
    const bound = server.address();
    if (bound === null || typeof bound === 'string') throw new Error('TCP server has no port');
    return new TcpTransport(server, bound.port, rank, size, opts);
  }

  /** The connections this rank opens carry what peers send to it. */
  connect(peers: readonly Endpoint[]): void {
    peers.forEach((peer, r) => {
      if (r !== this.rank) this.inbound.push(this.receiveFrom(r, peer));
    });
  }

  listen(receiver: Receiver): void {
    this.receiver = receiver;
  }

  send(dst: number, header: Buffer, data: Buffer): Promise<void> {
    const sock = this.outbound.get(dst);
    if (sock) return this.write(sock, header, data);
    if (this.closing || dst < 0 || dst >= this.size || dst === this.rank) return Promise.reject(new Error(`no connection to rank ${dst}`));
    return new Promise((resolve, reject) => {
      const queue = this.waiting.get(dst) ?? [];
      this.waiting.set(dst, queue);
      queue.push(() => {
        const ready = this.outbound.get(dst);
        if (ready) this.write(ready, header, data).then(resolve, reject);
        else reject(new Error(`no connection to rank ${dst}`));
      });
    });
  }

  async close(finished: ReadonlySet<number>): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    for (const queue of this.waiting.values()) for (const run of queue) run();
    this.waiting.clear();
    await Promise.race([Promise.allSettled(this.inFlight.values()), sleep(LINGER_MS, undefined, { ref: false })]);
    for (const [rank, sock] of this.outbound) {
      if (finished.has(rank) || this.inFlight.has(sock)) sock.destroy();
      else sock.end();
    }
    for (const sock of [...this.inbound, ...this.pending]) sock.destroy();
    this.server.close();
  }

  /** Header and data leave in one writev; data is not copied (the caller keeps it unchanged until sent). */
  private write(sock: Socket, header: Buffer, data: Buffer): Promise<void> {
    const head = Buffer.allocUnsafe(PREFIX_BYTES + header.length);
    head.writeUInt32LE(header.length, 0);
    head.writeUInt32LE(data.length, 4);
    header.copy(head, PREFIX_BYTES);
    const done = new Promise<void>((resolve, reject) => {
      const cb = (err?: Error | null): void => (err ? reject(err) : resolve());
      sock.cork();
      if (data.length > 0) {
        sock.write(head);
        sock.write(data, cb);
      } else {
        sock.write(head, cb);
      }
      sock.uncork();
    });
    const tracked = done.catch(() => undefined).then(() => {
      if (this.inFlight.get(sock) === tracked) this.inFlight.delete(sock);
    });
    this.inFlight.set(sock, tracked);
    return done;
  }

  /** A connection from a peer that will receive on it: after a valid hello, this rank sends to it here. */
  private accept(sock: Socket): void {
    if (this.closing) return void sock.destroy();
    this.pending.add(sock);
    const who = `${sock.remoteAddress}:${sock.remotePort}`;
    let got = Buffer.alloc(0);
    const refuse = (why: string): void => {
      this.opts.log(`communicator: refused a connection from ${who}: ${why}`);
      sock.destroy();
    };
    const timer = setTimeout(() => refuse(`no hello within ${HELLO_TIMEOUT_MS} ms`), HELLO_TIMEOUT_MS);
    sock.on('error', () => undefined); // reported by write callbacks (or, before hello, irrelevant)
    sock.on('close', () => {
      clearTimeout(timer);
      this.pending.delete(sock);
    });
    const onData = (chunk: Buffer): void => {
      got = Buffer.concat([got, chunk]);
      if (got.length < HELLO_BYTES) return;
      const tokenLen = got.readUInt32LE(12);
      if (got.readUInt32LE(0) !== MAGIC) return refuse('not a ddp-ctr communicator hello');
      if (got.readUInt32LE(4) !== PROTOCOL) return refuse(`protocol version ${got.readUInt32LE(4)}, expected ${PROTOCOL}`);
      if (tokenLen > MAX_TOKEN_BYTES) return refuse(`token of ${tokenLen} bytes`);
      if (got.length < HELLO_BYTES + tokenLen) return;
      if (got.length > HELLO_BYTES + tokenLen) return refuse('sent data before it was asked to');
      const peer = got.readUInt32LE(8);
      if (!sameToken(got.subarray(HELLO_BYTES), this.opts.token)) return refuse('wrong job token (another job?)');
      if (peer >= this.size || peer === this.rank) return refuse(`rank ${peer} is not a peer of rank ${this.rank} (world size ${this.size})`);
      if (this.outbound.has(peer)) return refuse(`rank ${peer} is already connected`);
      clearTimeout(timer);
      sock.off('data', onData);
      this.pending.delete(sock);
      this.outbound.set(peer, sock);
      const queue = this.waiting.get(peer) ?? [];
      this.waiting.delete(peer);
      for (const run of queue) run();
    };
    sock.on('data', onData);
  }

  /**
   * The connection peer `r` sends on. Reads go, in exact sizes, first into a small buffer for the length prefix
   * and header, then into the memory the receiver names for the data (e.g. the all-reduce's own output) or a
   * buffer allocated for it: the kernel copies each byte once, to where it belongs.
   */
  private receiveFrom(r: number, peer: Endpoint): Socket {
    const head = Buffer.allocUnsafe(PREFIX_BYTES + MAX_HEADER_BYTES);
    let target: Buffer = head; // what the next read fills ...
    let filled = 0;
    let want = PREFIX_BYTES; // ... and how far
    let header: Buffer | null = null;
    let ended = false;
    const end = (err: Error | null): void => {
      sock.destroy();
      if (ended || this.closing) return;
      ended = true;
      this.receiver?.lost(r, err);
    };
    const fail = (why: string): void => {
      sock.destroy();
      if (!ended && !this.closing) this.receiver?.error(new Error(`from rank ${r}: ${why}`));
      ended = true;
    };
    const advance = (): void => {
      for (;;) {
        if (filled < want) return;
        if (target === head && header === null) {
          if (want === PREFIX_BYTES) {
            const headerLen = head.readUInt32LE(0);
            if (headerLen === 0 || headerLen > MAX_HEADER_BYTES) return fail(`bad frame: header of ${headerLen} bytes`);
            want = PREFIX_BYTES + headerLen;
            continue;
          }
          header = Buffer.from(head.subarray(PREFIX_BYTES, want));
          const dataLen = head.readUInt32LE(4);
          if (dataLen > MAX_FRAME_BYTES) return fail(`bad frame: ${dataLen} data bytes exceed the ${MAX_FRAME_BYTES}-byte limit`);
          target = this.receiver?.destination(header, dataLen) ?? Buffer.allocUnsafeSlow(dataLen);
          filled = 0;
          want = dataLen;
          continue;
        }
        const done = header!;
        const data = target;
        header = null;
        target = head;
        filled = 0;
        want = PREFIX_BYTES;
        this.receiver?.message(done, data);
      }
    };
    const sock = connect({
      host: peer.host,
      port: peer.port,
      noDelay: true,
      onread: {
        buffer: () => (want > filled ? target.subarray(filled, want) : SPARE),
        callback: (n: number) => {
          filled += n;
          advance();
          return true;
        },
      },
    });
    sock.on('connect', () => {
      const token = Buffer.from(this.opts.token);
      const hello = Buffer.alloc(HELLO_BYTES + token.length);
      hello.writeUInt32LE(MAGIC, 0);
      hello.writeUInt32LE(PROTOCOL, 4);
      hello.writeUInt32LE(this.rank, 8);
      hello.writeUInt32LE(token.length, 12);
      token.copy(hello, HELLO_BYTES);
      sock.write(hello);
    });
    sock.on('error', (err) => end(new Error(`connection to ${peer.host}:${peer.port}: ${err.message}`)));
    sock.on('end', () => end(filled > 0 || header !== null ? new Error('closed in the middle of a message') : null));
    return sock;
  }
}

function sameToken(got: Buffer, token: string): boolean {
  const want = Buffer.from(token);
  return got.length === want.length && timingSafeEqual(got, want);
}
