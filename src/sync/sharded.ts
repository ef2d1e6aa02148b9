import type { Communicator } from '../comm/communicator.js';
import type { Replica } from '../replica/replica.js';
import { countsOf } from './counts.js';
import { Meter } from './meter.js';
import { OwnedRows } from './owned-rows.js';
import { DenseAllreduce, LocalMerge } from './parts.js';
import type { GlobalGrads, LocalGrads, SyncStrategy, UpdateCounts } from './types.js';

/**
 * `--sync sharded`: the parameter-server design with every rank the server of its own shard, over the
 * Communicator (as TorchRec shards embedding tables). The embedding rows go to their owners by all-to-all
 * (OwnedRows); the dense weights stay replicated and ring-all-reduced, as in `allreduce`.
 *
 * Per step t, three collectives (and the trainer's meeting):
 *   prepare(t)  OwnedRows.pull: step t - 1's merged rows to their owners, who apply them; then the rows of
 *               batch t back from their owners.
 *   exchange(t) dense gradients: ring all-reduce on lane 0, applied by the trainer; this rank's rows merged
 *               per ID, held until the next pull (or refresh).
 * Deferring a step's rows to the next pull saves an all-to-all per step and changes nothing: no rank reads
 * an embedding row between the exchange and the owner's answer, and refresh() flushes them before anything
 * reads the whole replica. All ranks exchange on the same steps, so all agree on whether rows are held.
 * An update of step t is applied (and counted, by its owner) when step t + 1 starts, the last one at the
 * final refresh.
 *
 * Bytes a rank sends per step, with U its distinct ids and w = d + 1: (N-1)/N x U x (1 + (w + 2) + w) values
 * (ids asked for, gradient rows with id and count, rows answered) against (N-1) x U x (w + 2) for the
 * all-gather: about 2 / N of it, so it only pays from N = 3 on; what it costs is two all-to-all round trips
 * before each forward pass, where `allreduce` overlaps its all-gather with the dense all-reduce. refresh()'s
 * traffic, like `ps`'s fetch, is not in the per-step bytes.
 */
export class ShardedSync implements SyncStrategy {
  readonly name = 'sharded';
  readonly meter: Meter;
  private readonly local: LocalMerge;
  private readonly dense: DenseAllreduce;
  private readonly rows: OwnedRows;

  constructor(comm: Communicator, dim: number, rep: Pick<Replica, 'field' | 'first' | 'embed'>) {
    this.meter = new Meter(comm);
    this.local = new LocalMerge(dim);
    this.dense = new DenseAllreduce(this.meter);
    this.rows = new OwnedRows(comm, this.meter, dim, rep);
  }

  prepare(_step: number, ids: Int32Array): Promise<void> {
    return this.rows.pull(ids);
  }

  async exchange(local: LocalGrads): Promise<GlobalGrads> {
    const dense = this.dense.start(local.dense);
    const mine = this.local.merge(local);
    this.rows.hold(mine, local.step);
    await this.meter.wait(dense);
    return { dense: local.dense, embed: null, localUnique: mine.ids.length };
  }

  refresh(): Promise<void> {
    return this.rows.gather();
  }

  counts(): UpdateCounts {
    return countsOf(this.rows.applied);
  }
}
