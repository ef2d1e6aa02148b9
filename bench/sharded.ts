/**
 * Issue 9: per-rank traffic of the sharded embedding exchange (`--sync sharded`, an all-to-all to ID owners)
 * against the all-gather strategy (`--sync allreduce`), measured, modelled and projected.
 *
 * 1. Measured: for each strategy and N, the real launcher (`ddp-launch -n N --sync S`) trains DeepFM on synthetic
 *    v1-shaped data at a global batch fixed across N, and its report gives per rank and step: bytes sent split
 *    dense/sparse (the strategies' meters), bytes sent and received in all, distinct IDs (the rank's own, and
 *    what it applied), step time and rank 0's split; rank 0's comm time over the training steps alone comes from
 *    its --metrics record (the report's also holds sharded's and ps's final refresh, after the last step).
 *    Sparse bytes received are derived: the report splits only what a rank sends, but the ring all-reduce and
 *    the control collectives send what they receive, so sparse received = sparse sent + (received - sent) /
 *    steps. N above the core count is labelled oversubscribed.
 * 2. Model (bench/projection.ts): the same bytes predicted from the v1 generator's ID distribution, as
 *    measured / predicted ratios, and a projection of bytes and step time to large N at a given batch and link
 *    bandwidth, with compute per sample calibrated from the measured all-gather runs.
 * 3. Emulated network (root only; without root a notice, and the part is skipped): one network namespace per
 *    rank, joined by veth pairs to a bridge, each link limited by `tc ... tbf rate R` (netem rate as a fallback;
 *    neither: said so, and skipped), one `ddp-launch --nnodes N --node-rank i -n 1` per namespace. Reports step
 *    time, communication share, bytes per rank and the bytes the kernel counted on each rank's link. Namespaces
 *    are removed after each N, on failure, on exit and on Ctrl-C. `--netem only` runs this part alone.
 *
 *   node dist/bench/sharded.js [--strategies allreduce,sharded] [--nprocs 2,4,8] [--batch 8192] [--steps 8]
 *     [--repeats 1] [--model deepfm] [--mlp 400,400,400] [--embed-dim 16] [--timeout-per-run 900]
 *     [--link-gbit 10] [--latency-us 50] [--project-batch 131072] [--project-nprocs 2,8,64,256]
 *     [--project-vocab-scale 1] [--project-zipf 1.1] [--compute-us-per-sample X] [--fixed-ms X]
 *     [--netem auto|on|off|only] [--netem-nprocs 2,4] [--rate 1gbit[,100mbit...]] [--json FILE] [--keep-reports DIR]
 *
 * Strategies: any --sync name the launcher lists (ps and async-ps as `ps:K` for K servers, default 1); one the
 * build does not offer is skipped with a notice. Only allreduce (and hybrid, local-clip: the same all-gather)
 * and sharded have a model. JSON (every run kept) then markdown tables go to stdout, progress to stderr.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { scaleVocab, SYNTHETIC_PRESETS } from '../src/data/synthetic.js';
import { parseMetrics } from '../src/train/metrics.js';
import type { RunReport } from '../src/train/report.js';
import { loadavgNow, machineInfo, markdownTable, median, positiveInt, splitList, type MachineInfo } from './common.js';
import { denseParams, jobFrom, jobOptions, LAUNCHER, readReport, startLauncher, stopAllLaunchers } from './launch.js';
import { Network, netnsUnavailable, tearDownAll, type Shaping } from './netns.js';
import { commSeconds, parseRate, project, sparseOvertakesDense, traffic, V1_VOCAB, type Link, type Projection, type Shape, type Strategy, type Timing } from './projection.js';

const MB = 1e6;
/** The issue's example: DeepFM (26 fields, d = 16), global batch 128K, 64 ranks: "~140 MB received per rank per step". */
const ISSUE_EXAMPLE = { n: 64, batch: 131072, embedDim: 16, receivedMB: 140 };

