// The native kernels (src/backend/blas.ts) against tfjs's own, on the wasm and cpu backends: matmuls in every
// transpose combination, batches, broadcasting, fused bias + ReLU; transposes, splits, concats and identity,
// and gradients through them; and the fallbacks and reasons.
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import t from 'tap';
import { installCpuKernels, loadNativeBlas } from '../../src/backend/blas.js';
import { EmbeddingTable } from '../../src/model/embedding.js';
import { mergeRows } from '../../src/sparse/merge.js';
import { Adam } from '../../src/optim/adam.js';
import { Rng } from '../../src/util/rng.js';

const native = loadNativeBlas();

function worstRel(a: Float32Array, b: Float32Array): number {
  let d = 0;
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    d = Math.max(d, Math.abs(a[i] - b[i]));
    m = Math.max(m, Math.abs(a[i]));
  }
  return m > 0 ? d / m : d;
}

/**
 * The products to compare: [name, thunk]. Fused products are checked against their unfused composition: tfjs's
 * own wasm _FusedMatMul adds the bias to the wrong columns with transposeB (found by this test; the models never
 * call it that way).
 */
function cases(): [string, () => tf.Tensor, (() => tf.Tensor)?][] {
  const x = tf.randomNormal([37, 29], 0, 1, 'float32', 1);
  const y = tf.randomNormal([29, 23], 0, 1, 'float32', 2);
  const yt = tf.randomNormal([23, 29], 0, 1, 'float32', 3);
  const xt = tf.randomNormal([29, 37], 0, 1, 'float32', 4);
  const bias = tf.randomNormal([23], 0, 1, 'float32', 5);
  const b3 = tf.randomNormal([4, 37, 29], 0, 1, 'float32', 6);
  const c3 = tf.randomNormal([4, 29, 23], 0, 1, 'float32', 7);
  const one3 = tf.randomNormal([1, 29, 23], 0, 1, 'float32', 8);
  return [
    ['a b', () => tf.matMul(x, y)],
    ['a b^T', () => tf.matMul(x, yt, false, true)],
    ['a^T b', () => tf.matMul(xt, y, true, false)],
    ['a^T b^T', () => tf.matMul(xt, yt, true, true)],
    ['batched', () => tf.matMul(b3, c3)],
    ['broadcast b', () => tf.matMul(b3, one3)],
    ['fused bias relu', () => tf.fused.matMul({ a: x, b: y, bias, activation: 'relu' }), () => tf.relu(tf.add(tf.matMul(x, y), bias))],
    ['fused bias linear, b^T', () => tf.fused.matMul({ a: x, b: yt, transposeB: true, bias }), () => tf.add(tf.matMul(x, yt, false, true), bias)],
    ['fused elu (falls back)', () => tf.fused.matMul({ a: x, b: y, bias, activation: 'elu' })],
    ['empty', () => tf.matMul(tf.zeros([0, 29]), y)],
    ['transpose 2-D', () => tf.transpose(x)],
    ['transpose 1024 x 400 (power-of-two stride)', () => tf.transpose(tf.randomNormal([1024, 400], 0, 1, 'float32', 9))],
    ['transpose last two axes', () => tf.transpose(b3, [0, 2, 1])],
    ['transpose other perm (falls back)', () => tf.transpose(b3, [1, 0, 2])],
    ['split axis 1, sizes', () => tf.concat(tf.split(x, [16, -1], 1).map((p) => p.reshape([-1])))],
    ['split axis 0, count', () => tf.stack(tf.split(b3, 2, 0))],
    ['split 3-D axis 1', () => tf.concat(tf.split(b3, [30, 7], 1).map((p) => p.reshape([-1])))],
    ['concat axis 1, with an empty part', () => tf.concat([x, tf.zeros([37, 0]), tf.matMul(x, y), x], 1)],
    ['concat axis 0', () => tf.concat([x, x.mul(2)], 0)],
    ['concat 3-D axis 2', () => tf.concat([b3, b3.neg()], 2)],
    ['identity outlives its input', () => tf.tidy(() => {
      const src = x.add(1);
      const copy = tf.clone(src);
      src.dispose();
      return copy.add(0);
    })],
    ['gradient through concat, transpose, matmul', () => {
      const z = tf.randomNormal([37, 5], 0, 1, 'float32', 10);
      const f = (a: tf.Tensor) => tf.sum(tf.square(tf.matMul(tf.transpose(tf.concat([a, a.square()], 1)) as tf.Tensor2D, z)));
      return tf.grad(f)(x);
    }],
  ];
}

