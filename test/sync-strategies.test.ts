import t from 'tap';
import { killAtTeardown, launch, LONG, survivors, workersOf } from './fixtures/launcher/procs.js';
import { runJob, worstRelativeDiff } from './helpers/runs.js';

/**
 * What each --sync strategy means, pinned against `allreduce` on real multi-process jobs. Adam, CowClip firing
 * on many rows (ratio 0.01), 20 steps of global batch 250; 12K embedding rows (vocab-scale=0.1) so that a batch
 * touches ~10% of the table, as in real CTR data.
 */
const BASE = [
  '--data', 'synthetic:quick,rows=8000,eval-rows=500,vocab-scale=0.1',
  '--mlp', '16,16', '--embed-dim', '4', '--global-batch', '250', '--steps', '20',
  '--cowclip-ratio', '0.01', '--check-every', '5', '--log-every', '0',
];

t.test('dense (sparse_as_dense): the same model as allreduce, many more bytes', async (t) => {
  const dir = t.testdir();
  const ref = await runJob(t, dir, 'allreduce', 2, [...BASE, '--sync', 'allreduce']);
  const dense = await runJob(t, dir, 'dense', 4, [...BASE, '--sync', 'dense']);
  t.equal(dense.rep.sync, 'dense');
  t.ok(ref.rep.clipFraction.mean > 0.1, `CowClip fires (${(ref.rep.clipFraction.mean * 100).toFixed(1)}% of rows)`);
  const worst = worstRelativeDiff(ref.ckpt.tensors, dense.ckpt.tensors);
  t.ok(worst.rel <= 1e-5, `dense -n 4 vs allreduce -n 2: worst relative difference ${worst.rel.toExponential(2)} (${worst.name || 'none'})`);
  t.equal(new Set(dense.rep.paramChecksums).size, 1, 'replicas identical');
  const sparse = (j: typeof ref) => Math.min(...j.rep.ranks.map((r) => r.bytes.sparsePerStep));
  t.ok(sparse(dense) > 5 * sparse(ref), `embedding bytes per step: dense ${sparse(dense)}, allreduce ${sparse(ref)}`);
});

/**
 * Local SGD with plain SGD and no CowClip: one step then averaging is one synchronous step with the mean
 * gradient (the update is linear in the gradient), so H = 1 must match allreduce; H = 4 must not. Learning
 * rates are large enough for the parameters to move well beyond float noise.
 */
t.test('local-sgd: H = 1 with SGD is synchronous training; H = 4 is not; replicas agree at averaging points', async (t) => {
  const dir = t.testdir();
  const sgd = [...BASE, '--optimizer', 'sgd', '--no-cowclip', '--scale-rule', 'none', '--lr', '0.01', '--lr-embed', '1'];
  const ref = await runJob(t, dir, 'allreduce', 2, [...sgd, '--sync', 'allreduce']);
  const h1 = await runJob(t, dir, 'h1', 2, [...sgd, '--sync', 'local-sgd', '--sync-every', '1']);
  // --check-every 5 and --eval-every 3 fall between averaging points: both wait for the next one.
  const h4 = await runJob(t, dir, 'h4', 2, [...sgd, '--sync', 'local-sgd', '--sync-every', '4', '--eval-every', '3']);
  t.notOk([...ref.ckpt.tensors.keys()].some((k) => k.startsWith('optimizer/')), 'SGD has no optimizer state to save');
  const moved = worstRelativeDiff(ref.ckpt.tensors, h4.ckpt.tensors);
  const same = worstRelativeDiff(ref.ckpt.tensors, h1.ckpt.tensors);
  t.ok(same.rel <= 1e-5, `H = 1 vs allreduce: ${same.rel.toExponential(2)} (${same.name || 'none'})`);
  t.ok(moved.rel > 1e-3, `H = 4 vs allreduce: ${moved.rel.toExponential(2)} (${moved.name})`);
  for (const j of [h1, h4]) t.equal(new Set(j.rep.paramChecksums).size, 1, `${j.rep.config.syncEvery}: replicas identical at the end`);
  t.same(h4.rep.history.map((h) => h.step), [4, 8, 12, 16, 20], 'evaluations wait for averaging points');
  t.ok(Math.abs(h1.rep.train.logloss - ref.rep.train.logloss) <= 1e-5 * ref.rep.train.logloss, `H = 1 training loss ${h1.rep.train.logloss} vs ${ref.rep.train.logloss}`);
  t.equal(h4.rep.epochs, ref.rep.epochs, 'H = 4: the loss, summed only at averaging points, still covers every row');
  t.ok(h4.rep.ranks.every((r) => r.bytes.densePerStep < ref.rep.ranks[r.rank].bytes.densePerStep / 2), 'averaging every 4 steps sends fewer dense bytes');
});

