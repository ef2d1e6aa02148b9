// Our own sgemm (native/gemm.c) against a double-precision triple loop: every transpose combination, sizes on
// and across its block edges, beta 0 (C never read: it starts as NaN) and 1, one and two threads, its AVX2 and
// portable kernels. Then its choice (DDP_GEMM, DDP_GEMM_ISA) and log line, tfjs matmuls through it, and bench/gemm.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import t from 'tap';
import { chooseGemm, installCpuKernels, loadNativeBlas, type NativeBlas } from '../src/backend/blas.js';

const native = loadNativeBlas();
const skip = typeof native === 'string' ? `NOTICE: ${native}` : false;
const BENCH = fileURLToPath(new URL('../dist/bench/gemm.js', import.meta.url));

// [m, n, k]. The kernel's tile is 6 x 16, its blocks 144 rows (MC) by 384 of k (KC), B's panel 4096 columns (NC);
// products of 2^21 multiply-adds or more are split over the threads.
const SIZES: [number, number, number][] = [
  [1, 1, 1],
  [7, 13, 5],
  [33, 17, 65],
  [6, 16, 384],
  [145, 17, 385],
  [143, 33, 383],
  [1, 40, 3],
  [50, 1, 7],
  [13, 9, 1],
  [7, 4100, 3],
  [301, 47, 400],
  [289, 50, 769],
];

function rnd(n: number, seed: number): Float32Array {
  return Float32Array.from({ length: n }, (_, i) => Math.sin(i * 12.9898 + seed) * 2);
}

/** Worst |got - ref| / (|beta c| + sum |a||b|) over C, ref in double precision. */
function worstError(ta: boolean, tb: boolean, m: number, n: number, k: number, a: Float32Array, b: Float32Array, c0: Float32Array, beta: number, got: Float32Array): number {
  let worst = 0;
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let sum = beta * c0[i * n + j];
      let scale = Math.abs(sum);
      for (let p = 0; p < k; p++) {
        const x = (ta ? a[p * m + i] : a[i * k + p]) * (tb ? b[j * k + p] : b[p * n + j]);
        sum += x;
        scale += Math.abs(x);
      }
      const e = Math.abs(got[i * n + j] - sum) / (scale || 1);
      worst = Number.isNaN(e) ? Infinity : Math.max(worst, e);
    }
  }
  return worst;
}

t.test("the built-in sgemm against a double-precision reference", { skip }, (t) => {
  const g = native as NativeBlas;
  t.teardown(() => g.selectGemmKernel(false));
  for (const portable of [false, true]) {
    const kernel = g.selectGemmKernel(portable);
    if (portable) t.equal(kernel, 'portable C');
    for (const threads of [1, 2]) {
      g.setThreads(threads);
      let worst = 0;
      let failed = '';
      for (const [m, n, k] of SIZES) {
        const a = rnd(m * k, m);
        const b = rnd(k * n, n);
        const c0 = rnd(m * n, k);
        for (const ta of [false, true]) {
          for (const tb of [false, true]) {
            for (const beta of [0, 1]) {
              const c = beta ? c0.slice() : new Float32Array(m * n).fill(NaN);
              g.gemm(ta, tb, m, n, k, a, b, c, beta);
              const e = worstError(ta, tb, m, n, k, a, b, c0, beta, c);
              if (e > worst) worst = e;
              if (!(e < 1e-5) && !failed) failed = `${m}x${n}x${k} transA ${ta} transB ${tb} beta ${beta}: ${e}`;
            }
          }
        }
      }
      t.equal(failed, '', `${kernel}, ${threads} thread(s): ${SIZES.length * 8} products, worst relative error ${worst.toExponential(1)}`);
    }
  }
  t.throws(() => g.gemm(false, false, 4, 4, 4, new Float32Array(15), new Float32Array(16), new Float32Array(16), 0), /ddp_blas.gemm: array too small/);
  const c = Float32Array.of(5, 6);
  g.gemm(false, false, 1, 2, 0, new Float32Array(0), new Float32Array(0), c, 1);
  t.same(Array.from(c), [5, 6], 'k = 0, beta 1: C unchanged');
  t.end();
});

