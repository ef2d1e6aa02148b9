/**
 * The per-ID merge of a batch's gradient rows on the GPU: the same result as the host's mergeRows (ids
 * ascending, each id's rows summed in input order, counts = occurrences), to the bit, without the rows leaving
 * the GPU.
 *
 *   1. keys     (id, position) pairs, padded to a power of two P with (PAD, position)
 *   2. sort     bitonic, log2(P) (log2(P) + 1) / 2 compare-exchange passes: (id, position) keys are distinct,
 *               so the order is total and the result is the stable order by id (positions ascending per id)
 *   3. heads    1 where a run of equal ids starts; an inclusive scan numbers the runs (log2(P) passes)
 *   4. starts   the position in sorted order where each run starts, and n after the last
 *   5. rows     one invocation per (run, column) sums the run's rows in position order, in float32, as the
 *               host's first pass does: the same additions in the same order give the same bits
 * The one read back is the number of distinct ids (4 bytes), which sizes the outputs.
 *
 * Sorting instead of a slot map keeps the GPU's work independent of the table size and the result
 * deterministic (no float atomics, which WGSL lacks anyway); bitonic rather than radix for its simplicity: at
 * P = 2^21 (batch 65,536 x 26 fields) it is 231 passes over the keys.
 */
import * as tf from '@tensorflow/tfjs';
import { FlatProgram, run } from './programs.js';

/** Ids sort before the padding: table rows are below 2^31 - 1. */
const PAD = 0x7fffffff;

export interface GpuSparseGrad {
  /** [U] int32, ascending. */
  ids: tf.Tensor1D;
  /** [U] float32 occurrences. */
  counts: tf.Tensor1D;
  /** [U * dim] float32, row j the sum of id j's rows. */
  rows: tf.Tensor1D;
  dim: number;
}

const bounded = (count: string, body: string) => `if (i >= uniforms.${count}) { return; }\n${body}`;

const KEYS = (P: number) =>
  new FlatProgram('ddpMergeKeys', ['ids'], [2 * P], 'n : i32, p : i32,', P, bounded('p', `
    result[2 * i] = select(${PAD}, ids[min(i, uniforms.n - 1)], i < uniforms.n);
    result[2 * i + 1] = i;`));

const SORT_STEP = (P: number) =>
  new FlatProgram('ddpMergeSortStep', ['keys'], [2 * P], 'p : i32, j : i32, k : i32,', P, bounded('p', `
    let q = i ^ uniforms.j;
    let a = vec2<i32>(keys[2 * i], keys[2 * i + 1]);
    let b = vec2<i32>(keys[2 * q], keys[2 * q + 1]);
    let aFirst = a.x < b.x || (a.x == b.x && a.y < b.y);
    // In a block sorted upwards the lower index keeps the smaller key; downwards the larger.
    let keepSmaller = ((i & uniforms.k) == 0) == (i < q);
    let kept = select(b, a, aFirst == keepSmaller);
    result[2 * i] = kept.x;
    result[2 * i + 1] = kept.y;`));

const HEADS = (P: number) =>
  new FlatProgram('ddpMergeHeads', ['keys'], [P], 'n : i32, p : i32,', P, bounded('p', `
    result[i] = select(0, 1, i < uniforms.n && (i == 0 || keys[2 * i] != keys[2 * i - 2]));`));

const SCAN_STEP = (P: number) =>
  new FlatProgram('ddpMergeScanStep', ['a'], [P], 'p : i32, off : i32,', P, bounded('p', `
    result[i] = a[i] + select(0, a[max(i - uniforms.off, 0)], i >= uniforms.off);`));

const STARTS = (P: number, U: number) =>
  new FlatProgram('ddpMergeStarts', ['heads', 'runs'], [U + 1], 'n : i32, p : i32, u : i32,', P, bounded('p', `
    if (heads[i] == 1) { result[runs[i] - 1] = i; }
    if (i == 0) { result[uniforms.u] = uniforms.n; }`));

const SUMS = (U: number, dim: number) =>
  new FlatProgram('ddpMergeSums', ['rows', 'keys', 'starts'], [U * dim], 'count : i32, dim : i32,', U * dim, bounded('count', `
    let j = i / uniforms.dim;
    let c = i - j * uniforms.dim;
    let end = starts[j + 1];
    var acc = rows[keys[2 * starts[j] + 1] * uniforms.dim + c];
    for (var s = starts[j] + 1; s < end; s++) {
      acc = acc + rows[keys[2 * s + 1] * uniforms.dim + c];
    }
    result[i] = acc;`));

const IDS = (U: number) =>
  new FlatProgram('ddpMergeIds', ['keys', 'starts'], [U], 'u : i32,', U, bounded('u', `
    result[i] = keys[2 * starts[i]];`));

const COUNTS = (U: number) =>
  new FlatProgram('ddpMergeCounts', ['starts'], [U], 'u : i32,', U, bounded('u', `
    result[i] = f32(starts[i + 1] - starts[i]);`));

/** One uniform entry per scalar: an entry of k values would be a vecK. */
const int = (...values: number[]) => values.map((v) => ({ type: 'int32' as const, data: [v] }));

/** The next power of two >= n (1 for n <= 1). */
function pow2(n: number): number {
  let p = 1;
  while (p < n) p *= 2;
  return p;
}

/**
 * Merges `n = ids.size` rows of `dim` values (rows [n * dim], row i for ids[i]) per id. The inputs stay the
 * caller's; the result's tensors are new (inside a tf.tidy, kept with tf.keep or returned from it).
 */
export async function mergeRowsGpu(ids: tf.Tensor1D, rows: tf.Tensor1D, dim: number): Promise<GpuSparseGrad> {
  const n = ids.size;
  if (!Number.isInteger(dim) || dim < 1) throw new RangeError(`mergeRowsGpu: bad dim ${dim}`);
  if (ids.dtype !== 'int32') throw new TypeError(`mergeRowsGpu: ids must be int32, got ${ids.dtype}`);
  if (rows.size !== n * dim) throw new RangeError(`mergeRowsGpu: ${rows.size} row values for ${n} ids x ${dim}`);
  if (n === 0) return { ids: tf.tensor1d([], 'int32'), counts: tf.tensor1d([]), rows: tf.tensor1d([]), dim };
  const P = pow2(n);
  let keys = run(KEYS(P), [ids], 'int32', int(n, P));
  for (let k = 2; k <= P; k *= 2) {
    for (let j = k / 2; j >= 1; j /= 2) {
      const next = run(SORT_STEP(P), [keys], 'int32', int(P, j, k));
      keys.dispose();
      keys = next;
    }
  }
  const heads = run(HEADS(P), [keys], 'int32', int(n, P));
  let runs = heads.clone();
  for (let off = 1; off < P; off *= 2) {
    const next = run(SCAN_STEP(P), [runs], 'int32', int(P, off));
    runs.dispose();
    runs = next;
  }
  const last = tf.slice(runs, [P - 1], [1]);
  const U = (await last.data())[0];
  last.dispose();
  const starts = run(STARTS(P, U), [heads, runs], 'int32', int(n, P, U));
  heads.dispose();
  runs.dispose();
  const out: GpuSparseGrad = {
    ids: run(IDS(U), [keys, starts], 'int32', int(U)) as tf.Tensor1D,
    counts: run(COUNTS(U), [starts], 'float32', int(U)) as tf.Tensor1D,
    rows: run(SUMS(U, dim), [rows, keys, starts], 'float32', int(U * dim, dim)) as tf.Tensor1D,
    dim,
  };
  keys.dispose();
  starts.dispose();
  return out;
}
