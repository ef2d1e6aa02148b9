/**
 * bench/sharded.ts's runs: the strategies it can launch, one launcher job per (strategy, N, repeat) on loopback or
 * on the emulated network, and each job's report and --metrics record turned into a RunRecord.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseMetrics } from '../src/train/metrics.js';
import type { RunReport } from '../src/train/report.js';
import { loadavgNow, positiveInt } from './common.js';
import { LAUNCHER, readReport, startLauncher, stopAllLaunchers } from './launch.js';
import { Network, tearDownAll, type Shaping } from './netns.js';
import type { Strategy } from './projection.js';

/** Bytes in every MB this bench prints or stores (10^6, as its notes say). */
export const MB = 1e6;

export const log = (msg: string): void => console.error(`[sharded] ${msg}`);

// ---- strategies ------------------------------------------------------------------------------------------------

export interface StrategySpec {
  /** As given on the command line, e.g. `ps:2`. */
  label: string;
  sync: string;
  flags: string[];
  /** The analytic model that describes its traffic, if any. */
  model: Strategy | null;
  /**
   * Whether all but its sparse exchange is symmetric (sent = received), so that sparse bytes received can be
   * derived; not with parameter servers, whose workers fetch every parameter before the final check.
   */
  symmetric: boolean;
}

/** The all-gather strategies: the same sparse traffic as allreduce (hybrid only shifts it by a step). */
const ALLGATHER_SYNCS = new Set(['allreduce', 'hybrid', 'local-clip']);

export function parseStrategy(s: string): StrategySpec {
  const [sync, arg] = s.split(':');
  const flags = ['--sync', sync];
  if (sync === 'ps' || sync === 'async-ps') flags.push('--servers', String(positiveInt('strategies', arg ?? '1')));
  else if (arg !== undefined) throw new Error(`--strategies ${s}: only ps and async-ps take a ":K" (servers)`);
  const model = sync === 'sharded' ? 'sharded' : ALLGATHER_SYNCS.has(sync) ? 'allgather' : null;
  return { label: s, sync, flags, model, symmetric: !flags.includes('--servers') };
}

/** The --sync choices this build's launcher lists in its --help. */
export function availableSyncs(): string[] {
  const help = execFileSync(process.execPath, [LAUNCHER, '--help'], { encoding: 'utf8' });
  const m = /--sync <([^>]+)>/.exec(help);
  if (!m) throw new Error('ddp-launch --help lists no --sync choices');
  return m[1].split('|');
}

// ---- one run ---------------------------------------------------------------------------------------------------

const SPLIT_KEYS = ['data', 'compute', 'merge', 'comm', 'update'] as const;
type SplitKey = (typeof SPLIT_KEYS)[number];
export type Split = Record<SplitKey | 'other', number>;

export interface RankRecord {
  rank: number;
  /** Bytes per training step: sent split by what they carried, sent and received in all (whole run / steps). */
  denseSent: number;
  sparseSent: number;
  sentAll: number;
  receivedAll: number;
  /** sparseSent + (received - sent) / steps: exact when everything but the sparse exchange is symmetric. */
  sparseReceived: number;
  uniqueLocal: number;
  uniqueApplied: number;
  commMs: number;
  /** Bytes the kernel counted on this rank's link over the whole job (emulated network only). */
  wire?: { tx: number; rx: number };
}

export interface RunRecord {
  strategy: string;
  n: number;
  repeat: number;
  network: 'loopback' | 'netns';
  /** Link limit of the emulated network (bits/s); null on loopback. */
  rateBits: number | null;
  loadStart: number[];
  loadEnd: number[];
  launcherSeconds: number;
  steps: number;
  globalBatch: number;
  trainSeconds: number;
  samplesPerSec: number;
  stepMs: number;
  /**
   * Rank 0's step split, ms per step, as the report gives it: under sharded and ps, comm and merge include the
   * final refresh (every owner's rows gathered after the last step), which the training time includes.
   */
  splitMs: Split;
  /** Rank 0's comm ms per step over the training steps alone (its --metrics record of the whole run). */
  commMsTrain: number;
  evalAuc: number;
  replicasIdentical: boolean;
  ranks: RankRecord[];
}

/** The comm share of rank 0's last --metrics step record: with --metrics-every = steps, over the whole run. */
function trainCommShare(metricsPath: string): number {
  const steps = parseMetrics(readFileSync(metricsPath, 'utf8'), metricsPath).filter((m) => m.type === 'step');
  const last = steps.at(-1);
  if (!last || steps.length !== 1) throw new Error(`${metricsPath}: expected one step record (--metrics-every = --steps), found ${steps.length}`);
  return last.commShare;
}

