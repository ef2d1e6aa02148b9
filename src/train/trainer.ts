/**
 * The training loop: a short loop over named parts. StepRunner runs one step's phases (load, compute, screen,
 * exchange, apply) and times them; Periodic says when evaluations, drift checks, checkpoints and metrics
 * records fall due and may run; Evaluations keeps the history, the best model and --early-stop's patience.
 */
import { createHash } from 'node:crypto';
import type { Communicator } from '../comm/communicator.js';
import { meetEvery } from '../config/strategies.js';
import type { TrainConfig } from '../config/train-config.js';
import type { LoadedData } from '../data/types.js';
import type { TransferStats } from '../model/step.js';
import { describeTransfer } from '../model/step.js';
import { denseLrAt } from '../optim/schedule.js';
import { buildReplica, scalingNote, shapeOf, type Replica } from '../replica/replica.js';
import { UserError } from '../util/errors.js';
import type { Logger } from '../util/log.js';
import { loadWeights, resumeFrom, saveCheckpoint } from './checkpoint.js';
import { checkReplicas } from './drift.js';
import type { BestEval, EvalResult } from './evaluate.js';
import { Evaluations, type EvalPoint } from './evaluations.js';
import { ClipWindow, type ClipByBucket, type Met } from './meeting.js';
import { StepRecorder, type MetricsLog } from './metrics.js';
import { Periodic } from './periodic.js';
import { Progress } from './progress.js';
import { StepRunner } from './step-runner.js';

export interface TrainResult {
  replica: Replica;
  /** The step training ended at: the planned total, or the step --early-stop stopped at. */
  steps: number;
  /** The step the run was planned to end at (--steps, or --epochs). */
  plannedSteps: number;
  /** Whether --early-stop ended training before plannedSteps. */
  stoppedEarly: boolean;
  epochs: number;
  wallSeconds: number;
  trainSeconds: number;
  samplesPerSec: number;
  train: { logloss: number; lastLogloss: number };
  eval: EvalResult;
  /** Evaluations during and at the end of training; seconds = training time so far (evaluations excluded). */
  history: EvalPoint[];
  /** The best of `history` by --early-stop-metric (the model --save-best holds). */
  best: BestEval;
  /**
   * CowClip's share of rows scaled down: over every embedding update of the run (clipped rows / rows it looked
   * at), over the updates summed at the last meeting that had any (for most strategies, the last step's), and
   * over the run by the ID's count in the global batch (tail 1, torso 2-31, head 32+).
   */
  clipFraction: { mean: number; last: number; byBucket: ClipByBucket };
  /** Seconds over the run: batch fill + lookup, tfjs, per-ID merging, collectives (waiting included), optimizer. */
  time: { data: number; compute: number; merge: number; comm: number; update: number };
  /** Host <-> tensor backend traffic of the training steps (evaluation apart); its ms split `compute`. */
  transfer: TransferStats;
  /** This rank's traffic: whole run, and per training step split dense (all-reduce) / sparse (all-gather). */
  bytes: { sent: number; received: number; densePerStep: number; sparsePerStep: number };
  /** Steps skipped for non-finite values (--skip-nonfinite). */
  skippedSteps: number;
  /** When the training loop started, in ms since this process started (performance.now()). */
  firstStepAt: number;
  /** Mean distinct embedding IDs per step: in this rank's shard, and in the global batch. */
  uniqueIdsPerStep: { local: number; global: number };
}

/** Total optimizer steps of the run: --steps, else --epochs passes (rounded up to whole steps). */
export function plannedSteps(cfg: TrainConfig, trainRows: number): number {
  if (cfg.steps > 0) return cfg.steps;
  return Math.max(1, Math.ceil(cfg.epochs * Math.ceil(trainRows / cfg.globalBatch)));
}

/** Where a run's output goes: console lines, and rank 0's --metrics records. */
export interface TrainIO {
  log: Logger;
  metrics?: MetricsLog;
  /** The tensor backend's name, for the metrics' start record. */
  backend?: string;
}

