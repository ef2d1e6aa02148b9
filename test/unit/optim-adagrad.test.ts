import t from 'tap';
import { Adagrad, RowwiseAdagrad } from '../../src/optim/adagrad.js';
import { createOptimizer } from '../../src/optim/optimizer.js';

const close = (got: ArrayLike<number>, want: number[], tol = 1e-6): boolean => want.every((w, i) => Math.abs(got[i] - w) <= tol * Math.max(1, Math.abs(w)));

t.test('adagrad: acc += g^2, w -= lr g / (sqrt(acc) + eps), per weight', (t) => {
  const opt = new Adagrad(2, 0);
  const w = Float32Array.of(1, 1);
  opt.updateDense(w, Float32Array.of(3, -4), 0.1);
  t.ok(close(w, [0.9, 1.1]), `step 1: sign steps of lr: ${Array.from(w)}`);
  opt.updateDense(w, Float32Array.of(4, 3), 0.1);
  // acc = [9 + 16, 16 + 9] = [25, 25]: w -= 0.1 * g / 5
  t.ok(close(opt.acc, [25, 25]), 'accumulators');
  t.ok(close(w, [0.9 - 0.08, 1.1 - 0.06]), `step 2: ${Array.from(w)}`);
  t.end();
});

t.test('rowwise-adagrad: one accumulator per row, fed the mean square of the row', (t) => {
  const opt = new RowwiseAdagrad(6, 2, 0);
  const w = Float32Array.of(1, 1, 1, 1, 1, 1);
  // Row 2 only: g = (3, 4) -> acc_2 = (9 + 16) / 2 = 12.5; w -= 0.1 * g / sqrt(12.5)
  opt.updateRows(w, Int32Array.of(2), Float32Array.of(3, 4), 2, 0.1);
  t.same(Array.from(opt.acc), [0, 0, 12.5]);
  const s = 0.1 / Math.sqrt(12.5);
  t.ok(close(w, [1, 1, 1, 1, 1 - 3 * s, 1 - 4 * s]), `row 2 moved, others not: ${Array.from(w)}`);
  t.equal(opt.state[0].perRow, true, 'its state is per row');
  t.equal(opt.acc.length, 3, 'd times less state than adagrad');
  // Dense: every row, absent rows with their (zero) gradient keep their weights.
  opt.updateDense(w, Float32Array.of(0, 0, 1, 1, 0, 0), 0.1);
  t.ok(close(opt.acc, [0, 1, 12.5]), `dense accumulators: ${Array.from(opt.acc)}`);
  t.end();
});

t.test('bad shapes and ids are refused', (t) => {
  t.throws(() => new RowwiseAdagrad(7, 2), /7 weights are not rows of 2/);
  const opt = createOptimizer('rowwise-adagrad', 6, undefined, 2);
  t.throws(() => opt.updateRows(new Float32Array(6), Int32Array.of(3), new Float32Array(2), 2, 0.1, 1), /id 3 outside table of 3 rows/);
  t.throws(() => createOptimizer('adagrad', 4).updateDense(new Float32Array(4), new Float32Array(3), 0.1, 1), /4 weights, 3 grads/);
  t.end();
});
