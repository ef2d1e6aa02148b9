/**
 * Host kernels by name: the hot loops on plain Float32Arrays (embedding gather, per-ID merge, dense Adam) that a
 * faster implementation may replace without the model or the optimizer knowing, as tfjs's kernel registry does
 * for tensor ops (whose matmuls src/backend/blas.ts registers there). Every registered kernel must give the
 * JavaScript loop's bits; a caller with none registered runs its own loop.
 */

/** Row lookup out[i] = weights[ids[i]]; returns -1, or the position of the first id outside the table. */
export type GatherKernel = (weights: Float32Array, dim: number, ids: Int32Array, out: Float32Array) => number;

/**
 * The per-ID merge's first pass: each row added into its id's slot, in input order; slots numbered as ids are first
 * seen (seen[j] = the j-th distinct id). Returns the number of distinct ids. slot[id] is -1 for every id on entry.
 */
export type MergeSlotsKernel = (
  ids: Int32Array,
  counts: Float32Array | Int32Array | null,
  rows: Float32Array,
  dim: number,
  slot: Int32Array,
  seen: Int32Array,
  sums: Float32Array,
  sumCounts: Float32Array,
) => number;

/** A whole-array Adam step with lrT the bias-corrected step size. */
export type DenseAdamKernel = (w: Float32Array, g: Float32Array, m: Float32Array, v: Float32Array, lrT: number, b1: number, b2: number, eps: number) => void;

export interface HostKernels {
  gather: GatherKernel;
  mergeSlots: MergeSlotsKernel;
  denseAdam: DenseAdamKernel;
}

export type HostKernelName = keyof HostKernels;

const registry: Partial<HostKernels> = {};

/** Registers `kernel` under `name`, replacing any other; returns the removal, which brings the previous one back. */
export function registerHostKernel<K extends HostKernelName>(name: K, kernel: HostKernels[K]): () => void {
  const before = registry[name];
  registry[name] = kernel;
  return () => {
    if (before) registry[name] = before;
    else delete registry[name];
  };
}

/** The kernel registered under `name`, or undefined: the caller's own loop. */
export function hostKernel<K extends HostKernelName>(name: K): HostKernels[K] | undefined {
  return registry[name];
}
