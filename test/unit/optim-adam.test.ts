import t from 'tap';
import { Adam } from '../../src/optim/adam.js';

t.test('two hand-computed steps (lr 0.1, b1 0.9, b2 0.999, eps 1e-7)', (t) => {
  // t=1, g=0.5:  m=0.05, v=2.5e-4, lr_t=0.1*sqrt(0.001)/0.1 -> w = 1 - 0.0316228*0.05/(0.0158114+1e-7) = 0.90000063
  // t=2, g=-0.2: m=0.025, v=2.8975e-4, lr_t=0.1*sqrt(1-0.999^2)/(1-0.81) -> w = 0.86544025
  const adam = new Adam(1);
  const w = Float32Array.of(1);
  adam.updateDense(w, Float32Array.of(0.5), 0.1, 1);
  t.ok(Math.abs(w[0] - 0.9000006324515321) < 1e-7, `step 1: ${w[0]}`);
  t.ok(Math.abs(adam.m[0] - 0.05) < 1e-9 && Math.abs(adam.v[0] - 2.5e-4) < 1e-10, 'moments after step 1');
  adam.updateDense(w, Float32Array.of(-0.2), 0.1, 2);
  t.ok(Math.abs(w[0] - 0.8654402506933558) < 1e-6, `step 2: ${w[0]}`);
  t.ok(Math.abs(adam.m[0] - 0.025) < 1e-8 && Math.abs(adam.v[0] - 2.8975e-4) < 1e-9, 'moments after step 2');
  t.end();
});

t.test('row update touches only the given rows and equals the dense update on them', (t) => {
  const dim = 2;
  const w0 = Float32Array.from([1, 2, 3, 4, 5, 6]);
  const gFull = Float32Array.from([0, 0, 0.3, -0.1, 0, 0]);
  const dense = new Adam(6);
  const wd = w0.slice();
  dense.updateDense(wd, gFull, 0.01, 3);
  const lazy = new Adam(6);
  const wl = w0.slice();
  lazy.updateRows(wl, Int32Array.of(1), Float32Array.of(0.3, -0.1), dim, 0.01, 3);
  t.same(Array.from(wl.subarray(2, 4)), Array.from(wd.subarray(2, 4)), 'same result on row 1');
  t.same(Array.from(wl.subarray(0, 2)), [1, 2], 'row 0 untouched');
  t.same(Array.from(wl.subarray(4)), [5, 6], 'row 2 untouched');
  t.same(Array.from(lazy.m), Array.from(dense.m), 'moments match (zero gradient leaves zero moments)');
  t.throws(() => lazy.updateRows(wl, Int32Array.of(3), Float32Array.of(1, 1), dim, 0.01, 4), RangeError, 'id outside table');
  t.throws(() => lazy.updateDense(wl, gFull, 0.01, 0), RangeError, 'step must be >= 1');
  t.end();
});
