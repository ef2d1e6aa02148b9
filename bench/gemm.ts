/**
 * Our own sgemm (native/gemm.c, what the matmuls run on without OpenBLAS) against OpenBLAS's, on the products of
 * a training step of the default DeepFM MLP (400-400-400 over the 429 values of 26 embeddings of 16 and 13
 * numeric features) at batch 8192: the forward product X W (NN), the weight gradient Xᵀ dY (TN) and the input
 * gradient dY Wᵀ (NT). GFLOP/s of each at every --threads count, the two interleaved repeat by repeat, medians of
 * --repeats, and the largest difference between their results relative to the largest value. Without OpenBLAS,
 * ours alone, with a notice. With --train, also the README's default run end to end (`ddp-launch -n 2`) with
 * DDP_GEMM=openblas and DDP_GEMM=builtin (and with --train-tfjs, DDP_BLAS=off), alternating, median wall seconds
 * of --train-repeats. JSON (one line) and markdown tables on stdout. DDP_GEMM_ISA=portable: ours on its portable
 * C kernel.
 *
 *   node dist/bench/gemm.js [--shapes NN:8192x400x429,...] [--threads 1,2] [--repeats 7]
 *                           [--train] [--train-repeats 3] [--train-tfjs] [--train-args='--steps 20']
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { loadNativeBlas, type NativeBlas, type Sgemm } from '../src/backend/blas.js';
import { loadavgNow, machineInfo, markdownTable, median, positiveInt, runMain, splitList } from './common.js';
import { startLauncher } from './launch.js';

/** op:MxNxK, op = NN, TN (op(A) = Aᵀ), NT or TT; C (M x N) = op(A) (M x K) op(B) (K x N). */
const SHAPES = 'NN:8192x400x429,NN:8192x400x400,TN:429x400x8192,TN:400x400x8192,NT:8192x429x400,NT:8192x400x400';
const WHAT: Record<string, string> = { NN: 'forward X W', TN: 'weight gradient Xᵀ dY', NT: 'input gradient dY Wᵀ', TT: 'Aᵀ Bᵀ' };
/** Each timed repeat runs the product this long at least, so that short products are not timer noise. */
const MIN_REPEAT_MS = 150;

interface Shape {
  op: string;
  m: number;
  n: number;
  k: number;
}

function parseShape(s: string): Shape {
  const match = /^(NN|NT|TN|TT):(\d+)x(\d+)x(\d+)$/.exec(s);
  if (!match) throw new Error(`--shapes ${s}: expected op:MxNxK, op one of NN, NT, TN, TT`);
  const [m, n, k] = match.slice(2).map((x) => positiveInt('shapes', x));
  return { op: match[1], m, n, k };
}

interface GemmResult extends Shape {
  threads: number;
  gflops: { openblas: number | null; builtin: number };
  /** builtin / openblas. */
  ratio: number | null;
  /** max |c_builtin - c_openblas| / max |c_openblas|. */
  maxRelDiff: number | null;
}

/** Calls of `f` per repeat for MIN_REPEAT_MS, from one timed call (after a warm-up). */
function callsPerRepeat(f: () => void): number {
  f();
  const t = performance.now();
  f();
  return Math.max(1, Math.ceil(MIN_REPEAT_MS / Math.max(performance.now() - t, 0.01)));
}

function timeGflops(f: () => void, calls: number, flops: number): number {
  const t = performance.now();
  for (let i = 0; i < calls; i++) f();
  return (flops * calls) / ((performance.now() - t) / 1000) / 1e9;
}