const { values } = parseArgs({
  options: {
    strategies: { type: 'string', default: 'allreduce,sharded' },
    ...jobOptions({ nprocs: '2,4,8', steps: '8', repeats: '1' }),
    'link-gbit': { type: 'string', default: '10' },
    'latency-us': { type: 'string', default: '50' },
    'project-batch': { type: 'string', default: String(ISSUE_EXAMPLE.batch) },
    'project-nprocs': { type: 'string', default: '2,8,64,256' },
    'project-vocab-scale': { type: 'string', default: '1' },
    'project-zipf': { type: 'string', default: String(SYNTHETIC_PRESETS.v1.zipfExponent) },
    'compute-us-per-sample': { type: 'string' },
    'fixed-ms': { type: 'string' },
    netem: { type: 'string', default: 'auto' },
    'netem-nprocs': { type: 'string', default: '2,4' },
    rate: { type: 'string', default: '1gbit' },
    json: { type: 'string' },
    'keep-reports': { type: 'string' },
  },
});

const log = (msg: string): void => console.error(`[sharded] ${msg}`);

function nonNegative(flag: string, s: string): number {
  const x = Number(s);
  if (!(s.trim() !== '' && Number.isFinite(x) && x >= 0)) throw new Error(`--${flag} ${s}: expected a number >= 0`);
  return x;
}

// ---- strategies ------------------------------------------------------------------------------------------------

