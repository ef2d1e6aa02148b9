import type { TrainConfig } from '../config/train-config.js';
import type { LoadedData } from '../data/types.js';
import type { RunIdentity } from './metrics.js';
import type { TrainResult } from './trainer.js';

export interface RankSummary {
  rank: number;
  paramChecksum: string;
  bytes: TrainResult['bytes'];
  stepTime: TrainResult['time'];
  uniqueIdsPerStep: TrainResult['uniqueIdsPerStep'];
  /**
   * Seconds from this process's start to its first training step, and the part of it spent loading data:
   * the rest is start-up proper (Node, modules, rendezvous, backend, model).
   */
  startup: { toFirstStep: number; data: number };
  /** Peak resident memory of this rank's process (bytes), over the whole run. */
  peakRssBytes: number;
}

/** The `--report FILE` JSON: one object per run, the same keys for every model, data set and world size. */
export interface RunReport extends RunIdentity {
  /** The step training was planned to end at; `steps` is where it ended (earlier when stoppedEarly). */
  plannedSteps: number;
  /** Whether --early-stop ended training before plannedSteps. */
  stoppedEarly: boolean;
  epochs: number;
  samplesPerSec: number;
  wallSeconds: number;
  trainSeconds: number;
  train: { logloss: number; lastLogloss: number };
  eval: { auc: number; logloss: number; rows: number };
  oracle: { auc: number; logloss: number } | null;
  history: TrainResult['history'];
  /** The best evaluation of `history` by --early-stop-metric (the model --save-best holds). */
  best: TrainResult['best'];
  skippedLines: number;
  /** Steps skipped for non-finite loss or gradients (--skip-nonfinite). */
  skippedSteps: number;
  clipFraction: TrainResult['clipFraction'];
  paramChecksums: string[];
  /** Per rank: checksum, bytes sent per step (dense / sparse), step time split (seconds over the run). */
  ranks: RankSummary[];
  /** Rank 0's split of the step time, seconds over the whole run. */
  stepTime: TrainResult['time'];
  /** Rank 0's host <-> tensor backend transfers over its training steps (counts, bytes, ms), a split of stepTime.compute. */
  transfer: TrainResult['transfer'];
  bytes: { sent: number; received: number };
  hyper: { lrDense: number; lrEmbed: number; l2: number; warmupSteps: number };
  config: TrainConfig;
  /** When the run started (ISO 8601), the command that started it, and what it ran on. */
  startedAt: string;
  command: string;
  versions: { ddpCtr: string; node: string; tfjs: string };
}

export function buildReport(
  cfg: TrainConfig,
  data: LoadedData,
  r: TrainResult,
  ctx: { worldSize: number; backend: string; ranks: RankSummary[]; startedAt: string; command: string; versions: RunReport['versions'] },
): RunReport {
  return {
    worldSize: ctx.worldSize,
    model: cfg.model,
    sync: cfg.sync,
    backend: ctx.backend,
    data: data.description,
    globalBatch: cfg.globalBatch,
    steps: r.steps,
    plannedSteps: r.plannedSteps,
    stoppedEarly: r.stoppedEarly,
    epochs: r.epochs,
    samplesPerSec: r.samplesPerSec,
    wallSeconds: r.wallSeconds,
    trainSeconds: r.trainSeconds,
    train: r.train,
    eval: r.eval,
    oracle: data.oracle ?? null,
    history: r.history,
    best: r.best,
    skippedLines: data.skippedLines,
    skippedSteps: r.skippedSteps,
    clipFraction: r.clipFraction,
    paramChecksums: ctx.ranks.map((r) => r.paramChecksum),
    ranks: ctx.ranks,
    stepTime: r.time,
    transfer: r.transfer,
    bytes: r.bytes,
    hyper: r.replica.hyper,
    config: cfg,
    startedAt: ctx.startedAt,
    command: ctx.command,
    versions: ctx.versions,
  };
}
