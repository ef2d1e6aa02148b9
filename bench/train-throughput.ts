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
 *     [--rows 1M | v1 | small | N] [--mlp 400,400,400] [--threads 1] [--steps N] [--repeats 5] [--backend wasm]
 *     [--no-native] [--json FILE] [--python PATH | --no-torch] [--torch-device cpu|cuda] [--no-all-cores]
 *
 * --steps defaults to ~48K samples per repeat (48 steps at 1024, 6 at 8192); the default run takes ~8 min on
 * 2 (shared) cores, ~40% of it in torch. The trainer's merge timer
 * covers the local per-ID merge of embedding gradients (pack, merge duplicate IDs, unpack), so it is not
 * zero at world size 1. Ours runs on one thread with the wasm backend (tfjs-backend-wasm has no threads in
 * Node here), hence --threads 1 by default for torch.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs';
import { installCpuKernels } from '../src/backend/blas.js';
import { describeChoice, selectBackend, stepOptionsFor } from '../src/backend/select.js';
import { LocalCommunicator } from '../src/comm/local.js';
import { parseTrainConfig, type TrainConfig } from '../src/config/train-config.js';
import { loadData } from '../src/data/load.js';
import { V1_VOCAB_SIZES } from '../src/data/synthetic.js';
import { setStepDefaults } from '../src/model/step.js';
import type { Hyper } from '../src/optim/schedule.js';
import { train, type TrainResult } from '../src/train/trainer.js';
import { createLogger } from '../src/util/log.js';
import { benchScript, findPython, isMain, loadavgNow, machineInfo, markdownTable, median, medianOf, positiveInt, pythonCandidates, runMain, splitList, type Python } from './common.js';

const SAMPLES_PER_REPEAT = 49_152;
const WARMUP_STEPS = 2;
const MB = 2 ** 20;
/** Models bench/torch_deepfm.py implements. */
const TORCH_MODELS = ['deepfm', 'wd'];
/** Named --rows values: `small` for tests, `v1` the unscaled V1 vocabularies. */
const NAMED_ROWS: Record<string, number> = { small: 10_000, v1: V1_VOCAB_SIZES.reduce((a, b) => a + b, 0) + V1_VOCAB_SIZES.length };

/** What a repeat of ours keeps (not the replica: at 1M rows each holds ~300 MB). */
type OursRun = Pick<TrainResult, 'steps' | 'trainSeconds' | 'samplesPerSec' | 'time' | 'transfer' | 'uniqueIdsPerStep'>;

/** Torch's hello line: versions, cores, and whether it sees a CUDA device (and which). */
interface TorchHello {
  torch: string;
  python: string;
  cores: number;
  cuda: boolean;
  cudaDevice: string | null;
}

/** One timed torch run, as bench/torch_deepfm.py reports it. */
interface TorchRun {
  model: string;
  batch: number;
  mode: string;
  device: string;
  threads: number;
  steps: number;
  rows: number;
  samplesPerSec: number;
  msPerStep: number;
  uniqueIdsPerStep: number;
}

interface Case {
  model: string;
  batch: number;
  embedUpdate: string;
  steps: number;
  cfg: TrainConfig;
  hyper: Hyper;
  runs: OursRun[];
  /** Torch runs by thread count. */
  torch: Map<number, TorchRun[]>;
  torchErrors: string[];
  rssMB: number;
}

/** Every timed run in the order it ran, for the JSON. */
interface RunRecord {
  repeat: number;
  model: string;
  batch: number;
  embedUpdate: string;
  impl: 'ours' | 'torch';
  threads: number;
  samplesPerSec: number;
  msPerStep: number;
  loadavg: number[];
  splitMs?: Record<string, number>;
  transfer?: TransferPerStep;
}

/** Per training step, from TrainResult.transfer: where compute's time went, and the host <-> GPU traffic. */
interface TransferPerStep {
  packMs: number;
  dispatchMs: number;
  deviceMs: number;
  readbackMs: number;
  uploads: number;
  readbacks: number;
  upMB: number;
  downMB: number;
}

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

const perStepMs = (seconds: number, r: OursRun): number => (seconds * 1e3) / r.steps;