t.test('local-sgd with Adam: even H = 1 differs from synchronous training (averaged v is not the v of the mean gradient)', async (t) => {
  const dir = t.testdir();
  const adam = [...BASE, '--no-cowclip'];
  const ref = await runJob(t, dir, 'allreduce', 2, [...adam, '--sync', 'allreduce']);
  const h1 = await runJob(t, dir, 'h1', 2, [...adam, '--sync', 'local-sgd', '--sync-every', '1']);
  const d = worstRelativeDiff(ref.ckpt.tensors, h1.ckpt.tensors);
  t.ok(d.rel > 1e-3, `local-sgd H = 1 (Adam) vs allreduce: ${d.rel.toExponential(2)} (${d.name})`);
  t.equal(new Set(h1.rep.paramChecksums).size, 1, 'replicas identical (moments averaged too)');
});

/**
 * Hybrid: step t's embedding gradients are applied at step t + 1. After step 1 the embeddings are still the
 * initial ones while the dense weights took their synchronous step: exactly the model allreduce trains in one
 * step with a zero embedding learning rate, so their evaluations agree to the bit.
 */
t.test('hybrid: embeddings one step late (step 1 leaves them unchanged), dense synchronous, replicas identical', async (t) => {
  const dir = t.testdir();
  const ref = await runJob(t, dir, 'allreduce', 2, [...BASE, '--sync', 'allreduce']);
  const hybrid = await runJob(t, dir, 'hybrid', 2, [...BASE, '--sync', 'hybrid', '--eval-every', '1']);
  const frozen = await runJob(t, dir, 'frozen', 2, [...BASE, '--sync', 'allreduce', '--lr-embed', '0', '--steps', '1']);
  const [h1] = hybrid.rep.history;
  t.equal(h1.step, 1);
  t.equal(h1.auc, frozen.rep.eval.auc, 'eval AUC after step 1 = allreduce with embeddings frozen');
  t.equal(h1.logloss, frozen.rep.eval.logloss, 'eval logloss after step 1 = allreduce with embeddings frozen');
  t.equal(new Set(hybrid.rep.paramChecksums).size, 1, 'replicas identical');
  const d = worstRelativeDiff(ref.ckpt.tensors, hybrid.ckpt.tensors);
  t.ok(d.rel > 1e-4, `hybrid vs allreduce after 20 steps: ${d.rel.toExponential(2)} (${d.name})`);
  t.ok(hybrid.rep.ranks.every((r) => r.bytes.sparsePerStep > 0 && r.bytes.densePerStep > 0), 'both exchanges metered');
});

/**
 * Parameter servers own the parameters and apply the allreduce strategy's update (merge in rank order, global
 * counts, L2, CowClip, optimizer): the same model, with the dense sum in another order at N = 3. async-ps with
 * staleness 0 is the same thing; with staleness a worker computes on parameters up to S steps old.
 */
