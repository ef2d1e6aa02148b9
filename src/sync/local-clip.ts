import type { Communicator } from '../comm/communicator.js';
import { cowclipIndexed, TALLY_LENGTH, type CowClipOptions } from '../optim/cowclip.js';
import type { EmbeddingUpdater } from '../optim/embed-update.js';
import { splitPacked } from '../sparse/packed.js';
import { Meter } from './meter.js';
import { DenseAllreduce, LocalMerge, RowGather } from './parts.js';
import type { GlobalGrads, LocalGrads, SyncStrategy, UpdateCounts } from './types.js';

/**
 * The naive port, kept to show what per-ID global aggregation buys: every rank clips its own gradient
 * (the mean over its B/N samples) with its LOCAL counts, then the clipped gradients are averaged across
 * ranks. Same bytes as `allreduce`, different algorithm: a row's threshold uses cnt_local, and a row seen
 * by k ranks is clipped k times separately. The optimizer then applies L2 and Adam without clipping again.
 */
export class LocalClipSync implements SyncStrategy {
  readonly name = 'local-clip';
  readonly meter: Meter;
  private readonly local: LocalMerge;
  private readonly dense: DenseAllreduce;
  private readonly gather: RowGather;

  /** This rank's local clipping so far. */
  private readonly clipped = { clipRows: 0, clipped: 0, buckets: new Array<number>(TALLY_LENGTH).fill(0) };

  constructor(
    private readonly comm: Communicator,
    private readonly dim: number,
    private readonly embed: EmbeddingUpdater,
    private readonly clip: CowClipOptions,
  ) {
    this.meter = new Meter(comm);
    this.local = new LocalMerge(dim);
    this.dense = new DenseAllreduce(this.meter);
    this.gather = new RowGather(comm, this.meter, dim);
  }

  async exchange(local: LocalGrads): Promise<GlobalGrads> {
    const n = this.comm.size;
    const w = this.dim + 1;
    const dense = this.dense.start(local.dense);
    const mine = this.local.merge(local);
    // Rows hold sum/B_global; a rank alone would clip sum/(B/N), i.e. N times that, and the mean of N such
    // rows is their sum / N: scale up, clip the field part (first-order never clipped), scale back.
    const { field } = splitPacked(mine, this.dim);
    for (let i = 0; i < field.rows.length; i++) field.rows[i] *= n;
    this.clipped.clipRows += field.ids.length;
    this.clipped.clipped += cowclipIndexed(this.embed.field.weights, field.ids, field.rows, field.counts, this.dim, this.clip, this.clipped.buckets);
    for (let j = 0; j < mine.ids.length; j++) {
      for (let k = 0; k < this.dim; k++) mine.rows[j * w + k] = field.rows[j * this.dim + k] / n;
    }
    return { dense: local.dense, embed: { ...splitPacked(await this.gather.run(dense, mine), this.dim), step: local.step }, localUnique: mine.ids.length };
  }

  /** Clipping is each rank's own (summed over ranks); the global update every replica applies, rank 0 counts. */
  counts(): UpdateCounts {
    return { rows: this.comm.rank === 0 ? this.embed.applied.rowsInBatch : 0, ...this.clipped, buckets: [...this.clipped.buckets] };
  }
}
