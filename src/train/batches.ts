import { Rng } from '../util/rng.js';

/**
 * The order of training rows and how each global batch is split across ranks. The order depends only
 * on the seed and the epoch, never on the world size, so N ranks see exactly the rows one rank would.
 */
export class BatchPlan {
  readonly stepsPerEpoch: number;
  private perm: Int32Array;
  private permEpoch = -1;

  constructor(
    readonly rows: number,
    readonly globalBatch: number,
    private readonly seed: number,
  ) {
    this.stepsPerEpoch = Math.ceil(rows / globalBatch);
    this.perm = new Int32Array(rows);
  }

  /** Row indices of global step `step` (the last batch of an epoch may be short). */
  globalRows(step: number): Int32Array {
    const epoch = Math.floor(step / this.stepsPerEpoch);
    if (epoch !== this.permEpoch) {
      for (let i = 0; i < this.rows; i++) this.perm[i] = i;
      new Rng(this.seed, 1000 + epoch).shuffle(this.perm);
      this.permEpoch = epoch;
    }
    const start = (step % this.stepsPerEpoch) * this.globalBatch;
    return this.perm.subarray(start, Math.min(start + this.globalBatch, this.rows));
  }
}
