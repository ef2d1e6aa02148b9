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
 *
 * This file parses the flags and orders the parts: the launcher jobs are bench/sharded-runs.ts, the medians, model
 * comparison and projection bench/sharded-summary.ts, the tables bench/sharded-print.ts.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { SYNTHETIC_PRESETS } from '../src/data/synthetic-spec.js';
import type { RunReport } from '../src/train/report.js';
import { loadavgNow, machineInfo, positiveInt, splitList } from './common.js';
import { jobFrom, jobOptions } from './launch.js';
import { netnsUnavailable } from './netns.js';
import { parseRate, type Link, type Timing } from './projection.js';
import { printTables } from './sharded-print.js';
import { availableSyncs, cleanUpOnExit, log, parseStrategy, runLoopback, runNetem, type NetemOutcome, type RunContext, type RunRecord } from './sharded-runs.js';
import { analyse, ISSUE_EXAMPLE, type BenchOutput } from './sharded-summary.js';

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

function nonNegative(flag: string, s: string): number {
  const x = Number(s);
  if (!(s.trim() !== '' && Number.isFinite(x) && x >= 0)) throw new Error(`--${flag} ${s}: expected a number >= 0`);
  return x;
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
  const given = (flag: 'compute-us-per-sample' | 'fixed-ms', unit: number) => (values[flag] === undefined ? undefined : nonNegative(flag, values[flag]) * unit);
  const givenTiming: Partial<Timing> = { computeSecPerSample: given('compute-us-per-sample', 1e-6), fixedSec: given('fixed-ms', 1e-3) };
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
  const ctx: RunContext = { repeats, steps, trainFlags, dir, timeoutS, seen };
  let runs: RunRecord[];
  let netem: NetemOutcome;
  try {
    runs = netemMode === 'only' ? [] : await runLoopback(specs, nprocs, ctx);
    if (netemMode === 'off') netem = { status: 'skipped', reason: '--netem off', shaping: [], runs: [] };
    else if (why) {
      log(`NOTICE: emulated-network part skipped: ${why}`);
      netem = { status: 'skipped', reason: why, shaping: [], runs: [] };
    } else {
      const cells = rates.flatMap((rateBits) => netemN.map((n) => ({ n, rateBits })));
      netem = await runNetem(specs, cells, ctx, machine.cores);
    }
    if ((netemMode === 'on' || netemMode === 'only') && netem.status === 'skipped') throw new Error(`--netem ${netemMode}: ${netem.reason}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }

  const report0 = first!;
  const a = analyse({
    report0,
    specs,
    cores: machine.cores,
    batch,
    loopback: { runs, nprocs },
    netem: { runs: netem.runs, nprocs: netemN, rates },
    projection: { batch: projectBatch, nprocs: projectN, vocabScale: projectVocabScale, zipf: projectZipf, link },
    given: givenTiming,
  });
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
      embedDim: a.shape.embedDim,
      numDense: a.numDense,
      globalBatch: batch,
      steps,
      repeats,
      sparseReceivedDefinition: 'sparse sent + (bytes received - bytes sent) / steps: exact when dense and control traffic are symmetric (ring all-reduce, equal-sized gathers)',
      link: { gbit: link.bitsPerSec / 1e9, latencyUs: link.latencySec * 1e6 },
      projection: { batch: projectBatch, nprocs: projectN, vocabScale: projectVocabScale, zipf: projectZipf, timing: a.timing },
      netem: { mode: netemMode, nprocs: netemN, rates },
    },
    runs: [...runs, ...netem.runs],
    results: a.results,
    model: { comparisons: a.comparisons, crossover: a.crossover },
    projection: { results: a.projections, issueExample: a.issueExample },
    netem: { status: netem.status, reason: netem.reason ?? null, shaping: netem.shaping, results: a.netemResults },
  };
  console.log(JSON.stringify(out));
  if (values.json) writeFileSync(values.json, JSON.stringify(out, null, 2) + '\n');
  printTables(out, { shape: a.shape, projShape: a.projShape, link });
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
