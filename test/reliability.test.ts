// Faults with real processes: exact resume from checkpoints, restarts after kill -9, non-finite steps.
import { randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import { join } from 'node:path';
import t from 'tap';
import { Push } from 'zeromq';
import { encode } from '../src/comm/wire.js';
import { loadCheckpoint } from '../src/train/checkpoint.js';
import { freePort } from '../src/util/net.js';
import { runLauncher } from './helpers/cli.js';
import { runJob, worstRelativeDiff } from './helpers/runs.js';
import { killAtTeardown, launch, survivors, workersOf } from './fixtures/launcher/procs.js';

const BASE = [
  '--data', 'synthetic:quick,rows=8000,eval-rows=500,vocab-scale=0.1',
  '--mlp', '16,16', '--embed-dim', '4', '--global-batch', '250', '--cowclip-ratio', '0.01', '--log-every', '0',
];

t.test('a run stopped at step 10 and resumed ends with the parameters of an uninterrupted run, to the bit', async (t) => {
  const dir = t.testdir();
  for (const sync of ['allreduce', 'local-sgd']) {
    const flags = [...BASE, '--sync', sync, '--sync-every', '5'];
    const full = await runJob(t, dir, `${sync}-full`, 2, [...flags, '--steps', '20']);
    await runJob(t, dir, `${sync}-half`, 2, [...flags, '--steps', '10']);
    const resumed = await runJob(t, dir, `${sync}-resumed`, 2, [...flags, '--steps', '20', '--resume', join(dir, `${sync}-half`)]);
    const d = worstRelativeDiff(full.ckpt.tensors, resumed.ckpt.tensors);
    t.equal(d.rel, 0, `${sync}: resumed vs uninterrupted: ${d.rel} (${d.name || 'every tensor equal'}), optimizer state included`);
    t.equal(resumed.rep.steps, 20);
    t.equal(resumed.ckpt.manifest.step, 20);
  }
});

t.test('--resume refuses checkpoints of another job, and runs with nothing left to do', async (t) => {
  const dir = t.testdir();
  await runJob(t, dir, 'ck', 1, [...BASE, '--steps', '4']);
  const ck = join(dir, 'ck');
  for (const [flags, why] of [
    [['--lr', '0.01'], /--resume .*ck: training flags differ from the checkpoint's: lr=0\.01 \(checkpoint: 0\.001\)/],
    [['--embed-dim', '8'], /--resume .*ck: the checkpoint's model differs: embedDim 4 \(this run: 8\)/],
    [['--steps', '4'], /the checkpoint is at step 4, and this run has 4 steps: nothing left to train/],
    [['--sync', 'hybrid'], /--save-every and --resume do not work with --sync hybrid yet/],
  ] as const) {
    const r = await runLauncher(['-n', '1', ...BASE, '--steps', '8', ...flags, '--resume', ck]);
    t.equal(r.code, 2, `${flags.join(' ')}: exit 2 (bad input)`);
    t.match(r.stderr, why);
  }
});

t.test('kill -9 of a rank mid-run with --max-restarts 1: restarted from the last checkpoint, same final model', async (t) => {
  const dir = t.testdir();
  const flags = [...BASE, '--steps', '300', '--eval-every', '0'];
  const ref = await runJob(t, dir, 'ref', 2, flags);
  const save = join(dir, 'restarted');
  const p = launch(t, ['-n', '2', '--gpus', 'none', ...flags, '--save', save, '--save-every', '10', '--max-restarts', '1']);
  await p.waitFor(/checkpoint \(step 20\) written/);
  const workers = workersOf(p.pid);
  killAtTeardown(t, () => workers.values());
  const killedAt = performance.now();
  process.kill(workers.get(1)!, 'SIGKILL');
  await p.waitFor(/\[r0\] resuming from .* at step \d+ of 300/);
  const restartMs = performance.now() - killedAt;
  const exit = await p.exit;
  t.equal(exit.code, 0, 'the job finished');
  t.match(p.stderr, new RegExp(`ddp-launch: restart 1/1 after: rank 1 \\(pid ${workers.get(1)}\\) was killed by signal SIGKILL; stopping the other workers; resuming from ${save} at step \\d+`));
  t.same(await survivors(workers.values()), [], 'the killed job left no process behind');
  const d = worstRelativeDiff(ref.ckpt.tensors, (await loadCheckpoint(save)).tensors);
  t.ok(d.rel <= 1e-6, `restarted vs uninterrupted: ${d.rel} (${d.name || 'every tensor equal'})`);
  t.comment(`kill -9 to the resumed workers' first line: ${(restartMs / 1000).toFixed(2)} s`);
});

t.test('a failure that recurs: --max-restarts gives up after R restarts, naming the first failure', async (t) => {
  const r = await runLauncher(['-n', '2', ...BASE, '--steps', '8', '--max-restarts', '2'], { env: { DDP_INJECT_NAN: '3:1' } });
  t.equal(r.code, 1);
  t.equal(r.stderr.match(/ddp-launch: restart \d\/2 after: rank 1 \(pid \d+\) exited with code 1.*; starting over \(no checkpoint yet/g)?.length, 2, 'two restarts, from scratch');
  t.match(r.stderr, /ddp-launch: giving up after 2 restart\(s\); the first failure was: rank 1 \(pid \d+\) exited with code 1/);
});

t.test('NaN in a gradient stops the job naming step, tensor and rank; --skip-nonfinite skips that step on every rank', async (t) => {
  const stop = await runLauncher(['-n', '2', ...BASE, '--steps', '8'], { env: { DDP_INJECT_NAN: '3:1' } });
  t.equal(stop.code, 1);
  t.match(stop.stderr, /ddp-launch: rank 1 \(pid \d+\) exited with code 1: step 3: NaN at index 0 of the gradient of the dense weights on rank 1; stopping\. .*--skip-nonfinite/);
  t.equal(stop.stderr.split('NaN at index').length - 1, 1, 'said once, by the launcher: rank 0 losing rank 1 is not reported');

  const dir = t.testdir();
  const skip = await runJob(t, dir, 'skip', 2, [...BASE, '--steps', '8', '--skip-nonfinite'], { DDP_INJECT_NAN: '3:1' });
  t.equal(skip.rep.skippedSteps, 1, 'one step skipped, counted in the report');
  t.equal(new Set(skip.rep.paramChecksums).size, 1, 'replicas identical: every rank skipped it');
  t.ok([...skip.ckpt.tensors.values()].every((a) => a.every(Number.isFinite)), 'no NaN reached the model');
  t.ok(skip.rep.epochs < (8 * 250) / 8000, 'the skipped step is not in the training loss');
});

/** Connects to 127.0.0.1:port, writes `bytes`, and resolves once the other side closed (or refused) the connection. */
function poke(port: number, bytes: Buffer): Promise<void> {
  return new Promise((resolve) => {
    const sock = connect({ host: '127.0.0.1', port }, () => sock.write(bytes));
    sock.on('error', () => resolve());
    sock.on('close', () => resolve());
    sock.resume();
  });
}

t.test('strangers writing to a running job: garbage, a wrong token, a wrong version are refused and logged; the job trains the same model', async (t) => {
  const dir = t.testdir();
  const flags = [...BASE, '--steps', '200'];
  const ref = await runJob(t, dir, 'ref', 2, flags);
  const port = await freePort();
  const save = join(dir, 'attacked');
  const p = launch(t, ['-n', '2', '--gpus', 'none', ...flags, '--port', String(port), '--save', save]);
  await p.waitFor(/^\[r0\] model /m);
  const hello = (token: string, protocol: number) => {
    const tok = Buffer.from(token);
    const h = Buffer.alloc(16 + tok.length);
    h.writeUInt32LE(0x54504444, 0);
    h.writeUInt32LE(protocol, 4);
    h.writeUInt32LE(1, 8);
    h.writeUInt32LE(tok.length, 12);
    tok.copy(h, 16);
    return h;
  };
  const attacks = [randomBytes(4096), Buffer.from('GET / HTTP/1.1\r\n\r\n'), hello('not-the-token', 1), hello('x', 9), Buffer.alloc(1 << 20, 0xff)];
  for (const rank of [0, 1]) for (const bytes of attacks) await poke(port + rank, bytes);
  const exit = await p.exit;
  t.equal(exit.code, 0, 'the job finished');
  for (const why of ['not a ddp-ctr communicator hello', 'wrong job token', 'protocol version 9, expected 1']) {
    t.match(p.stderr + p.stdout, new RegExp(`\\[r[01]\\] communicator: refused a connection from 127\\.0\\.0\\.1:\\d+: ${why.replace(/[()]/g, '\\$&')}`), why);
  }
  const d = worstRelativeDiff(ref.ckpt.tensors, (await loadCheckpoint(save)).tensors);
  t.equal(d.rel, 0, 'the same model as an undisturbed run');
});

t.test('--transport zmq: a stranger pushing garbage and forged headers is dropped and logged; with --secure it cannot connect', async (t) => {
  const dir = t.testdir();
  const flags = [...BASE, '--steps', '200', '--transport', 'zmq'];
  const ref = await runJob(t, dir, 'ref', 2, flags);
  for (const secure of [false, true]) {
    const port = await freePort();
    const save = join(dir, `attacked-${secure}`);
    const p = launch(t, ['-n', '2', '--gpus', 'none', ...flags, ...(secure ? ['--secure'] : []), '--port', String(port), '--save', save]);
    await p.waitFor(/^\[r0\] model /m);
    const push = new Push({ linger: 0, sendTimeout: 1000 });
    t.teardown(() => push.close());
    push.connect(`tcp://127.0.0.1:${port}`);
    push.connect(`tcp://127.0.0.1:${port + 1}`);
    const forged = encode({ type: 'data', from: 5, op: { lane: 0, seq: 1, kind: 'allreduce', detail: 'x' }, index: 0 });
    for (const frames of [[randomBytes(100)], [randomBytes(50), randomBytes(50)], [forged, Buffer.alloc(8)], [Buffer.from('a'), Buffer.from('b'), Buffer.from('c')]]) {
      await push.send(frames).catch(() => undefined); // with --secure the handshake never completes: nothing leaves
    }
    const exit = await p.exit;
    t.equal(exit.code, 0, `secure=${secure}: the job finished`);
    const dropped = (p.stderr + p.stdout).match(/dropped a malformed message/g)?.length ?? 0;
    if (secure) t.equal(dropped, 0, '--secure: nothing from the stranger reached a rank');
    else t.ok(dropped >= 3, `${dropped} messages dropped and logged, e.g. ${/dropped a malformed message \([^)]*\)/.exec(p.stderr + p.stdout)?.[0]}`);
    const d = worstRelativeDiff(ref.ckpt.tensors, (await loadCheckpoint(save)).tensors);
    t.equal(d.rel, 0, `secure=${secure}: the same model as an undisturbed run`);
  }
});