export async function train(cfg: TrainConfig, data: LoadedData, comm: Communicator, io: TrainIO): Promise<TrainResult> {
  const t0 = performance.now();
  const rep = buildReplica(cfg, shapeOf(data));
  const total = plannedSteps(cfg, data.train.rows);
  const start = await startingPoint(cfg, data, rep, total, comm.rank, io.log);
  const steps = new StepRunner(cfg, data, comm, rep, io.log, total, start);
  if (comm.rank === 0) announce(cfg, data, rep, steps, comm.size, total, io.log);
  await steps.ready();
  const tTrain = performance.now();
  const metrics = comm.rank === 0 ? io.metrics : undefined;
  const evals = new Evaluations(cfg, data, comm, rep, steps, metrics, tTrain);
  const recorder = metrics && startMetrics(metrics, cfg, data, comm, steps, evals, io.backend, total, start);
  const periodic = new Periodic({ eval: cfg.evalEvery, check: cfg.checkEvery, save: cfg.saveEvery, metrics: cfg.metricsEvery });
  const progress = new Progress(total, cfg.logEvery, comm.rank === 0 ? io.log.info : () => {});
  const tally = new Tally();
  let stoppedAt: number | null = null;
  for (let step = start; step < total && stoppedAt === null; step++) {
    const done = step + 1;
    const { inSync, met } = await steps.run(step);
    tally.add(met);
    recorder?.add(met);
    const more = done < total;
    periodic.tick(done, !more);
    const evalNow = periodic.take('eval', inSync && more);
    if ((progress.due(done) && inSync) || evalNow) tally.progress(progress, done, steps, cfg.globalBatch, comm.rank === 0 ? io.log : null);
    if (periodic.take('check', inSync && more)) {
      await steps.refresh(done);
      await checkReplicas(rep, comm, done);
    }
    if (periodic.take('save', inSync && more && cfg.save !== undefined)) await saveAt(cfg, data, rep, steps, done, comm.rank, io.log);
    if (evalNow && (await periodicEval(cfg, evals, done, comm.rank, io.log))) stoppedAt = done;
    // The last record waits for the updates applied after the last step (settle, below).
    else if (periodic.take('metrics', inSync && more)) recorder?.record(done, denseLrAt(rep.hyper, step), rep.hyper.lrEmbed);
  }
  const end = stoppedAt ?? total;
  const { owed } = await steps.finish();
  // The final refresh (sharded, ps: gathering the owners' rows) is part of producing the model, and is
  // charged to comm: inside the training time, so the step split adds up.
  await steps.refresh(end);
  const settled = await steps.settle();
  tally.add(settled);
  recorder?.add(settled);
  recorder?.record(end, denseLrAt(rep.hyper, end - 1), rep.hyper.lrEmbed);
  const trainSeconds = (performance.now() - tTrain) / 1000 - evals.seconds;
  await checkReplicas(rep, comm, end);
  // Stopped early right after an evaluation of this very model (nothing owed, nothing to refresh): that is the final one.
  const ev = evals.last?.step === end && !owed ? evals.last.e : (await evals.run(end, false)).e;
  await steps.close();
  return result({ rep, steps, comm, evals, tally, ev, end, total, trainSeconds, t0, tTrain, globalBatch: cfg.globalBatch, trainRows: data.train.rows });
}

/** The step to start after: a --resume checkpoint's, else 0 (with --init-from's weights when given). */
async function startingPoint(cfg: TrainConfig, data: LoadedData, rep: Replica, total: number, rank: number, log: Logger): Promise<number> {
  const start = cfg.resume ? await resumeFrom(cfg.resume, rep, cfg, data) : 0;
  // A resumed fine-tune has its weights from --resume; a new one starts from the checkpoint's.
  if (cfg.initFrom && !cfg.resume) {
    const from = await loadWeights(cfg.initFrom, rep, data.fieldSizes, '--init-from');
    if (rank === 0) log.info(`starting from the weights of ${cfg.initFrom} (${from.model.name}, step ${from.step}) with a fresh optimizer`);
  }
  if (start >= total) throw new UserError(`--resume ${cfg.resume}: the checkpoint is at step ${start}, and this run has ${total} steps: nothing left to train (raise --steps or --epochs)`);
  if (start > 0 && rank === 0) log.info(`resuming from ${cfg.resume} at step ${start} of ${total}`);
  return start;
}