t.test('DDP_GEMM chooses the sgemm and the log line says which', { skip }, async (t) => {
  const g = native as NativeBlas;
  const { library } = g.info();
  await tf.setBackend('wasm');
  await tf.ready();
  const x = tf.randomNormal([37, 29], 0, 1, 'float32', 1);
  const y = tf.randomNormal([23, 29], 0, 1, 'float32', 2);
  const products = () => [tf.matMul(x, y, false, true), tf.matMul(y, x, false, true), tf.matMul(x, x, true, false)].map((p) => p.dataSync().slice());
  const ref = products();
  for (const isa of ['', 'portable']) {
    const choice = installCpuKernels('wasm', { DDP_GEMM: 'builtin', DDP_GEMM_ISA: isa, DDP_BLAS_THREADS: '1' });
    const why = library ? `DDP_GEMM=builtin: OpenBLAS \\(${library}\\) found, not used` : 'libopenblas0-pthread not installed: apt install libopenblas0-pthread for OpenBLAS';
    t.match(choice.description, new RegExp(`^native kernels on wasm: built-in sgemm \\(${isa ? 'portable C' : '[^,]+'}, 1 thread; ${why}\\) for BatchMatMul`));
    t.equal(choice.library, 'built-in');
    const got = products();
    choice.restore();
    ref.forEach((r, i) => t.ok(r.every((v, j) => Math.abs(v - got[i][j]) <= 1e-5 * Math.max(1, Math.abs(v))), `${isa || 'fastest'} kernel: product ${i} as tfjs's own`));
  }
  // Without a BLAS library (as the module reports it on such a machine): ours, naming the package to install.
  const none = Object.create(g, { info: { value: () => ({ library: '', error: 'libopenblas.so.0: cannot open shared object file', threads: 0 }) } }) as NativeBlas;
  const fallback = chooseGemm(none, {});
  t.match(fallback, { name: 'built-in sgemm', library: 'built-in', why: 'libopenblas0-pthread not installed: apt install libopenblas0-pthread for OpenBLAS' });
  t.equal(fallback.sgemm, g.gemm);
  t.throws(() => chooseGemm(none, { DDP_GEMM: 'openblas' }), /DDP_GEMM=openblas: no BLAS library found \(libopenblas.so.0: cannot open.*apt install libopenblas0-pthread/);
  t.throws(() => chooseGemm(g, { DDP_GEMM: 'mkl' }), /DDP_GEMM=mkl: expected builtin or openblas/);
  t.throws(() => chooseGemm(g, { DDP_GEMM_ISA: 'avx512' }), /DDP_GEMM_ISA=avx512: expected portable/);
  if (library) t.match(chooseGemm(g, { DDP_GEMM: 'openblas' }), { name: 'OpenBLAS sgemm', library, why: '' });
  const gpu = installCpuKernels('webgpu', { DDP_GEMM: 'openblas' });
  gpu.restore();
  t.match(gpu.description, /^native kernels on webgpu: /, 'a GPU backend: no sgemm chosen, none required');
});

t.test('bench/gemm: tiny run', { skip }, (t) => {
  const job = '--steps 2 --mlp 16 --embed-dim 4 --data synthetic:quick,rows=2000,eval-rows=200 --gpus none';
  const res = spawnSync(process.execPath, [BENCH, '--shapes', 'NN:7x13x5,TN:33x17x65', '--threads', '1,2', '--repeats', '2', '--train', '--train-repeats', '1', `--train-args=${job}`], { encoding: 'utf8', timeout: 120_000 });
  t.equal(res.status, 0, res.stderr);
  const json = JSON.parse(res.stdout.split('\n').find((l) => l.startsWith('{'))!) as {
    bench: string;
    openblas: string | null;
    builtinKernel: string;
    results: { op: string; m: number; n: number; k: number; threads: number; gflops: { openblas: number | null; builtin: number }; ratio: number | null; maxRelDiff: number | null }[];
    train: { command: string; repeats: number; medianSeconds: Record<string, number>; ratio: number | null };
  };
  t.equal(json.bench, 'gemm');
  t.same(json.results.map((r) => [r.op, r.m, r.n, r.k, r.threads]), [['NN', 7, 13, 5, 1], ['TN', 33, 17, 65, 1], ['NN', 7, 13, 5, 2], ['TN', 33, 17, 65, 2]]);
  const blas = !!json.openblas;
  for (const r of json.results) {
    t.ok(r.gflops.builtin > 0, `${r.op} ${r.threads} thread(s): built-in timed`);
    t.equal(r.gflops.openblas !== null && r.ratio !== null, blas, blas ? 'OpenBLAS timed beside it' : 'no OpenBLAS: built-in alone');
    if (blas) t.ok(r.maxRelDiff! < 1e-5, `results agree (${r.maxRelDiff})`);
  }
  t.equal(json.train.command, `ddp-launch -n 2 ${job}`);
  t.same(Object.keys(json.train.medianSeconds).sort(), blas ? ['builtin', 'openblas'] : ['builtin']);
  t.ok(json.train.medianSeconds.builtin > 0 && (json.train.ratio === null) === !blas, 'end to end timed both ways');
  t.match(res.stdout, /\| product \| op \| M x N x K \| threads \| OpenBLAS GFLOP\/s \| built-in \(.+\) GFLOP\/s \| \*\*built-in\/OpenBLAS\*\* \| max rel diff \|/);
  t.end();
});