/** The trainer's step split in ms per step. */
const splitOf = (r: OursRun): TrainResult['time'] =>
  Object.fromEntries(Object.entries(r.time).map(([k, s]) => [k, perStepMs(s, r)])) as TrainResult['time'];

function transferPerStep(r: OursRun): TransferPerStep {
  const t = r.transfer;
  return {
    packMs: t.packMs / r.steps,
    dispatchMs: t.dispatchMs / r.steps,
    deviceMs: t.deviceMs / r.steps,
    readbackMs: t.readbackMs / r.steps,
    uploads: t.uploads / r.steps,
    readbacks: t.readbacks / r.steps,
    upMB: t.uploadBytes / r.steps / MB,
    downMB: t.readbackBytes / r.steps / MB,
  };
}

/** bench/torch_deepfm.py --serve: one JSON command line in, one JSON line out. */
class TorchServer {
  private readonly lines: string[] = [];
  private waiting: ((line: string | null) => void) | null = null;
  private closed = false;

  private constructor(private readonly child: ChildProcess) {
    const rl = createInterface({ input: child.stdout! });
    rl.on('line', (line) => {
      if (!line.startsWith('{')) return; // anything else a library prints
      if (this.waiting) {
        const w = this.waiting;
        this.waiting = null;
        w(line);
      } else this.lines.push(line);
    });
    rl.on('close', () => {
      this.closed = true;
      this.waiting?.(null);
      this.waiting = null;
    });
    child.stdin!.on('error', () => {}); // a dead server shows as a closed stdout
  }

  static async start(python: Python): Promise<{ server: TorchServer; hello: TorchHello }> {
    const child = spawn(python.path, [benchScript('torch_deepfm.py'), '--serve'], { stdio: ['pipe', 'pipe', 'inherit'] });
    process.on('exit', () => child.kill());
    const server = new TorchServer(child);
    const line = await server.next();
    if (line === null) throw new Error(`${python.path} bench/torch_deepfm.py --serve exited before saying hello`);
    return { server, hello: JSON.parse(line) };
  }

  private next(): Promise<string | null> {
    if (this.lines.length) return Promise.resolve(this.lines.shift()!);
    if (this.closed) return Promise.resolve(null);
    return new Promise((resolve) => (this.waiting = resolve));
  }

  get alive(): boolean {
    return !this.closed;
  }

  async run(cmd: Record<string, unknown>): Promise<TorchRun> {
    this.child.stdin!.write(JSON.stringify(cmd) + '\n');
    const line = await this.next();
    if (line === null) throw new Error('the torch reference exited');
    const msg = JSON.parse(line) as { error?: string; results?: TorchRun[] };
    if (msg.error || !msg.results?.length) throw new Error(msg.error ?? 'no result');
    return msg.results[0];
  }

  close(): void {
    this.child.stdin!.end();
  }
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
  const flags = (...more: string[]) => parseTrainConfig(['--data', dataSpec, '--backend', values.backend, '--mlp', values.mlp, '--log-every', '0', ...more]);
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
  const torchLabel = torchDevice === 'cuda' ? 'cuda' : `${threads} thr`;

  const comm = new LocalCommunicator();
  const trainLog = createLogger('info', log, log);
  const run = (cfg: TrainConfig, steps: number) => train({ ...cfg, steps }, data, comm, { log: trainLog });
  const cases: Case[] = [];
  // Ascending batch order, so each case's RSS (taken after its warm-up) is the footprint up to that batch.
  for (const batch of batches) {
    for (const model of splitList(values.models)) {
      for (const embedUpdate of splitList(values['embed-updates'])) {
        const steps = fixedSteps ?? Math.max(2, Math.round(SAMPLES_PER_REPEAT / batch));
        const cfg = flags('--model', model, '--global-batch', String(batch), '--steps', String(steps), '--embed-update', embedUpdate);
        log(`warm-up ${model} batch ${batch} embed-update ${embedUpdate}: ${WARMUP_STEPS} steps`);
        const { hyper } = (await run(cfg, WARMUP_STEPS)).replica;
        const torchErrors = torch && !TORCH_MODELS.includes(model) ? [`the torch reference has no ${model}`] : [];
        cases.push({ model, batch, embedUpdate, steps, cfg, hyper, runs: [], torch: new Map(), torchErrors, rssMB: process.memoryUsage().rss / MB });
      }
    }
  }

