import { Dealer } from 'zeromq';
import type { Communicator } from '../comm/communicator.js';
import { curveClient, type CurveKeys } from '../wire/curve.js';
import { decodeReply, encodeHeader, type Reply, type Request } from '../ps/protocol.js';
import { splitByOwner, uniqueByOwner, unpackRows } from '../sparse/owners.js';
import { f32, frameOf, i32 } from '../wire/frame.js';
import { shardRange } from '../util/shard.js';
import type { Replica, ReplicaShape } from '../replica/replica.js';
import { UserError } from '../util/errors.js';
import { packageVersion } from '../util/version.js';
import { Meter } from './meter.js';
import { LocalMerge } from './parts.js';
import type { GlobalGrads, LocalGrads, SyncStrategy } from './types.js';

export interface PsOptions {
  name: string;
  /** tcp://host:port of each server, index = server. */
  endpoints: string[];
  token: string;
  fingerprint: string;
  shape: ReplicaShape;
  staleness: number;
  /** The workers meet (loss, drift check, evaluation) every K steps and after the last: 1 for ps. */
  meetEvery: number;
  /** How long a worker waits for a server's answer before failing. */
  timeoutMs: number;
  /** --secure: CURVE keys of the job. */
  curve: CurveKeys | null;
}

interface Link {
  dealer: Dealer;
  /** zeromq allows one pending send per socket: sends are chained in call order. */
  tail: Promise<unknown>;
  /** Dense weights [lo, hi) live on this server. */
  lo: number;
  hi: number;
}

/**
 * Parameter-server strategies (`ps`, and `async-ps` with a staleness bound): the workers' replicas are caches of
 * parameters that live on `--servers` processes (src/ps/server.ts). Per step a worker pulls the dense weights
 * and the rows its batch uses (prepare), computes, merges its rows per ID and pushes each server its rows and
 * its slice of the dense gradient (exchange); the server applies the update. Before a drift check or an
 * evaluation the worker fetches every parameter (refresh), so at those points all replicas are identical.
 */
export class PsSync implements SyncStrategy {
  readonly name: string;
  readonly meter: Meter;
  private readonly local: LocalMerge;
  private links: Link[] | null = null;
  /** Marks of ids already listed for the current pull (cleared after each). */
  private readonly seen: Uint8Array;

  constructor(
    private readonly comm: Communicator,
    private readonly dim: number,
    private readonly rep: Pick<Replica, 'dense' | 'denseOpt' | 'field' | 'first' | 'embed'>,
    private readonly opts: PsOptions,
  ) {
    this.meter = new Meter(comm);
    this.local = new LocalMerge(dim);
    this.name = opts.name;
    this.seen = new Uint8Array(rep.field.rows);
  }

  inSync(step: number, last: boolean): boolean {
    return this.opts.meetEvery === 1 || last || step % this.opts.meetEvery === 0;
  }

  async prepare(step: number, ids: Int32Array): Promise<void> {
    const links = await this.connect();
    const asked = uniqueByOwner(ids, links.length, this.seen);
    const replies = await this.meter.wait(Promise.all(links.map((l, s) => this.request(l, s, { t: 'pull', step }, 'params', 2, asked[s]))));
    this.stats = { rowsInBatch: 0, rowsClipped: 0 };
    const { field, first } = this.rep;
    replies.forEach(({ reply, frames: [dense, rows] }, s) => {
      this.rep.dense.set(f32(dense), links[s].lo);
      unpackRows(asked[s], f32(rows), [field.weights], [first.weights], this.dim);
      const p = reply as Extract<Reply, { t: 'params' }>;
      this.stats.rowsInBatch += p.rowsInBatch;
      this.stats.rowsClipped += p.rowsClipped;
    });
  }

  /** The clip figures of the last step the servers applied, as of the last pull. */
  private stats = { rowsInBatch: 0, rowsClipped: 0 };

  async exchange(local: LocalGrads): Promise<GlobalGrads> {
    const links = await this.connect();
    const mine = this.local.merge(local);
    const parts = splitByOwner(mine, links.length); // fresh payloads: sent as they are, no copy
    links.forEach((link, s) => {
      const dense = frameOf(local.dense.subarray(link.lo, link.hi));
      const sparse = Buffer.from(parts[s].buffer, parts[s].byteOffset, parts[s].byteLength);
      this.meter.bytes.dense += dense.length;
      this.meter.bytes.sparse += sparse.length;
      void this.send(link, [encodeHeader({ t: 'push', step: local.step }), dense, sparse]);
    });
    return { dense: null, embed: null, localUnique: mine.ids.length, applied: this.stats };
  }

