/**
 * The parts strategies are composed of, each holding what it needs: merging a rank's rows per ID, the dense
 * all-reduce, the sparse exchanges (all-gather of merged rows, the all-reduce of rows densified into whole
 * tables; the all-to-all with row owners is OwnedRows, in owned-rows.ts), and the schedules (replicas meeting
 * every K steps; an exchange applied one step late). A strategy names the parts it uses; the parameter
 * servers' exchange is their client (src/ps/client.ts).
 */
import type { Communicator } from '../comm/communicator.js';
import { decodeSparse, encodeSparse, mergeRows, mergeSparse, type SparseGrad } from '../sparse/merge.js';
import { LANES, type Meter } from './meter.js';
import type { LocalGrads } from './types.js';

/**
 * A rank's embedding rows merged per ID. Field and first-order gradients share ids and counts, so each
 * (sample, field) comes as one packed row of d + 1 values [field grad | first-order grad]: one merge, one
 * payload, and the bytes on the wire are the minimum, unique ids x (d + 1) values plus ids and counts.
 */
export class LocalMerge {
  constructor(readonly dim: number) {}

  /**
   * This rank's rows merged per ID, built inside their wire payload (an all-gather sends it without a copy);
   * merged already where they were computed (the GPU), they are taken as they come.
   */
  merge(local: LocalGrads): SparseGrad {
    return local.merged ?? mergeRows(local.ids, null, local.rows, this.dim + 1, 'payload');
  }
}

/** Dense gradients summed by ring all-reduce on the dense lane. */
export class DenseAllreduce {
  constructor(private readonly meter: Meter) {}

  /** Starts the sum: it travels while the rank merges its embedding rows. */
  start(dense: Float32Array): Promise<void> {
    return this.meter.start('dense', LANES.dense, (c) => c.allreduce(dense, 'sum'));
  }
}

/**
 * Merged rows all-gathered on the sparse lane (so they never queue behind a dense all-reduce) and merged per
 * ID again, in rank order: every rank gets the global per-ID sums and counts, identical to the bit.
 */
export class RowGather {
  constructor(
    private readonly comm: Communicator,
    private readonly meter: Meter,
    private readonly dim: number,
  ) {}

  /** Starts the all-gather; resolves to every rank's rows, in rank order. */
  start(mine: SparseGrad): Promise<SparseGrad[]> {
    if (this.comm.size === 1) return Promise.resolve([mine]);
    return this.meter.start('sparse', LANES.sparse, (c) => c.allgatherv(encodeSparse(mine))).then((parts) => parts.map(decodeSparse));
  }

  merge(parts: SparseGrad[]): SparseGrad {
    return parts.length === 1 ? parts[0] : mergeSparse(parts, this.dim + 1);
  }

  /** All-gathers `mine` beside the started dense all-reduce, waits for both, and merges every rank's rows. */
  async run(dense: Promise<void>, mine: SparseGrad): Promise<SparseGrad> {
    const [, parts] = await this.meter.wait(Promise.all([dense, this.start(mine)]));
    return this.merge(parts);
  }
}

/**
 * Horovod's `sparse_as_dense`: merged [field | first-order] rows scattered into a whole-table gradient [V, d + 1]
 * plus a [V] count vector, the lot summed by one ring all-reduce (lane 0, counted as sparse traffic), and the
 * rows with a non-zero global count read back out as the global per-ID gradient: the same rows, counts and sums
 * as RowGather (up to float summation order), with bytes proportional to the table size V instead of the
 * distinct IDs in the batch.
 */
export class DensifiedAllreduce {
  /** [V * (d + 1)] packed rows, then [V] counts: one buffer, one all-reduce. */
  private readonly table: Float32Array;

  constructor(
    private readonly meter: Meter,
    private readonly dim: number,
    private readonly rows: number,
  ) {
    this.table = new Float32Array(rows * (dim + 2));
  }

  async run(mine: SparseGrad): Promise<SparseGrad> {
    const w = this.dim + 1;
    const { table, rows: V } = this;
    table.fill(0);
    const counts = table.subarray(V * w);
    for (let j = 0; j < mine.ids.length; j++) {
      const id = mine.ids[j];
      counts[id] = mine.counts[j];
      table.set(mine.rows.subarray(j * w, (j + 1) * w), id * w);
    }
    await this.meter.allreduce('sparse', table);
    let u = 0;
    for (let i = 0; i < V; i++) if (counts[i] > 0) u++;
    const out: SparseGrad = { dim: w, ids: new Int32Array(u), counts: new Float32Array(u), rows: new Float32Array(u * w) };
    for (let i = 0, j = 0; i < V; i++) {
      if (!(counts[i] > 0)) continue;
      out.ids[j] = i;
      out.counts[j] = counts[i];
      out.rows.set(table.subarray(i * w, (i + 1) * w), j * w);
      j++;
    }
    return out;
  }
}

/** When the replicas meet with identical parameters: after every `every` steps and after the last (1: each step). */
export class MeetEvery {
  constructor(readonly every: number) {}

  meets(step: number, last: boolean): boolean {
    return this.every === 1 || last || step % this.every === 0;
  }
}

/**
 * Work started at one step and used at the next (hybrid's embedding exchange): hold() it with its step, take()
 * it a step later (or at the end). A failure meanwhile also fails that step's collectives, so it is never
 * left unhandled.
 */
export class OneStepLate<T> {
  private held: { work: Promise<T>; step: number } | null = null;

  hold(work: Promise<T>, step: number): void {
    work.catch(() => undefined);
    this.held = { work, step };
  }

  /** What was held (null before the first step, or once taken). */
  take(): { work: Promise<T>; step: number } | null {
    const held = this.held;
    this.held = null;
    return held;
  }
}
