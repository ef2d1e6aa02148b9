import { createHash } from 'node:crypto';
import type { Communicator } from '../comm/communicator.js';
import { meetEvery } from '../config/strategies.js';
import type { EarlyStopMetric, TrainConfig } from '../config/train-config.js';
import type { LoadedData, EncodedData, RowStream } from '../data/types.js';
import { auc, logloss } from '../metrics/auc.js';
import { fillRows, gatherBatch } from '../model/batch.js';
import { describeTransfer, GradientComputer, type TransferStats } from '../model/step.js';
import type { EmbedUpdateStats } from '../optim/embed-update.js';
import { denseLrAt } from '../optim/schedule.js';
import { createSync } from '../sync/registry.js';
import type { EmbedGrads } from '../sync/types.js';
import { UserError } from '../util/errors.js';
import { BatchPlan } from './batches.js';
import { shardRange } from '../util/shard.js';
import { loadWeights, resumeFrom, saveCheckpoint } from './checkpoint.js';
import { StepRecorder, type MetricsLog } from './metrics.js';
import type { Logger } from '../util/log.js';
import { checkReplicas } from './drift.js';
import { firstNonFinite, injectedNaN, NonFiniteError } from './numerics.js';
import { Progress } from './progress.js';
import { buildReplica, scalingNote, shapeOf, type Replica } from '../replica/replica.js';

export interface EvalResult {
  auc: number;
  logloss: number;
  rows: number;
}

/** The best evaluation of a run by `metric` (the first of equals). */
export interface BestEval {
  step: number;
  auc: number;
  logloss: number;
  metric: EarlyStopMetric;
}

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
  history: { step: number; auc: number; logloss: number; seconds: number }[];
  /** The best of `history` by --early-stop-metric (the model --save-best holds). */
  best: BestEval;
  clipFraction: { mean: number; last: number };
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

/**
 * Whether evaluation `e` is strictly better than `best` by `metric` (higher AUC, lower logloss): the first
 * evaluation always is; a NaN never beats a number, and a number always beats a NaN.
 */
export function improves(metric: EarlyStopMetric, e: { auc: number; logloss: number }, best: { auc: number; logloss: number } | null): boolean {
  if (!best) return true;
  const [x, b] = [e[metric], best[metric]];
  if (Number.isNaN(x)) return false;
  if (Number.isNaN(b)) return true;
  return metric === 'auc' ? x > b : x < b;
}

/** Where a run's output goes: console lines, and rank 0's --metrics records. */
export interface TrainIO {
  log: Logger;
  metrics?: MetricsLog;
  /** The tensor backend's name, for the metrics' start record. */
  backend?: string;
}

