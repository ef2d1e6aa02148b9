/**
 * Faster CPU kernels slotted into tfjs's kernel registry by name, as tfjs-core intends: BatchMatMul and
 * _FusedMatMul run as OpenBLAS sgemm calls (native/blas.c, built at install when a compiler is there, the
 * library found at run time) on the wasm and cpu backends. tfjs's own CPU matmul runs at ~1.7 GFLOP/s here,
 * OpenBLAS at ~80 (../shared/STACK-NOTES.md), and matmuls are most of a training step. The same module gives
 * the optimizer a whole-array Adam step (bit-identical to the JavaScript loop, ~2x faster: it is what
 * `--embed-update dense` runs over every embedding row every step). Models are untouched;
 * whatever the native path does not cover (other dtypes, broadcasting batches, other activations) goes to
 * the backend's own kernel.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { setDenseAdamKernel, type DenseAdamKernel } from '../optim/adam.js';

interface NativeBlas {
  adam: DenseAdamKernel;
  sgemm(transA: boolean, transB: boolean, m: number, n: number, k: number, a: Float32Array, b: Float32Array, c: Float32Array, beta: number): void;
  info(): { library: string; error: string; threads: number };
  setThreads(n: number): void;
}

export interface KernelChoice {
  /** The library serving the kernels, or null when tfjs's own run. */
  library: string | null;
  threads: number;
  /** One line for the log. */
  description: string;
  /** Puts the backend's own kernels back. */
  restore(): void;
}

const KERNELS = ['BatchMatMul', '_FusedMatMul'] as const;

/** build/Release/ddp_blas.node, from src/backend/ (ts-node) or dist/src/backend/ (compiled). */
function nativePath(): string | null {
  for (const rel of ['../../build/Release/ddp_blas.node', '../../../build/Release/ddp_blas.node']) {
    const path = fileURLToPath(new URL(rel, import.meta.url));
    if (existsSync(path)) return path;
  }
  return null;
}

/** The native module with a BLAS loaded, or why not. */
export function loadNativeBlas(env: NodeJS.ProcessEnv = process.env): NativeBlas | string {
  if (env.DDP_BLAS === 'off') return 'disabled by DDP_BLAS=off';
  const path = nativePath();
  if (!path) return 'native module not built (npm ci builds it where a C compiler is; see the README)';
  let native: NativeBlas;
  try {
    native = createRequire(import.meta.url)(path) as NativeBlas;
  } catch (err) {
    return `native module does not load: ${(err as Error).message.split('\n')[0]}`;
  }
  const { library, error } = native.info();
  return library ? native : `no BLAS library found (${error || 'install libopenblas0'}; or set DDP_BLAS_LIB)`;
}

/**
 * Registers the native kernels for `backendName` (wasm or cpu; other backends have their own fast matmuls).
 * Threads: DDP_BLAS_THREADS, else this host's cores shared by its ranks (LOCAL_WORLD_SIZE).
 */
export function installCpuKernels(backendName: string, env: NodeJS.ProcessEnv = process.env): KernelChoice {
  const none = (why: string): KernelChoice => ({ library: null, threads: 0, description: `matmul kernels: tfjs's own (${why})`, restore: () => undefined });
  if (backendName !== 'wasm' && backendName !== 'cpu') return none(`${backendName} brings its own`);
  const native = loadNativeBlas(env);
  if (typeof native === 'string') return none(native);
  const threads = Number(env.DDP_BLAS_THREADS) || Math.max(1, Math.floor(availableParallelism() / (Number(env.LOCAL_WORLD_SIZE) || 1)));
  native.setThreads(threads);
  const originals = KERNELS.map((name) => tf.getKernel(name, backendName));
  const memory = backendName === 'wasm' ? wasmMemory : cpuMemory;
  for (const [i, name] of KERNELS.entries()) {
    const original = originals[i];
    tf.unregisterKernel(name, backendName);
    tf.registerKernel({ kernelName: name, backendName, kernelFunc: (args) => matMul(native, memory, args, original.kernelFunc) });
  }
  setDenseAdamKernel(native.adam);
  const { library } = native.info();
  return {
    library,
    threads,
    description: `matmul kernels: OpenBLAS sgemm (${library}, ${threads} thread${threads > 1 ? 's' : ''}) for ${KERNELS.join(', ')} on ${backendName}; native dense Adam`,
    restore: () => {
      setDenseAdamKernel(null);
      for (const [i, name] of KERNELS.entries()) {
        tf.unregisterKernel(name, backendName);
        tf.registerKernel(originals[i]);
      }
    },
  };
}

