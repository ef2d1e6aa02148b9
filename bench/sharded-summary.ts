/**
 * bench/sharded.ts's figures: the runs of each (strategy, N) reduced to medians, measured bytes over the model's,
 * and the model's projection to large N with compute calibrated from the measured runs; and the JSON they make.
 */
import { scaleVocab } from '../src/data/synthetic-spec.js';
import type { RunReport } from '../src/train/report.js';
import { median, type MachineInfo } from './common.js';
import { denseParams } from './launch.js';
import type { Shaping } from './netns.js';
import { project, sparseOvertakesDense, traffic, V1_VOCAB, type Link, type Projection, type Shape, type Strategy, type Timing } from './projection.js';
import { MB, type RankRecord, type RunRecord, type Split, type StrategySpec } from './sharded-runs.js';

/** The issue's example: DeepFM (26 fields, d = 16), global batch 128K, 64 ranks: "~140 MB received per rank per step". */
export const ISSUE_EXAMPLE = { n: 64, batch: 131072, embedDim: 16, receivedMB: 140 };

type RankMetric = Exclude<keyof RankRecord, 'rank' | 'wire'>;
const RANK_METRICS: readonly RankMetric[] = ['denseSent', 'sparseSent', 'sentAll', 'receivedAll', 'sparseReceived', 'uniqueLocal', 'uniqueApplied', 'commMs'];

function summarise(spec: StrategySpec, n: number, runs: RunRecord[], cores: number) {
  const med = (f: (r: RunRecord) => number) => median(runs.map(f));
  const meanOverRanks = (r: RunRecord, k: RankMetric) => r.ranks.reduce((s, x) => s + x[k], 0) / r.ranks.length;
  const stepMs = med((r) => r.stepMs);
  const splitMs = Object.fromEntries((['data', 'compute', 'merge', 'comm', 'update', 'other'] as const).map((k) => [k, med((r) => r.splitMs[k])])) as Split;
  const wire = runs.every((r) => r.ranks.every((k) => k.wire))
    ? { txPerRank: med((r) => r.ranks.reduce((s, k) => s + k.wire!.tx, 0) / n), rxPerRank: med((r) => r.ranks.reduce((s, k) => s + k.wire!.rx, 0) / n) }
    : null;
  return {
    strategy: spec.label,
    model: spec.model,
    sparseReceivedDerivable: spec.symmetric,
    n,
    network: runs[0].network,
    rateBits: runs[0].rateBits,
    oversubscribed: n > cores,
    runs: runs.length,
    steps: runs[0].steps,
    stepMs,
    stepMsAll: runs.map((r) => r.stepMs),
    splitMs,
    /** Rank 0, training steps only. */
    commMs: med((r) => r.commMsTrain),
    commShare: med((r) => r.commMsTrain / r.stepMs),
    /** Rank 0's comm charged after the last step, per step (sharded, ps: the final refresh). */
    commMsAfterTraining: med((r) => r.splitMs.comm - r.commMsTrain),
    /**
     * Comm ms of the rank that waited least (report, so the final refresh included): closest to the collectives'
     * own cost, as the others wait for it.
     */
    commMsMinRank: med((r) => Math.min(...r.ranks.map((k) => k.commMs))),
    /** Per rank per step, mean over ranks (median over runs). */
    perRank: Object.fromEntries(RANK_METRICS.map((k) => [k, med((r) => meanOverRanks(r, k))])) as Record<RankMetric, number>,
    /** The busiest rank's sparse bytes sent over the mean: 1 = balanced. */
    sparseImbalance: med((r) => Math.max(...r.ranks.map((k) => k.sparseSent)) / Math.max(1, meanOverRanks(r, 'sparseSent'))),
    wire,
    evalAuc: runs.map((r) => r.evalAuc),
    replicasIdentical: runs.every((r) => r.replicasIdentical),
  };
}
export type Summary = ReturnType<typeof summarise>;