/** Rank 0's opening lines: what trains, how, and every value the scaling rule changed. */
function announce(cfg: TrainConfig, data: LoadedData, rep: Replica, steps: StepRunner, size: number, total: number, log: Logger): void {
  const { model, hyper } = rep;
  const meets = meetEvery(cfg.sync, cfg);
  log.info(
    `model ${model.name}: ${model.numDense.toLocaleString('en')} dense + ${(data.totalRows * (cfg.embedDim + 1)).toLocaleString('en')} embedding params; ` +
      `global batch ${cfg.globalBatch} over ${size} rank(s); ${total} steps (${steps.plan.stepsPerEpoch} per epoch); ` +
      `lr dense ${hyper.lrDense.toExponential(2)} (warmup ${hyper.warmupSteps}), lr embed ${hyper.lrEmbed.toExponential(2)}, ` +
      `L2 ${hyper.l2.toExponential(2)}, CowClip ${cfg.cowclip ? `on (${cfg.cowclipForm}, r=${cfg.cowclipRatio}, zeta=${cfg.cowclipZeta}${cfg.cowclipForm === 'auto' ? `, gamma=${cfg.cowclipGamma}` : ''})` : 'off'}, ` +
      `embedding update ${cfg.embedUpdate}, optimizer ${cfg.optimizer}, sync ${steps.sync.name}${meets > 1 ? ` (replicas meet ${meets < Infinity ? `every ${meets} steps` : 'only after the last step'})` : ''}`,
  );
  const scaling = scalingNote(cfg, shapeOf(data));
  if (scaling) log.info(scaling);
}

/** Rank 0's --metrics: the start record, and the recorder of step records. */
function startMetrics(metrics: MetricsLog, cfg: TrainConfig, data: LoadedData, comm: Communicator, steps: StepRunner, evals: Evaluations, backend: string | undefined, total: number, start: number): StepRecorder {
  const { sync, plan } = steps;
  metrics.write({ type: 'start', worldSize: comm.size, model: steps.grads.model.name, sync: sync.name, backend: backend ?? 'unknown', data: data.description, globalBatch: cfg.globalBatch, steps: total, stepsPerEpoch: plan.stepsPerEpoch, startStep: start });
  const counters = () => ({
    commMs: steps.time.comm,
    evalSeconds: evals.seconds,
    bytesSent: comm.stats.bytesSent + sync.meter.direct.sent,
    bytesReceived: comm.stats.bytesReceived + sync.meter.direct.received,
    denseBytes: sync.meter.bytes.dense,
    sparseBytes: sync.meter.bytes.sparse,
  });
  return new StepRecorder(metrics, counters, { startStep: start, stepsPerEpoch: plan.stepsPerEpoch });
}

/** --save-every: the whole replica (refreshed), written by rank 0. */
async function saveAt(cfg: TrainConfig, data: LoadedData, rep: Replica, steps: StepRunner, step: number, rank: number, log: Logger): Promise<void> {
  await steps.refresh(step);
  if (rank !== 0) return;
  const ts = performance.now();
  await saveCheckpoint(cfg.save!, rep, cfg, data);
  log.info(`checkpoint (step ${step}) written to ${cfg.save} in ${((performance.now() - ts) / 1000).toFixed(2)} s`);
}

/**
 * An --eval-every evaluation, with its line; returns whether --early-stop ends training here. Evaluations run
 * only where the ranks meet, so every rank stops at the same step, in sync.
 */
async function periodicEval(cfg: TrainConfig, evals: Evaluations, step: number, rank: number, log: Logger): Promise<boolean> {
  const { e, improved, stop } = await evals.run(step, true);
  const metricName = cfg.earlyStopMetric === 'auc' ? 'AUC' : 'logloss';
  if (rank === 0) {
    const note = improved && cfg.saveBest ? ` (best so far: saved to ${cfg.saveBest})` : !improved && cfg.earlyStop > 0 ? ` (no ${metricName} improvement for ${evals.sinceBest} of ${cfg.earlyStop})` : '';
    log.info(`eval at step ${step}: auc ${e.auc.toFixed(4)} logloss ${e.logloss.toFixed(4)}${note}`);
    const b = evals.best!;
    if (stop) log.info(`early stop at step ${step}: no eval ${metricName} improvement for ${cfg.earlyStop} evaluations (best ${b[b.metric].toFixed(4)} at step ${b.step})`);
  }
  return stop;
}