t.test('ps: 3 workers and 2 servers train the allreduce model; async-ps with staleness 0 too, with staleness 3 not', async (t) => {
  const dir = t.testdir();
  const ref = await runJob(t, dir, 'allreduce', 2, [...BASE, '--sync', 'allreduce']);
  const ps = await runJob(t, dir, 'ps', 3, [...BASE, '--sync', 'ps', '--servers', '2', '--eval-every', '10']);
  const sync0 = await runJob(t, dir, 'async0', 2, [...BASE, '--sync', 'async-ps', '--staleness', '0']);
  // Workers meet only every 5 steps (--check-every): in between, whichever worker is ahead pulls parameters that
  // miss the other's last steps.
  const stale = await runJob(t, dir, 'stale', 2, [...BASE, '--sync', 'async-ps', '--staleness', '3', '--eval-every', '2']);
  t.equal(ps.rep.sync, 'ps');
  // The servers count what they apply; the workers hear their totals, the last step's at the final fetch.
  t.ok(ref.rep.clipFraction.mean > 0.1, `CowClip fires (${(ref.rep.clipFraction.mean * 100).toFixed(1)}% of rows)`);
  for (const j of [ps, sync0]) {
    t.same(j.rep.clipFraction, ref.rep.clipFraction, `${j.rep.sync}: the servers' clip figures are allreduce's, last step included`);
    t.equal(j.rep.ranks[0].uniqueIdsPerStep.global, ref.rep.ranks[0].uniqueIdsPerStep.global, `${j.rep.sync}: global distinct ids per step as allreduce`);
  }
  for (const [name, j] of [['ps -n 3 --servers 2', ps], ['async-ps --staleness 0', sync0]] as const) {
    const d = worstRelativeDiff(ref.ckpt.tensors, j.ckpt.tensors);
    t.ok(d.rel <= 1e-5, `${name} vs allreduce -n 2: worst relative difference ${d.rel.toExponential(2)} (${d.name || 'none'}), optimizer state included`);
    t.equal(new Set(j.rep.paramChecksums).size, 1, `${name}: replicas identical after the final fetch`);
  }
  t.same(ps.rep.history.map((h) => h.step), [10, 20]);
  const d = worstRelativeDiff(ref.ckpt.tensors, stale.ckpt.tensors);
  t.ok(d.rel > 1e-4, `async-ps --staleness 3 vs allreduce: ${d.rel.toExponential(2)} (${d.name})`);
  t.same(stale.rep.history.map((h) => h.step), [5, 10, 15, 20], 'evaluations wait for the points where workers meet');
  t.equal(stale.rep.epochs, ref.rep.epochs, 'the loss, summed where workers meet, covers every row');
  t.ok(ps.rep.ranks.every((r) => r.bytes.densePerStep > 0 && r.bytes.sparsePerStep > 0), 'traffic to the servers is metered');
  t.ok(ps.rep.bytes.sent > ps.rep.ranks[0].bytes.densePerStep * 20, 'and counted in the bytes sent');
});

t.test('ps: a parameter server killed mid-training stops the job within seconds, named, no process left', async (t) => {
  const p = launch(t, ['-n', '2', '--gpus', 'none', ...LONG, '--sync', 'ps', '--servers', '2']);
  await p.waitFor(/^\[r0\] step \d+/m);
  const servers = workersOf(p.pid, 'DDP_SERVER');
  const workers = workersOf(p.pid);
  killAtTeardown(t, () => [...servers.values(), ...workers.values()]);
  t.same([...servers.keys()].sort(), [0, 1], 'two servers running');
  const killedAt = performance.now();
  process.kill(servers.get(1)!, 'SIGKILL');
  const exit = await p.exit;
  // Only a hang would take a minute (the collective timeout is 600 s); the message below names the cause.
  t.ok(exit.at - killedAt < 60_000, `launcher exited ${((exit.at - killedAt) / 1000).toFixed(2)} s after kill -9 of server 1`);
  t.not(exit.code, 0);
  t.match(p.stderr, `ddp-launch: server 1 (pid ${servers.get(1)}) was killed by signal SIGKILL; stopping the other workers`);
  t.same(await survivors([...servers.values(), ...workers.values()]), [], 'no worker or server left running');
});