/** Measured over predicted, per metric the model predicts. */
function compareWithModel(s: Summary, batch: number, shape: Shape) {
  const p = traffic(s.model!, s.n, batch, shape);
  const pair = (measured: number, predicted: number) => ({ measured, predicted, ratio: predicted > 0 ? measured / predicted : null });
  return {
    strategy: s.strategy,
    model: s.model!,
    n: s.n,
    uniqueLocal: pair(s.perRank.uniqueLocal, p.uniqueLocal),
    // Owners report their update with the next answer, so a sharded run's first step reports none.
    uniqueApplied: pair(s.perRank.uniqueApplied, s.model === 'sharded' ? (p.uniqueGlobal * (s.steps - 1)) / s.steps : p.uniqueGlobal),
    denseSent: pair(s.perRank.denseSent, p.dense.sent),
    sparseSent: pair(s.perRank.sparseSent, p.sparse.sent),
    sparseReceived: pair(s.perRank.sparseReceived, p.sparse.received),
  };
}

export type Comparison = ReturnType<typeof compareWithModel>;

/**
 * Compute per sample and fixed seconds per step for the projection of both strategies (forward, backward and the
 * optimizer are the same work under both; only the exchange differs), from rank 0 of a measured all-gather run at
 * the smallest N with free cores. Not from a sharded run: its final refresh, after the last step, is charged to
 * comm and merge, and its owners' updates are charged to merge.
 */
function calibrate(summaries: Summary[], batch: number): (Timing & { from: string }) | null {
  const pool = summaries.filter((s) => s.model === 'allgather' && s.network === 'loopback');
  if (!pool.length) return null;
  const s = [...pool].sort((a, b) => Number(a.oversubscribed) - Number(b.oversubscribed) || a.n - b.n)[0];
  const sp = s.splitMs;
  return {
    computeSecPerSample: (sp.data + sp.compute + sp.merge) / 1e3 / (batch / s.n),
    fixedSec: (sp.update + Math.max(0, sp.other)) / 1e3,
    from: `${s.strategy} N=${s.n}${s.oversubscribed ? ' (oversubscribed)' : ''}, rank 0: (data + compute + merge) / local batch, and update + other per step`,
  };
}

/** The JSON line (every run kept; `results` are medians per strategy and N). */
export interface BenchOutput {
  bench: 'sharded';
  machine: MachineInfo & { loadavgEnd: number[]; backend: string };
  settings: {
    command: string;
    strategies: string[];
    skipped: { strategy: string; reason: string }[];
    availableSyncs: string[];
    data: string;
    model: string;
    mlp: number[];
    embedDim: number;
    numDense: number;
    globalBatch: number;
    steps: number;
    repeats: number;
    sparseReceivedDefinition: string;
    link: { gbit: number; latencyUs: number };
    projection: { batch: number; nprocs: number[]; vocabScale: number; zipf: number; timing: Timing & { from: string } };
    netem: { mode: string; nprocs: number[]; rates: number[] };
  };
  runs: RunRecord[];
  results: Summary[];
  model: { comparisons: Comparison[]; crossover: { atMeasuredBatch: number | null; atProjectBatch: number | null } };
  projection: {
    results: Projection[];
    issueExample: typeof ISSUE_EXAMPLE & { predictedMB: number; uniqueLocal: number; allDistinctMB: number };
  };
  netem: { status: 'ran' | 'skipped'; reason: string | null; shaping: Shaping[]; results: Summary[] };
}

export interface AnalysisInput {
  /** Any run's report: the model, its dimensions and the data it trained on (the same in every run). */
  report0: RunReport;
  specs: StrategySpec[];
  cores: number;
  batch: number;
  loopback: { runs: RunRecord[]; nprocs: number[] };
  netem: { runs: RunRecord[]; nprocs: number[]; rates: number[] };
  projection: { batch: number; nprocs: number[]; vocabScale: number; zipf: number; link: Link };
  /** --compute-us-per-sample and --fixed-ms (in seconds) where given: they override the calibration. */
  given: Partial<Timing>;
}