export async function train(
  cfg: TrainConfig,
  data: LoadedData,
  comm: Communicator,
  io: TrainIO,
): Promise<TrainResult> {
  const { log } = io;
  const t0 = performance.now();
  const rep = buildReplica(cfg, shapeOf(data));
  const { model } = rep;
  const start = cfg.resume ? await resumeFrom(cfg.resume, rep, cfg, data) : 0;
  const { rank, size } = comm;
  // A resumed fine-tune has its weights from --resume; a new one starts from the checkpoint's.
  if (cfg.initFrom && !cfg.resume) {
    const from = await loadWeights(cfg.initFrom, rep, data.fieldSizes, '--init-from');
    if (rank === 0) log.info(`starting from the weights of ${cfg.initFrom} (${from.model.name}, step ${from.step}) with a fresh optimizer`);
  }
  const F = data.train.numCategorical;
  const d = cfg.embedDim;
  const plan = new BatchPlan(data.train.rows, cfg.globalBatch, cfg.seed);
  const total = plannedSteps(cfg, data.train.rows);
  if (start >= total) throw new UserError(`--resume ${cfg.resume}: the checkpoint is at step ${start}, and this run has ${total} steps: nothing left to train (raise --steps or --epochs)`);
  if (start > 0 && rank === 0) log.info(`resuming from ${cfg.resume} at step ${start} of ${total}`);
  const badRanks = new Float32Array(size);
  const inject = injectedNaN(process.env);
  let skippedSteps = 0;
  const localCap = Math.ceil(cfg.globalBatch / size);
  const grads = new GradientComputer(model, localCap);
  const batch = grads.allocBatch();
  // --stream: this rank's rows come from the reader thread, step by step; else from the shuffled rows in memory.
  const feed = data.stream?.trainFeed({ rank, size, globalBatch: cfg.globalBatch, seed: cfg.seed, startStep: start, totalSteps: total });
  /** Fills `batch` with this rank's rows of `step`; returns the rows of the whole global batch. */
  const nextBatch = async (step: number): Promise<number> => {
    if (feed) {
      const s = await feed.next();
      if (s.step !== step) throw new Error(`stream feed: rows of step ${s.step + 1} where step ${step + 1} was due`);
      fillRows(batch, s.data, 0, s.data.rows);
      return s.globalRows;
    }
    const rows = plan.globalRows(step);
    const [from, to] = shardRange(rows.length, rank, size);
    fillRows(batch, data.train, from, to - from, rows);
    return rows.length;
  };
  const sync = createSync(cfg, comm, rep, shapeOf(data));
  // A rank whose slice of a short last batch is empty still joins every collective, with zero gradients.
  const empty = { lossSum: 0, gradDense: new Float32Array(model.numDense), gradEmb: new Float32Array(0), gradLinear: new Float32Array(0) };
  const unique = { local: 0, global: 0 };
  const lossBuf = new Float32Array(2);
  /** This rank's loss sum and rows since the ranks last met (every step, except under local SGD). */
  let pendingLoss = 0;
  let pendingRows = 0;
  const time = { data: 0, compute: 0, merge: 0, comm: 0, update: 0 };
  const history: TrainResult['history'] = [];
  let lossSum = 0;
  let lossRows = 0;
  let windowLoss = 0;
  let windowRows = 0;
  let clipSum = 0;
  let clipLast = 0;
  let lastLogloss = NaN;
  const meets = meetEvery(cfg.sync, cfg);
  const progress = new Progress(total, cfg.logEvery, rank === 0 ? log.info : () => {});
  if (rank === 0) {
    log.info(
      `model ${model.name}: ${model.numDense.toLocaleString('en')} dense + ${(data.totalRows * (d + 1)).toLocaleString('en')} embedding params; ` +
        `global batch ${cfg.globalBatch} over ${size} rank(s); ${total} steps (${plan.stepsPerEpoch} per epoch); ` +
        `lr dense ${rep.hyper.lrDense.toExponential(2)} (warmup ${rep.hyper.warmupSteps}), lr embed ${rep.hyper.lrEmbed.toExponential(2)}, ` +
        `L2 ${rep.hyper.l2.toExponential(2)}, CowClip ${cfg.cowclip ? `on (${cfg.cowclipForm}, r=${cfg.cowclipRatio}, zeta=${cfg.cowclipZeta})` : 'off'}, ` +
        `embedding update ${cfg.embedUpdate}, optimizer ${cfg.optimizer}, sync ${sync.name}${meets > 1 ? ` (replicas meet ${meets < Infinity ? `every ${meets} steps` : 'only after the last step'})` : ''}`,
    );
    const scaling = scalingNote(cfg, shapeOf(data));
    if (scaling) log.info(scaling);
  }
  // The first shuffle window is read before the clock starts, as the in-memory rows are loaded before it.
  await feed?.ready();
  const tTrain = performance.now();
  let evalSeconds = 0;
  const metrics = rank === 0 ? io.metrics : undefined;
  metrics?.write({
    type: 'start',
    worldSize: size,
    model: model.name,
    sync: sync.name,
    backend: io.backend ?? 'unknown',
    data: data.description,
    globalBatch: cfg.globalBatch,
    steps: total,
    stepsPerEpoch: plan.stepsPerEpoch,
    startStep: start,
  });
  const recorder =
    metrics &&
    new StepRecorder(
      metrics,
      () => ({
        commMs: time.comm,
        evalSeconds,
        bytesSent: comm.stats.bytesSent + sync.meter.direct.sent,
        bytesReceived: comm.stats.bytesReceived + sync.meter.direct.received,
        denseBytes: sync.meter.bytes.dense,
        sparseBytes: sync.meter.bytes.sparse,
      }),
      { startStep: start, stepsPerEpoch: plan.stepsPerEpoch },
    );
  // The best evaluation so far, and how many periodic evaluations since (--early-stop's patience). Every rank
  // holds the same evaluation (evaluate() gathers all scores), so every rank decides the same.
  let best = null as BestEval | null;
  let sinceBest = 0;
  const metricName = cfg.earlyStopMetric === 'auc' ? 'AUC' : 'logloss';
  /** Evaluates at `step`; a periodic evaluation (not the final one) may end training (`stop`). */
  const evaluateNow = async (step: number, periodic: boolean): Promise<{ e: EvalResult; improved: boolean; stop: boolean }> => {
    await refresh(step); // training time: the pull a parameter server's workers need anyway
    const te = performance.now();
    const e = data.stream ? await evaluateStream(rep, data.stream, data.eval.rows, comm, localCap) : await evaluate(rep, data.eval, comm, localCap);
    history.push({ step, auc: e.auc, logloss: e.logloss, seconds: (te - tTrain) / 1000 - evalSeconds });
    const improved = improves(cfg.earlyStopMetric, e, best);
    if (improved) best = { step, auc: e.auc, logloss: e.logloss, metric: cfg.earlyStopMetric };
    sinceBest = improved ? 0 : sinceBest + 1;
    const stop = periodic && cfg.earlyStop > 0 && sinceBest >= cfg.earlyStop;
    // After refresh, as --save: the replica is whole and identical on every rank; rank 0 writes it (counted as evaluation time).
    if (improved && cfg.saveBest && rank === 0) await saveCheckpoint(cfg.saveBest, rep, cfg, data);
    evalSeconds += (performance.now() - te) / 1000;
    metrics?.write({ type: 'eval', step, epoch: step / plan.stepsPerEpoch, auc: e.auc, logloss: e.logloss, rows: e.rows, best: improved, ...(stop && { earlyStop: true as const }) });
    return { e, improved, stop };
  };
  /** Charges the time since t to comm (the strategy's waiting) and merge (the rest). */
  const chargeSync = (t: number, waitedBefore: number): void => {
    const inComm = (sync.meter.seconds - waitedBefore) * 1000;
    time.comm += inComm;
    time.merge += performance.now() - t - inComm;
  };
  /** Brings the whole replica up to date where a strategy keeps it elsewhere (parameter servers): once per step. */
  let refreshed = 0;
  const refresh = async (step: number): Promise<void> => {
    if (!sync.refresh || refreshed === step) return;
    const t = performance.now();
    const waited = sync.meter.seconds;
    await sync.refresh(step);
    chargeSync(t, waited);
    refreshed = step;
  };
    // Drift checks, evaluations and progress lines fall due every K steps (seconds) but run at the first step
  // after which the strategy says the ranks meet with identical replicas (every step, except between local
  // SGD's averaging points, where no rank waits for another: not even to sum the loss).
  let checkDue = false;
  let evalDue = false;
  let saveDue = false;
  let metricsDue = false;
  let recordedAt = start;
  /** The step --early-stop ended training at. */
  let stoppedAt: number | null = null;
  let lastEval: { step: number; e: EvalResult } | null = null;
  for (let step = start; step < total; step++) {
    let t = performance.now();
    const globalRows = await nextBatch(step);
    if (sync.prepare) {
      time.data += performance.now() - t;
      t = performance.now();
      const waited = sync.meter.seconds;
      await sync.prepare(step + 1, batch.ids.subarray(0, batch.size * F));
      chargeSync(t, waited);
      t = performance.now();
    }
    gatherBatch(batch, rep.field, rep.first);
    time.data += performance.now() - t;

    t = performance.now();
    if (batch.size === 0) empty.gradDense.fill(0);
    const out = batch.size > 0 ? await grads.compute(rep.dense, batch, globalRows) : empty;
    time.compute += performance.now() - t;

    if (inject?.step === step + 1 && inject.rank === rank) out.gradDense[0] = NaN;
    const bad = Number.isFinite(out.lossSum)
      ? firstNonFinite([
          ['gradient of the dense weights', out.gradDense],
          ['gradient of the field embeddings', out.gradEmb],
          ['gradient of the first-order weights', out.gradLinear],
        ])
      : `${out.lossSum} as the training loss`;
    let skip = false;
    if (cfg.skipNonfinite) {
      // Every rank learns who had non-finite values, so all skip the same steps and issue the same collectives.
      badRanks.fill(0);
      if (bad) badRanks[rank] = 1;
      await comm.allreduce(badRanks, 'sum');
      skip = badRanks.some((x) => x > 0);
      if (bad) log.warn(`rank ${rank}: step ${step + 1}: ${bad}`);
      if (skip && rank === 0) log.warn(`step ${step + 1} skipped: non-finite values on rank(s) ${[...badRanks.keys()].filter((r) => badRanks[r] > 0).join(', ')} (--skip-nonfinite)`);
      if (skip) skippedSteps++;
    } else if (bad) {
      throw new NonFiniteError(
        `step ${step + 1}: ${bad} on rank ${rank}; stopping. Lower --lr / --lr-embed, check the input data, or pass --skip-nonfinite to skip such steps`,
      );
    }
    if (!skip) {
      pendingLoss += out.lossSum;
      pendingRows += batch.size;
    }
    const inSync = sync.inSync ? sync.inSync(step + 1, step + 1 === total) : true;

    t = performance.now();
    let waited = sync.meter.seconds;
    let lossDone: Promise<void> | null = null;
    if (inSync) {
      // The global loss, reduced where the ranks meet anyway (issued first, so that it never queues behind an
      // exchange a strategy leaves in flight, as hybrid does).
      lossBuf[0] = pendingLoss;
      lossBuf[1] = pendingRows;
      pendingLoss = pendingRows = 0;
      lossDone = comm.allreduce(lossBuf, 'sum');
    }
    const global = skip
      ? null
      : await sync.exchange({
          step: step + 1,
          dense: out.gradDense,
          ids: batch.ids.subarray(0, batch.size * F),
          emb: out.gradEmb,
          linear: out.gradLinear,
        });
    if (lossDone) await sync.meter.wait(lossDone);
    unique.local += global?.localUnique ?? 0;
    unique.global += global?.embed?.field.ids.length ?? global?.applied?.rowsInBatch ?? 0;
    chargeSync(t, waited);

    t = performance.now();
    rep.step = step + 1;
    let stats = global?.applied ?? { rowsInBatch: 0, rowsClipped: 0 };
    if (global?.dense) rep.denseOpt.updateDense(rep.dense, global.dense, denseLrAt(rep.hyper, step), rep.step);
    if (global?.embed) stats = applyEmbed(rep, global.embed);
    time.update += performance.now() - t;

    t = performance.now();
    waited = sync.meter.seconds;
    if (sync.afterStep) await sync.afterStep(step + 1, step + 1 === total);
    chargeSync(t, waited);

    clipLast = stats.rowsInBatch ? stats.rowsClipped / stats.rowsInBatch : 0;
    clipSum += clipLast;
    recorder?.add(lossDone ? lossBuf[0] : 0, lossDone ? lossBuf[1] : 0, clipLast);
    if (lossDone) {
      lossSum += lossBuf[0];
      lossRows += lossBuf[1];
      windowLoss += lossBuf[0];
      windowRows += lossBuf[1];
    }
    const more = step + 1 < total;
    if (cfg.evalEvery > 0 && (step + 1) % cfg.evalEvery === 0) evalDue = true;
    if (cfg.checkEvery > 0 && (step + 1) % cfg.checkEvery === 0) checkDue = true;
    if (cfg.saveEvery > 0 && (step + 1) % cfg.saveEvery === 0) saveDue = true;
    if ((step + 1) % cfg.metricsEvery === 0 || !more) metricsDue = true;
    const evalNow = evalDue && inSync && more;
    if ((progress.due(step + 1) && inSync) || evalNow) {
      lastLogloss = windowLoss / windowRows;
      progress.report(step + 1, `epoch ${((step + 1) / plan.stepsPerEpoch).toFixed(2)} loss ${lastLogloss.toFixed(4)} clip ${(clipLast * 100).toFixed(2)}%`, (step + 1) * cfg.globalBatch);
      if (rank === 0) log.debug(`step ${step + 1} time so far (ms/step): ${Object.entries(time).map(([k, v]) => `${k} ${(v / (step + 1 - start)).toFixed(1)}`).join(', ')}; ${describeTransfer(grads.stats)}`);
      windowLoss = windowRows = 0;
    }
    if (metricsDue && inSync) {
      recorder?.record(step + 1, denseLrAt(rep.hyper, step), rep.hyper.lrEmbed);
      recordedAt = step + 1;
      metricsDue = false;
    }
    if (checkDue && inSync && more) {
      await refresh(step + 1);
      await checkReplicas(rep, comm, step + 1);
      checkDue = false;
    }
    if (saveDue && inSync && more && cfg.save) {
      await refresh(step + 1);
      if (rank === 0) {
        const ts = performance.now();
        await saveCheckpoint(cfg.save, rep, cfg, data);
        log.info(`checkpoint (step ${step + 1}) written to ${cfg.save} in ${((performance.now() - ts) / 1000).toFixed(2)} s`);
      }
      saveDue = false;
    }
    if (evalNow) {
      const { e, improved, stop } = await evaluateNow(step + 1, true);
      lastEval = { step: step + 1, e };
      evalDue = false;
      if (rank === 0) {
        const note = improved && cfg.saveBest ? ` (best so far: saved to ${cfg.saveBest})` : !improved && cfg.earlyStop > 0 ? ` (no ${metricName} improvement for ${sinceBest} of ${cfg.earlyStop})` : '';
        log.info(`eval at step ${step + 1}: auc ${e.auc.toFixed(4)} logloss ${e.logloss.toFixed(4)}${note}`);
      }
      if (stop) {
        // Evaluations run only where the ranks meet, so every rank leaves here at the same step, in sync.
        stoppedAt = step + 1;
        const b = best!;
        if (rank === 0) log.info(`early stop at step ${stoppedAt}: no eval ${metricName} improvement for ${cfg.earlyStop} evaluations (best ${b[b.metric].toFixed(4)} at step ${b.step})`);
        if (recordedAt !== stoppedAt) recorder?.record(stoppedAt, denseLrAt(rep.hyper, step), rep.hyper.lrEmbed);
        break;
      }
    }
  }
  const end = stoppedAt ?? total;
  await feed?.close();
  // Updates still owed (hybrid's last embedding gradients) are applied before the final check and evaluation.
  const owed = sync.drain ? await sync.drain() : null;
  if (owed) applyEmbed(rep, owed);
  // The final refresh (sharded, ps: gathering the owners' rows) is part of producing the model, and is
  // charged to comm: inside the training time, so the step split adds up.
  await refresh(end);
  const trainSeconds = (performance.now() - tTrain) / 1000 - evalSeconds;
  await checkReplicas(rep, comm, end);
  // Stopped early right after an evaluation of this very model (nothing owed, nothing to refresh): that is the final one.
  const ev = lastEval?.step === end && !owed ? lastEval.e : (await evaluateNow(end, false)).e;
  await sync.close?.();
  const samples = Math.min(end * cfg.globalBatch, lossRows);
  return {
    replica: rep,
    steps: end,
    plannedSteps: total,
    stoppedEarly: stoppedAt !== null,
    epochs: lossRows / data.train.rows,
    wallSeconds: (performance.now() - t0) / 1000,
    trainSeconds,
    samplesPerSec: samples / trainSeconds,
    train: { logloss: lossSum / lossRows, lastLogloss },
    eval: ev,
    history,
    best: best!,
    clipFraction: { mean: clipSum / end, last: clipLast },
    time: { data: time.data / 1000, compute: time.compute / 1000, merge: time.merge / 1000, comm: time.comm / 1000, update: time.update / 1000 },
    transfer: grads.stats,
    bytes: { sent: comm.stats.bytesSent + sync.meter.direct.sent, received: comm.stats.bytesReceived + sync.meter.direct.received, densePerStep: sync.meter.bytes.dense / end, sparsePerStep: sync.meter.bytes.sparse / end },
    uniqueIdsPerStep: { local: unique.local / end, global: unique.global / end },
    skippedSteps,
    firstStepAt: tTrain,
  };
}

