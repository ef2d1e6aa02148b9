/**
 * A parameter server (`--sync ps` / `async-ps`): owns a shard of the parameters — the embedding rows whose id
 * hashes to it (ownerOf) and a contiguous slice of the dense weights — with their optimizer state, and applies
 * every update to them. Updates are applied per step, once all workers pushed that step, in worker order: the
 * per-ID merge sees global counts, and the maths is the allreduce strategy's (same merge, L2, CowClip, optimizer,
 * learning-rate schedule). A worker's pull for step t is answered once step t - 1 - staleness is applied: with
 * staleness 0 every worker computes on the latest parameters (synchronous), with S > 0 it may run S steps ahead
 * of the slowest worker on parameters up to S steps old (stale synchronous parallel).
 *
 * The server builds the full replica from the seed (as every worker does) and never reads or serves the rows it
 * does not own: simple and identical to the workers' initial values, at the cost of a full table per server.
 */
import { Router } from 'zeromq';
import type { TrainConfig } from '../config/train-config.js';
import { configFingerprint } from '../config/train-config.js';
import { stalenessOf } from '../config/strategies.js';
import { decodeSparse, type SparseGrad } from '../sparse/merge.js';
import { createOptimizer, type Optimizer } from '../optim/optimizer.js';
import { denseLrAt } from '../optim/schedule.js';
import { shardRange } from '../util/shard.js';
import { buildReplica, type Replica, type ReplicaShape } from '../replica/replica.js';
import { bindTcp, resolveIPv4 } from '../../topology/address.js';
import { curveKeysFromToken, curveServer, type CurveKeys } from '../wire/curve.js';
import { UserError } from '../util/errors.js';
import { packageVersion } from '../util/version.js';
import { decodeRequest, encodeHeader, serverPort, type Reply, type Request } from './protocol.js';
import { applyRows } from './shard.js';
import { ownedRows, ownerOf, packRows } from '../sparse/owners.js';
import { f32, frameOf, i32 } from '../wire/frame.js';

export interface ServerOptions {
  index: number;
  servers: number;
  workers: number;
  host: string;
  port: number;
  token: string;
  staleness: number;
  cfg: TrainConfig;
  log: (line: string) => void;
  /** --secure: CURVE keys of the job. */
  curve?: CurveKeys | null;
}

interface Shard {
  rep: Replica;
  shape: ReplicaShape;
  /** Dense weights [lo, hi) and their optimizer. */
  lo: number;
  hi: number;
  denseOpt: Optimizer;
  /** Embedding rows this server owns, ascending. */
  owned: Int32Array;
}

interface Step {
  dense: (Float32Array | null)[];
  sparse: (SparseGrad | null)[];
  arrived: number;
}

class ProtocolError extends Error {}

export class ParamServer {
  private shard: Shard | null = null;
  private readonly fingerprint: string;
  /** ZeroMQ identity (hex) of each welcomed worker, and back. */
  private readonly workerOf = new Map<string, number>();
  private readonly identities: (Buffer | null)[];
  private readonly lastPush: number[];
  private readonly steps = new Map<number, Step>();
  private applied = 0;
  /** Pulls and fetches waiting for `applied` to reach `step`. */
  private waiting: { step: number; answer: () => void }[] = [];
  private byes = 0;
  /** zeromq allows one pending send per socket. */
  private sending: Promise<unknown> = Promise.resolve();

  private constructor(
    private readonly router: Router,
    private readonly opts: ServerOptions,
  ) {
    this.fingerprint = configFingerprint(opts.cfg);
    this.identities = new Array(opts.workers).fill(null);
    this.lastPush = new Array(opts.workers).fill(0);
  }

  static async start(opts: ServerOptions): Promise<ParamServer> {
    const router = new Router({ linger: 1000, ...curveServer(opts.curve ?? null) });
    await bindTcp(router, opts.host, opts.port, `parameter server ${opts.index}`);
    return new ParamServer(router, opts);
  }

