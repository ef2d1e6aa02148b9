import type { SparseGrad } from '../sparse/merge.js';
import { splitPacked } from '../sparse/packed.js';
import type { Communicator } from '../comm/communicator.js';
import { Meter } from './meter.js';
import { LocalMerge, OneStepLate, RowGather } from './parts.js';
import type { EmbedGrads, GlobalGrads, LocalGrads, SyncStrategy } from './types.js';

/**
 * Semi-synchronous training (PERSIA's hybrid, TorchRec's semi-sync): the dense gradients are all-reduced and
 * applied every step, as in `allreduce`; the embedding gradients of step t are merged per ID and their
 * all-gather is started but not awaited, so it travels while step t + 1 fills its batch and runs its forward
 * and backward pass. They are merged and applied at step t + 1, after its dense exchange: step t + 1 looks up
 * embeddings that lack step t's update (staleness 1). Step 1 applies no embedding update; after the last step
 * drain() applies the last one, so every step's gradients are applied exactly once, in order, with the same
 * global per-ID sums and counts as `allreduce` (CowClip with global counts), just one step late.
 */
export class HybridSync implements SyncStrategy {
  readonly name = 'hybrid';
  readonly meter: Meter;
  private readonly local: LocalMerge;
  private readonly gather: RowGather;
  private readonly late = new OneStepLate<SparseGrad[]>();

  constructor(comm: Communicator, private readonly dim: number) {
    this.meter = new Meter(comm);
    this.local = new LocalMerge(dim);
    this.gather = new RowGather(comm, this.meter, dim);
  }

  async exchange(local: LocalGrads): Promise<GlobalGrads> {
    const mine = this.local.merge(local);
    await this.meter.allreduce('dense', local.dense);
    const previous = await this.drain();
    this.late.hold(this.gather.start(mine), local.step);
    return { dense: local.dense, embed: previous, localUnique: mine.ids.length };
  }

  /** The embedding gradients still in flight (of the previous step), merged; null before the first step. */
  async drain(): Promise<EmbedGrads | null> {
    const held = this.late.take();
    if (!held) return null;
    return { ...splitPacked(this.gather.merge(await this.meter.wait(held.work)), this.dim), step: held.step };
  }
}
