import type { Communicator } from '../comm/communicator.js';
import { noUpdates, type EmbedUpdateStats } from '../optim/embed-update.js';
import { connectServers, type ServerClient } from '../ps/client.js';
import type { Replica, ReplicaShape } from '../replica/replica.js';
import { splitByOwner, uniqueByOwner, unpackRows } from '../sparse/owners.js';
import type { CurveKeys } from '../wire/curve.js';
import { countsOf, NO_COUNTS } from './counts.js';
import { Meter } from './meter.js';
import { LocalMerge, MeetEvery } from './parts.js';
import type { GlobalGrads, LocalGrads, SyncStrategy, UpdateCounts } from './types.js';

export interface PsOptions {
  name: string;
  /** tcp://host:port of each server, index = server. */
  endpoints: string[];
  token: string;
  fingerprint: string;
  shape: ReplicaShape;
  /** The workers meet (loss, drift check, evaluation) every K steps and after the last: 1 for ps. */
  meetEvery: number;
  /** How long a worker waits for a server's answer before failing. */
  timeoutMs: number;
  /** --secure: CURVE keys of the job. */
  curve: CurveKeys | null;
}

/**
 * Parameter-server strategies (`ps`, and `async-ps` with a staleness bound): the workers' replicas are caches of
 * parameters that live on `--servers` processes (src/ps/server.ts), reached through a ServerClient. Per step a
 * worker pulls the dense weights and the rows its batch uses (prepare), computes, merges its rows per ID and
 * pushes each server its rows and its slice of the dense gradient (exchange); the server applies the update.
 * Before a drift check or an evaluation the worker fetches every parameter (refresh), so at those points all
 * replicas are identical. The servers count the updates they apply; their answers carry the running totals.
 */
export class PsSync implements SyncStrategy {
  readonly name: string;
  readonly meter: Meter;
  private readonly local: LocalMerge;
  private readonly schedule: MeetEvery;
  private client: Promise<ServerClient> | null = null;
  /** Marks of ids already listed for the current pull (cleared after each). */
  private readonly seen: Uint8Array;
  /** Each server's embedding-update figures as last heard (running totals: a later answer replaces them). */
  private heard: EmbedUpdateStats[] = [];

  constructor(
    private readonly comm: Communicator,
    private readonly dim: number,
    private readonly rep: Pick<Replica, 'dense' | 'denseOpt' | 'field' | 'first' | 'embed'>,
    private readonly opts: PsOptions,
  ) {
    this.name = opts.name;
    this.meter = new Meter(comm);
    this.local = new LocalMerge(dim);
    this.schedule = new MeetEvery(opts.meetEvery);
    this.seen = new Uint8Array(rep.field.rows);
  }

  inSync(step: number, last: boolean): boolean {
    return this.schedule.meets(step, last);
  }

  async prepare(step: number, ids: Int32Array): Promise<void> {
    const client = await this.connect();
    const asked = uniqueByOwner(ids, client.slices.length, this.seen);
    for (const a of asked) this.meter.bytes.sparse += a.byteLength;
    const answers = await this.meter.wait(client.pull(step, asked));
    const { field, first } = this.rep;
    answers.forEach((a, s) => {
      this.rep.dense.set(a.dense, client.slices[s][0]);
      unpackRows(asked[s], a.rows, [field.weights], [first.weights], this.dim);
    });
    this.heard = answers.map((a) => a.applied);
  }

  async exchange(local: LocalGrads): Promise<GlobalGrads> {
    const client = await this.connect();
    const mine = this.local.merge(local);
    const parts = splitByOwner(mine, client.slices.length); // fresh payloads: sent as they are, no copy
    this.meter.bytes.dense += local.dense.byteLength;
    for (const p of parts) this.meter.bytes.sparse += p.byteLength;
    client.push(local.step, local.dense, parts);
    return { dense: null, embed: null, localUnique: mine.ids.length };
  }

  async refresh(step: number): Promise<void> {
    const client = await this.connect();
    const all = await this.meter.wait(client.fetch(step));
    const { dense, denseOpt, field, first, embed } = this.rep;
    all.forEach((f, s) => {
      const [lo, hi] = client.slices[s];
      dense.set(f.dense, lo);
      if (f.denseState.length !== denseOpt.state.length * (hi - lo)) throw new Error(`parameter server ${s} sent ${f.denseState.length} dense optimizer values, expected ${denseOpt.state.length * (hi - lo)}`);
      denseOpt.state.forEach((st, i) => st.data.set(f.denseState.subarray(i * (hi - lo), (i + 1) * (hi - lo)), lo));
      unpackRows(f.ids, f.rows, [field.weights], [first.weights], this.dim);
      const state = embed.stateRows();
      unpackRows(f.ids, f.rowState, state.field, state.first, this.dim);
    });
    this.heard = all.map((f) => f.applied);
  }

  /**
   * The servers' figures as this worker last heard them (at the final refresh, after the last step: all of
   * them). Every worker hears the same servers, so rank 0 alone reports them.
   */
  counts(): UpdateCounts {
    if (this.comm.rank !== 0) return NO_COUNTS;
    const sum = noUpdates();
    for (const h of this.heard) {
      sum.rowsInBatch += h.rowsInBatch;
      sum.rowsClipped += h.rowsClipped;
      h.buckets.forEach((v, k) => (sum.buckets[k] += v));
    }
    return countsOf(sum);
  }

  async close(): Promise<void> {
    if (!this.client) return;
    const client = await this.client;
    this.client = null;
    await client.close();
  }

  /** Connects once, on first use. */
  private connect(): Promise<ServerClient> {
    const { endpoints, token, fingerprint, shape, timeoutMs, curve } = this.opts;
    this.client ??= connectServers({ endpoints, worker: this.comm.rank, workers: this.comm.size, token, fingerprint, shape, denseLength: this.rep.dense.length, timeoutMs, curve, traffic: this.meter.direct });
    return this.client;
  }
}