/** The global training loss and CowClip's figures, summed where the ranks met. */
class Tally {
  lossSum = 0;
  lossRows = 0;
  private windowLoss = 0;
  private windowRows = 0;
  /** Rows CowClip looked at and clipped: over the run, and since the last progress line. */
  readonly clip = new ClipWindow();
  private readonly windowClip = new ClipWindow();
  /** The clip fraction of the last meeting where CowClip saw rows. */
  clipLast = 0;
  lastLogloss = NaN;

  add(met: Met | null): void {
    if (!met) return;
    const { loss, counts } = met;
    this.clip.add(counts);
    this.windowClip.add(counts);
    if (counts.clipRows > 0) this.clipLast = counts.clipped / counts.clipRows;
    this.lossSum += loss.sum;
    this.lossRows += loss.rows;
    this.windowLoss += loss.sum;
    this.windowRows += loss.rows;
  }

  /** A progress line with the loss since the last one (and, at debug level, the step split so far). */
  progress(progress: Progress, step: number, steps: StepRunner, globalBatch: number, log: Logger | null): void {
    this.lastLogloss = this.windowLoss / this.windowRows;
    progress.report(step, `epoch ${(step / steps.plan.stepsPerEpoch).toFixed(2)} loss ${this.lastLogloss.toFixed(4)} clip ${(this.windowClip.fraction * 100).toFixed(2)}%`, step * globalBatch);
    this.windowClip.clear();
    log?.debug(`step ${step} time so far (ms/step): ${Object.entries(steps.time).map(([k, v]) => `${k} ${(v / steps.stepsRun).toFixed(1)}`).join(', ')}; ${describeTransfer(steps.grads.stats)}`);
    this.windowLoss = this.windowRows = 0;
  }
}

/** The run's figures for the report. */
function result(r: { rep: Replica; steps: StepRunner; comm: Communicator; evals: Evaluations; tally: Tally; ev: EvalResult; end: number; total: number; trainSeconds: number; t0: number; tTrain: number; globalBatch: number; trainRows: number }): TrainResult {
  const { steps, comm, tally, end } = r;
  const { meter } = steps.sync;
  const ms = steps.time;
  const samples = Math.min(end * r.globalBatch, tally.lossRows);
  return {
    replica: r.rep,
    steps: end,
    plannedSteps: r.total,
    stoppedEarly: end < r.total,
    epochs: tally.lossRows / r.trainRows,
    wallSeconds: (performance.now() - r.t0) / 1000,
    trainSeconds: r.trainSeconds,
    samplesPerSec: samples / r.trainSeconds,
    train: { logloss: tally.lossSum / tally.lossRows, lastLogloss: tally.lastLogloss },
    eval: r.ev,
    history: r.evals.history,
    best: r.evals.best!,
    clipFraction: { mean: tally.clip.fraction, last: tally.clipLast, byBucket: tally.clip.byBucket() },
    time: { data: ms.data / 1000, compute: ms.compute / 1000, merge: ms.merge / 1000, comm: ms.comm / 1000, update: ms.update / 1000 },
    transfer: steps.grads.stats,
    bytes: { sent: comm.stats.bytesSent + meter.direct.sent, received: comm.stats.bytesReceived + meter.direct.received, densePerStep: meter.bytes.dense / end, sparsePerStep: meter.bytes.sparse / end },
    uniqueIdsPerStep: { local: steps.unique.local / end, global: steps.unique.global / end },
    skippedSteps: steps.skippedSteps,
    firstStepAt: r.tTrain,
  };
}

/** One hex digest over every parameter's bytes (dense, field table, first-order table), in that order. */
export function paramChecksum(rep: Replica): string {
  const h = createHash('sha256');
  for (const a of [rep.dense, rep.field.weights, rep.first.weights]) h.update(new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
  return h.digest('hex').slice(0, 16);
}
