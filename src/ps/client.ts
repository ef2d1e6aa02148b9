/**
 * A worker's link to the parameter servers, as the Communicator is its link to the other ranks: requests and
 * their answers as typed arrays, the sockets and frames (ZeroMQ DEALERs, src/ps/protocol.ts) kept here, so the
 * `ps` strategy (src/sync/ps.ts) speaks of rows and weights only.
 */
import { Dealer } from 'zeromq';
import type { EmbedUpdateStats } from '../optim/embed-update.js';
import type { ReplicaShape } from '../replica/replica.js';
import { UserError } from '../util/errors.js';
import { packageVersion } from '../util/version.js';
import { shardRange } from '../util/shard.js';
import { curveClient, type CurveKeys } from '../wire/curve.js';
import { f32, frameOf, i32 } from '../wire/frame.js';
import { decodeReply, encodeHeader, type Reply, type Request } from './protocol.js';

export interface ServerLinkOptions {
  /** tcp://host:port of each server, index = server. */
  endpoints: string[];
  worker: number;
  workers: number;
  token: string;
  fingerprint: string;
  shape: ReplicaShape;
  /** The dense weights, split over the servers in contiguous slices. */
  denseLength: number;
  /** How long a worker waits for a server's answer before failing. */
  timeoutMs: number;
  /** --secure: CURVE keys of the job. */
  curve: CurveKeys | null;
  /** Where the bytes this worker moves to and from the servers (frames included) are added up. */
  traffic: { sent: number; received: number };
}

/** One server's answer to a pull: its slice of the dense weights, the asked rows, and its embedding-update figures so far. */
export interface Pulled {
  dense: Float32Array;
  rows: Float32Array;
  applied: EmbedUpdateStats;
}

/** One server's whole state: dense slice and its optimizer state (state-major), owned ids, their rows and row state, and its figures as in Pulled. */
export interface Fetched {
  applied: EmbedUpdateStats;
  dense: Float32Array;
  denseState: Float32Array;
  ids: Int32Array;
  rows: Float32Array;
  rowState: Float32Array;
}

export interface ServerClient {
  /** The dense weights [lo, hi) each server holds. */
  readonly slices: readonly (readonly [number, number])[];
  /** The dense weights and, from each server, the rows `asked[s]`, current for `step`. */
  pull(step: number, asked: Int32Array[]): Promise<Pulled[]>;
  /** Step `step`'s gradients: each server its dense slice and its rows (an encodeSparse payload, sent without a copy). No answer. */
  push(step: number, dense: Float32Array, rows: Uint8Array[]): void;
  /** Every parameter and its optimizer state, once the servers applied `step`. */
  fetch(step: number): Promise<Fetched[]>;
  close(): Promise<void>;
}

interface Link {
  dealer: Dealer;
  /** zeromq allows one pending send per socket: sends are chained in call order. */
  tail: Promise<unknown>;
}

/** Connects to every server: a hello each, answered by welcome (or a refusal naming why). */
export async function connectServers(opts: ServerLinkOptions): Promise<ServerClient> {
  const client = new ZmqServerClient(opts);
  await client.hello();
  return client;
}

class ZmqServerClient implements ServerClient {
  readonly slices: [number, number][];
  private readonly links: Link[];

  constructor(private readonly opts: ServerLinkOptions) {
    const k = opts.endpoints.length;
    this.slices = opts.endpoints.map((_, s) => shardRange(opts.denseLength, s, k));
    this.links = opts.endpoints.map((endpoint) => {
      const dealer = new Dealer({ linger: 1000, ...curveClient(opts.curve) });
      dealer.connect(endpoint);
      return { dealer, tail: Promise.resolve() };
    });
  }

  async hello(): Promise<void> {
    const { worker, workers, token, fingerprint, shape } = this.opts;
    const hello: Request = { t: 'hello', worker, workers, token, fingerprint, version: packageVersion(), shape };
    await Promise.all(this.links.map((_, s) => this.request(s, hello, 'welcome', 0)));
  }

  async pull(step: number, asked: Int32Array[]): Promise<Pulled[]> {
    const replies = await Promise.all(this.links.map((_, s) => this.request(s, { t: 'pull', step }, 'params', 2, asked[s])));
    return replies.map(({ reply, frames: [dense, rows] }) => {
      const p = reply as Extract<Reply, { t: 'params' }>;
      return { dense: f32(dense), rows: f32(rows), applied: appliedOf(p) };
    });
  }

  push(step: number, dense: Float32Array, rows: Uint8Array[]): void {
    this.links.forEach((_, s) => {
      const [lo, hi] = this.slices[s];
      void this.send(s, [encodeHeader({ t: 'push', step }), frameOf(dense.subarray(lo, hi)), Buffer.from(rows[s].buffer, rows[s].byteOffset, rows[s].byteLength)]);
    });
  }

  async fetch(step: number): Promise<Fetched[]> {
    const replies = await Promise.all(this.links.map((_, s) => this.request(s, { t: 'fetch', step }, 'all', 5)));
    return replies.map(({ reply, frames }) => ({
      applied: appliedOf(reply as Extract<Reply, { t: 'all' }>),
      dense: f32(frames[0]),
      denseState: f32(frames[1]),
      ids: i32(frames[2]),
      rows: f32(frames[3]),
      rowState: f32(frames[4]),
    }));
  }

  async close(): Promise<void> {
    for (let s = 0; s < this.links.length; s++) await this.send(s, [encodeHeader({ t: 'bye' })]);
    for (const l of this.links) l.dealer.close();
  }

  /** zeromq copies nothing: every frame here owns its bytes (frameOf, encodeSparse). */
  private send(server: number, frames: Buffer[]): Promise<void> {
    const link = this.links[server];
    this.opts.traffic.sent += frames.reduce((n, f) => n + f.length, 0);
    const sent = link.tail.then(() => link.dealer.send(frames));
    link.tail = sent.catch(() => undefined);
    return sent;
  }

  /** One request and its answer (a worker has at most one request outstanding per server). */
  private async request(server: number, req: Request, expect: Reply['t'], nframes: number, ids?: Int32Array): Promise<{ reply: Reply; frames: Buffer[] }> {
    const { timeoutMs, endpoints } = this.opts;
    await this.send(server, [encodeHeader(req), ...(ids ? [frameOf(ids)] : [])]);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`parameter server ${server} (${endpoints[server]}) did not answer '${req.t}' within ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      const [header, ...rest] = await Promise.race([this.links[server].dealer.receive(), timeout]);
      this.opts.traffic.received += header.length + rest.reduce((n, f) => n + f.length, 0);
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

const appliedOf = (r: EmbedUpdateStats): EmbedUpdateStats => ({ rowsInBatch: r.rowsInBatch, rowsClipped: r.rowsClipped, buckets: [...r.buckets] });
