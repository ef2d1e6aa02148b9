/**
 * `--metrics FILE`: one JSON object per line, written by rank 0 as training goes, so `pandas.read_json(FILE,
 * lines=True)` or `jq` read it directly, and a crash keeps every line written before it. Records share the
 * keys `type`, `time` (ISO 8601) and `elapsed` (seconds since the first training step); `type` says which
 * other keys a line has.
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { UserError } from '../util/errors.js';
import { makeDirs } from '../util/outputs.js';
import { ClipWindow, type ClipByBucket, type Met } from './meeting.js';

interface Stamp {
  time: string;
  elapsed: number;
}

/** What ran: the head of the report and of the --metrics start record. */
export interface RunIdentity {
  worldSize: number;
  model: string;
  sync: string;
  backend: string;
  data: string;
  globalBatch: number;
  steps: number;
}

/** Once, before the first step: what runs. */
export interface StartRecord extends Stamp, RunIdentity {
  type: 'start';
  /** Steps per epoch (`steps`: the steps the run will take). */
  stepsPerEpoch: number;
  /** The step the run starts after (0, or the checkpoint's step with --resume). */
  startStep: number;
}

/** Every --metrics-every steps (at the next step where the ranks meet) and at the end of training. */
export interface StepRecord extends Stamp {
  type: 'step';
  step: number;
  epoch: number;
  /** Training logloss over the global batches since the previous step record. */
  loss: number;
  /** Learning rates applied at this step (the dense one follows warmup). */
  lr: number;
  lrEmbed: number;
  /** Global samples trained since the previous step record (a short last batch of an epoch has fewer). */
  samples: number;
  /** Those samples per second (evaluation time excluded). */
  samplesPerSec: number;
  /** Rank 0's share of that time spent waiting in collectives. */
  commShare: number;
  /** Rank 0's bytes on the wire since the previous step record, and per step: dense and sparse traffic. */
  bytesSent: number;
  bytesReceived: number;
  denseBytesPerStep: number;
  sparseBytesPerStep: number;
  /**
   * Fraction of the batch rows whose gradient CowClip clipped, in the embedding updates applied since the
   * previous step record (the last record includes the updates applied after the last step: hybrid's owed one,
   * the owners' under sharded and ps).
   */
  clipFraction: number;
  /** The same by the ID's count in the global batch (tail 1, torso 2-31, head 32+): rows CowClip looked at, fraction it scaled down. */
  clipByBucket: ClipByBucket;
}

/** Every --eval-every steps and at the end: over the whole eval set. */
export interface EvalRecord extends Stamp {
  type: 'eval';
  step: number;
  epoch: number;
  auc: number;
  logloss: number;
  rows: number;
  /** Whether this evaluation is strictly better than every earlier one of the run by --early-stop-metric (the first always is). */
  best: boolean;
  /** Set on the evaluation after which --early-stop ended training. */
  earlyStop?: true;
}

export type MetricsRecord = StartRecord | StepRecord | EvalRecord;
type Unstamped<R> = R extends Stamp ? Omit<R, keyof Stamp> : never;

/** Appends records to FILE, one line each, synchronously: a line is on disk before training goes on. */
export class MetricsLog {
  private readonly fd: number;
  private readonly t0 = performance.now();

  /** `append` (with --resume) continues the file of the interrupted run; otherwise it is replaced. */
  constructor(readonly path: string, append: boolean) {
    try {
      makeDirs(dirname(path));
      this.fd = openSync(path, append ? 'a' : 'w');
    } catch (err) {
      throw new UserError(`--metrics ${path}: cannot write there (${(err as Error).message})`);
    }
  }

  write(record: Unstamped<MetricsRecord>): void {
    const stamped = { ...record, time: new Date().toISOString(), elapsed: (performance.now() - this.t0) / 1000 };
    writeSync(this.fd, JSON.stringify(stamped) + '\n');
  }

  close(): void {
    closeSync(this.fd);
  }
}

/** Cumulative counters of the run, read at each step record. */
export interface RunCounters {
  /** Milliseconds rank 0 waited in collectives. */
  commMs: number;
  /** Seconds spent evaluating (not training time). */
  evalSeconds: number;
  bytesSent: number;
  bytesReceived: number;
  denseBytes: number;
  sparseBytes: number;
}

/** Turns per-step tallies into step records: every figure is over the window since the previous record. */
export class StepRecorder {
  private lastStep: number;
  private lastAt = performance.now();
  private last: RunCounters;
  private lossSum = 0;
  private rows = 0;
  private readonly clip = new ClipWindow();

  constructor(
    private readonly log: MetricsLog,
    private readonly counters: () => RunCounters,
    private readonly shape: { startStep: number; stepsPerEpoch: number },
  ) {
    this.lastStep = shape.startStep;
    this.last = counters();
  }

  /** The step of the last record (the start step before any). */
  get recordedThrough(): number {
    return this.lastStep;
  }

  /** What the ranks summed where they met after a step (nothing where they did not). */
  add(met: Met | null): void {
    if (!met) return;
    this.lossSum += met.loss.sum;
    this.rows += met.loss.rows;
    this.clip.add(met.counts);
  }

  record(step: number, lr: number, lrEmbed: number): void {
    const now = performance.now();
    const c = this.counters();
    const steps = step - this.lastStep;
    const wallMs = now - this.lastAt - (c.evalSeconds - this.last.evalSeconds) * 1000;
    this.log.write({
      type: 'step',
      step,
      epoch: step / this.shape.stepsPerEpoch,
      loss: this.lossSum / this.rows,
      lr,
      lrEmbed,
      samples: this.rows,
      samplesPerSec: this.rows / (wallMs / 1000),
      commShare: (c.commMs - this.last.commMs) / wallMs,
      bytesSent: c.bytesSent - this.last.bytesSent,
      bytesReceived: c.bytesReceived - this.last.bytesReceived,
      denseBytesPerStep: (c.denseBytes - this.last.denseBytes) / steps,
      sparseBytesPerStep: (c.sparseBytes - this.last.sparseBytes) / steps,
      clipFraction: this.clip.fraction,
      clipByBucket: this.clip.byBucket(),
    });
    this.lastStep = step;
    this.lastAt = now;
    this.last = c;
    this.lossSum = this.rows = 0;
    this.clip.clear();
  }
}

/** Parses a metrics file's text; a line that is not a record is an error naming the line. */
export function parseMetrics(text: string, file = 'metrics'): MetricsRecord[] {
  const out: MetricsRecord[] = [];
  text.split('\n').forEach((line, i) => {
    if (line.trim() === '') return;
    let rec: unknown;
    try {
      rec = JSON.parse(line);
    } catch (err) {
      throw new Error(`${file}:${i + 1}: not JSON (${(err as Error).message})`);
    }
    const type = (rec as { type?: unknown } | null)?.type;
    if (type !== 'start' && type !== 'step' && type !== 'eval') throw new Error(`${file}:${i + 1}: expected a record with type start, step or eval`);
    out.push(rec as MetricsRecord);
  });
  return out;
}
