import type { SparseGrad } from '../sparse/merge.js';
import type { Meter } from './meter.js';

/** The gradients of one step as the trainer hands them to a strategy (views, valid until the next step). */
export interface LocalGrads {
  /** The training step (1-based). */
  step: number;
  /** [numDense], already scaled by 1 / global batch. */
  dense: Float32Array;
  /** [b * F] embedding-table rows of the local batch, one per (sample, field). */
  ids: Int32Array;
  /** [b * F * (d + 1)] packed rows, one per id: the gradient w.r.t. its field-embedding row, then its first-order weight. */
  rows: Float32Array;
  /** The rows already merged per ID where they were computed (tables on the GPU; `rows` is then empty), as a wire payload. */
  merged?: SparseGrad;
}

/** Embedding gradients to apply: per-ID rows with the counts CowClip uses. */
export interface EmbedGrads {
  field: SparseGrad;
  linear: SparseGrad;
  /** The training step (1-based) the gradients were computed at: the embedding optimizer's step t. */
  step: number;
}

/**
 * Running totals this rank adds to the job's embedding-update figures; the trainer sums every rank's where
 * the ranks meet, so each figure counts the updates applied by then, whoever applied them.
 */
export interface UpdateCounts {
  /** Rows the embedding updates applied covered: each update's distinct ids, summed over updates. */
  rows: number;
  /** Rows CowClip looked at, and those it scaled down (the clip fraction is clipped / clipRows). */
  clipRows: number;
  clipped: number;
  /** The same by the ID's count in the batch: [rows, clipped] of tail, torso, head (src/optim/cowclip.ts). */
  buckets: number[];
}

/** What every rank applies after a step's exchange. */
export interface GlobalGrads {
  /**
   * The dense gradient to apply (sum over ranks = gradient of the global mean loss, for synchronous strategies),
   * or null: the strategy already brought the dense weights to their post-step values (parameter servers).
   */
  dense: Float32Array | null;
  /** The embedding gradients to apply now, or null: none this step (hybrid applies them one step late), or the owners applied them. */
  embed: EmbedGrads | null;
  /** Distinct IDs this rank contributed (the rows of its sparse payload). */
  localUnique: number;
}

/**
 * How replicas agree on a step's gradients, or on their parameters. Strategies are written against the
 * Communicator only (they may hold the replica's arrays, never a model). The trainer calls, per step:
 *
 *   prepare(step, ids)     -> before the batch's embedding rows are gathered: make the replica's values of
 *                             those rows (and the dense weights) current, e.g. pull them from servers.
 *   inSync(step, last)     -> before the exchange: whether the ranks meet after this step with identical
 *                             replicas. Only then does the trainer sum the loss across ranks, check for drift
 *                             and evaluate (deferred to the next such step). Absent: every step.
 *   exchange(local)        -> the gradients every rank applies now (the only required hook).
 *   afterStep(step, last)  -> after the optimizer applied the step: e.g. local SGD averages parameters here.
 *   drain()                -> once, after the last step: gradients still owed (hybrid's last embedding
 *                             update), applied before the final check and evaluation. Absent: none.
 *   refresh(step)          -> at an in-sync step, before a drift check or an evaluation: make the whole
 *                             replica current (a parameter server's workers only hold the rows they used).
 *   close()                -> once, after training: release what the strategy holds (server connections).
 *   counts()               -> this rank's share of the embedding-update figures so far, where the strategy
 *                             applies or clips rows itself (owners, servers, local clipping) or its replicas
 *                             each apply their own update (local SGD). Absent: every rank applies the same
 *                             global update to its replica, whose updater rank 0 counts.
 *
 * A strategy must make every rank issue the same collectives in the same order, and must report in sync
 * after the last step. Every collective it issues goes through its `meter`, which splits this rank's bytes
 * on the wire into dense (dense weights) and sparse (embedding rows) and times the waiting.
 */
export interface SyncStrategy {
  readonly name: string;
  readonly meter: Meter;
  inSync?(step: number, last: boolean): boolean;
  exchange(local: LocalGrads): Promise<GlobalGrads>;
  afterStep?(step: number, last: boolean): Promise<void>;
  drain?(): Promise<EmbedGrads | null>;
  prepare?(step: number, ids: Int32Array): Promise<void>;
  refresh?(step: number): Promise<void>;
  close?(): Promise<void>;
  counts?(): UpdateCounts;
}
