/**
 * One step of the embedding update from the merged (global) batch gradients of the field table (d-dim,
 * CowClip-ed) and of the first-order table (1-dim, never clipped). Order per COWCLIP.md: L2, then
 * CowClip, then Adam (or SGD, --optimizer sgd).
 *   dense: L2 gradient 2*lambda*W on EVERY row, rows absent from the batch clipped with count 1, Adam
 *          over the whole table (the reference behaviour; O(table) per step).
 *   lazy:  L2, CowClip and Adam only on the rows present in the batch (O(batch rows) per step).
 */
import type { EmbeddingTable } from '../model/embedding.js';
import type { SparseGrad } from '../sparse/merge.js';
import type { AdamOptions } from './adam.js';
import { type CowClipOptions, cowclip, cowclipIndexed, TALLY_LENGTH } from './cowclip.js';
import { createOptimizer, type EmbedOptimizerName, type Optimizer } from './optimizer.js';

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
  optimizer?: EmbedOptimizerName;
  adam?: AdamOptions;
}

export interface EmbedUpdateStats {
  /** Distinct field-table rows in the batch. */
  rowsInBatch: number;
  /** How many of those CowClip scaled down (absent rows are not counted). */
  rowsClipped: number;
  /** The same by the ID's count in the batch (src/optim/cowclip.ts BUCKETS: rows, clipped per bucket). */
  buckets: number[];
}

export const noUpdates = (): EmbedUpdateStats => ({ rowsInBatch: 0, rowsClipped: 0, buckets: new Array<number>(TALLY_LENGTH).fill(0) });

export class EmbeddingUpdater {
  /**
   * What this updater has applied since it was built, summed over its updates: whoever runs it (the trainer,
   * a shard owner, a parameter server) reads its figures here, and they are summed where the ranks meet.
   */
  readonly applied: EmbedUpdateStats = noUpdates();
  /** The optimizer of each table (its state is checkpointed). */
  readonly fieldOpt: Optimizer;
  readonly firstOpt: Optimizer;
  /** Dense mode only: whole-table gradients and the count-1 vector of absent rows. */
  private readonly fieldScratch: Float32Array;
  private readonly firstScratch: Float32Array;
  private readonly ones: Float32Array;

  constructor(
    readonly field: EmbeddingTable,
    readonly first: EmbeddingTable,
    readonly options: EmbedUpdateOptions,
  ) {
    if (first.dim !== 1 || first.rows !== field.rows) {
      throw new RangeError(`EmbeddingUpdater: first-order table [${first.rows}, ${first.dim}] must be [${field.rows}, 1]`);
    }
    if (options.mode !== 'dense' && options.mode !== 'lazy') throw new RangeError(`EmbeddingUpdater: unknown mode ${String(options.mode)}`);
    this.fieldOpt = createOptimizer(options.optimizer ?? 'adam', field.weights.length, options.adam, field.dim);
    this.firstOpt = createOptimizer(options.optimizer ?? 'adam', first.weights.length, options.adam, 1);
    const dense = options.mode === 'dense';
    this.fieldScratch = new Float32Array(dense ? field.weights.length : 0);
    this.firstScratch = new Float32Array(dense ? first.weights.length : 0);
    this.ones = new Float32Array(dense && options.clip ? field.rows : 0).fill(1);
  }

  /**
   * The optimizer state by row width, as rows are packed and copied (src/sparse/owners.ts): `field` holds d values
   * per row (the field table's per-weight state), `first` one (the first-order table's, and the field table's
   * per-row state: row-wise Adagrad).
   */
  stateRows(): { field: Float32Array[]; first: Float32Array[] } {
    const perRow = this.fieldOpt.state.filter((s) => s.perRow).map((s) => s.data);
    return {
      field: this.fieldOpt.state.filter((s) => !s.perRow).map((s) => s.data),
      first: [...this.firstOpt.state.map((s) => s.data), ...perRow],
    };
  }

  /**
   * Applies step t (1-based, for Adam's bias correction). The gradients' rows are modified in place
   * (L2 added, clipped), so pass merge outputs the caller does not need afterwards.
   */
  update(fieldGrad: SparseGrad, firstGrad: SparseGrad, t: number): void {
    const { field, first, options } = this;
    const { clip } = options;
    if (fieldGrad.dim !== field.dim || firstGrad.dim !== 1) {
      throw new RangeError(`EmbeddingUpdater: gradient dims ${fieldGrad.dim}/${firstGrad.dim}, tables ${field.dim}/1`);
    }
    addL2(field, fieldGrad, options.lambda);
    addL2(first, firstGrad, options.lambda);
    const rowsClipped = clip ? cowclipIndexed(field.weights, fieldGrad.ids, fieldGrad.rows, fieldGrad.counts, field.dim, options, this.applied.buckets) : 0;

    if (options.mode === 'lazy') {
      this.fieldOpt.updateRows(field.weights, fieldGrad.ids, fieldGrad.rows, field.dim, options.lr, t);
      this.firstOpt.updateRows(first.weights, firstGrad.ids, firstGrad.rows, 1, options.lr, t);
    } else {
      // Absent rows: gradient = L2 alone, clipped with count 1 (auto too: a regulariser's gradient has no
      // samples to normalise); batch rows then overwritten by their final rows.
      fillL2(this.fieldScratch, field.weights, options.lambda);
      if (clip) cowclip(field.weights, this.fieldScratch, this.ones, field.dim, options.form === 'auto' ? { ...options, form: 'paper' } : options);
      scatter(this.fieldScratch, fieldGrad);
      this.fieldOpt.updateDense(field.weights, this.fieldScratch, options.lr, t);
      fillL2(this.firstScratch, first.weights, options.lambda);
      scatter(this.firstScratch, firstGrad);
      this.firstOpt.updateDense(first.weights, this.firstScratch, options.lr, t);
    }
    this.applied.rowsInBatch += fieldGrad.ids.length;
    this.applied.rowsClipped += rowsClipped;
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

/** out = 2 * lambda * W over the whole table. */
function fillL2(out: Float32Array, weights: Float32Array, lambda: number): void {
  const c = 2 * lambda;
  for (let i = 0; i < out.length; i++) out[i] = c * weights[i];
}

/** Writes the packed rows of grad into a whole-table gradient at their ids. */
function scatter(out: Float32Array, grad: SparseGrad): void {
  const { ids, rows, dim } = grad;
  for (let i = 0; i < ids.length; i++) {
    const dst = ids[i] * dim;
    const src = i * dim;
    for (let k = 0; k < dim; k++) out[dst + k] = rows[src + k];
  }
}