/** Output flags of rank 0: the report, and one --metrics record over all `steps`. */
const outputFlags = (reportPath: string, metricsPath: string, steps: number) => ['--report', reportPath, '--metrics', metricsPath, '--metrics-every', String(steps)];

function record(
  spec: StrategySpec,
  n: number,
  repeat: number,
  r: RunReport,
  commShareTrain: number,
  extra: Pick<RunRecord, 'network' | 'rateBits' | 'loadStart' | 'loadEnd' | 'launcherSeconds'>,
): RunRecord {
  const perStep = (x: number) => x / r.steps;
  const ms = (sec: number) => (sec * 1e3) / r.steps;
  const timed = SPLIT_KEYS.reduce((s, k) => s + r.stepTime[k], 0);
  return {
    strategy: spec.label,
    n,
    repeat,
    ...extra,
    steps: r.steps,
    globalBatch: r.globalBatch,
    trainSeconds: r.trainSeconds,
    samplesPerSec: r.samplesPerSec,
    stepMs: ms(r.trainSeconds),
    commMsTrain: commShareTrain * ms(r.trainSeconds),
    splitMs: { ...(Object.fromEntries(SPLIT_KEYS.map((k) => [k, ms(r.stepTime[k])])) as Record<SplitKey, number>), other: ms(r.trainSeconds - timed) },
    evalAuc: r.eval.auc,
    replicasIdentical: new Set(r.paramChecksums).size === 1,
    ranks: r.ranks.map((k) => ({
      rank: k.rank,
      denseSent: k.bytes.densePerStep,
      sparseSent: k.bytes.sparsePerStep,
      sentAll: perStep(k.bytes.sent),
      receivedAll: perStep(k.bytes.received),
      sparseReceived: k.bytes.sparsePerStep + perStep(k.bytes.received - k.bytes.sent),
      uniqueLocal: k.uniqueIdsPerStep.local,
      uniqueApplied: k.uniqueIdsPerStep.global,
      commMs: ms(k.stepTime.comm),
    })),
  };
}

/** What every job of the bench shares. */
export interface RunContext {
  repeats: number;
  steps: number;
  /** Training flags for `ddp-launch` (everything but -n, --sync and the output flags). */
  trainFlags: string[];
  /** Where the jobs' reports and --metrics files go. */
  dir: string;
  timeoutS: number;
  /** Called with each job's report as it is read (its file name under `dir`). */
  seen: (name: string, r: RunReport) => void;
}

// ---- loopback --------------------------------------------------------------------------------------------------

/** `ddp-launch -n N` on this host for every strategy and N. */
export async function runLoopback(specs: StrategySpec[], nprocs: number[], ctx: RunContext): Promise<RunRecord[]> {
  const { repeats, steps, trainFlags, dir, timeoutS, seen } = ctx;
  const runs: RunRecord[] = [];
  // Interleaved (every strategy at every N, then again) so a change of load hits every cell alike.
  for (let repeat = 1; repeat <= repeats; repeat++) {
    for (const n of nprocs) {
      for (const spec of specs) {
        const name = `${spec.label.replace(':', '-')}-n${n}-r${repeat}.json`;
        const reportPath = join(dir, name);
        const metricsPath = join(dir, `${name}.metrics`);
        const loadStart = loadavgNow();
        const args = ['-n', String(n), ...spec.flags, ...trainFlags, ...outputFlags(reportPath, metricsPath, steps)];
        const seconds = await startLauncher(args, { timeoutS, what: `ddp-launch -n ${n} --sync ${spec.sync}` }).done;
        const report = readReport(reportPath);
        seen(name, report);
        const rec = record(spec, n, repeat, report, trainCommShare(metricsPath), { network: 'loopback', rateBits: null, loadStart, loadEnd: loadavgNow(), launcherSeconds: seconds });
        runs.push(rec);
        const r0 = rec.ranks[0];
        log(
          `repeat ${repeat}/${repeats} ${spec.label} N=${n}: ${rec.stepMs.toFixed(0)} ms/step (comm ${rec.commMsTrain.toFixed(0)}), rank 0 sparse ${(r0.sparseSent / MB).toFixed(2)} MB sent ` +
            `/ ${(r0.sparseReceived / MB).toFixed(2)} received per step, ${Math.round(r0.uniqueLocal)} local IDs; run ${seconds.toFixed(1)} s, load ${loadStart[0]} -> ${rec.loadEnd[0]}`,
        );
      }
    }
  }
  return runs;
}

