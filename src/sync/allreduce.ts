import type { Communicator } from '../comm/communicator.js';
import { decodeSparse, encodeSparse, mergeRows, mergeSparse, type SparseGrad } from '../sparse/merge.js';
import { splitPacked } from '../sparse/packed.js';
import { LANES, Meter } from './meter.js';
import type { GlobalGrads, LocalGrads, SyncStrategy } from './types.js';

/**
 * The default strategy: dense gradients summed by ring all-reduce; embedding gradients merged per ID
 * locally, all-gathered as (ids, counts, rows) and merged again, so CowClip sees global counts.
 *
 * Field and first-order gradients share ids and counts, so each (sample, field) is packed as one row of
 * d + 1 values [field grad | first-order grad]: one merge, one payload, and the bytes on the wire are the
 * minimum, unique ids x (d + 1) values plus ids and counts.
 */
export class AllreduceSync implements SyncStrategy {
  readonly name: string = 'allreduce';
  readonly meter: Meter;
  private packed = new Float32Array(0);

  constructor(
    protected readonly comm: Communicator,
    protected readonly dim: number,
  ) {
    this.meter = new Meter(comm);
  }

  async exchange(local: LocalGrads): Promise<GlobalGrads> {
    const dense = this.startDense(local);
    const mine = this.mergeLocal(local);
    return { dense: local.dense, embed: { ...splitPacked(await this.gatherMerge(dense, mine), this.dim), step: local.step }, localUnique: mine.ids.length };
  }

  /** This rank's rows merged per ID, as packed [field | first-order] rows of d + 1 values. */
  protected mergeLocal(local: LocalGrads): SparseGrad {
    const d = this.dim;
    const n = local.ids.length;
    const w = d + 1;
    if (this.packed.length < n * w) this.packed = new Float32Array(n * w);
    const packed = this.packed;
    for (let i = 0; i < n; i++) {
      for (let k = 0; k < d; k++) packed[i * w + k] = local.emb[i * d + k];
      packed[i * w + d] = local.linear[i];
    }
    // Built inside its wire payload: the all-gather sends it without an encoding copy.
    return mergeRows(local.ids, null, packed.subarray(0, n * w), w, 'payload');
  }

  /**
   * Starts the all-gather of this rank's merged rows on the sparse lane, so it never queues behind a dense
   * all-reduce; resolves to every rank's rows, in rank order.
   */
  protected startGather(mine: SparseGrad): Promise<SparseGrad[]> {
    if (this.comm.size === 1) return Promise.resolve([mine]);
    return this.meter.start('sparse', LANES.sparse, (c) => c.allgatherv(encodeSparse(mine))).then((parts) => parts.map(decodeSparse));
  }

  /** Merges all-gathered rows per ID (rank order: identical on every rank). */
  protected mergeGathered(parts: SparseGrad[]): SparseGrad {
    return parts.length === 1 ? parts[0] : mergeSparse(parts, this.dim + 1);
  }

  /** Starts summing the dense gradients on lane 0: they travel while this rank merges its embedding rows. */
  protected startDense(local: LocalGrads): Promise<void> {
    return this.meter.start('dense', LANES.dense, (c) => c.allreduce(local.dense, 'sum'));
  }

  /** All-gathers `mine` (on the sparse lane, beside the dense all-reduce) and merges every rank's rows again. */
  protected async gatherMerge(dense: Promise<void>, mine: SparseGrad): Promise<SparseGrad> {
    const [, parts] = await this.meter.wait(Promise.all([dense, this.startGather(mine)]));
    return this.mergeGathered(parts);
  }
}