function benchShape(native: NativeBlas, openblas: boolean, s: Shape, threads: number, repeats: number): GemmResult {
  const [ta, tb] = [s.op[0] === 'T', s.op[1] === 'T'];
  const a = Float32Array.from({ length: s.m * s.k }, (_, i) => Math.sin(i * 0.37) * 0.5);
  const b = Float32Array.from({ length: s.k * s.n }, (_, i) => Math.cos(i * 0.11) * 0.5);
  const [cOurs, cBlas] = [new Float32Array(s.m * s.n), new Float32Array(s.m * s.n)];
  const run = (sgemm: Sgemm, c: Float32Array) => () => sgemm(ta, tb, s.m, s.n, s.k, a, b, c, 0);
  const ours = run(native.gemm, cOurs);
  const blas = run(native.sgemm, cBlas);
  native.setThreads(threads);
  const flops = 2 * s.m * s.n * s.k;
  const calls = callsPerRepeat(ours);
  const g = { openblas: [] as number[], builtin: [] as number[] };
  if (openblas) blas(); // its warm-up
  const sides: [number[], () => void][] = openblas ? [[g.builtin, ours], [g.openblas, blas]] : [[g.builtin, ours]];
  // Alternating which goes first, so that neither always runs on the other's leftovers in cache.
  for (let r = 0; r < repeats; r++) for (const [into, f] of r % 2 ? [...sides].reverse() : sides) into.push(timeGflops(f, calls, flops));
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < cBlas.length; i++) {
    diff = Math.max(diff, Math.abs(cOurs[i] - cBlas[i]));
    scale = Math.max(scale, Math.abs(cBlas[i]));
  }
  const builtin = median(g.builtin);
  const blasG = openblas ? median(g.openblas) : null;
  return { ...s, threads, gflops: { openblas: blasG, builtin }, ratio: blasG ? builtin / blasG : null, maxRelDiff: openblas ? diff / (scale || 1) : null };
}

type TrainMode = 'openblas' | 'builtin' | 'tfjs';
const TRAIN_ENV: Record<TrainMode, NodeJS.ProcessEnv> = { openblas: { DDP_GEMM: 'openblas' }, builtin: { DDP_GEMM: 'builtin' }, tfjs: { DDP_BLAS: 'off' } };
const TRAIN_LABEL: Record<TrainMode, string> = { openblas: 'OpenBLAS (DDP_GEMM=openblas)', builtin: 'built-in (DDP_GEMM=builtin)', tfjs: "tfjs's own (DDP_BLAS=off)" };
/** What rank 0's start-up line must say in each mode (a mislabelled run would make the ratio meaningless). */
const TRAIN_LOG: Record<TrainMode, RegExp> = { openblas: /native kernels on wasm: OpenBLAS sgemm/, builtin: /native kernels on wasm: built-in sgemm/, tfjs: /native kernels: none/ };

