// The plain TCP transport over real sockets on 127.0.0.1: framing, reads into posted memory, and connections
// that are not peers (garbage, wrong token, bad rank) refused and logged while the job's traffic goes on.
import { connect, createServer, type Socket } from 'node:net';
import t from 'tap';
import { TcpTransport } from '../../src/comm/tcp-transport.js';
import type { Receiver } from '../../src/comm/transport.js';

interface Got {
  header: string;
  data: Buffer;
}

/** A receiver recording messages, errors and lost connections; `into` is offered for headers it names. */
function recorder(into: Map<string, Buffer> = new Map()): Receiver & { got: Got[]; errors: string[]; lostFrom: number[]; next(): Promise<Got> } {
  const got: Got[] = [];
  const waiters: ((g: Got) => void)[] = [];
  return {
    got,
    errors: [],
    lostFrom: [],
    message(header, data) {
      const g = { header: header.toString(), data };
      const w = waiters.shift();
      if (w) w(g);
      else got.push(g);
    },
    error(err) {
      this.errors.push(err.message);
    },
    lost(from) {
      this.lostFrom.push(from);
    },
    malformed(why) {
      this.errors.push(`malformed: ${why}`);
    },
    destination(header, length) {
      const buf = into.get(header.toString());
      return buf && buf.length === length ? buf : null;
    },
    next() {
      const g = got.shift();
      return g ? Promise.resolve(g) : new Promise((resolve) => waiters.push(resolve));
    },
  };
}

async function pair(t: { teardown(fn: () => void): void }, into?: Map<string, Buffer>) {
  const logs: string[] = [];
  const opts = { token: 'job-token', log: (line: string) => logs.push(line) };
  const a = await TcpTransport.bind('127.0.0.1', 0, 0, 2, opts);
  const b = await TcpTransport.bind('127.0.0.1', 0, 1, 2, opts);
  const ra = recorder();
  const rb = recorder(into);
  a.listen(ra);
  b.listen(rb);
  const peers = [
    { host: '127.0.0.1', port: a.port },
    { host: '127.0.0.1', port: b.port },
  ];
  a.connect(peers);
  b.connect(peers);
  t.teardown(() => void Promise.all([a.close(new Set()), b.close(new Set())]));
  return { a, b, ra, rb, logs };
}

t.test('messages arrive whole and in order, into posted memory when offered', async (t) => {
  const target = Buffer.alloc(3_000_000);
  const { a, rb } = await pair(t, new Map([['posted', target]]));
  const big = Buffer.from(Uint8Array.from({ length: 3_000_000 }, (_, i) => i % 251));
  const sends = [
    a.send(1, Buffer.from('empty'), Buffer.alloc(0)),
    a.send(1, Buffer.from('one'), Buffer.from([42])),
    a.send(1, Buffer.from('posted'), big),
    a.send(1, Buffer.from('big'), big),
  ];
  await Promise.all(sends);
  const got = [await rb.next(), await rb.next(), await rb.next(), await rb.next()];
  t.same(got.map((g) => g.header), ['empty', 'one', 'posted', 'big']);
  t.equal(got[0].data.length, 0);
  t.same([...got[1].data], [42]);
  t.equal(got[2].data.buffer, target.buffer, 'the posted message was read into the posted memory');
  t.equal(Buffer.compare(target, big), 0, 'posted memory holds the bytes');
  t.not(got[3].data.buffer, target.buffer, 'an unposted message gets memory of its own');
  t.equal(Buffer.compare(got[3].data, big), 0);
  t.same(rb.errors, []);
});

/** Connects to `port`, writes `bytes`, and resolves when the other side has closed the connection. */
function stray(port: number, bytes: Buffer): Promise<void> {
  return new Promise((resolve) => {
    const sock: Socket = connect({ host: '127.0.0.1', port }, () => sock.write(bytes));
    sock.on('error', () => undefined);
    sock.on('close', () => resolve());
    sock.resume();
  });
}

