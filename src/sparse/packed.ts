import type { SparseGrad } from './merge.js';

/**
 * Field and first-order gradients share ids and counts, so strategies carry each (sample, field) as one packed
 * row of d + 1 values [field grad | first-order grad]: one merge, one payload.
 */
/** Splits merged [field | first-order] rows into the two tables' gradients. */
export function splitPacked(g: SparseGrad, d: number): { field: SparseGrad; linear: SparseGrad } {
  const u = g.ids.length;
  const w = d + 1;
  const field = new Float32Array(u * d);
  const linear = new Float32Array(u);
  for (let j = 0; j < u; j++) {
    for (let k = 0; k < d; k++) field[j * d + k] = g.rows[j * w + k];
    linear[j] = g.rows[j * w + d];
  }
  return {
    field: { dim: d, ids: g.ids, counts: g.counts, rows: field },
    linear: { dim: 1, ids: g.ids, counts: g.counts, rows: linear },
  };
}