interface StrategySpec {
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

function parseStrategy(s: string): StrategySpec {
  const [sync, arg] = s.split(':');
  const flags = ['--sync', sync];
  if (sync === 'ps' || sync === 'async-ps') flags.push('--servers', String(positiveInt('strategies', arg ?? '1')));
  else if (arg !== undefined) throw new Error(`--strategies ${s}: only ps and async-ps take a ":K" (servers)`);
  const model = sync === 'sharded' ? 'sharded' : ALLGATHER_SYNCS.has(sync) ? 'allgather' : null;
  return { label: s, sync, flags, model, symmetric: !flags.includes('--servers') };
}

/** The --sync choices this build's launcher lists in its --help. */
function availableSyncs(): string[] {
  const help = execFileSync(process.execPath, [LAUNCHER, '--help'], { encoding: 'utf8' });
  const m = /--sync <([^>]+)>/.exec(help);
  if (!m) throw new Error('ddp-launch --help lists no --sync choices');
  return m[1].split('|');
}

// ---- one run ---------------------------------------------------------------------------------------------------

const SPLIT_KEYS = ['data', 'compute', 'merge', 'comm', 'update'] as const;
type SplitKey = (typeof SPLIT_KEYS)[number];
type Split = Record<SplitKey | 'other', number>;

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

// ---- summaries -------------------------------------------------------------------------------------------------

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

// ---- emulated network ------------------------------------------------------------------------------------------

interface NetemOutcome {
  status: 'ran' | 'skipped';
  reason?: string;
  shaping: Shaping[];
  runs: RunRecord[];
}

async function runNetem(
  specs: StrategySpec[],
  cells: { n: number; rateBits: number }[],
  repeats: number,
  steps: number,
  trainFlags: string[],
  dir: string,
  timeoutS: number,
  cores: number,
  seen: (name: string, r: RunReport) => void,
): Promise<NetemOutcome> {
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

// ---- main ------------------------------------------------------------------------------------------------------

/** Stops running launchers and removes our namespaces on exit and on a signal, whatever the bench was doing. */
function cleanUpOnExit(): void {
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

async function main(): Promise<void> {
  const { nprocs, batch, steps, repeats, timeoutS, dataSpec, trainFlags } = jobFrom(values);
  trainFlags.push('--gpus', 'none');
  const link: Link = { bitsPerSec: nonNegative('link-gbit', values['link-gbit']) * 1e9, latencySec: nonNegative('latency-us', values['latency-us']) * 1e-6 };
  if (!(link.bitsPerSec > 0)) throw new Error('--link-gbit must be > 0');
  const projectBatch = positiveInt('project-batch', values['project-batch']);
  const projectN = [...new Set(splitList(values['project-nprocs']).map((s) => positiveInt('project-nprocs', s)))].sort((a, b) => a - b);
  const projectVocabScale = nonNegative('project-vocab-scale', values['project-vocab-scale']);
  const projectZipf = nonNegative('project-zipf', values['project-zipf']);
  const netemMode = values.netem;
  if (!['auto', 'on', 'off', 'only'].includes(netemMode)) throw new Error(`--netem ${netemMode}: expected auto, on, off or only`);
  const netemN = [...new Set(splitList(values['netem-nprocs']).map((s) => positiveInt('netem-nprocs', s)))].sort((a, b) => a - b);
  const rates = [...new Set(splitList(values.rate).map(parseRate))];
  for (const n of netemMode === 'off' ? [] : netemN) {
    if (batch % n) throw new Error(`--batch ${batch} is not divisible by N=${n} (--netem-nprocs): uneven shards would skew the per-rank figures`);
  }

  const available = availableSyncs();
  const asked = splitList(values.strategies).map(parseStrategy);
  const skipped = asked.filter((s) => !available.includes(s.sync)).map((s) => ({ strategy: s.label, reason: `--sync ${s.sync} is not in this build's choices (${available.join(', ')})` }));
  for (const s of skipped) log(`NOTICE: skipping ${s.strategy}: ${s.reason}`);
  const specs = asked.filter((s) => available.includes(s.sync));
  if (!specs.length) throw new Error('no strategy to run');


  const machine = machineInfo();
  log(`${machine.cores} cores, load average ${machine.loadavg.join(' ')}; ${specs.map((s) => s.label).join(', ')} at N = ${nprocs.join(', ')}; ${repeats} repeat(s) of ${steps} steps at global batch ${batch}`);
  if (machine.loadavg[0] > machine.cores / 2) log(`warning: load average ${machine.loadavg[0]} on ${machine.cores} cores: other jobs compete with the workers; times are measured under load`);
  const dir = mkdtempSync(join(tmpdir(), 'ddp-sharded-'));
  const keepDir = values['keep-reports'];
  if (keepDir) mkdirSync(keepDir, { recursive: true });
  let first: RunReport | undefined;
  const seen = (name: string, r: RunReport) => {
    first ??= r;
    if (keepDir) writeFileSync(join(keepDir, name), JSON.stringify(r, null, 2) + '\n');
  };
  cleanUpOnExit();

  // Asked for explicitly, the emulated network must be possible: say so before the measured runs, not after.
  const why = netemMode === 'off' ? null : netnsUnavailable();
  if (why && netemMode !== 'auto') throw new Error(`--netem ${netemMode}: ${why}`);
  const runs: RunRecord[] = [];
  let netem: NetemOutcome;
  try {
    // Interleaved (every strategy at every N, then again) so a change of load hits every cell alike.
    for (let repeat = 1; repeat <= (netemMode === 'only' ? 0 : repeats); repeat++) {
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

    if (netemMode === 'off') netem = { status: 'skipped', reason: '--netem off', shaping: [], runs: [] };
    else if (why) {
      log(`NOTICE: emulated-network part skipped: ${why}`);
      netem = { status: 'skipped', reason: why, shaping: [], runs: [] };
    } else {
      const cells = rates.flatMap((rateBits) => netemN.map((n) => ({ n, rateBits })));
      netem = await runNetem(specs, cells, repeats, steps, trainFlags, dir, timeoutS, machine.cores, seen);
    }
    if ((netemMode === 'on' || netemMode === 'only') && netem.status === 'skipped') throw new Error(`--netem ${netemMode}: ${netem.reason}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }

  // ---- analysis ----
  const report0 = first!;
  const numDense = denseParams(report0);
  if (numDense === null) throw new Error(`cannot tell the dense parameter count from the data description "${report0.data}"`);
  const shape: Shape = { embedDim: report0.config.embedDim, numDense, vocab: V1_VOCAB };
  const cell = (rs: RunRecord[], spec: StrategySpec, n: number, rateBits: number | null) => rs.filter((r) => r.strategy === spec.label && r.n === n && r.rateBits === rateBits);
  const summaries = (rs: RunRecord[], ns: number[], rateBits: number | null) =>
    ns.flatMap((n) => specs.filter((s) => cell(rs, s, n, rateBits).length).map((spec) => summarise(spec, n, cell(rs, spec, n, rateBits), machine.cores)));
  const results = summaries(runs, nprocs, null);
  const netemResults = rates.flatMap((rateBits) => summaries(netem.runs, netemN, rateBits));
  const comparisons = results.filter((s) => s.model !== null).map((s) => compareWithModel(s, batch, shape));

  const projShape: Shape = {
    ...shape,
    vocab: projectVocabScale === 1 && projectZipf === V1_VOCAB.zipf ? V1_VOCAB : { sizes: scaleVocab(projectVocabScale), zipf: projectZipf },
  };
  // Both are projected whichever ran: bytes need no calibration, and compute is the same work under both.
  const modelled: Strategy[] = ['allgather', 'sharded'];
  const cal = calibrate(results, batch);
  const given = (flag: 'compute-us-per-sample' | 'fixed-ms', unit: number) => (values[flag] === undefined ? undefined : nonNegative(flag, values[flag]) * unit);
  const timing: Timing & { from: string } = {
    computeSecPerSample: given('compute-us-per-sample', 1e-6) ?? cal?.computeSecPerSample ?? 0,
    fixedSec: given('fixed-ms', 1e-3) ?? cal?.fixedSec ?? 0,
    from:
      values['compute-us-per-sample'] !== undefined || values['fixed-ms'] !== undefined
        ? `--compute-us-per-sample / --fixed-ms${cal ? `, else ${cal.from}` : ''}`
        : (cal?.from ?? 'no all-gather run measured: compute left out'),
  };
  const projections: Projection[] = projectN.flatMap((n) => modelled.map((m) => project(m, n, projectBatch, projShape, link, timing)));
  // The issue's example is DeepFM at d = 16 whatever this run's model.
  const issueShape: Shape = { ...projShape, embedDim: ISSUE_EXAMPLE.embedDim };
  const issue = traffic('allgather', ISSUE_EXAMPLE.n, ISSUE_EXAMPLE.batch, issueShape);
  const fields = projShape.vocab.sizes.length;
  // Every draw distinct: the bound a vocabulary far larger than the batch approaches.
  const draws = { local: (ISSUE_EXAMPLE.batch / ISSUE_EXAMPLE.n) * fields, global: ISSUE_EXAMPLE.batch * fields };
  const allDistinctMB = traffic('allgather', ISSUE_EXAMPLE.n, ISSUE_EXAMPLE.batch, issueShape, draws).sparse.received / MB;
  const crossover = { atMeasuredBatch: sparseOvertakesDense(batch, shape), atProjectBatch: sparseOvertakesDense(projectBatch, projShape) };

  const out: BenchOutput = {
    bench: 'sharded',
    machine: { ...machine, loadavgEnd: loadavgNow(), backend: report0.backend },
    settings: {
      command: `ddp-launch -n N --sync S ${trainFlags.join(' ')} --report FILE`,
      strategies: specs.map((s) => s.label),
      skipped,
      availableSyncs: available,
      data: dataSpec,
      model: report0.model,
      mlp: report0.config.mlp,
      embedDim: shape.embedDim,
      numDense,
      globalBatch: batch,
      steps,
      repeats,
      sparseReceivedDefinition: 'sparse sent + (bytes received - bytes sent) / steps: exact when dense and control traffic are symmetric (ring all-reduce, equal-sized gathers)',
      link: { gbit: link.bitsPerSec / 1e9, latencyUs: link.latencySec * 1e6 },
      projection: { batch: projectBatch, nprocs: projectN, vocabScale: projectVocabScale, zipf: projectZipf, timing },
      netem: { mode: netemMode, nprocs: netemN, rates },
    },
    runs: [...runs, ...netem.runs],
    results,
    model: { comparisons, crossover },
    projection: {
      results: projections,
      issueExample: { ...ISSUE_EXAMPLE, predictedMB: issue.sparse.received / MB, uniqueLocal: issue.uniqueLocal, allDistinctMB },
    },
    netem: { status: netem.status, reason: netem.reason ?? null, shaping: netem.shaping, results: netemResults },
  };
  console.log(JSON.stringify(out));
  if (values.json) writeFileSync(values.json, JSON.stringify(out, null, 2) + '\n');

  // ---- tables ----
  const f = (x: number, dd = 0) => x.toLocaleString('en', { minimumFractionDigits: dd, maximumFractionDigits: dd }).replace(/^-(0(\.0+)?)$/, '$1');
  const mb = (x: number) => f(x / MB, 2);
  const ratio = (x: number | null) => (x === null ? '–' : `${f(x, 2)}x`);
  const label = (n: number) => (n > machine.cores ? `${n} (oversubscribed)` : String(n));
  const pct = (x: number) => `${f(100 * x, 1)}%`;
  console.log(
    '\n' +
      markdownTable(
        ['strategy', 'N', 'dense MB sent', 'sparse MB sent', 'sparse MB received', 'all MB sent / received', 'local unique IDs', 'IDs applied', 'step ms', 'comm ms rank 0', 'comm share', 'comm after training ms/step', 'sparse imbalance'],
        results.map((s) => [
          s.strategy,
          label(s.n),
          mb(s.perRank.denseSent),
          mb(s.perRank.sparseSent),
          s.sparseReceivedDerivable ? mb(s.perRank.sparseReceived) : '–',
          `${mb(s.perRank.sentAll)} / ${mb(s.perRank.receivedAll)}`,
          f(s.perRank.uniqueLocal),
          f(s.perRank.uniqueApplied),
          f(s.stepMs),
          f(s.commMs),
          pct(s.commShare),
          f(s.commMsAfterTraining),
          ratio(s.sparseImbalance),
        ]),
        [0],
      ),
  );
  console.log(
    `\nPer rank per step, mean over ranks (median of ${repeats} run(s)); ${report0.model} MLP ${report0.config.mlp.join('-')}, d=${shape.embedDim}, ${f(numDense)} dense params, ` +
      `${dataSpec}, global batch ${batch}, ${steps} steps per run (the first, with warm-up, included); ${machine.cores} cores, load ${machine.loadavg.join(' ')} at start, ${out.machine.loadavgEnd.join(' ')} at end. ` +
      `Sparse received is derived (sent + (received - sent) / steps; not for parameter servers, whose final fetch is one-way); "all" is the whole run's traffic / steps (evaluation and checks included). ` +
      `Comm: rank 0's time waiting in collectives over the training steps (its --metrics record); "after training" is what its report adds, per step: the final refresh of sharded and ps (every owner's rows and optimizer state gathered), after the last step. MB = 10^6 bytes.` +
      (skipped.length ? `\nSkipped: ${skipped.map((s) => `${s.strategy} (${s.reason})`).join('; ')}.` : ''),
  );
  console.log(
    '\n' +
      markdownTable(
        ['strategy', 'N', 'local unique IDs: measured / model', 'IDs applied: measured / model', 'dense MB sent: measured / model', 'sparse MB sent: measured / model', 'sparse MB received: measured / model'],
        comparisons.map((c) => [
          c.strategy,
          label(c.n),
          ...[c.uniqueLocal, c.uniqueApplied].map((p) => `${f(p.measured)} / ${f(p.predicted)} (${ratio(p.ratio)})`),
          ...[c.denseSent, c.sparseSent, c.sparseReceived].map((p) => `${mb(p.measured)} / ${mb(p.predicted)} (${ratio(p.ratio)})`),
        ]),
        [0],
      ),
  );
  console.log(
    `\nModel (bench/projection.ts): expected distinct IDs of the v1 generator's distribution (sum over IDs of 1 - (1 - p)^(B/N)); IDs applied = the global batch's ` +
      `(sharded: x (steps-1)/steps, as owners report one step late). Bytes: all-gather, (N-1) x the rank's encodeSparse payload (16-byte header, id + count + ${shape.embedDim + 1} float32 ` +
      `values per row); sharded, (N-1)/N of the rank's IDs asked (4 B), pushed (8 + ${4 * (shape.embedDim + 1)} B) and answered (${4 * (shape.embedDim + 1)} B); dense, the ring's 2(N-1)/N x numDense x 4. ` +
      `All-gather sparse traffic overtakes the dense all-reduce from N = ${crossover.atMeasuredBatch ?? '–'} at batch ${batch}.`,
  );
  console.log(
    '\n' +
      markdownTable(
        ['strategy', 'N', 'local batch', 'local unique IDs', 'dense MB', 'sparse MB received', 'comm ms', 'compute ms', 'step ms', 'comm share'],
        projections.map((p) => [
          p.strategy,
          p.n,
          f(p.batch / p.n),
          f(p.traffic.uniqueLocal),
          mb(p.traffic.dense.received),
          mb(p.traffic.sparse.received),
          f(p.commSec * 1e3, 1),
          f(p.computeSec * 1e3, 1),
          f(p.stepSec * 1e3, 1),
          pct(p.commShare),
        ]),
        [0],
      ),
  );
  const vocabText =
    projShape.vocab === V1_VOCAB ? `the v1 vocabulary (${f(V1_VOCAB.sizes.reduce((a, b) => a + b, 0))} IDs, zipf ${V1_VOCAB.zipf})` : `v1 sizes x ${projectVocabScale} (${f(projShape.vocab.sizes.reduce((a, b) => a + b, 0))} IDs), zipf ${projectZipf}`;
  console.log(
    `\nProjection at global batch ${projectBatch}, ${vocabText}, ${link.bitsPerSec / 1e9} Gbit/s per rank, ${f(link.latencySec * 1e6)} us per message round. ` +
      `Compute per rank, both strategies: ${f(timing.computeSecPerSample * 1e6, 1)} us/sample x B/N + ${f(timing.fixedSec * 1e3, 1)} ms/step (${timing.from}; measured on this machine, so a faster device shrinks it and raises the comm share). ` +
      `All-gather sparse bytes overtake the dense all-reduce from N = ${crossover.atProjectBatch ?? '–'}. ` +
      `Issue example (DeepFM d=${ISSUE_EXAMPLE.embedDim}, N=${ISSUE_EXAMPLE.n}, batch ${ISSUE_EXAMPLE.batch}, "~${ISSUE_EXAMPLE.receivedMB} MB received per rank per step"): the model gives ${f(issue.sparse.received / MB, 1)} MB ` +
      `(${f(issue.uniqueLocal)} distinct of ${f((ISSUE_EXAMPLE.batch / ISSUE_EXAMPLE.n) * fields)} ID draws per rank); with every draw distinct (the bound for a vocabulary far larger than the batch) ${f(allDistinctMB, 1)} MB.`,
  );
  if (netem.status === 'skipped') {
    console.log(`\nEmulated network: skipped (${netem.reason}).`);
  } else {
    const loop = (s: Summary) => results.find((r) => r.strategy === s.strategy && r.n === s.n);
    console.log(
      '\n' +
        markdownTable(
          ['strategy', 'link', 'N (namespaces)', 'step ms', 'loopback step ms', 'comm ms rank 0', 'comm share', 'MB sent / received per step', 'link floor ms', 'model comm ms', 'link MB sent per rank (job)'],
          netemResults.map((s) => {
            const rateBits = s.rateBits!;
            const model = s.model ? traffic(s.model, s.n, batch, shape) : null;
            const netLink: Link = { bitsPerSec: rateBits, latencySec: link.latencySec };
            const stepBytes = { sent: s.perRank.denseSent + s.perRank.sparseSent, received: s.perRank.denseSent + s.perRank.sparseReceived };
            return [
              s.strategy,
              `${rateBits / 1e9} Gbit/s`,
              label(s.n),
              f(s.stepMs),
              loop(s) ? f(loop(s)!.stepMs) : '–',
              f(s.commMs),
              pct(s.commShare),
              `${mb(stepBytes.sent)} / ${s.sparseReceivedDerivable ? mb(stepBytes.received) : '–'}`,
              f((Math.max(stepBytes.sent, s.sparseReceivedDerivable ? stepBytes.received : 0) * 8 * 1e3) / rateBits, 1),
              model ? f(commSeconds(model, netLink) * 1e3, 1) : '–',
              s.wire ? mb(s.wire.txPerRank) : '–',
            ];
          }),
          [0],
        ),
    );
    console.log(
      `\nEmulated network: one namespace per rank on a bridge, each link limited each way (${netem.shaping.map((s) => (s.kind === 'none' ? s.reason : s.spec)).filter((x, i, a) => a.indexOf(x) === i).join('; ')}); ` +
        `one ddp-launch --nnodes N -n 1 per namespace, DDP_BLAS_THREADS = cores / N. MB per step = the strategy's dense + sparse bytes (as in the first table); link floor = their max(sent, received) at the link rate; ` +
        `model comm = the model's bytes at that rate plus ${f(link.latencySec * 1e6)} us per round. "link MB" is what the kernel counted on the rank's interface over the whole job (rendezvous, evaluation and checks, TCP/IP headers included).`,
    );
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