  /** Serves until every worker said bye; throws (after telling the workers) if a worker breaks the protocol. */
  async run(): Promise<void> {
    try {
      for await (const [identity, header, ...frames] of this.router) {
        const key = identity.toString('hex');
        const worker = this.workerOf.get(key);
        let req: Request;
        try {
          req = decodeRequest(header);
        } catch (err) {
          if (worker === undefined) {
            this.opts.log(`ignored a message from an unknown peer: ${(err as Error).message}`);
            continue;
          }
          throw new ProtocolError(`worker ${worker}: ${(err as Error).message}`);
        }
        if (req.t === 'hello') {
          this.hello(identity, req);
          continue;
        }
        if (worker === undefined) {
          this.opts.log(`ignored '${req.t}' from a peer that has not said hello`);
          continue;
        }
        this.handle(worker, req, frames);
        if (this.byes === this.opts.workers) break;
      }
    } catch (err) {
      const reason = `parameter server ${this.opts.index}: ${(err as Error).message}`;
      for (const id of this.identities) if (id) this.send(id, { t: 'error', reason });
      await this.sending;
      throw new Error(reason);
    } finally {
      await this.sending;
      this.router.close();
    }
  }

  private hello(identity: Buffer, req: Extract<Request, { t: 'hello' }>): void {
    const refuse = (reason: string): void => {
      this.opts.log(`refused worker ${req.worker}: ${reason}`);
      this.send(identity, { t: 'refused', reason: `parameter server ${this.opts.index} refused worker ${req.worker}: ${reason}` });
    };
    if (req.token !== this.opts.token) return refuse('wrong job token (another job?)');
    if (req.version !== packageVersion()) return refuse(`version ${req.version}, the server runs ${packageVersion()}`);
    if (req.fingerprint !== this.fingerprint) return refuse(`its training flags ${req.fingerprint} differ from the server's ${this.fingerprint}`);
    if (req.workers !== this.opts.workers || req.worker >= req.workers) return refuse(`worker ${req.worker} of ${req.workers}, the server expects ${this.opts.workers} workers`);
    if (this.identities[req.worker]) return refuse('that worker is already connected');
    const shape = JSON.stringify(req.shape);
    if (this.shard && shape !== JSON.stringify(this.shard.shape)) return refuse(`data shape ${shape} differs from ${JSON.stringify(this.shard.shape)}`);
    this.shard ??= this.build(req.shape);
    this.identities[req.worker] = identity;
    this.workerOf.set(identity.toString('hex'), req.worker);
    this.send(identity, { t: 'welcome' });
  }

  private build(shape: ReplicaShape): Shard {
    const { index, servers, cfg } = this.opts;
    const rep = buildReplica(cfg, shape);
    const [lo, hi] = shardRange(rep.dense.length, index, servers);
    const owned = ownedRows(shape.totalRows, servers)[index];
    this.opts.log(
      `parameter server ${index + 1}/${servers}: ${owned.length.toLocaleString('en')} of ${shape.totalRows.toLocaleString('en')} embedding rows, ` +
        `dense weights [${lo}, ${hi}) of ${rep.dense.length}, staleness ${this.opts.staleness}`,
    );
    return { rep, shape, lo, hi, denseOpt: createOptimizer(cfg.optimizer, hi - lo), owned };
  }

  private handle(worker: number, req: Exclude<Request, { t: 'hello' }>, frames: Buffer[]): void {
    const shard = this.shard!;
    const reply = this.identities[worker]!;
    switch (req.t) {
      case 'push': {
        if (req.step !== this.lastPush[worker] + 1) throw new ProtocolError(`worker ${worker} pushed step ${req.step} after step ${this.lastPush[worker]}`);
        if (frames.length !== 2) throw new ProtocolError(`worker ${worker}: push of ${frames.length} frames, expected 2`);
        const dense = f32(frames[0]);
        if (dense.length !== shard.hi - shard.lo) throw new ProtocolError(`worker ${worker}: dense shard of ${dense.length} values, expected ${shard.hi - shard.lo}`);
        const sparse = decodeSparse(frames[1]);
        if (sparse.dim !== this.opts.cfg.embedDim + 1) throw new ProtocolError(`worker ${worker}: rows of dim ${sparse.dim}, expected ${this.opts.cfg.embedDim + 1}`);
        this.checkOwned(worker, sparse.ids);
        this.lastPush[worker] = req.step;
        let step = this.steps.get(req.step);
        if (!step) this.steps.set(req.step, (step = { dense: new Array(this.opts.workers).fill(null), sparse: new Array(this.opts.workers).fill(null), arrived: 0 }));
        step.dense[worker] = dense;
        step.sparse[worker] = sparse;
        step.arrived++;
        this.applyReady();
        break;
      }
      case 'pull': {
        if (frames.length !== 1) throw new ProtocolError(`worker ${worker}: pull of ${frames.length} frames, expected 1`);
        const ids = i32(frames[0]);
        this.checkOwned(worker, ids);
        this.when(req.step - 1 - this.opts.staleness, () => this.send(reply, { t: 'params', applied: this.applied, ...shard.rep.embed.applied }, this.denseShard(), this.rowsOf(ids)));
        break;
      }
      case 'fetch':
        this.when(req.step, () =>
          this.send(reply, { t: 'all', applied: this.applied, ...shard.rep.embed.applied }, this.denseShard(), this.denseState(), frameOf(shard.owned), this.rowsOf(shard.owned), this.rowState(shard.owned)),
        );
        break;
      case 'bye':
        this.byes++;
        break;
    }
  }

