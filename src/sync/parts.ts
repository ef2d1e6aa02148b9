/**
 * The parts strategies are composed of, each holding what it needs: merging a rank's rows per ID, the dense
 * all-reduce, and the all-gather of merged rows. A strategy names the parts it uses and adds its own
 * schedule (every step, every H steps, one step late) and exchange (densified tables, owners, servers).
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

  /** This rank's rows merged per ID, built inside their wire payload (an all-gather sends it without a copy). */
  merge(local: LocalGrads): SparseGrad {
    return mergeRows(local.ids, null, local.rows, this.dim + 1, 'payload');
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