/** `ddp-launch -n 2 ...trainArgs` once per mode per repeat, alternating; wall seconds per mode. */
async function benchTrain(modes: TrainMode[], repeats: number, trainArgs: string[]): Promise<Record<string, number[]>> {
  const dir = mkdtempSync(join(tmpdir(), 'ddp-gemm-'));
  const seconds: Record<string, number[]> = Object.fromEntries(modes.map((m) => [m, []]));
  try {
    for (let r = 0; r < repeats; r++) {
      for (const mode of r % 2 ? [...modes].reverse() : modes) {
        const logDir = join(dir, `${mode}-${r}`);
        const env = { ...process.env };
        delete env.DDP_GEMM;
        delete env.DDP_BLAS;
        Object.assign(env, TRAIN_ENV[mode]);
        const wall = await startLauncher(['-n', '2', ...trainArgs, '--log-dir', logDir], { timeoutS: 900, env, what: `ddp-launch -n 2 (${mode})` }).done;
        const log = readFileSync(join(logDir, 'rank-0.log'), 'utf8');
        if (!TRAIN_LOG[mode].test(log)) throw new Error(`${mode} run: rank 0 does not say ${TRAIN_LOG[mode]}:\n${log.split('\n').slice(0, 3).join('\n')}`);
        seconds[mode].push(wall);
        console.error(`[gemm] train ${mode} #${r + 1}: ${wall.toFixed(1)} s`);
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return seconds;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      shapes: { type: 'string', default: SHAPES },
      threads: { type: 'string', default: '1,2' },
      repeats: { type: 'string', default: '7' },
      train: { type: 'boolean', default: false },
      'train-repeats': { type: 'string', default: '3' },
      'train-tfjs': { type: 'boolean', default: false },
      'train-args': { type: 'string', default: '' },
    },
  });
  const shapes = splitList(values.shapes).map(parseShape);
  const threadCounts = splitList(values.threads).map((t) => positiveInt('threads', t));
  const repeats = positiveInt('repeats', values.repeats);
  const native = loadNativeBlas();
  if (typeof native === 'string') throw new Error(`the native module is needed: ${native}`);
  const { library, error } = native.info();
  const kernel = native.selectGemmKernel(process.env.DDP_GEMM_ISA === 'portable');
  const notice = library ? null : `no BLAS library found (${error}): built-in only; apt install libopenblas0-pthread to compare`;
  if (notice) console.error(`[gemm] notice: ${notice}`);
  const machine = machineInfo();
  const results: GemmResult[] = [];
  for (const threads of threadCounts) {
    for (const s of shapes) {
      const r = benchShape(native, !!library, s, threads, repeats);
      console.error(`[gemm] ${s.op} ${s.m}x${s.n}x${s.k}, ${threads} thread(s): ${JSON.stringify(r.gflops)} GFLOP/s`);
      results.push(r);
    }
  }
  const modes: TrainMode[] = [...(library ? (['openblas'] as const) : []), 'builtin', ...(values['train-tfjs'] ? (['tfjs'] as const) : [])];
  const trainArgs = values['train-args'].split(/\s+/).filter(Boolean);
  const trainSeconds = values.train ? await benchTrain(modes, positiveInt('train-repeats', values['train-repeats']), trainArgs) : null;
  const train = trainSeconds && {
    command: ['ddp-launch', '-n', '2', ...trainArgs].join(' '),
    repeats: trainSeconds.builtin.length,
    medianSeconds: Object.fromEntries(Object.entries(trainSeconds).map(([m, xs]) => [m, median(xs)])),
    seconds: trainSeconds,
    /** builtin / openblas wall seconds. */
    ratio: trainSeconds.openblas ? median(trainSeconds.builtin) / median(trainSeconds.openblas) : null,
  };
  console.log(JSON.stringify({ bench: 'gemm', machine: { ...machine, loadavgEnd: loadavgNow() }, repeats, openblas: library || null, builtinKernel: kernel, notice, results, train }));
  console.log();
  const f = (x: number | null, digits = 1): string => (x === null ? '-' : x.toFixed(digits));
  console.log(
    markdownTable(
      ['product', 'op', 'M x N x K', 'threads', 'OpenBLAS GFLOP/s', `built-in (${kernel}) GFLOP/s`, '**built-in/OpenBLAS**', 'max rel diff'],
      results.map((r) => [WHAT[r.op], r.op, `${r.m} x ${r.n} x ${r.k}`, r.threads, f(r.gflops.openblas), f(r.gflops.builtin), r.ratio === null ? '-' : `**${r.ratio.toFixed(2)}**`, r.maxRelDiff === null ? '-' : r.maxRelDiff.toExponential(1)]),
      [0, 1],
    ),
  );
  if (train) {
    console.log();
    console.log(
      markdownTable(
        ['run', 'sgemm', 'median wall s', 'runs (s)'],
        modes.map((m) => [train.command, TRAIN_LABEL[m], f(train.medianSeconds[m]), train.seconds[m].map((x) => x.toFixed(1)).join(', ')]),
        [0, 1],
      ),
    );
    if (train.ratio !== null) console.log(`\nbuilt-in / OpenBLAS wall time: ${train.ratio.toFixed(2)}`);
  }
}

runMain(main);
