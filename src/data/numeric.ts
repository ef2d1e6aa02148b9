/**
 * Numeric feature preprocessing. Parameters are fitted on the train split only and saved with the
 * vocabulary, so scoring new data transforms it exactly as in training.
 *  - log1p (default): sign(x) * log(1 + |x|); Criteo's integer columns are heavy-tailed counts, and a
 *    few are negative (I2), for which -log1p(-x) keeps the transform odd and finite.
 *  - minmax: (x - min) / (max - min) with the train split's min/max, clamped to [0, 1] (eval values
 *    outside the train range would otherwise leave it); a constant column maps to 0.
 * A missing value (NaN) becomes 0 under both.
 */

export type NumericTransformName = 'log1p' | 'minmax';

export type NumericParams = { kind: 'log1p' } | { kind: 'minmax'; min: number[]; max: number[] };

export const NUMERIC_TRANSFORMS: readonly NumericTransformName[] = ['log1p', 'minmax'];

/** Running per-column min/max over row-major [rows * width] values, NaN ignored. */
export class NumericStats {
  readonly min: Float64Array;
  readonly max: Float64Array;

  constructor(readonly width: number) {
    this.min = new Float64Array(width).fill(Infinity);
    this.max = new Float64Array(width).fill(-Infinity);
  }

  /** Adds rows [from, to) of `values`. */
  add(values: Float32Array | Float64Array, from: number, to: number): void {
    const w = this.width;
    for (let r = from; r < to; r++) {
      for (let j = 0; j < w; j++) {
        const x = values[r * w + j];
        if (x < this.min[j]) this.min[j] = x;
        if (x > this.max[j]) this.max[j] = x;
      }
    }
  }

  params(kind: NumericTransformName): NumericParams {
    if (kind === 'log1p') return { kind };
    // A column with no value at all in train gets an empty range (maps to 0).
    const min = Array.from(this.min, (v) => (Number.isFinite(v) ? v : 0));
    const max = Array.from(this.max, (v, j) => (Number.isFinite(v) ? v : min[j]));
    return { kind, min, max };
  }
}

/** Transforms [rows * width] raw values (NaN = missing) from `src` into `dst` (may be the same array). */
export function applyNumeric(
  params: NumericParams,
  src: Float32Array | Float64Array,
  dst: Float32Array,
  width: number,
  srcOffset = 0,
  dstOffset = 0,
  count = src.length - srcOffset,
): void {
  if (params.kind === 'log1p') {
    for (let i = 0; i < count; i++) {
      const x = src[srcOffset + i];
      dst[dstOffset + i] = x !== x ? 0 : x >= 0 ? Math.log1p(x) : -Math.log1p(-x);
    }
    return;
  }
  const { min, max } = params;
  for (let i = 0; i < count; i++) {
    const x = src[srcOffset + i];
    const j = (srcOffset + i) % width;
    const span = max[j] - min[j];
    if (x !== x || span <= 0) {
      dst[dstOffset + i] = 0;
      continue;
    }
    const y = (x - min[j]) / span;
    dst[dstOffset + i] = y < 0 ? 0 : y > 1 ? 1 : y;
  }
}
