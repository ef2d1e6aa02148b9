/**
 * One-process training throughput, ours against PyTorch in the same run. Ours: the trainer's own `train()`
 * (LocalCommunicator, world size 1) on synthetic data of the v1 shape (26 fields, 13 numeric) with its
 * vocabularies scaled to `--rows` embedding rows (default ~1M), for each model x batch x embedding-update
 * mode. PyTorch: the same model, shapes, optimizers and update mode (bench/torch_deepfm.py, kept running as
 * a server so it imports torch once) with torch.set_num_threads(--threads), and once more with every core;
 * with --torch-device cuda, once on the GPU instead.
 *
 * Every configuration of ours is warmed up once; then the repeats are interleaved (in repeat r, each
 * configuration runs ours, then torch at --threads, then torch on all cores, before repeat r + 1 starts) so
 * load changes on a shared machine hit both alike. Reports medians over repeats: samples/s, the ratio
 * ours/torch, our ms/step and its split (data/gather, tfjs compute, per-ID merge, comm, update) from the
 * trainer's own timers, on a GPU backend also the split of compute (pack, dispatch, device, readback) with
 * the uploads and readbacks per step, torch's ms/step, and the process RSS. JSON (every run kept) and a
 * markdown table go to stdout, progress to stderr. bench/gpu.ts runs this with the GPU case's defaults.
 *
 *   node dist/bench/train-throughput.js [--batches 1024,8192] [--models deepfm] [--embed-updates dense,lazy]
 *     [--rows 1M | v1 | small | N] [--mlp 400,400,400] [--threads 1] [--steps N] [--repeats 5] [--backend wasm] [--embed-device auto|host|gpu]
 *     [--no-native] [--json FILE] [--python PATH | --no-torch] [--torch-device cpu|cuda] [--no-all-cores]
 *
 * --steps defaults to ~48K samples per repeat (48 steps at 1024, 6 at 8192); the default run takes ~8 min on
 * 2 (shared) cores, ~40% of it in torch. The trainer's merge timer
 * covers the local per-ID merge of embedding gradients (pack, merge duplicate IDs, unpack), so it is not
 * zero at world size 1. Ours runs on one thread with the wasm backend (tfjs-backend-wasm has no threads in
 * Node here), hence --threads 1 by default for torch.
 *
 * This file parses the flags and sets up backend, data and torch: the warm-up and timed repeats are
 * bench/train-throughput-runs.ts, the torch server train-throughput-torch.ts, the medians train-throughput-summary.ts,
 * the table train-throughput-print.ts.
 */
import { writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs';
import { installCpuKernels } from '../src/backend/blas.js';
import { describeChoice, selectBackend, stepOptionsFor } from '../src/backend/select.js';
import { LocalCommunicator } from '../src/comm/local.js';
import { parseTrainConfig, type TrainConfig } from '../src/config/train-config.js';
import { loadData } from '../src/data/load.js';
import { V1_VOCAB_SIZES } from '../src/data/synthetic-spec.js';
import { setStepDefaults } from '../src/model/step.js';
import { train } from '../src/train/trainer.js';
import { createLogger } from '../src/util/log.js';
import { findPython, isMain, loadavgNow, machineInfo, positiveInt, pythonCandidates, runMain, splitList } from './common.js';
import { printThroughput } from './train-throughput-print.js';
import { runRepeats, warmUpCases, WARMUP_STEPS, type RunContext, type TorchSide } from './train-throughput-runs.js';
import { summariseCases, type ThroughputReport } from './train-throughput-summary.js';
import { referenceNote, TorchServer, type TorchHello } from './train-throughput-torch.js';

/** Named --rows values: `small` for tests, `v1` the unscaled V1 vocabularies. */
const NAMED_ROWS: Record<string, number> = { small: 10_000, v1: V1_VOCAB_SIZES.reduce((a, b) => a + b, 0) + V1_VOCAB_SIZES.length };

const OPTIONS = {
  batches: { type: 'string', default: '1024,8192' },
  models: { type: 'string', default: 'deepfm' },
  'embed-updates': { type: 'string', default: 'dense,lazy' },
  rows: { type: 'string', default: '1M' },
  mlp: { type: 'string', default: '400,400,400' },
  threads: { type: 'string', default: '1' },
  steps: { type: 'string' },
  repeats: { type: 'string', default: '5' },
  backend: { type: 'string', default: 'wasm' },
  'embed-device': { type: 'string', default: 'auto' },
  json: { type: 'string' },
  python: { type: 'string' },
  'torch-device': { type: 'string', default: 'cpu' },
  'no-torch': { type: 'boolean', default: false },
  'no-all-cores': { type: 'boolean', default: false },
  'no-native': { type: 'boolean', default: false },
} as const;

/** --rows: small, v1, or a count such as 1000000, 1e6, 1M, 250K. */
function parseRows(s: string): number {
  if (Object.hasOwn(NAMED_ROWS, s)) return NAMED_ROWS[s];
  const m = /^(\d+(?:\.\d+)?(?:e\d+)?)([KM]?)$/i.exec(s.trim());
  const n = m ? Math.round(Number(m[1]) * (m[2] ? 1000 ** ' KM'.indexOf(m[2].toUpperCase()) : 1)) : NaN;
  if (!(n >= 1000)) throw new Error(`--rows ${s}: expected small, v1 or a count >= 1000 (e.g. 1M, 250K, 1000000)`);
  return n;
}

/**
 * Runs the bench on command-line `argv`; `bench` names it in the JSON and the progress lines (bench/gpu.ts
 * puts its defaults before the user's flags: the last of a repeated flag wins).
 */
export async function throughputBench(bench: string, argv: string[]): Promise<void> {
  const { values } = parseArgs({ args: argv, options: OPTIONS });
  const log = (msg: string): void => console.error(`[${bench}] ${msg}`);
  const torchDevice = values['torch-device'];
  if (torchDevice !== 'cpu' && torchDevice !== 'cuda') throw new Error(`--torch-device ${torchDevice}: expected cpu or cuda`);
  const batches = splitList(values.batches).map((b) => positiveInt('batches', b)).sort((a, b) => a - b);
  const repeats = positiveInt('repeats', values.repeats);
  const threads = positiveInt('threads', values.threads);
  const fixedSteps = values.steps === undefined ? undefined : positiveInt('steps', values.steps);
  const wantRows = parseRows(values.rows);
  // The v1 vocabularies scaled to ~wantRows rows in all (each field keeps >= 3 IDs, plus its OOV row).
  const vocabScale = (wantRows - V1_VOCAB_SIZES.length) / (NAMED_ROWS.v1 - V1_VOCAB_SIZES.length);
  // ~200K training rows (not v1's 2M): plenty for these steps. A multiple of the largest batch, so
  // power-of-two batches never take a short end-of-epoch batch that would skew ms/step.
  const maxBatch = batches[batches.length - 1];
  const trainRows = maxBatch * Math.ceil(200_000 / maxBatch);
  const dataSpec = `synthetic:v1,vocab-scale=${Number(vocabScale.toPrecision(6))},rows=${trainRows},eval-rows=1000`;

  const machine = machineInfo();
  const tStart = performance.now();
  const allCores = cpus().length;
  const python = values['no-torch'] ? null : findPython(pythonCandidates(values.python));
  let torchSkip = values['no-torch'] ? 'skipped (--no-torch)' : python ? '' : 'skipped (no python with torch)';
  if (torchSkip && !values['no-torch']) console.error('notice: no python with torch; skipping the PyTorch reference (bench/setup-peers.sh installs Debian\'s python3-torch)');
  // Started now, so that torch's import overlaps our data generation.
  const torchStart = python ? TorchServer.start(python).catch((err: unknown) => err as Error) : null;

  const choice = await selectBackend({ forced: values.backend });
  // As the worker does: the step's transfer mode for this backend (GPUs: one packed upload and readback).
  const stepOptions = stepOptionsFor(choice.name, tf);
  setStepDefaults(stepOptions);
  const gpu = stepOptions.transfer === 'packed';
  // As training does: on wasm/cpu our matmuls on OpenBLAS with --threads threads (src/backend/blas.ts), on a
  // GPU backend the host's dense Adam only; --no-native: tfjs's.
  const kernels = installCpuKernels(choice.name, { ...process.env, DDP_BLAS_THREADS: String(threads), ...(values['no-native'] ? { DDP_BLAS: 'off' } : {}) });
  log(`${describeChoice(choice)}; ${kernels.description}`);
  const t0 = performance.now();
  // The worker's own data options, from the training flag defaults.
  const flags = (...more: string[]) => parseTrainConfig(['--data', dataSpec, '--backend', values.backend, '--embed-device', values['embed-device'], '--mlp', values.mlp, '--log-every', '0', ...more]);
  const base = flags();
  const data = await loadData({ data: base.data, split: base.split, seed: base.seed, minCount: base.minCount, numericTransform: base.numeric, skipBadLines: base.skipBadLines, onProgress: log });
  log(`data: ${data.description} (${((performance.now() - t0) / 1e3).toFixed(1)} s)`);

  let torch: TorchServer | null = null;
  let torchInfo: TorchHello | null = null;
  if (torchStart) {
    const started = await torchStart;
    if (started instanceof Error) {
      torchSkip = `skipped (${started.message})`;
      console.error(`notice: the torch reference did not start: ${started.message}`);
    } else if (torchDevice === 'cuda' && !started.hello.cuda) {
      started.server.close();
      torchSkip = `skipped (torch ${started.hello.torch} at ${started.hello.python} has no CUDA device: torch.cuda.is_available() is false)`;
      console.error(`notice: the PyTorch reference is ${torchSkip}; ours only`);
    } else {
      torch = started.server;
      torchInfo = started.hello;
    }
  }
  // On cuda torch's thread count hardly matters: one run per configuration.
  const torchThreads = torch ? [...new Set([threads, ...(values['no-all-cores'] || torchDevice === 'cuda' ? [] : [allCores])])] : [];
  const torchSide: TorchSide | null = torch && { server: torch, device: torchDevice, threads: torchThreads };

  const comm = new LocalCommunicator();
  const trainLog = createLogger('info', log, log);
  const ctx: RunContext = { data, train: (cfg: TrainConfig, steps: number) => train({ ...cfg, steps }, data, comm, { log: trainLog }), log };
  const grid = { batches, models: splitList(values.models), embedUpdates: splitList(values['embed-updates']), fixedSteps };
  const cases = await warmUpCases(ctx, grid, flags, torch !== null);
  const records = await runRepeats(ctx, cases, repeats, torchSide, gpu);
  torch?.close();

  const results = summariseCases(cases, threads, allCores, gpu);
  const torchNote = referenceNote(base.mlp, choice.name, gpu, torchDevice);
  const report: ThroughputReport = {
    bench,
    machine: { ...machine, backend: choice.name, embedDevice: values['embed-device'], adapter: choice.adapter?.description ?? null, tfjs: tf.version.tfjs, loadavgEnd: loadavgNow(), peakRssMB: process.resourceUsage().maxRSS / 1024 },
    settings: {
      data: dataSpec, embeddingRows: data.totalRows, rowsAsked: wantRows, mlp: base.mlp, worldSize: 1, warmupSteps: WARMUP_STEPS, repeats, threads,
      oursThreads: choice.name === 'wasm' ? 1 : 'backend default', kernels: kernels.description, transfer: stepOptions.transfer,
    },
    torch: torchInfo
      ? { python: torchInfo.python, version: torchInfo.torch, device: torchDevice, cudaDevice: torchInfo.cudaDevice, threads: torchThreads, warmupSteps: WARMUP_STEPS, note: torchNote }
      : torchSkip,
    results,
    runs: records,
    wallSeconds: (performance.now() - tStart) / 1e3,
  };
  console.log(JSON.stringify(report));
  if (values.json) writeFileSync(values.json, JSON.stringify(report, null, 2) + '\n');
  printThroughput(report, torchDevice);
}

if (isMain(import.meta.url)) runMain(() => throughputBench('train-throughput', process.argv.slice(2)));