function hello(rank: number, token: string, magic = 0x54504444, protocol = 1): Buffer {
  const tok = Buffer.from(token);
  const h = Buffer.alloc(16 + tok.length);
  h.writeUInt32LE(magic, 0);
  h.writeUInt32LE(protocol, 4);
  h.writeUInt32LE(rank, 8);
  h.writeUInt32LE(tok.length, 12);
  tok.copy(h, 16);
  return h;
}

t.test('strangers are refused and logged; the peers go on talking', async (t) => {
  const { a, b, ra, rb, logs } = await pair(t);
  await a.send(1, Buffer.from('before'), Buffer.from([1]));
  t.equal((await rb.next()).header, 'before');
  await stray(a.port, Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
  await stray(a.port, hello(1, 'other-job'));
  await stray(a.port, hello(7, 'job-token'));
  await stray(a.port, hello(0, 'job-token'));
  await stray(a.port, hello(1, 'job-token')); // rank 1 is already connected
  await stray(a.port, hello(1, 'job-token', 0x54504444, 9));
  await stray(a.port, Buffer.concat([hello(1, 'job-token'), Buffer.from('extra')]));
  t.match(logs, [
    /refused a connection from 127\.0\.0\.1:\d+: not a ddp-ctr communicator hello/,
    /wrong job token \(another job\?\)/,
    /rank 7 is not a peer of rank 0 \(world size 2\)/,
    /rank 0 is not a peer of rank 0/,
    /rank 1 is already connected/,
    /protocol version 9, expected 1/,
    /sent data before it was asked to/,
  ]);
  await Promise.all([a.send(1, Buffer.from('after'), Buffer.alloc(100_000, 3)), b.send(0, Buffer.from('back'), Buffer.from([9]))]);
  const after = await rb.next();
  t.equal(after.header, 'after');
  t.equal(after.data.length, 100_000);
  t.equal((await ra.next()).header, 'back');
  t.same([...ra.errors, ...rb.errors], [], 'the job saw none of it');
});

t.test('a peer sending a malformed frame is an error of the connection, not a crash', async (t) => {
  for (const [what, prefix] of [
    ['header of 0 bytes', [0, 10]],
    ['header of 1000000 bytes', [1_000_000, 0]],
    ['2000000000 data bytes exceed', [4, 2_000_000_000]],
  ] as const) {
    // A fake rank 0 that accepts rank 1's connection, and answers its hello with a bad frame.
    const fake = createServer((sock) =>
      sock.on('error', () => undefined).once('data', () => {
        const frame = Buffer.alloc(12);
        frame.writeUInt32LE(prefix[0], 0);
        frame.writeUInt32LE(prefix[1], 4);
        sock.write(frame);
      }),
    );
    await new Promise<void>((resolve) => fake.listen(0, '127.0.0.1', resolve));
    const port = (fake.address() as { port: number }).port;
    const b = await TcpTransport.bind('127.0.0.1', 0, 1, 2, { token: 'x', log: () => undefined });
    const rb = recorder();
    b.listen(rb);
    const failed = new Promise<void>((resolve) => {
      const error = rb.error.bind(rb);
      rb.error = (err) => {
        error(err);
        resolve();
      };
    });
    b.connect([{ host: '127.0.0.1', port }, { host: '127.0.0.1', port: b.port }]);
    await failed;
    t.match(rb.errors, [new RegExp(`^from rank 0: bad frame: ${what}`)], what);
    t.same(rb.got, []);
    await b.close(new Set());
    fake.close();
  }
});

t.test('a connection that ends between messages is reported as lost, with the rank', async (t) => {
  const { a, b, rb } = await pair(t);
  await a.send(1, Buffer.from('last'), Buffer.from([1]));
  t.equal((await rb.next()).header, 'last');
  await a.close(new Set());
  for (let i = 0; i < 100 && rb.lostFrom.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
  t.same(rb.lostFrom, [0]);
  t.same(rb.errors, []);
  await b.close(new Set());
});