  /** The torch command of case c: our shapes and hyper-parameters (CowClip's threshold floor in the paper form). */
  const torchCommand = (c: Case, t: number): Record<string, unknown> => ({
    model: c.model,
    batch: c.batch,
    mode: c.embedUpdate,
    device: torchDevice,
    threads: t,
    steps: c.steps,
    warmup: WARMUP_STEPS,
    fieldSizes: data.fieldSizes,
    zipf: 1.1, // SYNTHETIC_PRESETS.v1.zipfExponent
    numeric: data.train.numNumeric,
    embedDim: c.cfg.embedDim,
    mlp: c.cfg.mlp,
    lr: c.hyper.lrDense,
    lrEmbed: c.hyper.lrEmbed,
    l2: c.hyper.l2,
    cowclip: c.cfg.cowclip,
    cowclipRatio: c.cfg.cowclipRatio,
    cowclipZeta: c.cfg.cowclipForm === 'paper' ? c.cfg.cowclipZeta : c.cfg.cowclipRatio ** 2 * Math.sqrt(c.cfg.embedDim) * c.cfg.cowclipZeta,
    seed: c.cfg.seed,
  });

  const records: RunRecord[] = [];
  for (let r = 1; r <= repeats; r++) {
    for (const c of cases) {
      let loadavg = loadavgNow();
      const res = await run(c.cfg, c.steps);
      const ours: OursRun = { steps: res.steps, trainSeconds: res.trainSeconds, samplesPerSec: res.samplesPerSec, time: res.time, transfer: res.transfer, uniqueIdsPerStep: res.uniqueIdsPerStep };
      c.runs.push(ours);
      records.push({
        repeat: r, model: c.model, batch: c.batch, embedUpdate: c.embedUpdate, impl: 'ours', threads: 1, samplesPerSec: ours.samplesPerSec,
        msPerStep: perStepMs(ours.trainSeconds, ours), loadavg, splitMs: splitOf(ours), ...(gpu ? { transfer: transferPerStep(ours) } : {}),
      });
      let line = `repeat ${r}/${repeats} ${c.model} batch ${c.batch} ${c.embedUpdate}: ours ${Math.round(ours.samplesPerSec)}`;
      for (const t of torchThreads) {
        if (!torch?.alive || c.torchErrors.length) break;
        loadavg = loadavgNow();
        try {
          const tr = await torch.run(torchCommand(c, t));
          if (!c.torch.has(t)) c.torch.set(t, []);
          c.torch.get(t)!.push(tr);
          records.push({ repeat: r, model: c.model, batch: c.batch, embedUpdate: c.embedUpdate, impl: 'torch', threads: t, samplesPerSec: tr.samplesPerSec, msPerStep: tr.msPerStep, loadavg });
          line += `, torch ${torchDevice === 'cuda' ? 'cuda' : `${t} thread(s)`} ${Math.round(tr.samplesPerSec)}`;
        } catch (err) {
          const msg = (err as Error).message;
          c.torchErrors.push(msg);
          console.error(`notice: torch failed on ${c.model} batch ${c.batch} ${c.embedUpdate} (${torchDevice}, ${t} thread(s)): ${msg}; ours only there`);
        }
      }
      log(`${line} samples/s (load ${loadavgNow().join(' ')})`);
    }
  }
  torch?.close();

