/**
 * One step of the embedding update from the merged (global) batch gradients of the field table (d-dim,
 * CowClip-ed) and of the first-order table (1-dim, never clipped). Order per COWCLIP.md: L2, then
 * CowClip, then Adam (or SGD, --optimizer sgd).
 *   dense: L2 gradient 2*lambda*W on EVERY row, rows absent from the batch clipped with count 1, Adam
 *          over the whole table (the reference behaviour; O(table) per step).
 *   lazy:  L2, CowClip and Adam only on the rows present in the batch (O(batch rows) per step).
 */
import type { EmbeddingTable } from '../model/embedding.js';
import type { SparseGrad } from '../model/merge.js';
import type { AdamOptions } from './adam.js';
import { type CowClipOptions, clipRow, cowclipIndexed, thresholdFloor } from './cowclip.js';
import { createOptimizer, type Optimizer, type OptimizerName } from './optimizer.js';

export type EmbedUpdateMode = 'dense' | 'lazy';

export interface EmbedUpdateOptions extends CowClipOptions {
  mode: EmbedUpdateMode;
  /** Embedding learning rate (fixed under the CowClip scaling rule). */
  lr: number;
  /** L2 coefficient lambda of the loss term lambda * ||W||^2 (gradient 2 * lambda * W). */
  lambda: number;
  /** CowClip on the field table; off gives plain (L2 +) Adam. */
  clip: boolean;
  /** Default adam. */
  optimizer?: OptimizerName;
  adam?: AdamOptions;
}

export interface EmbedUpdateStats {
  /** Distinct field-table rows in the batch. */
  rowsInBatch: number;
  /** How many of those CowClip scaled down (absent rows are not counted). */
  rowsClipped: number;
}

export class EmbeddingUpdater {
  /** The optimizer of each table (its state is checkpointed). */
  readonly fieldOpt: Optimizer;
  readonly firstOpt: Optimizer;
  /** Dense mode only: row -> its index in the step's merged gradient, -1 when absent (reset after each step). */
  private readonly pos: Int32Array;

  constructor(
    readonly field: EmbeddingTable,
    readonly first: EmbeddingTable,
    readonly options: EmbedUpdateOptions,
  ) {
    if (first.dim !== 1 || first.rows !== field.rows) {
      throw new RangeError(`EmbeddingUpdater: first-order table [${first.rows}, ${first.dim}] must be [${field.rows}, 1]`);
    }
    if (options.mode !== 'dense' && options.mode !== 'lazy') throw new RangeError(`EmbeddingUpdater: unknown mode ${String(options.mode)}`);
    this.fieldOpt = createOptimizer(options.optimizer ?? 'adam', field.weights.length, options.adam);
    this.firstOpt = createOptimizer(options.optimizer ?? 'adam', first.weights.length, options.adam);
    const dense = options.mode === 'dense';
    this.pos = new Int32Array(dense ? field.rows : 0).fill(-1);
  }

  /**
   * Applies step t (1-based, for Adam's bias correction). The gradients' rows are modified in place
   * (L2 added, clipped), so pass merge outputs the caller does not need afterwards. `clip` false skips
   * CowClip for this step (a strategy that already clipped, e.g. with local counts).
   */
  update(fieldGrad: SparseGrad, firstGrad: SparseGrad, t: number, clip = this.options.clip): EmbedUpdateStats {
    const { field, first, options } = this;
    if (fieldGrad.dim !== field.dim || firstGrad.dim !== 1) {
      throw new RangeError(`EmbeddingUpdater: gradient dims ${fieldGrad.dim}/${firstGrad.dim}, tables ${field.dim}/1`);
    }
    addL2(field, fieldGrad, options.lambda);
    addL2(first, firstGrad, options.lambda);
    const rowsClipped = clip ? cowclipIndexed(field.weights, fieldGrad.ids, fieldGrad.rows, fieldGrad.counts, field.dim, options) : 0;

    if (options.mode === 'lazy') {
      this.fieldOpt.updateRows(field.weights, fieldGrad.ids, fieldGrad.rows, field.dim, options.lr, t);
      this.firstOpt.updateRows(first.weights, firstGrad.ids, firstGrad.rows, 1, options.lr, t);
    } else {
      // Every row in one pass. A batch row's gradient is its merged row (L2 added, clipped above); an absent
      // row's is L2 alone, clipped with count 1. Row values are float32, as a stored whole-table gradient was.
      const { pos } = this;
      for (let i = 0; i < fieldGrad.ids.length; i++) pos[fieldGrad.ids[i]] = i;
      const c = 2 * options.lambda;
      const floor = thresholdFloor(options, field.dim);
      const rowGradient = (table: Float32Array, dim: number, batch: Float32Array, clipAbsent: boolean) => (r: number, row: Float32Array) => {
        const i = pos[r];
        if (i >= 0) {
          for (let k = 0; k < dim; k++) row[k] = batch[i * dim + k];
          return;
        }
        for (let k = 0; k < dim; k++) row[k] = c * table[r * dim + k];
        if (clipAbsent) clipRow(table, r * dim, row, 0, dim, 1, options.ratio, floor);
      };
      this.fieldOpt.updateTable(field.weights, field.dim, options.lr, t, rowGradient(field.weights, field.dim, fieldGrad.rows, clip));
      this.firstOpt.updateTable(first.weights, 1, options.lr, t, rowGradient(first.weights, 1, firstGrad.rows, false));
      for (let i = 0; i < fieldGrad.ids.length; i++) pos[fieldGrad.ids[i]] = -1;
    }
    return { rowsInBatch: fieldGrad.ids.length, rowsClipped };
  }
}

/** grad row i += 2 * lambda * W[ids[i]]. */
function addL2(table: EmbeddingTable, grad: SparseGrad, lambda: number): void {
  if (lambda === 0) return;
  const { dim, weights } = table;
  const c = 2 * lambda;
  const { ids, rows } = grad;
  for (let i = 0; i < ids.length; i++) {
    const src = ids[i] * dim;
    const dst = i * dim;
    for (let k = 0; k < dim; k++) rows[dst + k] += c * weights[src + k];
  }
}