for (const backend of ['wasm', 'cpu']) {
  t.test(`${backend}: native kernels agree with tfjs's own`, { skip: typeof native === 'string' ? `NOTICE: ${native}` : false }, async (t) => {
    await tf.setBackend(backend);
    await tf.ready();
    const ref = cases().map(([name, f, unfused]) => [name, tf.tidy(() => (unfused ?? f)().dataSync().slice() as Float32Array)] as const);
    const choice = installCpuKernels(backend, { LOCAL_WORLD_SIZE: '1' });
    t.teardown(() => choice.restore());
    const identity = backend === 'wasm' ? '; zero-copy Identity' : '';
    // OpenBLAS where it is installed, else our own sgemm (test/backend-gemm.test.ts).
    t.match(choice.description, new RegExp(`^native kernels on ${backend}: (OpenBLAS sgemm \\(libopenblas[^)]*\\)|built-in sgemm \\([^)]*\\)) for BatchMatMul, _FusedMatMul; tiled Transpose; block-copy SplitV, Concat${identity}; dense Adam, embedding gather, per-ID merge$`));
    const got = cases().map(([, f]) => tf.tidy(() => f().dataSync().slice() as Float32Array));
    ref.forEach(([name, r], i) => {
      t.equal(got[i].length, r.length, `${name}: shape`);
      t.ok(worstRel(r, got[i]) < 1e-5, `${name}: worst relative difference ${worstRel(r, got[i]).toExponential(1)}`);
    });
    // Restored: tfjs's own kernels again (the elementwise result is the same; the registry entry is the original).
    choice.restore();
    t.equal(tf.getKernel('BatchMatMul', backend).kernelFunc.name !== 'kernelFunc', true);
  });
}

t.test('the native dense Adam step gives the same bits as the JavaScript loop', { skip: typeof native === 'string' ? `NOTICE: ${native}` : false }, (t) => {
  const n = 100_003;
  const rnd = (seed: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 12.9898 + seed) * 0.5);
  const g = rnd(1);
  const js = new Adam(n);
  const nat = new Adam(n);
  const [wj, wn] = [rnd(2), rnd(2)];
  for (const step of [1, 2, 3]) js.updateDense(wj, g, 0.003, step);
  const choice = installCpuKernels('cpu');
  t.teardown(() => choice.restore());
  for (const step of [1, 2, 3]) nat.updateDense(wn, g, 0.003, step);
  t.same(Buffer.from(wn.buffer), Buffer.from(wj.buffer), 'weights identical to the bit after 3 steps');
  t.same(Buffer.from(nat.v.buffer), Buffer.from(js.v.buffer), 'second moments identical');
  t.same(Buffer.from(nat.m.buffer), Buffer.from(js.m.buffer), 'first moments identical');
  t.end();
});

t.test('the native gather and per-ID merge give the same bits as the JavaScript', { skip: typeof native === 'string' ? `NOTICE: ${native}` : false }, (t) => {
  const rng = new Rng(5);
  const table = EmbeddingTable.normal(5000, 7, 0.3, rng);
  const n = 40_000;
  const ids = Int32Array.from({ length: n }, () => Math.floor(5000 * rng.next() ** 3)); // skewed, many repeats
  const rows = Float32Array.from({ length: n * 7 }, () => rng.normal() * 10 ** Math.floor(rng.next() * 5));
  const intCounts = Int32Array.from({ length: n }, () => 1 + rng.int(4));
  const floatCounts = Float32Array.from(intCounts, (c) => c * 0.37);
  const run = () => {
    const out = new Float32Array(n * 7);
    table.gather(ids, out);
    return [out, ...[null, intCounts, floatCounts].map((c) => mergeRows(ids, c, rows, 7))] as const;
  };
  const [jsOut, ...jsMerged] = run();
  const choice = installCpuKernels('cpu');
  t.teardown(() => choice.restore());
  const [natOut, ...natMerged] = run();
  t.ok(Buffer.from(natOut.buffer).equals(Buffer.from(jsOut.buffer)), 'gathered rows identical');
  jsMerged.forEach((a, k) => {
    const b = natMerged[k];
    t.same(Array.from(b.ids), Array.from(a.ids), `merge ${k}: ids`);
    t.ok(Buffer.from(b.rows.buffer).equals(Buffer.from(a.rows.buffer)) && Buffer.from(b.counts.buffer).equals(Buffer.from(a.counts.buffer)), `merge ${k} (${['no', 'integer', 'float'][k]} counts): rows and counts identical to the bit`);
  });
  t.throws(() => table.gather(Int32Array.of(3, 5000), new Float32Array(14)), { name: 'RangeError', message: 'gather: id 5000 outside table of 5000 rows' }, 'a bad id: the same error');
  t.throws(() => table.gather(Int32Array.of(-1), new Float32Array(7)), /gather: id -1 outside table/);
  t.end();
});

t.test('the kernels are chosen, or not, with a reason', (t) => {
  t.match(installCpuKernels('wasm', { DDP_BLAS: 'off' }).description, /^native kernels: none, tfjs's own run \(disabled by DDP_BLAS=off\)$/);
  t.match(installCpuKernels('webgpu', { DDP_BLAS: 'off' }).description, /^native kernels: none, tfjs's own run \(disabled by DDP_BLAS=off\)$/);
  if (typeof native !== 'string') {
    const gpu = installCpuKernels('webgpu');
    t.teardown(() => gpu.restore());
    t.equal(gpu.description, 'native kernels on webgpu: dense Adam, embedding gather, per-ID merge (webgpu brings its own tensor kernels)', "a GPU backend: only the host's kernels");
    const choice = installCpuKernels('wasm', { DDP_BLAS_LIB: '/nonexistent/libblas.so' });
    t.teardown(() => choice.restore());
    t.ok(choice.library, 'DDP_BLAS_LIB pointing nowhere: the default library is still found');
    t.match(installCpuKernels('cpu', { DDP_BLAS_THREADS: '1' }), { threads: 1 });
    installCpuKernels('cpu').restore();
  }
  t.end();
});
