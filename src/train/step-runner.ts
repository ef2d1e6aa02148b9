/**
 * One training step on this rank, as named phases: load the batch (and let the strategy make its rows current),
 * compute the gradients, screen them for non-finite values, exchange them through the sync strategy (with the
 * global loss where the ranks meet), apply the update, and the strategy's after-step work. The runner times every
 * phase: time in the strategy's collectives is charged to `comm` (its meter's waiting), the rest of the
 * strategy's work to `merge`.
 */
import type { Communicator } from '../comm/communicator.js';
import type { TrainConfig } from '../config/train-config.js';
import type { LoadedData, TrainFeed } from '../data/types.js';
import { fillRows, gatherBatch, type HostBatch } from '../model/batch.js';
import { GradientComputer, type StepOutput } from '../model/step.js';
import { denseLrAt } from '../optim/schedule.js';
import type { Replica } from '../replica/replica.js';
import { createSync } from '../sync/registry.js';
import type { EmbedGrads, GlobalGrads, SyncStrategy } from '../sync/types.js';
import type { Logger } from '../util/log.js';
import { shardRange } from '../util/shard.js';
import * as tf from '@tensorflow/tfjs';
import { traitsOf } from '../config/strategies.js';
import { GpuEmbeddings, type TransferCounter } from '../gpu/embeddings.js';
import type { SparseGrad } from '../sparse/merge.js';
import { UserError } from '../util/errors.js';
import { BatchPlan } from './batches.js';
import { Meeting, type Met } from './meeting.js';
import { firstNonFinite, injectedNaN, NonFiniteError } from './numerics.js';
import { shapeOf } from '../replica/replica.js';

/** Milliseconds over the run: batch fill + lookup, tfjs, per-ID merging, collectives (waiting included), optimizer. */
export interface PhaseTimes {
  data: number;
  compute: number;
  merge: number;
  comm: number;
  update: number;
}

export interface StepOutcome {
  /** Whether the ranks met after this step with identical replicas. */
  inSync: boolean;
  /** What the ranks summed where they met (the loss and update figures since they last met); null where they did not meet. */
  met: Met | null;
}

export class StepRunner {
  readonly time: PhaseTimes = { data: 0, compute: 0, merge: 0, comm: 0, update: 0 };
  /** Distinct embedding IDs summed over the steps: in this rank's shard, and in the global batch. */
  readonly unique = { local: 0, global: 0 };
  /** Steps skipped for non-finite values (--skip-nonfinite). */
  skippedSteps = 0;
  /** Steps this process ran. */
  stepsRun = 0;
  readonly sync: SyncStrategy;
  readonly grads: GradientComputer;
  readonly plan: BatchPlan;
  private readonly batch: HostBatch;
  private readonly feed: TrainFeed | undefined;
  private readonly fields: number;
  /** What a rank whose slice of a short last batch is empty contributes: zero gradients, in every collective. */
  private readonly empty: StepOutput;
  private readonly badRanks: Float32Array;
  private readonly inject: ReturnType<typeof injectedNaN>;
  private readonly meeting: Meeting;
  /** --embed-device gpu: the tables, their lookup, local merge and update on the GPU; null: on the host. */
  private readonly gpu: GpuEmbeddings | null;
  /** This rank's loss sum and rows since the ranks last met (every step, except under local SGD). */
  private pendingLoss = 0;
  private pendingRows = 0;
  private refreshed = 0;

  constructor(
    private readonly cfg: TrainConfig,
    private readonly data: LoadedData,
    private readonly comm: Communicator,
    private readonly rep: Replica,
    private readonly log: Logger,
    /** The steps this run takes: (start, total]. */
    private readonly total: number,
    start: number,
  ) {
    const { rank, size } = comm;
    this.fields = data.train.numCategorical;
    this.plan = new BatchPlan(data.train.rows, cfg.globalBatch, cfg.seed);
    this.grads = new GradientComputer(rep.model, Math.ceil(cfg.globalBatch / size));
    this.batch = this.grads.allocBatch();
    // --stream: this rank's rows come from the reader thread, step by step; else from the shuffled rows in memory.
    this.feed = data.stream?.trainFeed({ rank, size, globalBatch: cfg.globalBatch, seed: cfg.seed, startStep: start, totalSteps: total });
    this.sync = createSync(cfg, comm, rep, shapeOf(data));
    this.empty = { lossSum: 0, gradDense: new Float32Array(rep.model.numDense), gradRows: new Float32Array(0) };
    this.badRanks = new Float32Array(size);
    this.inject = injectedNaN(process.env);
    this.gpu = embeddingsOnGpu(cfg, rep, this.grads.stats, log, comm.rank);
    this.meeting = new Meeting(comm, this.sync, this.gpu ?? rep.embed);
  }

  /** Rows a rank's batch holds at most: its share of the global batch, rounded up. */
  get localCap(): number {
    return Math.ceil(this.cfg.globalBatch / this.comm.size);
  }

