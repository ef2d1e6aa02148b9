import type { Communicator } from '../comm/communicator.js';
import { decodeSparse, type SparseGrad } from '../sparse/merge.js';
import { applyRows } from '../ps/shard.js';
import { copyRows, ownedRows, packRows, splitByOwner, uniqueByOwner, unpackRows, type RowArrays } from '../sparse/owners.js';
import { f32, i32 } from '../wire/frame.js';
import { EmbeddingTable } from '../model/embedding.js';
import { EmbeddingUpdater, type EmbedUpdateStats } from '../optim/embed-update.js';
import type { Replica } from '../replica/replica.js';
import { LANES, Meter } from './meter.js';
import { DenseAllreduce, LocalMerge } from './parts.js';
import type { GlobalGrads, LocalGrads, SyncStrategy } from './types.js';

const NO_IDS = new Int32Array(0);
const NOTHING = new Uint8Array(0);
/** Float32 slots before the rows of an answer: the owner's CowClip figures (rows in batch, rows clipped). */
const ANSWER_LEAD = 2;

/**
 * `--sync sharded`: the parameter-server design with every rank the server of its own shard, over the
 * Communicator (as TorchRec shards embedding tables). Rank k owns the embedding rows whose id hashes to k
 * (ownerOf: the row id already names the field, tables being concatenated) and is the only rank that updates
 * them and their optimizer state; the dense weights stay replicated and ring-all-reduced, as in `allreduce`.
 * Other ranks' copies of a row go stale, so they are never read without asking the owner first: a rank that
 * only received the rows it had sent gradients for would look up its stale copy of any other row later.
 *
 * Per step t, three collectives (and the trainer's loss all-reduce):
 *   prepare(t)  alltoallv (lane 1): to each owner, the distinct ids of batch t it owns and this rank's merged
 *               rows of step t - 1 that it owns (ids, counts, [field | first-order] rows). Each owner merges the
 *               parts in rank order (the per-ID sums of `allreduce`'s merge of all-gathered payloads, to the
 *               bit), applies L2, CowClip with the global counts and the optimizer to its rows (applyRows, the
 *               parameter server's update), then
 *               alltoallv (lane 1): answers each rank with the current rows it asked for, which the rank writes
 *               into its replica before the batch's rows are gathered.
 *   exchange(t) dense gradients: ring all-reduce on lane 0, applied by the trainer; this rank's rows merged
 *               per ID, kept until the next prepare (or refresh), where they travel with the next requests.
 * Deferring a step's rows to the next pull saves an all-to-all per step and changes nothing: no rank reads
 * an embedding row between the exchange and the owner's answer, and refresh() flushes them before anything
 * reads the whole replica. All ranks exchange on the same steps, so all agree on whether rows are pending.
 *
 * Bytes a rank sends per step, with U its distinct ids and w = d + 1: (N-1)/N x U x (1 + (w + 2) + w) values
 * (ids asked for, gradient rows with id and count, rows answered) against (N-1) x U x (w + 2) for the
 * all-gather: about 2 / N of it, so it only pays from N = 3 on; what it costs is two all-to-all round trips
 * before each forward pass, where `allreduce` overlaps its all-gather with the dense all-reduce.
 *
 * An owner keeps its rows, and their optimizer state, packed in a table of its own (`shard`, row j = owned id
 * j), and runs the embedding update on that table alone: `--embed-update lazy` on the rows of the global
 * batch, `--embed-update dense` (L2 and the optimizer on every row every step, touched or not) on all its
 * rows, so the table-wide work is divided by N. Both stay exact: the update is row by row (L2, CowClip on the
 * row's norm, elementwise Adam), so a row gets the same operations, on the same values, as in `allreduce`'s
 * whole-table pass; and only its owner ever updates a row. The replica's copies of owned rows are written
 * from the shard when this rank's batch uses them and at refresh.
 *
 * refresh() (before drift checks, evaluations, checkpoints and the end) applies the pending rows, then
 * all-gathers every owner's rows with their optimizer state, so replicas are complete and identical there;
 * like `ps`'s fetch, that traffic is not in the per-step bytes. CowClip figures reach the trainer one step late
 * (an owner reports an update with its next answer), as under `ps`.
 */
export class ShardedSync implements SyncStrategy {
  readonly name = 'sharded';
  readonly meter: Meter;
  private readonly local: LocalMerge;
  private readonly dense: DenseAllreduce;
  /** This rank's merged rows of the last exchanged step, not yet sent to their owners. */
  private pending: { grad: SparseGrad; step: number } | null = null;
  /** Figures of the updates this rank applied as an owner and has not reported yet. */
  private unreported: EmbedUpdateStats = { rowsInBatch: 0, rowsClipped: 0 };
  /** Figures of the last update, summed over owners, as of the last answer. */
  private stats: EmbedUpdateStats = { rowsInBatch: 0, rowsClipped: 0 };
  /** One mark per table row, for listing a batch's distinct ids (cleared after each use). */
  private readonly seen: Uint8Array;
  /** Every rank's rows, ascending. */
  private readonly owned: Int32Array[];
  /** This rank's rows and their optimizer state, packed (row j = owned id j), and the update over them. */
  private readonly shard: EmbeddingUpdater;
  /** Table row -> its row in `shard` (owned rows only: others are never looked up). */
  private readonly slot: Int32Array;
  private readonly noGrad: SparseGrad;

