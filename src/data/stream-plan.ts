/**
 * The order of training rows under --stream: each epoch reads the file in order and shuffles within
 * windows of W = windowSteps x globalBatch consecutive train rows (the last window of an epoch may be
 * short), so only a window's rows need to be in memory. Like the in-memory BatchPlan, the order depends
 * on the seed, the epoch and the window only, never on the world size: N ranks see exactly the rows one
 * rank would. A window holding the whole epoch is shuffled with the BatchPlan's own stream, so it gives
 * the in-memory order exactly.
 */
import { Rng } from '../util/rng.js';

/** One step of a window: the rows of this rank are [from, to) of the window's rank buffer. */
export interface WindowStep {
  /** Global step (0-based, counted across epochs). */
  step: number;
  /** Rows in the whole global batch (short at the end of an epoch). */
  globalRows: number;
  from: number;
  to: number;
}

export interface WindowLayout {
  epoch: number;
  window: number;
  /** First train row (index among the epoch's train rows) and row count of the window. */
  start: number;
  rows: number;
  /** For each window row: where it goes in this rank's buffer, or -1 (another rank's). */
  dest: Int32Array;
  /** Rows of this rank in the window. */
  rankRows: number;
  steps: WindowStep[];
}

export class WindowPlan {
  readonly stepsPerEpoch: number;
  readonly windowsPerEpoch: number;
  readonly windowRows: number;

  constructor(
    readonly trainRows: number,
    readonly globalBatch: number,
    readonly windowSteps: number,
    private readonly seed: number,
    private readonly rank: number,
    private readonly size: number,
  ) {
    this.stepsPerEpoch = Math.ceil(trainRows / globalBatch);
    this.windowsPerEpoch = Math.ceil(this.stepsPerEpoch / windowSteps);
    this.windowRows = windowSteps * globalBatch;
  }

  /** Epoch and window of a global step. */
  locate(step: number): { epoch: number; window: number } {
    const epoch = Math.floor(step / this.stepsPerEpoch);
    return { epoch, window: Math.floor((step % this.stepsPerEpoch) / this.windowSteps) };
  }

  layout(epoch: number, window: number): WindowLayout {
    const B = this.globalBatch;
    const start = window * this.windowRows;
    const rows = Math.min(this.trainRows, start + this.windowRows) - start;
    const perm = new Int32Array(rows);
    for (let i = 0; i < rows; i++) perm[i] = i;
    // Window 0 uses the BatchPlan's stream: with one window per epoch the orders are the same.
    new Rng(this.seed, 1000 + epoch + window * 1_000_003).shuffle(perm);
    const dest = new Int32Array(rows).fill(-1);
    const steps: WindowStep[] = [];
    let at = 0;
    for (let j = 0; j * B < rows; j++) {
      const len = Math.min(B, rows - j * B);
      const from = Math.floor((this.rank * len) / this.size);
      const to = Math.floor(((this.rank + 1) * len) / this.size);
      for (let i = from; i < to; i++) dest[perm[j * B + i]] = at + i - from;
      steps.push({ step: epoch * this.stepsPerEpoch + window * this.windowSteps + j, globalRows: len, from: at, to: at + to - from });
      at += to - from;
    }
    return { epoch, window, start, rows, dest, rankRows: at, steps };
  }
}