  /** Waits for the first streamed window (read before the clock starts, as in-memory rows are loaded before it). */
  async ready(): Promise<void> {
    await this.feed?.ready();
  }

  async run(step: number): Promise<StepOutcome> {
    const globalRows = await this.load(step);
    const out = await this.compute(globalRows);
    const skip = await this.screen(out, step);
    const last = step + 1 === this.total;
    const inSync = this.sync.inSync ? this.sync.inSync(step + 1, last) : true;
    const global = await this.exchange(step, out, skip);
    await this.apply(step, global);
    const met = inSync ? await this.meet() : null;
    await this.synced(async () => {
      if (this.sync.afterStep) await this.sync.afterStep(step + 1, last);
    });
    this.stepsRun++;
    return { inSync, met };
  }

  /**
   * Where the ranks meet, after the update: the loss since they last met, and the update figures. The global
   * distinct ids are counted from the figures: the same on every rank, whoever applied the rows.
   */
  private async meet(): Promise<Met> {
    const t = performance.now();
    const met = await this.meeting.meet(this.pendingLoss, this.pendingRows);
    this.pendingLoss = this.pendingRows = 0;
    this.unique.global += met.counts.rows;
    this.time.comm += performance.now() - t;
    return met;
  }

  /** Fills the batch with this rank's rows of `step` and looks up their embeddings; returns the global batch's rows. */
  private async load(step: number): Promise<number> {
    const { batch, rep } = this;
    let t = performance.now();
    const globalRows = await this.nextBatch(step);
    if (this.sync.prepare) {
      this.time.data += performance.now() - t;
      await this.synced(() => this.sync.prepare!(step + 1, batch.ids.subarray(0, batch.size * this.fields)));
      t = performance.now();
    }
    if (!this.gpu) gatherBatch(batch, rep.field, rep.first);
    this.time.data += performance.now() - t;
    return globalRows;
  }

  private async nextBatch(step: number): Promise<number> {
    const { batch, comm } = this;
    if (this.feed) {
      const s = await this.feed.next();
      if (s.step !== step) throw new Error(`stream feed: rows of step ${s.step + 1} where step ${step + 1} was due`);
      fillRows(batch, s.data, 0, s.data.rows);
      return s.globalRows;
    }
    const rows = this.plan.globalRows(step);
    const [from, to] = shardRange(rows.length, comm.rank, comm.size);
    fillRows(batch, this.data.train, from, to - from, rows);
    return rows.length;
  }

  private async compute(globalRows: number): Promise<Computed> {
    const t = performance.now();
    if (this.batch.size === 0) {
      this.empty.gradDense.fill(0);
      return this.gpu ? { ...this.empty, merged: NO_ROWS(this.rep.field.dim) } : this.empty;
    }
    if (this.gpu) return this.computeOnGpu(globalRows, this.gpu);
    const out = await this.grads.compute(this.rep.dense, this.batch, globalRows);
    this.time.compute += performance.now() - t;
    return out;
  }

  /** The step with the tables on the GPU: lookup, forward and backward there, and this rank's rows merged there (charged to merge). */
  private async computeOnGpu(globalRows: number, gpu: GpuEmbeddings): Promise<Computed> {
    const { batch } = this;
    let t = performance.now();
    const inputs = gpu.lookup(batch.ids.subarray(0, batch.size * this.fields), batch.size, this.fields);
    try {
      const out = await this.grads.computeOnDevice(this.rep.dense, batch, globalRows, inputs);
      this.time.compute += performance.now() - t;
      t = performance.now();
      try {
        const merged = await gpu.mergeLocal(inputs.ids, out.gradRows);
        return { lossSum: out.lossSum, gradDense: out.gradDense, gradRows: NO_VALUES, merged };
      } finally {
        out.gradRows.dispose();
      }
    } finally {
      tf.dispose([inputs.ids, inputs.emb, inputs.linear]);
      this.time.merge += performance.now() - t;
    }
  }

  /** The non-finite policy: stop, or (--skip-nonfinite) skip the step on every rank. Returns whether to skip. */
  private async screen(out: Computed, step: number): Promise<boolean> {
    const { rank } = this.comm;
    if (this.inject?.step === step + 1 && this.inject.rank === rank) out.gradDense[0] = NaN;
    const bad = Number.isFinite(out.lossSum)
      ? firstNonFinite([
          ['gradient of the dense weights', out.gradDense],
          ['gradient of the embedding rows', out.merged?.rows ?? out.gradRows],
        ])
      : `${out.lossSum} as the training loss`;
    let skip = false;
    if (this.cfg.skipNonfinite) {
      // Every rank learns who had non-finite values, so all skip the same steps and issue the same collectives.
      const { badRanks } = this;
      badRanks.fill(0);
      if (bad) badRanks[rank] = 1;
      await this.comm.allreduce(badRanks, 'sum');
      skip = badRanks.some((x) => x > 0);
      if (bad) this.log.warn(`rank ${rank}: step ${step + 1}: ${bad}`);
      if (skip && rank === 0) this.log.warn(`step ${step + 1} skipped: non-finite values on rank(s) ${[...badRanks.keys()].filter((r) => badRanks[r] > 0).join(', ')} (--skip-nonfinite)`);
      if (skip) this.skippedSteps++;
    } else if (bad) {
      throw new NonFiniteError(`step ${step + 1}: ${bad} on rank ${rank}; stopping. Lower --lr / --lr-embed, check the input data, or pass --skip-nonfinite to skip such steps`);
    }
    if (!skip) {
      this.pendingLoss += out.lossSum;
      this.pendingRows += this.batch.size;
    }
    return skip;
  }

