import type { Communicator } from '../comm/communicator.js';
import { splitPacked } from '../sparse/packed.js';
import { Meter } from './meter.js';
import { DenseAllreduce, LocalMerge, RowGather } from './parts.js';
import type { GlobalGrads, LocalGrads, SyncStrategy } from './types.js';

/**
 * The default strategy: dense gradients summed by ring all-reduce; embedding gradients merged per ID
 * locally, all-gathered as (ids, counts, rows) beside the all-reduce and merged again, so CowClip sees
 * global counts. Every step.
 */
export class AllreduceSync implements SyncStrategy {
  readonly name = 'allreduce';
  readonly meter: Meter;
  private readonly local: LocalMerge;
  private readonly dense: DenseAllreduce;
  private readonly gather: RowGather;

  constructor(comm: Communicator, private readonly dim: number) {
    this.meter = new Meter(comm);
    this.local = new LocalMerge(dim);
    this.dense = new DenseAllreduce(this.meter);
    this.gather = new RowGather(comm, this.meter, dim);
  }

  async exchange(local: LocalGrads): Promise<GlobalGrads> {
    const dense = this.dense.start(local.dense);
    const mine = this.local.merge(local);
    return { dense: local.dense, embed: { ...splitPacked(await this.gather.run(dense, mine), this.dim), step: local.step }, localUnique: mine.ids.length };
  }
}