  const torchSummary = (runs: TorchRun[] | undefined) =>
    runs?.length
      ? {
          device: runs[0].device,
          threads: runs[0].threads,
          samplesPerSec: median(runs.map((x) => x.samplesPerSec)),
          samplesPerSecAll: runs.map((x) => x.samplesPerSec),
          msPerStep: median(runs.map((x) => x.msPerStep)),
          uniqueIdsPerStep: runs[0].uniqueIdsPerStep,
        }
      : null;
  const results = cases.map((c) => {
    const med = (f: (r: OursRun) => number) => median(c.runs.map(f));
    const samplesPerSec = med((r) => r.samplesPerSec);
    const t1 = torchSummary(c.torch.get(threads));
    const tAll = allCores !== threads ? torchSummary(c.torch.get(allCores)) : null;
    return {
      model: c.model,
      batch: c.batch,
      embedUpdate: c.embedUpdate,
      stepsPerRepeat: c.steps,
      repeats: c.runs.length,
      samplesPerSec,
      samplesPerSecAll: c.runs.map((r) => r.samplesPerSec),
      msPerStep: med((r) => perStepMs(r.trainSeconds, r)),
      // Medians of each part of the step, from the trainer's timers (comm is zero at world size 1).
      splitMs: medianOf(c.runs.map(splitOf)),
      // GPU backends: medians of compute's own split and of the traffic per step.
      transfer: gpu ? medianOf(c.runs.map(transferPerStep)) : null,
      uniqueIdsPerStep: c.runs[0].uniqueIdsPerStep.global,
      rssMB: c.rssMB,
      /** Torch at --threads (or on cuda), and on every core; ratio = ours / torch of the medians. */
      torch: t1,
      ratio: t1 ? samplesPerSec / t1.samplesPerSec : null,
      torchAllCores: tAll,
      ratioAllCores: tAll ? samplesPerSec / tAll.samplesPerSec : null,
      torchErrors: c.torchErrors,
    };
  });
  const oursKernels =
    choice.name === 'wasm'
      ? 'tfjs wasm (SIMD, one thread) with its matmuls on OpenBLAS (T threads; --no-native: tfjs kernels)'
      : `tfjs ${choice.name}${gpu ? ' (the dense step on the GPU, one packed upload and one readback per step)' : ''}`;
  const torchKernels = torchDevice === 'cuda' ? 'torch CUDA kernels with the model, tables and batches on the GPU' : 'torch ATen/oneDNN kernels with T OpenMP threads';
  const torchNote =
    `same model (26 fields x d 16 embeddings + 1-d first-order table, 13 numeric, MLP ${base.mlp.join('-')} ReLU + linear out, FM term), ` +
    'init, mean BCE, Adam on dense weights, L2 + CowClip (paper form, field table) + Adam on embeddings: dense mode = nn.Embedding ' +
    'with dense gradients, L2 on every row, CowClip with count 1 for absent rows, Adam over the whole table; lazy = sparse=True, L2 and ' +
    'CowClip on the batch rows, SparseAdam. Differences: ids from the same Zipf law but other draws; torch slices pre-generated ' +
    'contiguous batches (ours fills each batch from a shuffled order: "data" time); ours merges duplicate IDs of the batch by hand ' +
    '("merge"), torch via index_add (dense) or coalesce (lazy); ours checks every gradient for NaN/Inf each step, torch only the loss; ' +
    "torch's Adam puts eps on sqrt(v_hat), ours (Keras form) on sqrt(v); ours applies the dense lr warm-up schedule, torch a constant lr " +
    `(no effect on speed); ours runs ${oursKernels} plus plain JS loops (batch fill, per-ID merge, embedding update), ${torchKernels}.`;
  const report = {
    bench,
    machine: { ...machine, backend: choice.name, adapter: choice.adapter?.description ?? null, tfjs: tf.version.tfjs, loadavgEnd: loadavgNow(), peakRssMB: process.resourceUsage().maxRSS / 1024 },
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

  const f = (x: number | null | undefined, d = 0) => (x == null ? '-' : x.toLocaleString('en', { minimumFractionDigits: d, maximumFractionDigits: d }));
  const range = (xs: number[] | undefined) => (xs?.length ? `${f(Math.min(...xs))}-${f(Math.max(...xs))}` : '-');
  const allCol = torchThreads.length > 1;
  console.log(
    '\n' +
      markdownTable(
        [
          'model',
          'batch',
          'embed update',
          'ours samples/s',
          'ours min-max',
          `torch samples/s (${torchLabel})`,
          'torch min-max',
          'ours/torch',
          ...(allCol ? [`torch samples/s (${allCores} thr)`, `ours/torch (${allCores} thr)`] : []),
          'ours ms/step',
          'ours split: data / tfjs / merge / comm / update ms',
          ...(gpu ? ['tfjs split: pack / dispatch / device / readback ms', 'per step: uploads (MB) / readbacks (MB)'] : []),
          'torch ms/step',
          'RSS MB',
        ],
        results.map((r) => [
          r.model,
          r.batch,
          r.embedUpdate,
          f(r.samplesPerSec),
          range(r.samplesPerSecAll),
          f(r.torch?.samplesPerSec),
          range(r.torch?.samplesPerSecAll),
          f(r.ratio, 2),
          ...(allCol ? [f(r.torchAllCores?.samplesPerSec), f(r.ratioAllCores, 2)] : []),
          f(r.msPerStep, 1),
          [r.splitMs.data, r.splitMs.compute, r.splitMs.merge, r.splitMs.comm, r.splitMs.update].map((x) => f(x, 1)).join(' / '),
          ...(r.transfer
            ? [
                [r.transfer.packMs, r.transfer.dispatchMs, r.transfer.deviceMs, r.transfer.readbackMs].map((x) => f(x, 1)).join(' / '),
                `${f(r.transfer.uploads, 1)} (${f(r.transfer.upMB, 1)}) / ${f(r.transfer.readbacks, 1)} (${f(r.transfer.downMB, 1)})`,
              ]
            : []),
          f(r.torch?.msPerStep, 1),
          f(r.rssMB),
        ]),
        [0, 2],
      ),
  );
  console.log(
    `\n${machine.cpu}, ${machine.cores} cores, Node ${machine.node}, tfjs ${tf.version.tfjs} ${choice.name}` +
      `${choice.name === 'wasm' ? ' (one thread)' : choice.adapter ? ` (${choice.adapter.description})` : ''}; MLP ${base.mlp.join('-')}; ` +
      `${data.totalRows.toLocaleString('en')} embedding rows (${dataSpec}); ` +
      `median of ${repeats} interleaved repeats (ours, then torch${torchThreads.length > 1 ? ' at each thread count' : ''}, per configuration) after ` +
      `${WARMUP_STEPS} warm-up steps; load average ${machine.loadavg.join(' ')} at start, ${report.machine.loadavgEnd.join(' ')} at end; ` +
      `RSS after each case's warm-up (cases run in ascending batch), peak ${f(report.machine.peakRssMB)} MB (this process; torch runs in its own).`,
  );
  const peakLoad = Math.max(...records.map((r) => r.loadavg[0]), report.machine.loadavgEnd[0]);
  const uniq = results.filter((r) => r.torch).map((r) => `${f(r.uniqueIdsPerStep)}/${f(r.torch!.uniqueIdsPerStep)} at ${r.batch}`);
  console.log(
    `Bench wall time ${f(report.wallSeconds / 60, 1)} min.` +
      (uniq.length ? ` Distinct IDs per step ours/torch (same Zipf law, other draws): ${[...new Set(uniq)].join(', ')}.` : '') +
      (peakLoad > machine.cores - 1
        ? ` The machine was shared (1-min load average up to ${peakLoad} on ${machine.cores} cores): every figure is slowed` +
          (torchThreads.length > 1 ? ', torch on all cores most (its OpenMP threads wait for descheduled peers).' : '.')
        : ''),
  );
  if (gpu) {
    console.log(
      'tfjs = the dense step as the trainer times it: pack (host copies into the staging buffer), dispatch (building and queueing ' +
        'the tfjs graph, the upload queued with it), device (until the GPU has run the upload and the kernels), readback (loss and ' +
        'gradients, one buffer); data, merge and update run on the host.',
    );
  }
  console.log(
    torchInfo
      ? `PyTorch ${torchInfo.torch} (${torchInfo.python}${torchInfo.cudaDevice && torchDevice === 'cuda' ? `, ${torchInfo.cudaDevice}` : ''}), bench/torch_deepfm.py: ${torchNote}`
      : `PyTorch reference ${torchSkip}.`,
  );
}

if (isMain(import.meta.url)) runMain(() => throughputBench('train-throughput', process.argv.slice(2)));
