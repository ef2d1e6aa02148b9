/**
 * A strategy comparison's rows (compare.json's `strategies`) and what compare.md, compare.svg and
 * compare.html all show of them: the table's cells and the eval AUC curves.
 */
import type { RunReport } from '../train/report.js';
import type { LineSeries } from './chart.js';
import { formatBytes, formatCount } from './format.js';

export interface CompareRow {
  label: string;
  sync: string;
  ok: boolean;
  exitCode: number | null;
  /** Seconds of the whole ddp-launch job (process start, data, training, evaluation). */
  jobSeconds: number;
  eval?: { auc: number; logloss: number };
  samplesPerSec?: number;
  trainSeconds?: number;
  /** Per training step, mean over ranks of the bytes each rank sent. */
  bytesPerStep?: { dense: number; sparse: number };
  history?: RunReport['history'];
  replicasIdentical?: boolean;
  /** The report of the run shown (the median one by training time). */
  report?: string;
  /** With --compare-repeats > 1: every run's timing. */
  repeats?: { samplesPerSec: number; trainSeconds: number; jobSeconds: number }[];
}

/** One strategy's eval AUC by step and by training seconds. */
export interface AucSeries {
  label: string;
  points: { step: number; seconds: number; auc: number }[];
}

export const COMPARE_HEADER = ['strategy', 'eval AUC', 'eval logloss', 'samples/s', 'dense bytes/step', 'sparse bytes/step', 'train s', 'job s', 'replicas'];
/** Which of COMPARE_HEADER's columns hold numbers (right-aligned). */
export const COMPARE_NUMERIC = COMPARE_HEADER.map((h) => h !== 'strategy' && h !== 'replicas');

/** A row's table cells, in COMPARE_HEADER's order; a failed strategy has its exit code and job time only. */
export function compareCells(r: CompareRow): string[] {
  if (!r.ok || !r.eval) return [r.label, `failed (exit ${r.exitCode})`, '', '', '', '', '', r.jobSeconds.toFixed(1), ''];
  return [
    r.label,
    r.eval.auc.toFixed(4),
    r.eval.logloss.toFixed(4),
    formatCount(r.samplesPerSec!),
    formatBytes(r.bytesPerStep!.dense),
    formatBytes(r.bytesPerStep!.sparse),
    r.trainSeconds!.toFixed(1),
    r.jobSeconds.toFixed(1),
    r.replicasIdentical ? 'identical' : 'DIFFER',
  ];
}

/** With --compare-repeats: which of the runs the table shows. */
export function repeatsNote(rows: CompareRow[]): string | undefined {
  const repeats = rows.find((r) => r.repeats)?.repeats?.length;
  return repeats
    ? `samples/s and train s: the median of ${repeats} interleaved runs per strategy (by training time); job s: the median job time.`
    : undefined;
}

/** The strategies that ran, with their eval history. */
export function aucSeries(rows: CompareRow[]): AucSeries[] {
  return rows.filter((r) => r.history).map((r) => ({ label: r.label, points: r.history! }));
}

/** The AUC curves as chart series, against training step or training seconds. */
export function aucCurves(series: AucSeries[], x: 'step' | 'seconds'): LineSeries[] {
  return series.map((s) => ({ label: s.label, points: s.points.map((p) => ({ x: p[x], y: p.auc })) }));
}
