import type { Communicator } from '../comm/communicator.js';
import { splitPacked } from '../sparse/packed.js';
import { Meter } from './meter.js';
import { DensifiedAllreduce, LocalMerge } from './parts.js';
import type { GlobalGrads, LocalGrads, SyncStrategy } from './types.js';

/**
 * `--sync dense`: the embedding rows merged per ID, densified into whole tables and all-reduced after the
 * dense gradients (DensifiedAllreduce): the same maths as `allreduce`, with bytes proportional to the table
 * size instead of the distinct IDs in the batch. Every step.
 */
export class DenseSync implements SyncStrategy {
  readonly name = 'dense';
  readonly meter: Meter;
  private readonly local: LocalMerge;
  private readonly densified: DensifiedAllreduce;

  constructor(
    comm: Communicator,
    private readonly dim: number,
    rows: number,
  ) {
    this.meter = new Meter(comm);
    this.local = new LocalMerge(dim);
    this.densified = new DensifiedAllreduce(this.meter, dim, rows);
  }

  async exchange(local: LocalGrads): Promise<GlobalGrads> {
    const mine = this.local.merge(local);
    await this.meter.allreduce('dense', local.dense);
    const global = await this.densified.run(mine);
    return { dense: local.dense, embed: { ...splitPacked(global, this.dim), step: local.step }, localUnique: mine.ids.length };
  }
}