  private checkOwned(worker: number, ids: Int32Array): void {
    const { index, servers } = this.opts;
    const rows = this.shard!.shape.totalRows;
    for (const id of ids) {
      if (id < 0 || id >= rows || ownerOf(id, servers) !== index) throw new ProtocolError(`worker ${worker} sent row ${id}, which server ${index} does not own`);
    }
  }

  /** Runs `answer` once step `step` is applied (at once if it is). */
  private when(step: number, answer: () => void): void {
    if (this.applied >= step) answer();
    else this.waiting.push({ step, answer });
  }

  /** Applies every complete step in order, then answers the requests that were waiting for them. */
  private applyReady(): void {
    for (;;) {
      const next = this.steps.get(this.applied + 1);
      if (!next || next.arrived < this.opts.workers) break;
      this.steps.delete(this.applied + 1);
      this.apply(this.applied + 1, next);
    }
    const ready = this.waiting.filter((w) => w.step <= this.applied);
    this.waiting = this.waiting.filter((w) => w.step > this.applied);
    for (const w of ready) w.answer();
  }

  private apply(t: number, step: Step): void {
    const { rep, lo, hi, denseOpt } = this.shard!;
    // Summed in worker order into zeros, as the gradients' owner would: 0 + a + b ...
    const g = new Float32Array(hi - lo);
    for (const part of step.dense) for (let i = 0; i < g.length; i++) g[i] += part![i];
    denseOpt.updateDense(rep.dense.subarray(lo, hi), g, denseLrAt(rep.hyper, t - 1), t);
    applyRows(rep.embed, step.sparse as SparseGrad[], t);
    this.applied = t;
  }

  private denseShard(): Buffer {
    const { rep, lo, hi } = this.shard!;
    return frameOf(rep.dense.subarray(lo, hi));
  }

  /** The dense shard's optimizer state arrays, one after the other. */
  private denseState(): Buffer {
    return Buffer.concat(this.shard!.denseOpt.state.map((st) => frameOf(st.data)));
  }

  /** Rows as workers take them: d field values, then the first-order weight. */
  private rowsOf(ids: Int32Array): Buffer {
    const { rep } = this.shard!;
    return packRows(ids, [rep.field.weights], [rep.first.weights], this.opts.cfg.embedDim);
  }

  /** The rows' optimizer state: per row, each field-table state array's d values, then each first-order one. */
  private rowState(ids: Int32Array): Buffer {
    const { embed } = this.shard!.rep;
    const state = embed.stateRows();
    return packRows(ids, state.field, state.first, this.opts.cfg.embedDim);
  }

  private send(identity: Buffer, reply: Reply, ...frames: Buffer[]): void {
    const msg = [identity, encodeHeader(reply), ...frames];
    this.sending = this.sending.then(() => this.router.send(msg)).catch((err: Error) => this.opts.log(`send failed: ${err.message}`));
  }
}

/** A server process started by ddp-launch: DDP_ROLE=server, DDP_SERVER (index), DDP_SERVERS, WORLD_SIZE (workers). */
export async function serveFromEnv(cfg: TrainConfig, env: NodeJS.ProcessEnv, log: (line: string) => void): Promise<void> {
  const count = (name: string): number => {
    const v = Number(env[name]);
    if (env[name] === undefined || !Number.isInteger(v) || v < 0) throw new UserError(`parameter server: ${name}='${env[name] ?? ''}', expected a count`);
    return v;
  };
  const [index, servers, workers] = [count('DDP_SERVER'), count('DDP_SERVERS'), count('WORLD_SIZE')];
  const host = await resolveIPv4(env.MASTER_ADDR ?? '127.0.0.1', 'MASTER_ADDR');
  const port = serverPort(env, index, servers);
  const token = env.DDP_TOKEN ?? '';
  const curve = cfg.secure ? curveKeysFromToken(token) : null;
  const server = await ParamServer.start({ index, servers, workers, host, port, token, staleness: stalenessOf(cfg.sync, cfg.staleness), cfg, log, curve });
  await server.run();
}
