/**
 * Adagrad, and its row-wise form for embedding tables:
 *   adagrad:          acc_i += g_i^2;                 w_i -= lr * g_i / (sqrt(acc_i) + eps)
 *   rowwise-adagrad:  acc_r += mean_k g_{r,k}^2;      w_{r,k} -= lr * g_{r,k} / (sqrt(acc_r) + eps)
 * The row-wise form keeps one accumulator per table row instead of one per weight (d times less state), as
 * large recommender systems do (FBGEMM's and TorchRec's row-wise Adagrad). Accumulators start at 0. No step
 * count: Adagrad has no bias correction.
 */
import type { Optimizer } from './types.js';

export const ADAGRAD_EPSILON = 1e-8;

export class Adagrad implements Optimizer {
  readonly name = 'adagrad';
  readonly acc: Float32Array;
  readonly state: readonly { name: string; data: Float32Array }[];

  constructor(size: number, readonly epsilon = ADAGRAD_EPSILON) {
    this.acc = new Float32Array(size);
    this.state = [{ name: 'acc', data: this.acc }];
  }

  updateDense(w: Float32Array, g: Float32Array, lr: number): void {
    if (w.length !== this.acc.length || g.length !== w.length) throw new RangeError(`Adagrad.updateDense: ${w.length} weights, ${g.length} grads, state of ${this.acc.length}`);
    this.span(w, g, 0, 0, w.length, lr);
  }

  updateRows(w: Float32Array, ids: Int32Array, g: Float32Array, dim: number, lr: number): void {
    const rows = w.length / dim;
    if (w.length !== this.acc.length || g.length < ids.length * dim) throw new RangeError(`Adagrad.updateRows: ${w.length} weights, ${g.length} grads for ${ids.length} rows x ${dim}`);
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i];
      if (id >>> 0 >= rows) throw new RangeError(`Adagrad.updateRows: id ${id} outside table of ${rows} rows`);
      this.span(w, g, id * dim, i * dim, dim, lr);
    }
  }

  private span(w: Float32Array, g: Float32Array, wOff: number, gOff: number, len: number, lr: number): void {
    const { acc, epsilon } = this;
    for (let k = 0; k < len; k++) {
      const j = wOff + k;
      const gk = g[gOff + k];
      const a = acc[j] + gk * gk;
      acc[j] = a;
      w[j] -= (lr * gk) / (Math.sqrt(a) + epsilon);
    }
  }
}

export class RowwiseAdagrad implements Optimizer {
  readonly name = 'rowwise-adagrad';
  /** One accumulator per row of a [rows, dim] table. */
  readonly acc: Float32Array;
  readonly state: readonly { name: string; data: Float32Array; perRow: true }[];

  constructor(
    size: number,
    readonly dim: number,
    readonly epsilon = ADAGRAD_EPSILON,
  ) {
    if (!(dim >= 1) || size % dim !== 0) throw new RangeError(`RowwiseAdagrad: ${size} weights are not rows of ${dim}`);
    this.acc = new Float32Array(size / dim);
    this.state = [{ name: 'acc', data: this.acc, perRow: true }];
  }

  updateDense(w: Float32Array, g: Float32Array, lr: number): void {
    if (w.length !== this.acc.length * this.dim || g.length !== w.length) throw new RangeError(`RowwiseAdagrad.updateDense: ${w.length} weights, ${g.length} grads, ${this.acc.length} rows of ${this.dim}`);
    for (let r = 0; r < this.acc.length; r++) this.row(w, g, r, r * this.dim, lr);
  }

  updateRows(w: Float32Array, ids: Int32Array, g: Float32Array, dim: number, lr: number): void {
    if (dim !== this.dim || w.length !== this.acc.length * dim || g.length < ids.length * dim) throw new RangeError(`RowwiseAdagrad.updateRows: ${w.length} weights, ${g.length} grads for ${ids.length} rows x ${dim}, table of ${this.acc.length} x ${this.dim}`);
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i];
      if (id >>> 0 >= this.acc.length) throw new RangeError(`RowwiseAdagrad.updateRows: id ${id} outside table of ${this.acc.length} rows`);
      this.row(w, g, id, i * dim, lr);
    }
  }

  private row(w: Float32Array, g: Float32Array, r: number, gOff: number, lr: number): void {
    const { dim, acc, epsilon } = this;
    let sq = 0;
    for (let k = 0; k < dim; k++) sq += g[gOff + k] * g[gOff + k];
    const a = acc[r] + sq / dim;
    acc[r] = a;
    const step = lr / (Math.sqrt(a) + epsilon);
    for (let k = 0; k < dim; k++) w[r * dim + k] -= step * g[gOff + k];
  }
}