  private async exchange(step: number, out: Computed, skip: boolean): Promise<GlobalGrads | null> {
    if (skip) return null;
    const ids = this.batch.ids.subarray(0, this.batch.size * this.fields);
    const global = await this.synced(() => this.sync.exchange({ step: step + 1, dense: out.gradDense, ids, rows: out.gradRows, merged: out.merged }));
    this.unique.local += global.localUnique;
    return global;
  }

  private async apply(step: number, global: GlobalGrads | null): Promise<void> {
    const { rep } = this;
    const t = performance.now();
    rep.step = step + 1;
    if (global?.dense) rep.denseOpt.updateDense(rep.dense, global.dense, denseLrAt(rep.hyper, step), rep.step);
    if (global?.embed) await this.applyEmbed(global.embed);
    this.time.update += performance.now() - t;
  }

  /** One embedding update, where the tables are: the gradients' own step is the embedding optimizer's step t. */
  private async applyEmbed(g: EmbedGrads): Promise<void> {
    if (this.gpu) await this.gpu.apply(g.field, g.linear, g.step);
    else this.rep.embed.update(g.field, g.linear, g.step);
  }

  /**
   * Brings the whole host replica up to date where a strategy keeps it elsewhere (parameter servers, owners)
   * or the tables live on the GPU: once per step.
   */
  async refresh(step: number): Promise<void> {
    if (this.refreshed === step) return;
    if (this.sync.refresh) await this.synced(() => this.sync.refresh!(step));
    await this.gpu?.toHost();
    this.refreshed = step;
  }

  /** After the last step: stops the reader, then applies the updates still owed (hybrid's last embedding gradients). */
  async finish(): Promise<{ owed: boolean }> {
    await this.feed?.close();
    const owed = this.sync.drain ? await this.sync.drain() : null;
    if (owed) await this.applyEmbed(owed);
    return { owed: owed !== null };
  }

  /** After training: releases the strategy's connections and the GPU tables. */
  async close(): Promise<void> {
    await this.sync.close?.();
    this.gpu?.dispose();
  }

  /**
   * The last meeting, after finish() and the final refresh(): the update figures of what was applied after the
   * last step's meeting (hybrid's drained update, the owners' last step), so every update is counted once.
   */
  settle(): Promise<Met> {
    return this.meet();
  }

  /** Runs strategy work, charging its collectives' waiting to comm and the rest to merge. */
  private async synced<T>(work: () => Promise<T>): Promise<T> {
    const t = performance.now();
    const waited = this.sync.meter.seconds;
    const result = await work();
    const inComm = (this.sync.meter.seconds - waited) * 1000;
    this.time.comm += inComm;
    this.time.merge += performance.now() - t - inComm;
    return result;
  }
}

/** A step's gradients as the runner holds them: with the tables on the GPU, this rank's rows come merged. */
type Computed = StepOutput & { merged?: SparseGrad };

const NO_VALUES = new Float32Array(0);
const NO_ROWS = (d: number): SparseGrad => ({ dim: d + 1, ids: new Int32Array(0), counts: new Float32Array(0), rows: new Float32Array(0) });

/**
 * --embed-device: the tables on the GPU (gpu, or auto on the webgpu backend with a strategy that allows it), or
 * null for the host. Under auto, tables too large for a GPU buffer stay on the host, said once by rank 0.
 */
function embeddingsOnGpu(cfg: TrainConfig, rep: Replica, transfer: TransferCounter, log: Logger, rank: number): GpuEmbeddings | null {
  if (cfg.embedDevice === 'host') return null;
  const backend = tf.getBackend();
  if (cfg.embedDevice === 'gpu' && backend !== 'webgpu') throw new UserError(`--embed-device gpu needs the webgpu backend; this rank runs ${backend}`);
  if (backend !== 'webgpu' || traitsOf(cfg.sync).refuses?.gpuEmbeddings) return null;
  try {
    const gpu = new GpuEmbeddings(rep, transfer);
    if (rank === 0) log.info(`embedding tables on the GPU (--embed-device ${cfg.embedDevice}): lookup, per-ID merge, CowClip and optimizer there`);
    return gpu;
  } catch (err) {
    if (cfg.embedDevice === 'gpu') throw new UserError(`--embed-device gpu: ${(err as Error).message}`);
    if (rank === 0) log.warn(`embedding tables kept on the host: ${(err as Error).message}`);
    return null;
  }
}
