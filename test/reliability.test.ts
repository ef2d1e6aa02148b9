// Faults with real processes: exact resume from checkpoints, restarts after kill -9, non-finite steps.
import { join } from 'node:path';
import t from 'tap';
import { loadCheckpoint } from '../src/train/checkpoint.js';
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
    [['--embed-dim', '8'], /--resume .*ck: the checkpoint's model .* differs from this run's/],
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
  t.match(stop.stderr, /\[r1\] error: step 3: NaN at index 0 of the gradient of the dense weights on rank 1; stopping\. .*--skip-nonfinite/);
  t.match(stop.stderr, /ddp-launch: rank 1 \(pid \d+\) exited with code 1/);

  const dir = t.testdir();
  const skip = await runJob(t, dir, 'skip', 2, [...BASE, '--steps', '8', '--skip-nonfinite'], { DDP_INJECT_NAN: '3:1' });
  t.equal(skip.rep.skippedSteps, 1, 'one step skipped, counted in the report');
  t.equal(new Set(skip.rep.paramChecksums).size, 1, 'replicas identical: every rank skipped it');
  t.ok([...skip.ckpt.tensors.values()].every((a) => a.every(Number.isFinite)), 'no NaN reached the model');
  t.ok(skip.rep.epochs < (8 * 250) / 8000, 'the skipped step is not in the training loss');
});
