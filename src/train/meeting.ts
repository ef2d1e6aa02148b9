/**
 * Where the ranks meet after a step (every step, or at local SGD's averaging points): each rank's training loss
 * since the last meeting and what it added to the embedding-update figures since then (UpdateCounts: the
 * strategy's, or the replica's updater's on rank 0), all-gathered as float64 on the control lane and summed in
 * rank order. Every rank gets the same totals, exact: counts pass 2^24 in long runs, where float32 sums round.
 */
import type { Communicator } from '../comm/communicator.js';
import { BUCKETS, TALLY_LENGTH } from '../optim/cowclip.js';
import type { EmbeddingUpdater } from '../optim/embed-update.js';
import { countsOf, NO_COUNTS } from '../sync/counts.js';
import { LANES } from '../sync/meter.js';
import type { SyncStrategy, UpdateCounts } from '../sync/types.js';

/** CowClip by the ID's count in the global batch: tail (1), torso (2-31), head (32+). */
export type ClipByBucket = Record<(typeof BUCKETS)[number], { rows: number; fraction: number }>;

export interface Met {
  /** The global loss sum and rows since the last meeting. */
  loss: { sum: number; rows: number };
  /** The job's embedding-update figures since the last meeting. */
  counts: UpdateCounts;
}

const FIELDS = 5 + TALLY_LENGTH;

export class Meeting {
  /** This rank's running totals as of the last meeting. */
  private told: UpdateCounts = NO_COUNTS;

  constructor(
    private readonly comm: Communicator,
    private readonly sync: Pick<SyncStrategy, 'counts'>,
    private readonly embed: Pick<EmbeddingUpdater, 'applied'>,
  ) {}

  async meet(lossSum: number, lossRows: number): Promise<Met> {
    const now = this.running();
    const { told } = this;
    // Fresh each time: a send may still hold the bytes when the collective returns.
    const mine = Float64Array.from([lossSum, lossRows, now.rows - told.rows, now.clipRows - told.clipRows, now.clipped - told.clipped, ...now.buckets.map((v, k) => v - told.buckets[k])]);
    this.told = now;
    const parts = await this.comm.lane(LANES.control).allgatherv(new Uint8Array(mine.buffer));
    const sum = new Float64Array(FIELDS);
    for (const p of parts) {
      // A received frame need not be 8-byte aligned: read it from a copy.
      const values = new Float64Array(new Uint8Array(p).buffer);
      if (values.length !== FIELDS) throw new Error(`a rank met with ${p.byteLength} bytes, expected ${FIELDS * 8}`);
      for (let i = 0; i < FIELDS; i++) sum[i] += values[i];
    }
    return { loss: { sum: sum[0], rows: sum[1] }, counts: { rows: sum[2], clipRows: sum[3], clipped: sum[4], buckets: Array.from(sum.subarray(5)) } };
  }

  /** This rank's running totals: the strategy's where it counts, else the replica's updater, counted by rank 0 alone (every rank applies the same update). */
  private running(): UpdateCounts {
    if (this.sync.counts) return this.sync.counts();
    return this.comm.rank === 0 ? countsOf(this.embed.applied) : NO_COUNTS;
  }
}

/** CowClip's figures added up over meetings: rows it looked at, and rows it scaled down, in all and by bucket. */
export class ClipWindow {
  rows = 0;
  clipped = 0;
  private readonly buckets = new Array<number>(TALLY_LENGTH).fill(0);

  add(c: UpdateCounts): void {
    this.rows += c.clipRows;
    this.clipped += c.clipped;
    c.buckets.forEach((v, k) => (this.buckets[k] += v));
  }

  /** Per bucket of the ID's batch count: the rows CowClip looked at and the fraction it scaled down. */
  byBucket(): ClipByBucket {
    const out = {} as ClipByBucket;
    BUCKETS.forEach((name, b) => {
      const [rows, clipped] = [this.buckets[2 * b], this.buckets[2 * b + 1]];
      out[name] = { rows, fraction: rows > 0 ? clipped / rows : 0 };
    });
    return out;
  }

  /** The fraction of rows clipped (0 where CowClip saw none). */
  get fraction(): number {
    return this.rows > 0 ? this.clipped / this.rows : 0;
  }

  clear(): void {
    this.rows = this.clipped = 0;
    this.buckets.fill(0);
  }
}
