import t from 'tap';
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
