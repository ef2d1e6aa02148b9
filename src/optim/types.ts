/** What every optimizer is (optimizer.ts builds them by name; adam.ts is one). */
export const OPTIMIZER_NAMES = ['adam', 'sgd'] as const;
export type OptimizerName = (typeof OPTIMIZER_NAMES)[number];
/** What embedding tables may also run: the Adagrad family (src/optim/adagrad.ts). */
export const EMBED_OPTIMIZER_NAMES = ['adam', 'sgd', 'adagrad', 'rowwise-adagrad'] as const;
export type EmbedOptimizerName = (typeof EMBED_OPTIMIZER_NAMES)[number];

export interface Optimizer {
  readonly name: EmbedOptimizerName;
  /**
   * State arrays (Adam: m, v; Adagrad: acc; SGD: none), aligned with the weights, or with a table's rows where
   * `perRow` (row-wise Adagrad): checkpointed, compared by the drift guard, averaged by local SGD, held by
   * row owners and servers.
   */
  readonly state: readonly { name: string; data: Float32Array; perRow?: boolean }[];
  /** Updates every weight w[i] with g[i] at step t (1-based). */
  updateDense(w: Float32Array, g: Float32Array, lr: number, t: number): void;
  /** Updates rows ids[i] of a [rows, dim] table with the packed rows g[i*dim ..] (distinct ids); others untouched. */
  updateRows(w: Float32Array, ids: Int32Array, g: Float32Array, dim: number, lr: number, t: number): void;
}
