/**
 * The all-to-all exchange with row owners, the sparse part of `--sync sharded`: rank k owns the embedding rows
 * whose id hashes to k (ownerOf: the row id already names the field, tables being concatenated) and is the only
 * rank that updates them and their optimizer state. Other ranks' copies of a row go stale, so they are never
 * read without asking the owner first.
 *
 * hold(rows, t)  keeps this rank's merged rows of step t until the next pull (or gather): they travel with it.
 * pull(ids)      one alltoallv (lane 1): to each owner, the distinct ids of the batch it owns and the held rows
 *                it owns (ids, counts, [field | first-order] rows). Each owner merges the parts in rank order
 *                (the per-ID sums of `allreduce`'s merge of all-gathered payloads, to the bit), applies L2,
 *                CowClip with the global counts and the optimizer to its rows (applyRows, the parameter
 *                server's update), then a second alltoallv answers each rank with the current rows it asked
 *                for, written into the replica before the batch's rows are gathered.
 * gather()       applies the held rows, then all-gathers every owner's rows with their optimizer state, so
 *                replicas are complete and identical (before drift checks, evaluations, checkpoints, the end).
 *
 * An owner keeps its rows, and their optimizer state, packed in a table of its own (`shard`, row j = owned id
 * j), and runs the embedding update on that table alone: `--embed-update lazy` on the rows of the global batch,
 * `--embed-update dense` (L2 and the optimizer on every row every step, touched or not) on all its rows, so
 * the table-wide work is divided by N. Both stay exact: the update is row by row (L2, CowClip on the row's
 * norm, elementwise Adam), so a row gets the same operations, on the same values, as in `allreduce`'s
 * whole-table pass; and only its owner ever updates a row. The shard's updater counts what it applied.
 */
import type { Communicator } from '../comm/communicator.js';
import { EmbeddingTable } from '../model/embedding.js';
import { EmbeddingUpdater, type EmbedUpdateStats } from '../optim/embed-update.js';
import { applyRows } from '../ps/shard.js';
import type { Replica } from '../replica/replica.js';
import { decodeSparse, type SparseGrad } from '../sparse/merge.js';
import { copyRows, ownedRows, packRows, splitByOwner, uniqueByOwner, unpackRows, type RowArrays } from '../sparse/owners.js';
import { f32, i32 } from '../wire/frame.js';
import { LANES, type Meter } from './meter.js';

const NO_IDS = new Int32Array(0);
const NOTHING = new Uint8Array(0);

export class OwnedRows {
  /** This rank's merged rows of the last exchanged step, not yet sent to their owners. */
  private held: { grad: SparseGrad; step: number } | null = null;
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
    private readonly meter: Meter,
    private readonly dim: number,
    private readonly rep: Pick<Replica, 'field' | 'first' | 'embed'>,
  ) {
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

  /** What this rank applied as an owner so far. */
  get applied(): EmbedUpdateStats {
    return this.shard.applied;
  }

  hold(grad: SparseGrad, step: number): void {
    this.held = { grad, step };
  }

  /** Sends the held rows to their owners, and makes the rows of `ids` current in the replica. */
  async pull(ids: Int32Array): Promise<void> {
    const { rank } = this.comm;
    const { field, first } = this.rep;
    const asked = uniqueByOwner(ids, this.comm.size, this.seen);
    const own = asked[rank];
    asked[rank] = NO_IDS;
    const requests = await this.push(asked);
    const { field: shardField, first: shardFirst } = this.shard;
    copyRows({ field: [shardField.weights], first: [shardFirst.weights] }, this.slots(own), { field: [field.weights], first: [first.weights] }, own, this.dim);
    const answers = requests.map((want, src) => (src === rank ? NOTHING : packRows(this.slots(want), [shardField.weights], [shardFirst.weights], this.dim)));
    const got = await this.meter.run('sparse', LANES.sparse, (c) => c.alltoallv(answers));
    got.forEach((bytes, owner) => {
      if (owner !== rank) unpackRows(asked[owner], f32(bytes), [field.weights], [first.weights], this.dim);
    });
  }

  /** Applies the held rows, then makes the whole replica (rows and their optimizer state) current. */
  async gather(): Promise<void> {
    const { rank, size } = this.comm;
    if (this.held) await this.push(Array.from({ length: size }, () => NO_IDS));
    const { field, first } = this.arrays(this.rep.embed);
    const shard = this.arrays(this.shard);
    const mine = packRows(this.slots(this.owned[rank]), shard.field, shard.first, this.dim);
    const all = await this.meter.wait(this.comm.lane(LANES.sparse).allgatherv(mine));
    all.forEach((bytes, owner) => unpackRows(this.owned[owner], f32(bytes), field, first, this.dim));
  }

  /** The weights and optimizer state of an updater's tables: what an owner holds of each row. */
  private arrays(u: EmbeddingUpdater): RowArrays {
    const state = u.stateRows();
    return { field: [u.field.weights, ...state.field], first: [u.first.weights, ...state.first] };
  }

  /** Owned table rows -> their rows in the shard. */
  private slots(ids: Int32Array): Int32Array {
    return ids.map((id) => this.slot[id]);
  }

  /**
   * One alltoallv: to each owner, the ids this rank asks it for, then this rank's held rows that it owns; as an
   * owner, applies the held step to its rows. Returns the ids each rank asked this one for.
   */
  private async push(asked: Int32Array[]): Promise<Int32Array[]> {
    const held = this.held;
    this.held = null;
    const parts = splitByOwner(held?.grad ?? this.noGrad, this.comm.size, asked.map((a) => 4 * (1 + a.length)));
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
    if (held) {
      // Table rows -> shard rows: ascending stays ascending, so the merge (and its sums) is unchanged.
      for (const g of grads) g.ids.set(this.slots(g.ids));
      applyRows(this.shard, grads, held.step);
    }
    return requests;
  }
}
