/**
 * Adam on plain Float32Arrays (Keras form, as in the CowClip reference):
 *   m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g^2;  w -= lr * sqrt(1-b2^t)/(1-b1^t) * m / (sqrt(v) + eps)
 * with the step count t (1-based) passed explicitly so every rank and a resumed run agree on it.
 */

import { hostKernel } from '../kernels/registry.js';
import type { Optimizer } from './types.js';

export interface AdamOptions {
  beta1?: number;
  beta2?: number;
  epsilon?: number;
}

export class Adam implements Optimizer {
  readonly name = 'adam';
  /** First and second moments, one per weight; exposed for checkpointing. */
  readonly m: Float32Array;
  readonly v: Float32Array;
  readonly state: readonly { name: string; data: Float32Array }[];
  readonly beta1: number;
  readonly beta2: number;
  readonly epsilon: number;

  constructor(size: number, opts: AdamOptions = {}) {
    this.m = new Float32Array(size);
    this.v = new Float32Array(size);
    this.beta1 = opts.beta1 ?? 0.9;
    this.beta2 = opts.beta2 ?? 0.999;
    this.epsilon = opts.epsilon ?? 1e-7;
    this.state = [
      { name: 'm', data: this.m },
      { name: 'v', data: this.v },
    ];
  }

  /** Bias-corrected step size of step t (t >= 1). */
  stepSize(lr: number, t: number): number {
    if (!Number.isInteger(t) || t < 1) throw new RangeError(`Adam: step must be an integer >= 1, got ${t}`);
    return (lr * Math.sqrt(1 - this.beta2 ** t)) / (1 - this.beta1 ** t);
  }

  /** Updates every weight: w[i] with g[i]. */
  updateDense(w: Float32Array, g: Float32Array, lr: number, t: number): void {
    if (w.length !== this.m.length || g.length !== w.length) {
      throw new RangeError(`Adam.updateDense: ${w.length} weights, ${g.length} grads, state of ${this.m.length}`);
    }
    const lrT = this.stepSize(lr, t);
    // The registry's `denseAdam` (native/blas.c, the same bits as span) when registered; updateRows is always ours.
    const kernel = hostKernel('denseAdam');
    if (kernel) kernel(w, g, this.m, this.v, lrT, this.beta1, this.beta2, this.epsilon);
    else this.span(w, g, 0, 0, w.length, lrT);
  }

  /**
   * Lazy update of the rows ids[i] of a [rows, dim] table with the packed gradient rows g[i*dim ..]:
   * other rows and their moments are untouched (ids must be distinct, e.g. from a merge).
   */
  updateRows(w: Float32Array, ids: Int32Array, g: Float32Array, dim: number, lr: number, t: number): void {
    const n = ids.length;
    if (w.length !== this.m.length || g.length < n * dim) {
      throw new RangeError(`Adam.updateRows: ${w.length} weights, ${g.length} grads for ${n} rows x ${dim}, state of ${this.m.length}`);
    }
    const rows = w.length / dim;
    const lrT = this.stepSize(lr, t);
    for (let i = 0; i < n; i++) {
      const id = ids[i];
      if (id >>> 0 >= rows) throw new RangeError(`Adam.updateRows: id ${id} outside table of ${rows} rows`);
      this.span(w, g, id * dim, i * dim, dim, lrT);
    }
  }

  /** The one Adam kernel: len consecutive weights from wOff with gradients from gOff. */
  private span(w: Float32Array, g: Float32Array, wOff: number, gOff: number, len: number, lrT: number): void {
    const { m, v, beta1: b1, beta2: b2, epsilon: eps } = this;
    const c1 = 1 - b1;
    const c2 = 1 - b2;
    for (let k = 0; k < len; k++) {
      const j = wOff + k;
      const gk = g[gOff + k];
      const mj = b1 * m[j] + c1 * gk;
      const vj = b2 * v[j] + c2 * gk * gk;
      m[j] = mj;
      v[j] = vj;
      w[j] -= (lrT * mj) / (Math.sqrt(vj) + eps);
    }
  }
}
