import type { Communicator } from '../comm/communicator.js';
import type { SparseGrad } from '../sparse/merge.js';
import { splitPacked } from '../sparse/packed.js';
import { Meter } from './meter.js';
import { LocalMerge } from './parts.js';
import type { GlobalGrads, LocalGrads, SyncStrategy } from './types.js';

/**
 * Horovod's `sparse_as_dense`: each rank scatters its merged [field | first-order] rows into a whole-table
 * gradient [V, d + 1] plus a [V] count vector, the lot is summed by one ring all-reduce, and the rows with a
 * non-zero global count are read back out as the global per-ID gradient. The same maths as `allreduce`
 * (the same rows, counts and sums, up to float summation order), with bytes proportional to the table size
 * V instead of the distinct IDs in the batch.
 */
export class DenseSync implements SyncStrategy {
  readonly name = 'dense';
  readonly meter: Meter;
  private readonly local: LocalMerge;
  /** [V * (d + 1)] packed rows, then [V] counts: one buffer, one all-reduce. */
  private readonly table: Float32Array;

  constructor(
    comm: Communicator,
    private readonly dim: number,
    private readonly rows: number,
  ) {
    this.meter = new Meter(comm);
    this.local = new LocalMerge(dim);
    this.table = new Float32Array(rows * (dim + 2));
  }

  async exchange(local: LocalGrads): Promise<GlobalGrads> {
    const mine = this.local.merge(local);
    await this.meter.allreduce('dense', local.dense);
    const global = await this.allreduceDensified(mine);
    return { dense: local.dense, embed: { ...splitPacked(global, this.dim), step: local.step }, localUnique: mine.ids.length };
  }

  private async allreduceDensified(mine: SparseGrad): Promise<SparseGrad> {
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
