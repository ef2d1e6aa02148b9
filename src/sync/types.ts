import type { SparseGrad } from '../model/merge.js';

/** The gradients of one step as the trainer hands them to a strategy (views, valid until the next step). */
export interface LocalGrads {
  /** [numDense], already scaled by 1 / global batch. */
  dense: Float32Array;
  /** [b * F] embedding-table rows of the local batch, one per (sample, field). */
  ids: Int32Array;
  /** [b * F * d] gradient w.r.t. each gathered field-embedding row. */
  emb: Float32Array;
  /** [b * F] gradient w.r.t. each gathered first-order weight. */
  linear: Float32Array;
}

/** What every rank applies, identically: the global per-ID sums with global counts. */
export interface GlobalGrads {
  /** Sum over ranks (= gradient of the global mean loss). Same array as LocalGrads.dense. */
  dense: Float32Array;
  field: SparseGrad;
  linear: SparseGrad;
  /** Distinct IDs this rank contributed (the rows of its sparse payload). */
  localUnique: number;
  /** True when the strategy already applied CowClip (so the optimizer must not clip again). */
  clipped?: boolean;
}

/**
 * How replicas agree on a step's gradients. Strategies are written against the Communicator only;
 * they never see a model.
 */
export interface SyncStrategy {
  readonly name: string;
  exchange(local: LocalGrads): Promise<GlobalGrads>;
}