/** Everything the JSON and the tables show beyond the runs themselves. */
export function analyse(a: AnalysisInput) {
  const numDense = denseParams(a.report0);
  if (numDense === null) throw new Error(`cannot tell the dense parameter count from the data description "${a.report0.data}"`);
  const shape: Shape = { embedDim: a.report0.config.embedDim, numDense, vocab: V1_VOCAB };
  const cell = (rs: RunRecord[], spec: StrategySpec, n: number, rateBits: number | null) => rs.filter((r) => r.strategy === spec.label && r.n === n && r.rateBits === rateBits);
  const summaries = (rs: RunRecord[], ns: number[], rateBits: number | null) =>
    ns.flatMap((n) => a.specs.filter((s) => cell(rs, s, n, rateBits).length).map((spec) => summarise(spec, n, cell(rs, spec, n, rateBits), a.cores)));
  const results = summaries(a.loopback.runs, a.loopback.nprocs, null);
  const netemResults = a.netem.rates.flatMap((rateBits) => summaries(a.netem.runs, a.netem.nprocs, rateBits));
  const comparisons = results.filter((s) => s.model !== null).map((s) => compareWithModel(s, a.batch, shape));

  const p = a.projection;
  const projShape: Shape = {
    ...shape,
    vocab: p.vocabScale === 1 && p.zipf === V1_VOCAB.zipf ? V1_VOCAB : { sizes: scaleVocab(p.vocabScale), zipf: p.zipf },
  };
  // Both are projected whichever ran: bytes need no calibration, and compute is the same work under both.
  const modelled: Strategy[] = ['allgather', 'sharded'];
  const cal = calibrate(results, a.batch);
  const timing: Timing & { from: string } = {
    computeSecPerSample: a.given.computeSecPerSample ?? cal?.computeSecPerSample ?? 0,
    fixedSec: a.given.fixedSec ?? cal?.fixedSec ?? 0,
    from:
      a.given.computeSecPerSample !== undefined || a.given.fixedSec !== undefined
        ? `--compute-us-per-sample / --fixed-ms${cal ? `, else ${cal.from}` : ''}`
        : (cal?.from ?? 'no all-gather run measured: compute left out'),
  };
  const projections: Projection[] = p.nprocs.flatMap((n) => modelled.map((m) => project(m, n, p.batch, projShape, p.link, timing)));
  // The issue's example is DeepFM at d = 16 whatever this run's model.
  const issueShape: Shape = { ...projShape, embedDim: ISSUE_EXAMPLE.embedDim };
  const issue = traffic('allgather', ISSUE_EXAMPLE.n, ISSUE_EXAMPLE.batch, issueShape);
  const fields = projShape.vocab.sizes.length;
  // Every draw distinct: the bound a vocabulary far larger than the batch approaches.
  const draws = { local: (ISSUE_EXAMPLE.batch / ISSUE_EXAMPLE.n) * fields, global: ISSUE_EXAMPLE.batch * fields };
  const allDistinctMB = traffic('allgather', ISSUE_EXAMPLE.n, ISSUE_EXAMPLE.batch, issueShape, draws).sparse.received / MB;
  const crossover = { atMeasuredBatch: sparseOvertakesDense(a.batch, shape), atProjectBatch: sparseOvertakesDense(p.batch, projShape) };
  return {
    numDense,
    /** Of the measured runs, and of the projection (its vocabulary may be scaled). */
    shape,
    projShape,
    results,
    netemResults,
    comparisons,
    crossover,
    timing,
    projections,
    issueExample: { ...ISSUE_EXAMPLE, predictedMB: issue.sparse.received / MB, uniqueLocal: issue.uniqueLocal, allDistinctMB },
  };
}