/** How a backend's tensors are read and its outputs allocated, as Float32Arrays. */
interface Memory {
  /** Allocates the output, then views the inputs and it (in that order: allocating may move the wasm heap). */
  views(backend: unknown, inputs: tf.TensorInfo[], outShape: number[]): { ins: Float32Array[]; out: Float32Array; info: tf.TensorInfo };
}

interface WasmBackend {
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(t: tf.TensorInfo): Float32Array;
}

interface CpuBackend {
  makeTensorInfo(shape: number[], dtype: tf.DataType, values: Float32Array): tf.TensorInfo;
  readSync(dataId: unknown): Float32Array;
}

const wasmMemory: Memory = {
  views(backend, inputs, outShape) {
    const b = backend as WasmBackend;
    const info = b.makeOutput(outShape, 'float32');
    return { ins: inputs.map((t) => b.typedArrayFromHeap(t)), out: b.typedArrayFromHeap(info), info };
  },
};

const cpuMemory: Memory = {
  views(backend, inputs, outShape) {
    const b = backend as CpuBackend;
    const out = new Float32Array(outShape.reduce((p, x) => p * x, 1));
    return { ins: inputs.map((t) => b.readSync(t.dataId)), out, info: b.makeTensorInfo(outShape, 'float32', out) };
  },
};

type KernelArgs = Parameters<tf.KernelFunc>[0];

/**
 * BatchMatMul and _FusedMatMul (bias, then linear or ReLU): one sgemm per batch item, a or b broadcast when
 * its batch is 1. Anything else goes to `fallback`, the backend's own kernel.
 */
function matMul(native: NativeBlas, memory: Memory, args: KernelArgs, fallback: tf.KernelFunc): tf.TensorInfo | tf.TensorInfo[] {
  const { a, b, bias, preluActivationWeights } = args.inputs as Record<string, tf.TensorInfo | undefined>;
  const { transposeA, transposeB, activation } = args.attrs as { transposeA: boolean; transposeB: boolean; activation?: string };
  if (!a || !b || a.dtype !== 'float32' || b.dtype !== 'float32' || a.shape.length < 2 || a.shape.length !== b.shape.length) return fallback(args);
  if (preluActivationWeights || (activation !== undefined && activation !== 'linear' && activation !== 'relu')) return fallback(args);
  const r = a.shape.length;
  const [m, k] = transposeA ? [a.shape[r - 1], a.shape[r - 2]] : [a.shape[r - 2], a.shape[r - 1]];
  const [k2, n] = transposeB ? [b.shape[r - 1], b.shape[r - 2]] : [b.shape[r - 2], b.shape[r - 1]];
  const batchA = a.shape.slice(0, -2).reduce((p, x) => p * x, 1);
  const batchB = b.shape.slice(0, -2).reduce((p, x) => p * x, 1);
  const biasSize = bias ? bias.shape.reduce((p, x) => p * x, 1) : 0;
  if (k !== k2 || (batchA !== batchB && batchA !== 1 && batchB !== 1) || (bias && (bias.dtype !== 'float32' || (biasSize !== n && biasSize !== 1)))) {
    return fallback(args);
  }
  const batch = Math.max(batchA, batchB);
  const outShape = [...(batchA >= batchB ? a : b).shape.slice(0, -2), m, n];
  const { ins, out, info } = memory.views(args.backend, bias ? [a, b, bias] : [a, b], outShape);
  const [av, bv, biasv] = ins;
  for (let i = 0; i < batch; i++) {
    const ai = batchA === 1 ? 0 : i;
    const bi = batchB === 1 ? 0 : i;
    native.sgemm(
      transposeA,
      transposeB,
      m,
      n,
      k,
      av.subarray(ai * m * k, (ai + 1) * m * k),
      bv.subarray(bi * k * n, (bi + 1) * k * n),
      out.subarray(i * m * n, (i + 1) * m * n),
      0,
    );
  }
  if (biasv) addBias(out, biasv, n);
  if (activation === 'relu') relu(out);
  return info;
}

/** out[row, j] += bias[j] (or the one bias value). */
function addBias(out: Float32Array, bias: Float32Array, n: number): void {
  if (bias.length === 1) {
    const v = bias[0];
    for (let i = 0; i < out.length; i++) out[i] += v;
    return;
  }
  for (let row = 0; row < out.length; row += n) for (let j = 0; j < n; j++) out[row + j] += bias[j];
}

function relu(out: Float32Array): void {
  for (let i = 0; i < out.length; i++) if (out[i] < 0) out[i] = 0;
}
