import type { Communicator } from '../comm/communicator.js';
import { mergeRows } from '../sparse/merge.js';
import type { Optimizer } from '../optim/optimizer.js';
import type { Replica } from '../replica/replica.js';
import { splitPacked } from '../sparse/packed.js';
import { countsOf } from './counts.js';
import { LANES, Meter, type Traffic } from './meter.js';
import { LocalMerge, MeetEvery } from './parts.js';
import type { GlobalGrads, LocalGrads, SyncStrategy, UpdateCounts } from './types.js';

/**
 * Local SGD (periodic model averaging, as in PyTorch's post-local-SGD): every replica trains alone on its shard
 * of each global batch, and every H steps (and after the last step) the replicas average their parameters
 * with an all-reduce mean, so between averaging points they differ and at them they are identical.
 *
 * - Step size: a replica alone minimises the mean loss over its own rows, so its gradients (the trainer
 *   hands over its share of the global mean, sum / B) are multiplied by N. For even shards that is exactly
 *   the local mean; for any shards the mean over ranks of these gradients is the global-mean gradient.
 * - CowClip uses each replica's local counts (it trains alone).
 * - Averaged: the dense weights whole; of the embedding tables only the rows some rank touched since the last
 *   averaging (the ranks all-gather their touched ids and all-reduce the union's rows). The other rows are
 *   still identical on every rank: each applied the same deterministic update to the same values (nothing in
 *   lazy mode; L2 + clip + optimizer in dense mode).
 * - Optimizer state (Adam's m and v) is averaged with its weights, the same rows: replicas are then identical
 *   in everything, which the drift guard checks, and an untouched row's Adam step (dense mode) stays the same
 *   on every rank. Averaging v is not the v of the mean gradient, so with Adam even H = 1 is not synchronous
 *   training; with --optimizer sgd (stateless, linear in the gradient) and no CowClip, H = 1 is.
 */
export class LocalSgdSync implements SyncStrategy {
  readonly name = 'local-sgd';
  readonly meter: Meter;
  private readonly local: LocalMerge;
  private readonly schedule: MeetEvery;
  /** 1 for each embedding row this rank's batches touched since the last averaging. */
  private readonly touched: Uint8Array;
  private touchedIds: number[] = [];

  constructor(
    private readonly comm: Communicator,
    private readonly dim: number,
    private readonly rep: Pick<Replica, 'dense' | 'denseOpt' | 'field' | 'first' | 'embed'>,
    every: number,
  ) {
    // One replica alone is always in sync with itself.
    this.schedule = new MeetEvery(comm.size === 1 ? 1 : every);
    this.meter = new Meter(comm);
    this.local = new LocalMerge(dim);
    this.touched = new Uint8Array(rep.field.rows);
  }

  async exchange(local: LocalGrads): Promise<GlobalGrads> {
    const n = this.comm.size;
    const mine = this.local.merge(local);
    for (const id of mine.ids) {
      if (this.touched[id]) continue;
      this.touched[id] = 1;
      this.touchedIds.push(id);
    }
    if (n > 1) {
      for (let i = 0; i < local.dense.length; i++) local.dense[i] *= n;
      for (let i = 0; i < mine.rows.length; i++) mine.rows[i] *= n;
    }
    return { dense: local.dense, embed: { ...splitPacked(mine, this.dim), step: local.step }, localUnique: mine.ids.length };
  }

  /** Each replica applies its own update: every rank counts its own. */
  counts(): UpdateCounts {
    return countsOf(this.rep.embed.applied);
  }

  /** Replicas meet at averaging points: every H steps and after the last. */
  inSync(step: number, last: boolean): boolean {
    return this.schedule.meets(step, last);
  }

  async afterStep(step: number, last: boolean): Promise<void> {
    if (this.comm.size > 1 && this.inSync(step, last)) await this.average();
  }

  private async average(): Promise<void> {
    const { rep, meter } = this;
    const withState = (data: Float32Array, dim: number, opt: Optimizer) => [{ data, dim }, ...opt.state.map((s) => ({ data: s.data, dim: s.perRow ? 1 : dim }))];
    await averageRows(meter, 'dense', withState(rep.dense, rep.dense.length, rep.denseOpt), Int32Array.of(0));

    const mine = Int32Array.from(this.touchedIds);
    const parts = await meter.run('sparse', LANES.dense, (c) => c.allgatherv(new Uint8Array(mine.buffer)));
    const all = new Int32Array(parts.reduce((s, p) => s + p.byteLength / 4, 0));
    let at = 0;
    for (const p of parts) {
      const bytes = p.byteOffset % 4 === 0 ? p : p.slice();
      all.set(new Int32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4), at);
      at += bytes.byteLength / 4;
    }
    // The union of the touched rows, ascending, identical on every rank: the per-ID merge's distinct ids.
    const union = mergeRows(all, null, new Float32Array(all.length), 1).ids;
    await averageRows(meter, 'sparse', [...withState(rep.field.weights, this.dim, rep.embed.fieldOpt), ...withState(rep.first.weights, 1, rep.embed.firstOpt)], union);

    for (const id of this.touchedIds) this.touched[id] = 0;
    this.touchedIds = [];
  }
}

/**
 * Replaces rows `ids` of row-major tables (each [rows, dim]) by their mean over the ranks: the rows of all
 * tables are packed side by side into one buffer, so one all-reduce averages them all.
 */
async function averageRows(meter: Meter, traffic: Traffic, tables: { data: Float32Array; dim: number }[], ids: Int32Array): Promise<void> {
  const width = tables.reduce((s, x) => s + x.dim, 0);
  const buf = new Float32Array(ids.length * width);
  const copy = (toBuf: boolean) => {
    for (let j = 0, at = 0; j < ids.length; j++) {
      for (const { data, dim } of tables) {
        const row = ids[j] * dim;
        for (let k = 0; k < dim; k++, at++) {
          if (toBuf) buf[at] = data[row + k];
          else data[row + k] = buf[at];
        }
      }
    }
  };
  copy(true);
  await meter.allreduce(traffic, buf, 'mean');
  copy(false);
}
