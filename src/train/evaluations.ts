/**
 * The evaluations of a run: each one's figures in the history and the --metrics file, the best so far by
 * --early-stop-metric (written to --save-best), and whether --early-stop ends training. Every rank holds the
 * same evaluation (evaluate() gathers all scores), so every rank decides the same.
 */
import type { Communicator } from '../comm/communicator.js';
import type { TrainConfig } from '../config/train-config.js';
import type { LoadedData } from '../data/types.js';
import type { Replica } from '../replica/replica.js';
import { saveCheckpoint } from './checkpoint.js';
import { evaluate, evaluateStream, improves, type BestEval, type EvalResult } from './evaluate.js';
import type { MetricsLog } from './metrics.js';
import type { StepRunner } from './step-runner.js';

export interface EvalPoint {
  step: number;
  auc: number;
  logloss: number;
  /** Training time so far (evaluations excluded). */
  seconds: number;
}

export class Evaluations {
  readonly history: EvalPoint[] = [];
  best: BestEval | null = null;
  /** Periodic evaluations since the best (--early-stop's patience). */
  sinceBest = 0;
  /** Seconds spent evaluating (and writing --save-best): not training time. */
  seconds = 0;
  /** The last periodic evaluation. */
  last: { step: number; e: EvalResult } | null = null;

  constructor(
    private readonly cfg: TrainConfig,
    private readonly data: LoadedData,
    private readonly comm: Communicator,
    private readonly rep: Replica,
    private readonly steps: StepRunner,
    private readonly metrics: MetricsLog | undefined,
    /** When training started (performance.now()). */
    private readonly trainStart: number,
  ) {}

  /** Evaluates at `step`; a periodic evaluation (not the final one) may end training (`stop`). */
  async run(step: number, periodic: boolean): Promise<{ e: EvalResult; improved: boolean; stop: boolean }> {
    const { cfg, data, comm, rep } = this;
    await this.steps.refresh(step); // training time: the pull a parameter server's workers need anyway
    const te = performance.now();
    const e = data.stream ? await evaluateStream(rep, data.stream, data.eval.rows, comm, this.steps.localCap) : await evaluate(rep, data.eval, comm, this.steps.localCap);
    this.history.push({ step, auc: e.auc, logloss: e.logloss, seconds: (te - this.trainStart) / 1000 - this.seconds });
    const improved = improves(cfg.earlyStopMetric, e, this.best);
    if (improved) this.best = { step, auc: e.auc, logloss: e.logloss, metric: cfg.earlyStopMetric };
    this.sinceBest = improved ? 0 : this.sinceBest + 1;
    const stop = periodic && cfg.earlyStop > 0 && this.sinceBest >= cfg.earlyStop;
    // After refresh, as --save: the replica is whole and identical on every rank; rank 0 writes it (counted as evaluation time).
    if (improved && cfg.saveBest && comm.rank === 0) await saveCheckpoint(cfg.saveBest, rep, cfg, data);
    this.seconds += (performance.now() - te) / 1000;
    const epoch = step / this.steps.plan.stepsPerEpoch;
    this.metrics?.write({ type: 'eval', step, epoch, auc: e.auc, logloss: e.logloss, rows: e.rows, best: improved, ...(stop && { earlyStop: true as const }) });
    if (periodic) this.last = { step, e };
    return { e, improved, stop };
  }
}