/**
 * Each rank scores its contiguous shard of the eval rows; the scores are gathered so AUC and logloss
 * are exact over the whole set, identical on every rank.
 */
export async function evaluate(rep: Replica, data: EncodedData, comm: Communicator, maxBatch: number): Promise<EvalResult> {
  const [from, to] = shardRange(data.rows, comm.rank, comm.size);
  const probs = new Float32Array(to - from);
  const grads = new GradientComputer(rep.model, Math.max(1, Math.min(maxBatch * 4, 8192)));
  const shard: EncodedData = {
    ...data,
    rows: to - from,
    labels: data.labels.subarray(from, to),
    numeric: data.numeric.subarray(from * data.numNumeric, to * data.numNumeric),
    ids: data.ids.subarray(from * data.numCategorical, to * data.numCategorical),
  };
  if (shard.rows > 0) await grads.predictData(rep.dense, rep.field, rep.first, shard, probs);
  let all = probs;
  if (comm.size > 1) {
    const parts = await comm.allgatherv(new Uint8Array(probs.buffer, probs.byteOffset, probs.byteLength));
    all = new Float32Array(data.rows);
    let at = 0;
    for (const p of parts) {
      const f = new Float32Array(p.buffer, p.byteOffset, p.byteLength / 4);
      all.set(f, at);
      at += f.length;
    }
  }
  return { auc: auc(data.labels, all), logloss: logloss(data.labels, all), rows: data.rows };
}