// ---- emulated network ------------------------------------------------------------------------------------------

export interface NetemOutcome {
  status: 'ran' | 'skipped';
  reason?: string;
  shaping: Shaping[];
  runs: RunRecord[];
}

/** One namespace per rank, for every (N, link rate) cell; `cores` is split among the N ranks. */
export async function runNetem(specs: StrategySpec[], cells: { n: number; rateBits: number }[], ctx: RunContext, cores: number): Promise<NetemOutcome> {
  const { repeats, steps, trainFlags, dir, timeoutS, seen } = ctx;
  const out: NetemOutcome = { status: 'ran', shaping: [], runs: [] };
  let port = 21000;
  for (const { n, rateBits } of cells) {
    const net = new Network(n, rateBits);
    log(`emulated network: ${n} namespaces on a bridge, links limited to ${rateBits / 1e9} Gbit/s`);
    net.setUp();
    try {
      out.shaping.push(net.shaping);
      if (net.shaping.kind === 'none') {
        log(`NOTICE: cannot limit the links (${net.shaping.reason}); emulated-network runs skipped`);
        return { ...out, status: 'skipped', reason: `no traffic shaping: ${net.shaping.reason}` };
      }
      log(`links limited with ${net.shaping.spec}`);
      // Each namespace is a "host" with every core; give each rank its share, as `-n N` on one host does.
      const env = { ...process.env, DDP_BLAS_THREADS: String(Math.max(1, Math.floor(cores / n))) };
      for (let repeat = 1; repeat <= repeats; repeat++) {
        for (const spec of specs) {
          // A fresh port per run: a previous job's connections may linger in TIME_WAIT.
          port += 16;
          const token = randomBytes(8).toString('hex');
          const name = `netns-${rateBits / 1e6}mbit-${spec.label.replace(':', '-')}-n${n}-r${repeat}.json`;
          const reportPath = join(dir, name);
          const metricsPath = join(dir, `${name}.metrics`);
          const before = net.counters();
          const loadStart = loadavgNow();
          const procs = net.namespaces.map((ns, i) =>
            startLauncher(
              [
                '--nnodes', String(n), '--node-rank', String(i), '-n', '1', '--master-addr', net.addresses[0], '--master-port', String(port),
                '--token', token, ...spec.flags, ...trainFlags, ...(i === 0 ? outputFlags(reportPath, metricsPath, steps) : []),
              ],
              { timeoutS, prefix: ['ip', 'netns', 'exec', ns], env, what: `${spec.label} host ${i} of ${n} (netns ${ns})` },
            ),
          );
          let seconds: number[];
          try {
            seconds = await Promise.all(procs.map((p) => p.done));
          } catch (err) {
            procs.forEach((p) => p.stop());
            await Promise.allSettled(procs.map((p) => p.done));
            throw err;
          }
          const after = net.counters();
          const report = readReport(reportPath);
          seen(name, report);
          const rec = record(spec, n, repeat, report, trainCommShare(metricsPath), { network: 'netns', rateBits, loadStart, loadEnd: loadavgNow(), launcherSeconds: Math.max(...seconds) });
          rec.ranks.forEach((k) => (k.wire = { tx: after[k.rank].tx - before[k.rank].tx, rx: after[k.rank].rx - before[k.rank].rx }));
          out.runs.push(rec);
          log(
            `netns ${rateBits / 1e9} Gbit/s ${spec.label} N=${n} repeat ${repeat}/${repeats}: ${rec.stepMs.toFixed(0)} ms/step, comm ${rec.commMsTrain.toFixed(0)} ms (rank 0), ` +
              `link ${((rec.ranks[0].wire!.tx) / MB).toFixed(1)} MB sent by rank 0 in the job; load ${loadStart[0]}`,
          );
        }
      }
    } finally {
      net.tearDown();
    }
  }
  return out;
}

/** Stops running launchers and removes our namespaces on exit and on a signal, whatever the bench was doing. */
export function cleanUpOnExit(): void {
  const cleanUp = () => {
    stopAllLaunchers();
    tearDownAll();
  };
  process.once('exit', cleanUp);
  for (const [sig, code] of [['SIGINT', 130], ['SIGTERM', 143], ['SIGHUP', 129]] as const) {
    process.once(sig, () => {
      log(`${sig}: stopping the runs and removing the emulated network`);
      process.exit(code); // runs cleanUp
    });
  }
}
