/**
 * One-process training throughput: the trainer's own `train()` (LocalCommunicator, world size 1) on
 * synthetic data of the v1 shape (26 fields, ~121K embedding rows, 13 numeric), for each model x batch x
 * embedding-update mode. Every configuration is warmed up once, then the repeats are interleaved (repeat r
 * runs every configuration before repeat r + 1 starts) so load changes on a shared machine hit all alike.
 * Reports the median samples/s over repeats, ms/step and its split (data/gather, tfjs compute, sync,
 * update) from the trainer's own timers, and the process RSS. JSON and a markdown table go to stdout,
 * progress to stderr.
 *
 *   node dist/bench/train-throughput.js [--batches 1024,8192] [--models deepfm] [--embed-updates dense,lazy]
 *     [--steps N] [--repeats 3] [--backend wasm] [--json FILE]
 *
 * --steps defaults to ~48K samples per repeat (48 steps at 1024, 6 at 8192); the default run takes ~4 min on
 * 2 cores. The trainer's sync timer also covers the local per-ID merge of embedding gradients (pack, merge
 * duplicate IDs, unpack), so it is not zero at world size 1.
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs';
import { describeChoice, selectBackend } from '../src/backend/select.js';
import { LocalCommunicator } from '../src/comm/local.js';
import { parseTrainConfig, type TrainConfig } from '../src/config/train-config.js';
import { loadData } from '../src/data/load.js';
import { train, type TrainResult } from '../src/train/trainer.js';
import { loadavgNow, machineInfo, markdownTable, median, splitList } from './common.js';

const SAMPLES_PER_REPEAT = 49_152;
const WARMUP_STEPS = 2;
const MB = 2 ** 20;

interface Case {
  model: string;
  batch: number;
  embedUpdate: string;
  steps: number;
  cfg: TrainConfig;
  runs: TrainResult[];
  rssMB: number;
}

const { values } = parseArgs({
  options: {
    batches: { type: 'string', default: '1024,8192' },
    models: { type: 'string', default: 'deepfm' },
    'embed-updates': { type: 'string', default: 'dense,lazy' },
    steps: { type: 'string' },
    repeats: { type: 'string', default: '5' },
    backend: { type: 'string', default: 'wasm' },
    json: { type: 'string' },
  },
});

function positiveInt(flag: string, s: string): number {
  const n = Number(s);
  if (!Number.isSafeInteger(n) || n < 1) throw new Error(`--${flag} ${s}: expected a positive integer`);
  return n;
}

const log = (msg: string): void => console.error(`[train-throughput] ${msg}`);
const perStepMs = (seconds: number, r: TrainResult): number => (seconds * 1e3) / r.steps;

async function main(): Promise<void> {
  const batches = splitList(values.batches).map((b) => positiveInt('batches', b)).sort((a, b) => a - b);
  const repeats = positiveInt('repeats', values.repeats);
  const fixedSteps = values.steps === undefined ? undefined : positiveInt('steps', values.steps);
  // ~200K rows (not v1's 2M): plenty for these steps. A multiple of the largest batch, so power-of-two batches
  // never take a short end-of-epoch batch that would skew ms/step.
  const maxBatch = batches[batches.length - 1];
  const rows = maxBatch * Math.ceil(200_000 / maxBatch);
  const dataSpec = `synthetic:v1,rows=${rows},eval-rows=1000`;

  const machine = machineInfo();
  const choice = await selectBackend({ forced: values.backend });
  log(describeChoice(choice));
  const t0 = performance.now();
  // The worker's own data options, from the training flag defaults.
  const flags = (...more: string[]) => parseTrainConfig(['--data', dataSpec, '--backend', values.backend, '--log-every', '0', ...more]);
  const base = flags();
  const data = await loadData({ data: base.data, split: base.split, seed: base.seed, minCount: base.minCount, numericTransform: base.numeric, skipBadLines: base.skipBadLines, onProgress: log });
  log(`data: ${data.description} (${((performance.now() - t0) / 1e3).toFixed(1)} s)`);

  const comm = new LocalCommunicator();
  const run = (cfg: TrainConfig, steps: number) => train({ ...cfg, steps }, data, comm, log);
  const cases: Case[] = [];
  // Ascending batch order, so each case's RSS (taken after its warm-up) is the footprint up to that batch.
  for (const batch of batches) {
    for (const model of splitList(values.models)) {
      for (const embedUpdate of splitList(values['embed-updates'])) {
        const steps = fixedSteps ?? Math.max(2, Math.round(SAMPLES_PER_REPEAT / batch));
        const cfg = flags('--model', model, '--global-batch', String(batch), '--steps', String(steps), '--embed-update', embedUpdate);
        log(`warm-up ${model} batch ${batch} embed-update ${embedUpdate}: ${WARMUP_STEPS} steps`);
        await run(cfg, WARMUP_STEPS);
        cases.push({ model, batch, embedUpdate, steps, cfg, runs: [], rssMB: process.memoryUsage().rss / MB });
      }
    }
  }
  for (let r = 1; r <= repeats; r++) {
    for (const c of cases) {
      const res = await run(c.cfg, c.steps);
      c.runs.push(res);
      log(`repeat ${r}/${repeats} ${c.model} batch ${c.batch} ${c.embedUpdate}: ${Math.round(res.samplesPerSec)} samples/s (load ${loadavgNow().join(' ')})`);
    }
  }

  const results = cases.map((c) => {
    const med = (f: (r: TrainResult) => number) => median(c.runs.map(f));
    return {
      model: c.model,
      batch: c.batch,
      embedUpdate: c.embedUpdate,
      stepsPerRepeat: c.steps,
      repeats: c.runs.length,
      samplesPerSec: med((r) => r.samplesPerSec),
      samplesPerSecAll: c.runs.map((r) => r.samplesPerSec),
      msPerStep: med((r) => perStepMs(r.trainSeconds, r)),
      // Medians of each part of the step, from the trainer's timers (comm is zero at world size 1).
      splitMs: {
        data: med((r) => perStepMs(r.time.data, r)),
        compute: med((r) => perStepMs(r.time.compute, r)),
        merge: med((r) => perStepMs(r.time.merge, r)),
        comm: med((r) => perStepMs(r.time.comm, r)),
        update: med((r) => perStepMs(r.time.update, r)),
      },
      rssMB: c.rssMB,
    };
  });
  const report = {
    bench: 'train-throughput',
    machine: { ...machine, backend: choice.name, tfjs: tf.version.tfjs, loadavgEnd: loadavgNow(), peakRssMB: process.resourceUsage().maxRSS / 1024 },
    settings: { data: dataSpec, worldSize: 1, warmupSteps: WARMUP_STEPS, repeats },
    results,
  };
  const json = JSON.stringify(report);
  console.log(json);
  if (values.json) writeFileSync(values.json, JSON.stringify(report, null, 2) + '\n');

  const f = (x: number, d = 0) => x.toLocaleString('en', { minimumFractionDigits: d, maximumFractionDigits: d });
  const pct = (part: number, whole: number) => `${f(part, 1)} (${f((100 * part) / whole)}%)`;
  console.log(
    '\n' +
      markdownTable(
        ['model', 'batch', 'embed update', 'samples/s (median)', 'min-max', 'ms/step', 'data/gather ms', 'tfjs compute ms', 'per-ID merge ms', 'comm ms', 'update ms', 'RSS MB'],
        results.map((r) => [
          r.model,
          r.batch,
          r.embedUpdate,
          f(r.samplesPerSec),
          `${f(Math.min(...r.samplesPerSecAll))}-${f(Math.max(...r.samplesPerSecAll))}`,
          f(r.msPerStep),
          pct(r.splitMs.data, r.msPerStep),
          pct(r.splitMs.compute, r.msPerStep),
          pct(r.splitMs.merge, r.msPerStep),
          pct(r.splitMs.comm, r.msPerStep),
          pct(r.splitMs.update, r.msPerStep),
          f(r.rssMB),
        ]),
        [0, 2],
      ),
  );
  console.log(
    `\n${machine.cpu}, ${machine.cores} cores, Node ${machine.node}, tfjs ${tf.version.tfjs} ${choice.name}; ${dataSpec}; ` +
      `median of ${repeats} interleaved repeats after ${WARMUP_STEPS} warm-up steps; load average ${machine.loadavg.join(' ')} at start, ` +
      `${report.machine.loadavgEnd.join(' ')} at end; RSS after each case's warm-up (cases run in ascending batch), peak ${f(report.machine.peakRssMB)} MB.`,
  );
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
