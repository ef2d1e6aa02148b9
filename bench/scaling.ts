/**
 * Data-parallel scaling on this machine: runs the real launcher (`dist/launcher/cli.js -n N`, ZeroMQ
 * collectives, one process per rank) with the same training flags for each N, repeats interleaved (N=1, N=2,
 * N=1, N=2, ...) so load changes on a shared machine hit every N alike, and reports medians over repeats:
 *
 * - total samples/s (the report's `samplesPerSec`: training loop only, no start-up, data or eval) and the
 *   speed-up vs N=1 (issue 7 target: >= 1.8x at N=2);
 * - step time (trainSeconds / steps) and rank 0's split: data (batch fill + embedding lookup), tfjs compute,
 *   per-ID merge (local merge, encode, merge of the gathered payloads), comm (inside collectives, waiting for
 *   the slower rank included), update (optimizer); and the communication share comm / step (target < 10%);
 * - per rank, bytes sent per step: dense (ring all-reduce) against the ring minimum 2(N-1)/N x numDense x 4,
 *   and sparse (all-gather of the per-ID merged rows) against the minimum defined below;
 * - per-process peak RSS and CPU use (from /proc, Linux only; omitted elsewhere) and the load average.
 *
 * Sparse minimum. Rank r's shard has u_r distinct IDs per step (after its local per-ID merge). For CowClip every
 * rank needs every other rank's rows, so rank r's rows must reach each of the N-1 other ranks, at least
 * u_r x ((d + 1) x 4 + 4) bytes each time: d + 1 float32 values (field row | first-order) plus an int32 id.
 * Minimum(r) = (N-1) x u_r x ((d+1) x 4 + 4) bytes per step. Summed over ranks it equals what all ranks must
 * receive, whatever the all-gather algorithm. The measured bytes add the float32 counts (4 bytes per ID), the
 * 16-byte payload header and the transport's frame headers. (A different algorithm, e.g. reduce-scatter of rows
 * sharded by ID, could move less when shards share IDs; the JSON gives the local/global unique IDs for that.)
 *
 *   node dist/bench/scaling.js [--nprocs 1,2] [--batch 8192] [--steps 10] [--repeats 3] [--model deepfm]
 *     [--mlp 400,400,400] [--embed-dim 16] [--timeout-per-run 900] [--json FILE]
 *
 * The default run (6 launcher runs of 10 steps) took 2.7-4.4 minutes on 2 cores at load average 6-12. JSON then
 * markdown tables go to stdout, progress to stderr. N larger than the core count is labelled oversubscribed.
 */
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { RunReport } from '../src/train/report.js';
import { loadavgNow, machineInfo, markdownTable, median } from './common.js';
import { denseParams, jobFrom, jobOptions, readReport, startLauncher } from './launch.js';

const MB = 1e6;
const POLL_MS = 250;
const TARGET_SPEEDUP = 1.8;
const TARGET_COMM_SHARE = 0.1;

const { values } = parseArgs({
  options: {
    ...jobOptions({ nprocs: '1,2', steps: '10', repeats: '3' }),
    json: { type: 'string' },
  },
});

const log = (msg: string): void => console.error(`[scaling] ${msg}`);

/** One worker process seen under the launcher, from /proc (the last sample before it exited). */
interface ProcSample {
  rank: number;
  peakRssMB: number;
  cpuSeconds: number;
  /** Seconds from the first time this process was seen to the last. */
  seenSeconds: number;
}

interface Run {
  n: number;
  repeat: number;
  report: RunReport;
  procs: ProcSample[];
  loadStart: number[];
  loadEnd: number[];
  launcherSeconds: number;
}

// ---- /proc sampling (Linux); every read may fail because the process has just exited --------------------------

const CLK_TCK = 100; // USER_HZ, 100 on every Linux ABI node supports

