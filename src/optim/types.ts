/** What every optimizer is (optimizer.ts builds them by name; adam.ts is one). */
export const OPTIMIZER_NAMES = ['adam', 'sgd'] as const;
export type OptimizerName = (typeof OPTIMIZER_NAMES)[number];

export interface Optimizer {
  readonly name: OptimizerName;
  /**
   * Per-weight state arrays (Adam: m, v; SGD: none), aligned with the weights: checkpointed, compared by the
   * drift guard and averaged with the parameters by local SGD.
   */
  readonly state: readonly { name: string; data: Float32Array }[];
  /** Updates every weight w[i] with g[i] at step t (1-based). */
  updateDense(w: Float32Array, g: Float32Array, lr: number, t: number): void;
  /** Updates rows ids[i] of a [rows, dim] table with the packed rows g[i*dim ..] (distinct ids); others untouched. */
  updateRows(w: Float32Array, ids: Int32Array, g: Float32Array, dim: number, lr: number, t: number): void;
}
