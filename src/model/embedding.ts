import { hostKernel } from '../kernels/registry.js';
import type { Rng } from '../util/rng.js';

/**
 * One embedding table in a plain Float32Array ([rows, dim] row-major). It is deliberately not a tfjs
 * variable: gathering from a variable makes tfjs build a dense [rows, dim] gradient (see STACK-NOTES.md),
 * so lookups, gradient merging and updates are done by hand on the array.
 */
export class EmbeddingTable {
  readonly rows: number;
  readonly dim: number;
  readonly weights: Float32Array;

  /** Wraps existing weights (e.g. from a checkpoint), or zeros when none are given. */
  constructor(rows: number, dim: number, weights?: Float32Array) {
    if (!Number.isInteger(rows) || rows < 0 || !Number.isInteger(dim) || dim < 1) {
      throw new RangeError(`EmbeddingTable: bad shape [${rows}, ${dim}]`);
    }
    if (weights !== undefined && weights.length !== rows * dim) {
      throw new RangeError(`EmbeddingTable: ${weights.length} weights for shape [${rows}, ${dim}]`);
    }
    this.rows = rows;
    this.dim = dim;
    this.weights = weights ?? new Float32Array(rows * dim);
  }

  /** A table drawn from normal(0, std) with the seeded rng; std 0 gives zeros (first-order tables). */
  static normal(rows: number, dim: number, std: number, rng: Rng): EmbeddingTable {
    const table = new EmbeddingTable(rows, dim);
    if (std !== 0) {
      const w = table.weights;
      for (let i = 0; i < w.length; i++) w[i] = std * rng.normal();
    }
    return table;
  }

  /** out[i*dim .. (i+1)*dim) = row ids[i], for every id; out must hold ids.length * dim values. */
  gather(ids: Int32Array, out: Float32Array): void {
    const { dim, rows, weights } = this;
    const n = ids.length;
    if (out.length < n * dim) throw new RangeError(`gather: out holds ${out.length} < ${n * dim} values`);
    // The native lookup (native/blas.c: a memcpy per row) when registered; else the loop below.
    const kernel = hostKernel('gather');
    if (kernel) {
      const bad = kernel(weights, dim, ids, out);
      if (bad >= 0) throw new RangeError(`gather: id ${ids[bad]} outside table of ${rows} rows`);
      return;
    }
    for (let i = 0; i < n; i++) {
      const id = ids[i];
      // Unsigned compare also rejects negative ids; an unchecked bad id would silently read NaN.
      if (id >>> 0 >= rows) throw new RangeError(`gather: id ${id} outside table of ${rows} rows`);
      // A plain loop, not out.set(subarray): a subarray per id is an allocation on the hot path.
      const src = id * dim;
      const dst = i * dim;
      for (let k = 0; k < dim; k++) out[dst + k] = weights[src + k];
    }
  }
}
