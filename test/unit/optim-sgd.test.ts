import t from 'tap';
import { createOptimizer, Sgd } from '../../src/optim/optimizer.js';

t.test('sgd: w -= lr * g, dense and by rows; no state', (t) => {
  const opt = createOptimizer('sgd', 6);
  t.ok(opt instanceof Sgd);
  t.same(opt.state, []);
  const w = Float32Array.of(1, 2, 3, 4, 5, 6);
  opt.updateDense(w, Float32Array.of(1, 1, 1, 1, 1, 1), 0.5, 1);
  t.same(Array.from(w), [0.5, 1.5, 2.5, 3.5, 4.5, 5.5]);
  opt.updateRows(w, Int32Array.of(2), Float32Array.of(10, 20), 2, 0.1, 2);
  t.same(Array.from(w), [0.5, 1.5, 2.5, 3.5, 3.5, 3.5]);
  t.throws(() => opt.updateRows(w, Int32Array.of(3), Float32Array.of(1, 1), 2, 0.1, 1), /outside table/);
  t.same(createOptimizer('adam', 2).state.map((s) => s.name), ['m', 'v']);
  t.end();
});