/** evaluate() over streamed eval rows: each rank reads its shard from the file; scores and labels are gathered. */
export async function evaluateStream(rep: Replica, stream: RowStream, rows: number, comm: Communicator, maxBatch: number): Promise<EvalResult> {
  const [from, to] = shardRange(rows, comm.rank, comm.size);
  // One buffer: this rank's scores, then its labels, so a single all-gather brings both.
  const mine = new Float32Array(2 * (to - from));
  const chunkRows = Math.max(1, Math.min(maxBatch * 4, 8192));
  const grads = new GradientComputer(rep.model, chunkRows);
  let at = 0;
  await stream.evalShard(comm.rank, comm.size, chunkRows, async (chunk) => {
    await grads.predictData(rep.dense, rep.field, rep.first, chunk, mine.subarray(at, at + chunk.rows));
    mine.set(chunk.labels, to - from + at);
    at += chunk.rows;
  });
  if (at !== to - from) throw new Error(`streamed eval: ${at} rows where ${to - from} were expected`);
  const probs = new Float32Array(rows);
  const labels = new Float32Array(rows);
  const parts = comm.size > 1 ? await comm.allgatherv(new Uint8Array(mine.buffer)) : [new Uint8Array(mine.buffer)];
  let o = 0;
  for (const p of parts) {
    const f = new Float32Array(p.buffer, p.byteOffset, p.byteLength / 4);
    const n = f.length / 2;
    probs.set(f.subarray(0, n), o);
    labels.set(f.subarray(n), o);
    o += n;
  }
  return { auc: auc(labels, probs), logloss: logloss(labels, probs), rows };
}

/** One embedding update: the gradients' own step is the embedding optimizer's step t. */
function applyEmbed(rep: Replica, g: EmbedGrads): EmbedUpdateStats {
  return rep.embed.update(g.field, g.linear, g.step, g.clipped ? false : undefined);
}

/** One hex digest over every parameter's bytes (dense, field table, first-order table), in that order. */
export function paramChecksum(rep: Replica): string {
  const h = createHash('sha256');
  for (const a of [rep.dense, rep.field.weights, rep.first.weights]) h.update(new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
  return h.digest('hex').slice(0, 16);
}
