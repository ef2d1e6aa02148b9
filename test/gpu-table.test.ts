// The embedding update on the GPU (src/gpu/table.ts) against the host's EmbeddingUpdater: L2, CowClip with
// counts and Adam or SGD, lazy and dense, over 5 steps of merged gradients, within 1e-5 relative on weights and moments, with the
// same rows clipped. In this process, on whatever adapter Dawn finds (lavapipe in CI).
import t from 'tap';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../src/backend/select.js';
import { mergeRowsGpu } from '../src/gpu/merge.js';
import { GpuTable } from '../src/gpu/table.js';
import { EmbeddingTable } from '../src/model/embedding.js';
import { Adam } from '../src/optim/adam.js';
import { EmbeddingUpdater } from '../src/optim/embed-update.js';
import { splitPacked } from '../src/sparse/packed.js';
import { mergeRows } from '../src/sparse/merge.js';
import { Rng } from '../src/util/rng.js';
import { GPU_ENV, needWebGpu } from './helpers/gpu.js';
import { worstRelativeDiff } from './helpers/runs.js';

const ROWS = 300;
const DIM = 4;

/** The largest difference relative to the tensor's largest value, as the equivalence tests measure it. */
const worst = (a: Float32Array, b: Float32Array): number => worstRelativeDiff(new Map([['t', b]]), new Map([['t', a]])).rel;

if (needWebGpu(t)) {
  t.before(async () => {
    Object.assign(process.env, GPU_ENV);
    await selectBackend({ forced: 'webgpu' });
  });

  const cases = [
    ['adam', 'lazy', 'paper'], ['sgd', 'lazy', 'paper'], ['adam', 'dense', 'paper'], ['sgd', 'dense', 'paper'], ['adam', 'lazy', 'auto'], ['adam', 'dense', 'auto'],
    ['adagrad', 'lazy', 'paper'], ['adagrad', 'dense', 'paper'], ['rowwise-adagrad', 'lazy', 'paper'], ['rowwise-adagrad', 'dense', 'auto'],
  ] as const;
  for (const [optimizer, mode, form] of cases) {
    t.test(`${optimizer}, ${mode}, CowClip ${form}: 5 steps on the GPU = the host updater, clip decisions included`, async (t) => {
      const rng = new Rng(11, 4);
      const field = EmbeddingTable.normal(ROWS, DIM, 0.05, rng);
      const first = new EmbeddingTable(ROWS, 1);
      const host = new EmbeddingUpdater(field, first, { mode, lr: 0.05, lambda: 1e-3, clip: true, ratio: 0.3, zeta: 1e-3, optimizer, form, gamma: 1e-3 });
      const stateOf = (u: EmbeddingUpdater, which: 'fieldOpt' | 'firstOpt') => u[which].state.map((s) => s.data);
      const copyState = (which: 'fieldOpt' | 'firstOpt') => host[which].state.map((s) => ({ perRow: s.perRow, data: s.data.slice() }));
      const gField = new GpuTable(ROWS, DIM, field.weights.slice(), copyState('fieldOpt'));
      const gFirst = new GpuTable(ROWS, 1, first.weights.slice(), copyState('firstOpt'));
      const opts = { lr: 0.05, lambda: 1e-3, optimizer, beta1: 0.9, beta2: 0.999, epsilon: optimizer === 'adam' ? 1e-7 : 1e-8 };
      const tallyOnGpu = [0, 0, 0, 0, 0, 0];
      for (let step = 1; step <= 5; step++) {
        // 400 lookups into 300 rows: repeats, counts up to ~6, gradients large enough for CowClip to fire on some rows.
        const ids = Int32Array.from({ length: 400 }, () => Math.floor(rng.next() ** 2 * ROWS));
        const rows = Float32Array.from({ length: 400 * (DIM + 1) }, () => (rng.next() - 0.5) * 0.2);
        const merged = mergeRows(ids, null, rows, DIM + 1);
        const idsT = tf.tensor1d(ids, 'int32');
        const rowsT = tf.tensor1d(rows);
        const grad = await mergeRowsGpu(idsT, rowsT, DIM + 1);
        const tally = await gField.update(grad, 0, { ...opts, clip: { ratio: 0.3, floor: 1e-3, gamma: form === 'auto' ? 1e-3 : null } }, step, mode);
        tally!.forEach((v, k) => (tallyOnGpu[k] += v));
        await gFirst.update(grad, DIM, { ...opts, clip: null }, step, mode);
        const { field: fg, linear } = splitPacked(merged, DIM);
        host.update(fg, linear, step);
        // A read back between updates must not make later reads stale.
        if (step === 2) await gField.download();
        tf.dispose([idsT, rowsT, grad.ids, grad.counts, grad.rows]);
      }
      t.ok(host.applied.rowsClipped > 0 && host.applied.rowsClipped < host.applied.rowsInBatch, `CowClip fired on ${host.applied.rowsClipped} of ${host.applied.rowsInBatch} rows`);
      t.same(tallyOnGpu, host.applied.buckets, 'the same rows clipped, bucket by bucket (rows, clipped of tail, torso, head)');
      t.ok(host.applied.buckets[0] > 0 && host.applied.buckets[2] > 0, `rows in the tail and torso: ${host.applied.buckets}`);
      const [fw, ...fs] = await gField.download();
      const [lw, ...ls] = await gFirst.download();
      t.ok(worst(fw, field.weights) <= 1e-5, `field weights: worst ${worst(fw, field.weights).toExponential(2)}`);
      t.ok(worst(lw, first.weights) <= 1e-5, `first-order weights: worst ${worst(lw, first.weights).toExponential(2)}`);
      const names = { adam: ['m', 'v'], sgd: [], adagrad: ['acc'], 'rowwise-adagrad': ['acc'] }[optimizer];
      t.equal(fs.length, names.length);
      names.forEach((n, s) => {
        t.ok(worst(fs[s], stateOf(host, 'fieldOpt')[s]) <= 1e-5, `field ${n}: worst ${worst(fs[s], stateOf(host, 'fieldOpt')[s]).toExponential(2)}`);
        t.ok(worst(ls[s], stateOf(host, 'firstOpt')[s]) <= 1e-5, `first-order ${n}: worst ${worst(ls[s], stateOf(host, 'firstOpt')[s]).toExponential(2)}`);
      });
      t.ok(host.fieldOpt instanceof Adam === (optimizer === 'adam'));
      gField.dispose();
      gFirst.dispose();
    });
  }

  t.test('gather reads the weights of the asked rows', async (t) => {
    const w = Float32Array.from({ length: 5 * 2 }, (_, k) => k);
    const table = new GpuTable(5, 2, w, [{ data: new Float32Array(10) }, { data: new Float32Array(5), perRow: true }]);
    const ids = tf.tensor1d([4, 0, 4], 'int32');
    const got = table.gather(ids);
    t.same(Array.from(await got.data()), [8, 9, 0, 1, 8, 9]);
    tf.dispose([ids, got]);
    table.dispose();
  });
}