  constructor(
    private readonly comm: Communicator,
    private readonly dim: number,
    private readonly rep: Pick<Replica, 'field' | 'first' | 'embed'>,
  ) {
    this.meter = new Meter(comm);
    this.local = new LocalMerge(dim);
    this.dense = new DenseAllreduce(this.meter);
    this.seen = new Uint8Array(rep.field.rows);
    this.owned = ownedRows(rep.field.rows, comm.size);
    const mine = this.owned[comm.rank];
    this.slot = new Int32Array(rep.field.rows);
    mine.forEach((id, j) => (this.slot[id] = j));
    this.shard = new EmbeddingUpdater(new EmbeddingTable(mine.length, dim), new EmbeddingTable(mine.length, 1), rep.embed.options);
    // The replica's values and state (its initial values, or a checkpoint's) as the owner's start.
    copyRows(this.arrays(rep.embed), mine, this.arrays(this.shard), this.slots(mine), dim);
    this.noGrad = { dim: dim + 1, ids: NO_IDS, counts: new Float32Array(0), rows: new Float32Array(0) };
  }

  async prepare(_step: number, ids: Int32Array): Promise<void> {
    const { rank } = this.comm;
    const { field, first } = this.rep;
    const asked = uniqueByOwner(ids, this.comm.size, this.seen);
    const own = asked[rank];
    asked[rank] = NO_IDS;
    const requests = await this.push(asked);
    const { rowsInBatch, rowsClipped } = this.unreported;
    const { field: shardField, first: shardFirst } = this.shard;
    copyRows({ field: [shardField.weights], first: [shardFirst.weights] }, this.slots(own), { field: [field.weights], first: [first.weights] }, own, this.dim);
    const answers = requests.map((want, src) => {
      if (src === rank) return NOTHING;
      const out = packRows(this.slots(want), [shardField.weights], [shardFirst.weights], this.dim, ANSWER_LEAD);
      new Uint32Array(out.buffer, out.byteOffset, ANSWER_LEAD).set([rowsInBatch, rowsClipped]);
      return out;
    });
    this.unreported = { rowsInBatch: 0, rowsClipped: 0 };
    const got = await this.meter.run('sparse', LANES.sparse, (c) => c.alltoallv(answers));
    const stats = { rowsInBatch, rowsClipped };
    got.forEach((bytes, owner) => {
      if (owner === rank) return;
      const values = f32(bytes);
      const [inBatch, clipped] = new Uint32Array(values.buffer, values.byteOffset, ANSWER_LEAD);
      stats.rowsInBatch += inBatch;
      stats.rowsClipped += clipped;
      unpackRows(asked[owner], values.subarray(ANSWER_LEAD), [field.weights], [first.weights], this.dim);
    });
    this.stats = stats;
  }

  async exchange(local: LocalGrads): Promise<GlobalGrads> {
    const dense = this.dense.start(local.dense);
    const mine = this.local.merge(local);
    this.pending = { grad: mine, step: local.step };
    await this.meter.wait(dense);
    return { dense: local.dense, embed: null, localUnique: mine.ids.length, applied: this.stats };
  }

  async refresh(): Promise<void> {
    const { rank, size } = this.comm;
    if (this.pending) await this.push(Array.from({ length: size }, () => NO_IDS));
    const { field, first } = this.arrays(this.rep.embed);
    const shard = this.arrays(this.shard);
    const mine = packRows(this.slots(this.owned[rank]), shard.field, shard.first, this.dim);
    const all = await this.meter.wait(this.comm.lane(LANES.sparse).allgatherv(mine));
    all.forEach((bytes, owner) => unpackRows(this.owned[owner], f32(bytes), field, first, this.dim));
  }

  /** The weights and optimizer state of an updater's tables: what an owner holds of each row. */
  private arrays(u: EmbeddingUpdater): RowArrays {
    return {
      field: [u.field.weights, ...u.fieldOpt.state.map((st) => st.data)],
      first: [u.first.weights, ...u.firstOpt.state.map((st) => st.data)],
    };
  }

  /** Owned table rows -> their rows in the shard. */
  private slots(ids: Int32Array): Int32Array {
    return ids.map((id) => this.slot[id]);
  }

  /**
   * One alltoallv: to each owner, the ids this rank asks it for, then this rank's pending rows that it owns;
   * as an owner, applies the pending step to its rows. Returns the ids each rank asked this one for.
   */
  private async push(asked: Int32Array[]): Promise<Int32Array[]> {
    const pending = this.pending;
    this.pending = null;
    const parts = splitByOwner(pending?.grad ?? this.noGrad, this.comm.size, asked.map((a) => 4 * (1 + a.length)));
    parts.forEach((part, owner) => {
      const head = new Int32Array(part.buffer, part.byteOffset, 1 + asked[owner].length);
      head[0] = asked[owner].length;
      head.set(asked[owner], 1);
    });
    const got = await this.meter.run('sparse', LANES.sparse, (c) => c.alltoallv(parts));
    const requests: Int32Array[] = [];
    const grads = got.map((bytes, src) => {
      const words = i32(bytes);
      const q = words[0];
      if (!(q >= 0 && q < words.length)) throw new Error(`sharded: rank ${src} asked for ${q} rows in a part of ${bytes.length} bytes`);
      requests.push(words.subarray(1, 1 + q));
      return decodeSparse(new Uint8Array(words.buffer, words.byteOffset + 4 * (1 + q), words.byteLength - 4 * (1 + q)));
    });
    if (pending) {
      // Table rows -> shard rows: ascending stays ascending, so the merge (and its sums) is unchanged.
      for (const g of grads) g.ids.set(this.slots(g.ids));
      const s = applyRows(this.shard, grads, pending.step);
      this.unreported.rowsInBatch += s.rowsInBatch;
      this.unreported.rowsClipped += s.rowsClipped;
    }
    return requests;
  }
}