function readText(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

function childrenOf(pid: number): number[] {
  const direct = readText(`/proc/${pid}/task/${pid}/children`);
  if (direct !== undefined) return direct.trim().split(/\s+/).filter(Boolean).map(Number);
  // Kernels without CONFIG_PROC_CHILDREN: scan every process's parent.
  const out: number[] = [];
  let entries: string[] = [];
  try {
    entries = readdirSync('/proc').filter((e) => /^\d+$/.test(e));
  } catch {
    return out;
  }
  for (const e of entries) {
    const stat = readText(`/proc/${e}/stat`);
    if (stat && Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid) out.push(Number(e));
  }
  return out;
}

/** Samples the launcher's worker processes every POLL_MS: rank (from RANK in its environment), peak RSS, CPU. */
class ProcMonitor {
  private readonly seen = new Map<number, ProcSample & { first: number }>();
  private readonly timer: NodeJS.Timeout | undefined;

  constructor(private readonly launcherPid: number) {
    if (process.platform !== 'linux') return;
    this.timer = setInterval(() => this.poll(), POLL_MS);
  }

  private poll(): void {
    const now = performance.now();
    for (const pid of childrenOf(this.launcherPid)) {
      let s = this.seen.get(pid);
      if (!s) {
        const env = readText(`/proc/${pid}/environ`);
        const rank = env?.split('\0').find((kv) => kv.startsWith('RANK='));
        if (rank === undefined) continue;
        s = { rank: Number(rank.slice(5)), peakRssMB: 0, cpuSeconds: 0, seenSeconds: 0, first: now };
        this.seen.set(pid, s);
      }
      const hwm = readText(`/proc/${pid}/status`)?.match(/^VmHWM:\s+(\d+) kB/m);
      if (hwm) s.peakRssMB = Math.max(s.peakRssMB, (Number(hwm[1]) * 1024) / MB);
      const stat = readText(`/proc/${pid}/stat`);
      if (stat) {
        const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        // utime and stime are fields 14 and 15 of stat, 12 and 13 after "pid (comm) ".
        s.cpuSeconds = (Number(f[11]) + Number(f[12])) / CLK_TCK;
        s.seenSeconds = (now - s.first) / 1000;
      }
    }
  }

  stop(): ProcSample[] {
    if (this.timer) clearInterval(this.timer);
    return [...this.seen.values()].map(({ first: _, ...s }) => s).sort((a, b) => a.rank - b.rank);
  }
}

// ---- one launcher run ------------------------------------------------------------------------------------------

async function launch(n: number, trainFlags: string[], reportPath: string, timeoutS: number): Promise<{ report: RunReport; procs: ProcSample[]; seconds: number }> {
  const run = startLauncher(['-n', String(n), ...trainFlags, '--report', reportPath], { timeoutS, what: `ddp-launch -n ${n}` });
  const monitor = new ProcMonitor(run.pid);
  const seconds = await run.done.finally(() => monitor.stop());
  return { report: readReport(reportPath), procs: monitor.stop(), seconds };
}

// ---- analysis --------------------------------------------------------------------------------------------------

const SPLIT_KEYS = ['data', 'compute', 'merge', 'comm', 'update'] as const;
type SplitKey = (typeof SPLIT_KEYS)[number];

function summarise(n: number, runs: Run[], cores: number, numDense: number | null, base?: { samplesPerSec: number; computeMsPerSample: number }) {
  const med = (f: (r: Run) => number) => median(runs.map(f));
  const ms = (r: Run, sec: number) => (sec * 1e3) / r.report.steps;
  const d = runs[0].report.config.embedDim;
  const idBytes = (d + 1) * 4 + 4;
  const samplesPerSec = med((r) => r.report.samplesPerSec);
  const stepMs = med((r) => ms(r, r.report.trainSeconds));
  const split = Object.fromEntries(SPLIT_KEYS.map((k) => [k, med((r) => ms(r, r.report.stepTime[k]))])) as Record<SplitKey, number>;
  const commShare = med((r) => r.report.stepTime.comm / r.report.trainSeconds);
  const localBatch = runs[0].report.globalBatch / n;
  // tfjs compute per sample on rank 0; with N processes on free cores this would stay at the N=1 value.
  const computeMsPerSample = split.compute / localBatch;
  const ranks = Array.from({ length: n }, (_, rank) => {
    const rr = (r: Run) => r.report.ranks[rank];
    const localUnique = med((r) => rr(r).uniqueIdsPerStep.local);
    const densePerStep = med((r) => rr(r).bytes.densePerStep);
    const sparsePerStep = med((r) => rr(r).bytes.sparsePerStep);
    const denseMin = numDense === null ? null : ((2 * (n - 1)) / n) * numDense * 4;
    const sparseMin = (n - 1) * localUnique * idBytes;
    const procs = runs.map((r) => r.procs.find((p) => p.rank === rank)).filter((p): p is ProcSample => p !== undefined);
    return {
      rank,
      densePerStep,
      denseMin,
      denseRatio: denseMin ? densePerStep / denseMin : null,
      localUniqueIds: localUnique,
      sparsePerStep,
      sparseMin,
      sparseRatio: sparseMin ? sparsePerStep / sparseMin : null,
      stepMs: Object.fromEntries(SPLIT_KEYS.map((k) => [k, median(runs.map((r) => ms(r, rr(r).stepTime[k])))])) as Record<SplitKey, number>,
      peakRssMB: procs.length ? median(procs.map((p) => p.peakRssMB)) : null,
      // CPU seconds over the process's life (start-up, data generation, training, eval) / its wall seconds.
      cpuCores: procs.length ? median(procs.map((p) => (p.seenSeconds > 0 ? p.cpuSeconds / p.seenSeconds : 0))) : null,
    };
  });
  const sparseTotal = ranks.reduce((s, r) => s + r.sparsePerStep, 0);
  const sparseMinTotal = ranks.reduce((s, r) => s + r.sparseMin, 0);
  const globalUnique = med((r) => r.report.ranks[0].uniqueIdsPerStep.global);
  return {
    nprocs: n,
    oversubscribed: n > cores,
    repeats: runs.length,
    steps: runs[0].report.steps,
    samplesPerSec,
    samplesPerSecAll: runs.map((r) => r.report.samplesPerSec),
    speedup: base ? samplesPerSec / base.samplesPerSec : n === 1 ? 1 : null,
    /** Rank 0's compute ms per sample at N=1 over the same at this N: 1 when processes do not compete for cores. */
    computeEfficiency: base ? base.computeMsPerSample / computeMsPerSample : n === 1 ? 1 : null,
    stepMs,
    // other = step minus the timed parts, per run (replica checks, progress; a difference of medians could go negative).
    splitMs: { ...split, other: med((r) => ms(r, r.report.trainSeconds - SPLIT_KEYS.reduce((s, k) => s + r.report.stepTime[k], 0))) },
    commShare,
    /**
     * Min and max over ranks of comm / step. Comm time includes waiting for the slowest rank to arrive; the rank
     * that arrives last waits least, so the min is close to the collectives' own cost.
     */
    commShareMinRank: med((r) => Math.min(...r.report.ranks.map((x) => x.stepTime.comm)) / r.report.trainSeconds),
    commShareMaxRank: med((r) => Math.max(...r.report.ranks.map((x) => x.stepTime.comm)) / r.report.trainSeconds),
    computeMsPerSample,
    uniqueIdsPerStep: { global: globalUnique, sumLocal: ranks.reduce((s, r) => s + r.localUniqueIds, 0) },
    sparseAllRanks: { perStep: sparseTotal, min: sparseMinTotal, ratio: sparseMinTotal ? sparseTotal / sparseMinTotal : null },
    ranks,
    loadavg1: runs.map((r) => r.loadStart[0]),
    wallSecondsPerRun: median(runs.map((r) => r.launcherSeconds)),
    eval: { auc: runs.map((r) => r.report.eval.auc) },
    paramChecksumsEqual: runs.every((r) => new Set(r.report.paramChecksums).size === 1),
  };
}

// ---- main ------------------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const { nprocs, batch, steps, repeats, timeoutS, dataSpec, trainFlags } = jobFrom(values);

  const machine = machineInfo();
  log(`${machine.cores} cores, load average ${machine.loadavg.join(' ')}; N = ${nprocs.join(', ')}, ${repeats} interleaved repeats of ${steps} steps at global batch ${batch}`);
  if (machine.loadavg[0] > machine.cores / 2) log(`warning: load average ${machine.loadavg[0]} on ${machine.cores} cores: other jobs compete with the workers`);
  const dir = mkdtempSync(join(tmpdir(), 'ddp-scaling-'));
  const runs = new Map<number, Run[]>(nprocs.map((n) => [n, []]));
  try {
    for (let repeat = 1; repeat <= repeats; repeat++) {
      for (const n of nprocs) {
        const loadStart = loadavgNow();
        const { report, procs, seconds } = await launch(n, trainFlags, join(dir, `n${n}-r${repeat}.json`), timeoutS);
        const loadEnd = loadavgNow();
        runs.get(n)!.push({ n, repeat, report, procs, loadStart, loadEnd, launcherSeconds: seconds });
        const t = report.stepTime;
        log(
          `repeat ${repeat}/${repeats} N=${n}: ${Math.round(report.samplesPerSec)} samples/s, ${((report.trainSeconds * 1e3) / report.steps).toFixed(0)} ms/step ` +
            `(rank 0 compute ${((t.compute * 1e3) / report.steps).toFixed(0)}, comm ${((t.comm * 1e3) / report.steps).toFixed(0)}), ` +
            `run ${seconds.toFixed(1)} s, load ${loadStart[0]} -> ${loadEnd[0]}`,
        );
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }

  const first = runs.get(nprocs[0])![0].report;
  const numDense = denseParams(first);
  const baseRuns = runs.get(1);
  const base1 = baseRuns ? summarise(1, baseRuns, machine.cores, numDense) : undefined;
  const results = nprocs.map((n) => (n === 1 && base1 ? base1 : summarise(n, runs.get(n)!, machine.cores, numDense, base1)));
  const at2 = results.find((r) => r.nprocs === 2);
  const report = {
    bench: 'scaling',
    machine: { ...machine, loadavgEnd: loadavgNow(), backend: first.backend },
    settings: {
      command: `ddp-launch -n N ${trainFlags.join(' ')} --report FILE`,
      data: dataSpec,
      model: first.model,
      sync: first.sync,
      mlp: first.config.mlp,
      embedDim: first.config.embedDim,
      globalBatch: batch,
      steps,
      repeats,
      numDense,
      sparseMinDefinition: '(N-1) x localUniqueIds x ((d+1) x 4 + 4) bytes per rank per step: its merged rows (d+1 float32 values + int32 id) delivered to each other rank',
      denseMinDefinition: '2(N-1)/N x numDense x 4 bytes per rank per step (ring all-reduce)',
    },
    targets: {
      speedupAt2: { target: TARGET_SPEEDUP, measured: at2?.speedup ?? null, met: at2?.speedup == null ? null : at2.speedup >= TARGET_SPEEDUP },
      commShareAt2: { target: TARGET_COMM_SHARE, measured: at2?.commShare ?? null, met: at2 ? at2.commShare < TARGET_COMM_SHARE : null },
    },
    results,
  };
  console.log(JSON.stringify(report));
  if (values.json) writeFileSync(values.json, JSON.stringify(report, null, 2) + '\n');

  // Rounding must not print '-0' (the 'other' column is a difference of medians).
  const f = (x: number, dd = 0) => x.toLocaleString('en', { minimumFractionDigits: dd, maximumFractionDigits: dd }).replace(/^-(0(\.0+)?)$/, '$1');
  const pct = (part: number, whole: number) => `${f(part)} (${f((100 * part) / whole)}%)`;
  const mb = (x: number | null) => (x === null ? '–' : f(x / MB, 2));
  const ratio = (x: number | null) => (x === null ? '–' : `${f(x, 2)}x`);
  const label = (n: number) => (n > machine.cores ? `${n} (oversubscribed)` : String(n));
  console.log(
    '\n' +
      markdownTable(
        ['N', 'samples/s (median)', 'min-max', 'speed-up vs N=1', 'step ms', 'data ms', 'compute ms', 'per-ID merge ms', 'comm ms', 'update ms', 'other ms', 'comm share rank 0 (min-max over ranks)', 'compute efficiency'],
        results.map((r) => [
          label(r.nprocs),
          f(r.samplesPerSec),
          `${f(Math.min(...r.samplesPerSecAll))}-${f(Math.max(...r.samplesPerSecAll))}`,
          ratio(r.speedup),
          f(r.stepMs),
          pct(r.splitMs.data, r.stepMs),
          pct(r.splitMs.compute, r.stepMs),
          pct(r.splitMs.merge, r.stepMs),
          pct(r.splitMs.comm, r.stepMs),
          pct(r.splitMs.update, r.stepMs),
          pct(r.splitMs.other, r.stepMs),
          `${f(100 * r.commShare, 1)}% (${f(100 * r.commShareMinRank, 1)}-${f(100 * r.commShareMaxRank, 1)}%)`,
          r.computeEfficiency === null ? '–' : `${f(100 * r.computeEfficiency)}%`,
        ]),
      ),
  );
  console.log(
    '\n' +
      markdownTable(
        ['N', 'rank', 'dense MB/step sent', 'ring minimum', 'ratio', 'local unique IDs/step', 'sparse MB/step sent', 'minimum', 'ratio', 'peak RSS MB', 'CPU cores used'],
        results.flatMap((r) =>
          r.ranks.map((k) => [
            label(r.nprocs),
            k.rank,
            mb(k.densePerStep),
            mb(k.denseMin),
            ratio(k.denseRatio),
            f(k.localUniqueIds),
            mb(k.sparsePerStep),
            mb(k.sparseMin),
            ratio(k.sparseRatio),
            k.peakRssMB === null ? '–' : f(k.peakRssMB),
            k.cpuCores === null ? '–' : f(k.cpuCores, 2),
          ]),
        ),
      ),
  );
  const tgt = report.targets;
  console.log(
    `\n${machine.cpu}, ${machine.cores} cores, Node ${machine.node}, ${first.backend} backend, sync ${first.sync}; ${first.model} (MLP ${first.config.mlp.join('-')}, d=${first.config.embedDim}, ` +
      `${numDense === null ? '?' : f(numDense)} dense params), ${dataSpec}, global batch ${batch}, ${steps} steps per run (the first, with kernel warm-up, included); ` +
      `median of ${repeats} interleaved repeats; load average ${machine.loadavg.join(' ')} at start, ${report.machine.loadavgEnd.join(' ')} at end. ` +
      `Step split is rank 0's; comm includes waiting for the slower rank (the min over ranks is closest to the collectives' own cost); compute efficiency = rank 0's tfjs ms per sample at N=1 / at N. ` +
      `Sparse minimum = (N-1) x local unique IDs x ((d+1) x 4 + 4) bytes (rows + ids delivered to each other rank); measured adds counts (4 B/ID) and headers. ` +
      `MB = 10^6 bytes. Peak RSS (VmHWM) and CPU cores used (CPU s / wall s over the whole process life) from /proc.` +
      (tgt.speedupAt2.measured === null
        ? ''
        : ` Issue 7 targets at N=2: speed-up >= ${TARGET_SPEEDUP}x: ${f(tgt.speedupAt2.measured, 2)}x (${tgt.speedupAt2.met ? 'met' : 'not met'}); ` +
          `comm share < ${100 * TARGET_COMM_SHARE}%: ${f(100 * (tgt.commShareAt2.measured ?? 0), 1)}% (${tgt.commShareAt2.met ? 'met' : 'not met'}).`),
  );
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
