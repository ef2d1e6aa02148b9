// A parameter server over real ZeroMQ sockets, driven by hand: strangers and bad hellos are refused or ignored,
// a welcomed worker's pushes are applied in step order, pulls wait for the step they need, and a worker that
// breaks the protocol fails the server with a reason every worker receives.
import { unpack } from 'msgpackr';
import t from 'tap';
import { Dealer } from 'zeromq';
import { configFingerprint, parseTrainConfig } from '../../src/config/train-config.js';
import { encodeSparse } from '../../src/sparse/merge.js';
import { encodeHeader, type Request } from '../../src/ps/protocol.js';
import { ownerOf } from '../../src/sparse/owners.js';
import { ParamServer } from '../../src/ps/server.js';
import { freePort } from '../../src/util/net.js';
import { packageVersion } from '../../src/util/version.js';

const cfg = parseTrainConfig(['--sync', 'ps', '--mlp', '4', '--embed-dim', '2', '--model', 'wd']);
const shape = { numFields: 2, numNumeric: 1, totalRows: 10, trainRows: 100 };

async function start(t: { teardown(fn: () => void): void }, workers = 1) {
  const logs: string[] = [];
  const port = await freePort();
  const server = await ParamServer.start({ index: 0, servers: 1, workers, host: '127.0.0.1', port, token: 'tok', staleness: 0, cfg, log: (l) => logs.push(l) });
  const done = server.run();
  const dealers: Dealer[] = [];
  const dealer = (): Dealer => {
    const d = new Dealer({ linger: 0, receiveTimeout: 5000 });
    d.connect(`tcp://127.0.0.1:${port}`);
    dealers.push(d);
    return d;
  };
  t.teardown(() => dealers.forEach((d) => d.close()));
  return { logs, done, dealer };
}

const hello = (over: Partial<Extract<Request, { t: 'hello' }>> = {}): Request => ({
  t: 'hello', worker: 0, workers: 1, token: 'tok', fingerprint: configFingerprint(cfg), version: packageVersion(), shape, ...over,
});

async function ask(d: Dealer, frames: Buffer[]): Promise<{ reply: Record<string, unknown>; frames: Buffer[] }> {
  await d.send(frames);
  const [h, ...rest] = await d.receive();
  return { reply: unpack(h) as Record<string, unknown>, frames: rest };
}

t.test('refusals name the reason; strangers are ignored; a welcomed worker is served', async (t) => {
  const { logs, done, dealer } = await start(t);
  const stranger = dealer();
  await stranger.send([Buffer.from('garbage')]);
  await stranger.send([encodeHeader({ t: 'fetch', step: 1 })]);
  for (const [over, why] of [
    [{ token: 'other' }, /wrong job token/],
    [{ version: '0.0.0' }, /version 0\.0\.0, the server runs/],
    [{ fingerprint: '{"lr":1}' }, /its training flags \{"lr":1\} differ from the server's/],
    [{ workers: 3 }, /worker 0 of 3, the server expects 1 workers/],
  ] as const) {
    const { reply } = await ask(dealer(), [encodeHeader(hello(over))]);
    t.equal(reply.t, 'refused');
    t.match(reply.reason as string, why);
  }
  t.match(logs.join('\n'), /ignored a message from an unknown peer/);
  t.match(logs.join('\n'), /ignored 'fetch' from a peer that has not said hello/);

  const w = dealer();
  t.equal((await ask(w, [encodeHeader(hello())])).reply.t, 'welcome');
  t.equal((await ask(dealer(), [encodeHeader(hello())])).reply.reason, 'parameter server 0 refused worker 0: that worker is already connected');
  // Step 1: gradient 1 on every dense weight and on row 3; the pull for step 2 waits for it and sees it applied.
  const dim = cfg.embedDim + 1;
  const before = await ask(w, [encodeHeader({ t: 'pull', step: 1 }), Buffer.from(Int32Array.of(3).buffer)]);
  t.equal(before.reply.applied, 0);
  const denseLen = before.frames[0].length / 4;
  const grad = encodeSparse({ dim, ids: Int32Array.of(3), counts: Float32Array.of(2), rows: new Float32Array(dim).fill(1) });
  const pulled = ask(w, [encodeHeader({ t: 'pull', step: 2 }), Buffer.from(Int32Array.of(3).buffer)]);
  await w.send([encodeHeader({ t: 'push', step: 1 }), Buffer.from(new Float32Array(denseLen).fill(1).buffer), Buffer.from(grad)]);
  const after = await pulled;
  t.equal(after.reply.applied, 1, 'the pull for step 2 was answered after step 1 was applied');
  t.same([before.reply.rowsInBatch, after.reply.rowsInBatch], [0, 1], 'answers carry the rows the server updated so far');
  const [d0, d1] = [new Float32Array(before.frames[0].buffer.slice(before.frames[0].byteOffset)), new Float32Array(after.frames[0].buffer.slice(after.frames[0].byteOffset))];
  t.ok(d1.every((v, i) => v < d0[i]), 'every dense weight moved against its gradient');
  t.not(Buffer.compare(before.frames[1], after.frames[1]), 0, 'row 3 moved');
  t.equal(ownerOf(3, 1), 0);
  await w.send([encodeHeader({ t: 'bye' })]);
  await done;
});

t.test('a worker breaking the protocol fails the server, and the worker hears why', async (t) => {
  const { done, dealer } = await start(t);
  const w = dealer();
  t.equal((await ask(w, [encodeHeader(hello())])).reply.t, 'welcome');
  const failed = t.rejects(done, /parameter server 0: worker 0 pushed step 2 after step 0/);
  await w.send([encodeHeader({ t: 'push', step: 2 }), Buffer.alloc(0), Buffer.alloc(0)]);
  const [h] = await w.receive();
  t.match(unpack(h), { t: 'error', reason: /worker 0 pushed step 2 after step 0/ });
  await failed;
});

t.test('rows a server does not own are refused', async (t) => {
  const logs: string[] = [];
  const port = await freePort();
  const server = await ParamServer.start({ index: 1, servers: 2, workers: 1, host: '127.0.0.1', port, token: 'tok', staleness: 0, cfg, log: (l) => logs.push(l) });
  const done = server.run();
  const w = new Dealer({ linger: 0, receiveTimeout: 5000 });
  t.teardown(() => w.close());
  w.connect(`tcp://127.0.0.1:${port}`);
  await w.send([encodeHeader(hello())]);
  await w.receive();
  const foreign = [...Array(10).keys()].find((id) => ownerOf(id, 2) === 0)!;
  const failed = t.rejects(done, new RegExp(`worker 0 sent row ${foreign}, which server 1 does not own`));
  await w.send([encodeHeader({ t: 'pull', step: 1 }), Buffer.from(Int32Array.of(foreign).buffer)]);
  await failed;
});