  async refresh(step: number): Promise<void> {
    const links = await this.connect();
    const replies = await this.meter.wait(Promise.all(links.map((l, s) => this.request(l, s, { t: 'fetch', step }, 'all', 5))));
    const { dense, denseOpt, field, first, embed } = this.rep;
    replies.forEach(({ frames }, s) => {
      const { lo, hi } = links[s];
      dense.set(f32(frames[0]), lo);
      const state = f32(frames[1]);
      if (state.length !== denseOpt.state.length * (hi - lo)) throw new Error(`parameter server ${s} sent ${state.length} dense optimizer values, expected ${denseOpt.state.length * (hi - lo)}`);
      denseOpt.state.forEach((st, i) => st.data.set(state.subarray(i * (hi - lo), (i + 1) * (hi - lo)), lo));
      const ids = i32(frames[2]);
      unpackRows(ids, f32(frames[3]), [field.weights], [first.weights], this.dim);
      const rowState = (opt: typeof embed.fieldOpt) => opt.state.map((st) => st.data);
      unpackRows(ids, f32(frames[4]), rowState(embed.fieldOpt), rowState(embed.firstOpt), this.dim);
    });
  }

  async close(): Promise<void> {
    if (!this.links) return;
    for (const l of this.links) await this.send(l, [encodeHeader({ t: 'bye' })]);
    for (const l of this.links) l.dealer.close();
    this.links = null;
  }

  /** zeromq copies nothing: every frame here owns its bytes (frameOf, encodeSparse). */
  private send(link: Link, frames: Buffer[]): Promise<void> {
    this.meter.direct.sent += frames.reduce((n, f) => n + f.length, 0);
    const sent = link.tail.then(() => link.dealer.send(frames));
    link.tail = sent.catch(() => undefined);
    return sent;
  }

    /** Connects once: a hello to every server, each answered by welcome (or a refusal naming why). */
  private connect(): Promise<Link[]> {
    if (this.links) return Promise.resolve(this.links);
    const { endpoints, shape, token, fingerprint } = this.opts;
    const links = endpoints.map((endpoint, s) => {
      const dealer = new Dealer({ linger: 1000, ...curveClient(this.opts.curve) });
      dealer.connect(endpoint);
      const [lo, hi] = shardRange(this.rep.dense.length, s, endpoints.length);
      return { dealer, tail: Promise.resolve(), lo, hi };
    });
    const hello: Request = { t: 'hello', worker: this.comm.rank, workers: this.comm.size, token, fingerprint, version: packageVersion(), shape };
    return Promise.all(links.map((l, s) => this.request(l, s, hello, 'welcome', 0))).then(() => (this.links = links));
  }

  /** One request and its answer (a worker has at most one request outstanding per server). */
  private async request(link: Link, server: number, req: Request, expect: Reply['t'], nframes: number, ids?: Int32Array): Promise<{ reply: Reply; frames: Buffer[] }> {
    if (ids) this.meter.bytes.sparse += ids.byteLength;
    await this.send(link, [encodeHeader(req), ...(ids ? [frameOf(ids)] : [])]);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`parameter server ${server} (${this.opts.endpoints[server]}) did not answer '${req.t}' within ${this.opts.timeoutMs} ms`)), this.opts.timeoutMs);
    });
    try {
      const [header, ...rest] = await Promise.race([link.dealer.receive(), timeout]);
      this.meter.direct.received += header.length + rest.reduce((n, f) => n + f.length, 0);
      const reply = decodeReply(header);
      if (reply.t === 'refused') throw new UserError(reply.reason);
      if (reply.t === 'error') throw new Error(reply.reason);
      if (reply.t !== expect || rest.length !== nframes) throw new Error(`parameter server ${server} answered '${reply.t}' with ${rest.length} frames to '${req.t}'`);
      return { reply, frames: rest };
    } finally {
      clearTimeout(timer);
    }
  }
}
