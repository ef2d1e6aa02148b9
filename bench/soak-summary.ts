/** bench/soak.ts's result: the ranks' reports checked against the plan, and each rank's RSS samples summarised. */
import { loadavgNow, median, type MachineInfo } from './common.js';
import type { SoakKind } from './soak-plan.js';
import type { Config, RankReport } from './soak-runs.js';

/** Per-rank RSS figures: first, median, last, max, at the 10% mark, and growth from there to the end. */
export interface RssSummary {
  first: number;
  median: number;
  last: number;
  max: number;
  samples: number;
  /** The sample nearest to 10% of the ops. */
  at10: number;
  /** last - at10. */
  growth: number;
  growthPct: number;
  /**
   * Median of the samples in the second half of the run minus the median of those from 10% to 50%: steady growth
   * (a leak) shows here, while one-off warm-up (V8 growing its heap and external-memory GC limits) mostly does not.
   */
  lateDrift: number;
  /** heapUsed and arrayBuffers (process.memoryUsage) over the same samples: what JS holds, if RSS moves. */
  heapUsed: { first: number; median: number; last: number; max: number };
  arrayBuffers: { first: number; median: number; last: number; max: number };
}

function summariseRss(samples: RankReport['rss'], ops: number): RssSummary {
  const values = samples.map(([, v]) => v);
  const mid = samples.filter(([op]) => op >= ops / 10 && op <= ops / 2).map(([, v]) => v);
  const late = samples.filter(([op]) => op > ops / 2).map(([, v]) => v);
  const at10 = samples.reduce((best, s) => (Math.abs(s[0] - ops / 10) < Math.abs(best[0] - ops / 10) ? s : best))[1];
  const last = values[values.length - 1];
  return {
    first: values[0],
    median: median(values),
    last,
    max: Math.max(...values),
    samples: values.length,
    at10,
    growth: last - at10,
    growthPct: (100 * (last - at10)) / at10,
    lateDrift: mid.length && late.length ? median(late) - median(mid) : 0,
    heapUsed: spread(samples.map((x) => x[2])),
    arrayBuffers: spread(samples.map((x) => x[3])),
  };
}

function spread(values: number[]): { first: number; median: number; last: number; max: number } {
  return { first: values[0], median: median(values), last: values[values.length - 1], max: Math.max(...values) };
}

/**
 * The JSON line: `planned` is the plan's totals (planTotals), `reports` the ranks' in rank order, `totalSeconds` the
 * parent's wall time including the ranks' start.
 */
export function summarise(
  cfg: Config,
  planned: { kinds: Record<SoakKind, number>; payloadBytes: number },
  reports: RankReport[],
  machine: MachineInfo,
  totalSeconds: number,
) {
  const { kinds, payloadBytes } = planned;
  // Mismatches first: the other ranks' errors are usually their consequence (the failed rank left).
  const failures = reports
    .filter((r) => r.status !== 'ok')
    .sort((a, b) => Number(b.status === 'mismatch') - Number(a.status === 'mismatch'))
    .map((r) => ({ rank: r.rank, status: r.status, message: r.message! }));
  // Each rank's own counters must agree with the plan (plus the barrier before the loop).
  const expectedCalls = {
    allreduce: kinds['allreduce-sum'] + kinds['allreduce-mean'],
    allgatherv: kinds.allgatherv,
    alltoallv: kinds.alltoallv,
    broadcast: kinds.broadcast,
    barrier: kinds.barrier + 1,
  };
  for (const r of reports) {
    if (r.status !== 'ok') continue;
    for (const [kind, n] of Object.entries(expectedCalls)) {
      const calls = r.stats!.byKind[kind as keyof typeof expectedCalls].calls;
      if (calls !== n) failures.push({ rank: r.rank, status: 'error', message: `rank ${r.rank} counted ${calls} ${kind} calls, the plan has ${n}` });
    }
  }
  const ok = failures.length === 0 && reports.every((r) => r.ops === cfg.ops);
  const seconds = Math.max(...reports.map((r) => r.seconds));
  const opsDone = Math.min(...reports.map((r) => r.ops));
  const ranks = reports.map((r) => ({
    rank: r.rank,
    status: r.status,
    ops: r.ops,
    seconds: r.seconds,
    commSeconds: r.commSeconds,
    bytesSent: r.stats?.bytesSent ?? 0,
    bytesReceived: r.stats?.bytesReceived ?? 0,
    rss: r.rss.length ? summariseRss(r.rss, cfg.ops) : undefined,
    rssSamples: r.rss,
    memoryEnd: r.memoryEnd,
  }));
  const wireBytes = ranks.reduce((a, r) => a + r.bytesSent, 0);
  return {
    bench: 'soak',
    machine,
    config: { ranks: cfg.ranks, ops: cfg.ops, maxSize: cfg.maxSize, seed: cfg.seed, transport: cfg.transport, sampleEvery: cfg.sampleEvery, gc: cfg.gc, corruptAt: cfg.corruptAt },
    ok,
    ops: opsDone,
    mismatches: failures.filter((f) => f.status === 'mismatch').length,
    failures,
    kinds,
    /** Loop time of the slowest rank. */
    seconds,
    opsPerSec: opsDone / seconds,
    /** Bytes of results per rank (allreduce and broadcast buffers, gathered payloads, alltoallv parts received: their mean), summed over the plan. */
    payloadBytes,
    /** Bytes all ranks put on the wire (payload and headers). */
    wireBytes,
    wireGBps: wireBytes / seconds / 1e9,
    totalSeconds,
    loadavgEnd: loadavgNow(),
    ranks,
  };
}

export type SoakResult = ReturnType<typeof summarise>;
