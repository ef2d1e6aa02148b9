/**
 * bench/train-throughput.ts's runs: every case (model x batch x embedding-update mode) warmed up once, then the
 * repeats interleaved, ours then torch at each thread count per case, so load changes on a shared machine hit
 * both alike.
 */
import type { TrainConfig } from '../src/config/train-config.js';
import type { LoadedData } from '../src/data/types.js';
import type { Hyper } from '../src/optim/schedule.js';
import type { TrainResult } from '../src/train/trainer.js';
import { loadavgNow } from './common.js';
import { TORCH_MODELS, type TorchRun, type TorchServer } from './train-throughput-torch.js';

const SAMPLES_PER_REPEAT = 49_152;
export const WARMUP_STEPS = 2;
const MB = 2 ** 20;

/** What a repeat of ours keeps (not the replica: at 1M rows each holds ~300 MB). */
export type OursRun = Pick<TrainResult, 'steps' | 'trainSeconds' | 'samplesPerSec' | 'time' | 'transfer' | 'uniqueIdsPerStep'>;

export interface Case {
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
export interface RunRecord {
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
export interface TransferPerStep {
  packMs: number;
  dispatchMs: number;
  deviceMs: number;
  readbackMs: number;
  uploads: number;
  readbacks: number;
  upMB: number;
  downMB: number;
}

export const perStepMs = (seconds: number, r: OursRun): number => (seconds * 1e3) / r.steps;

/** The trainer's step split in ms per step. */
export const splitOf = (r: OursRun): TrainResult['time'] =>
  Object.fromEntries(Object.entries(r.time).map(([k, s]) => [k, perStepMs(s, r)])) as TrainResult['time'];

export function transferPerStep(r: OursRun): TransferPerStep {
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

export interface RunContext {
  data: LoadedData;
  /** Ours: the trainer's train() of `cfg` for `steps` steps, on one rank. */
  train: (cfg: TrainConfig, steps: number) => Promise<TrainResult>;
  log: (msg: string) => void;
}

/** The running reference, the device it runs on and the thread counts to run it at. */
export interface TorchSide {
  server: TorchServer;
  device: string;
  threads: number[];
}

/**
 * Warms up every case once (ours), in ascending batch order so that each case's RSS, taken after its warm-up, is
 * the footprint up to that batch. `flags` makes the training config from command-line flags; `torch` says whether
 * the reference runs, so that a model it lacks is noted.
 */
export async function warmUpCases(
  ctx: RunContext,
  grid: { batches: number[]; models: string[]; embedUpdates: string[]; fixedSteps?: number },
  flags: (...more: string[]) => TrainConfig,
  torch: boolean,
): Promise<Case[]> {
  const cases: Case[] = [];
  for (const batch of grid.batches) {
    for (const model of grid.models) {
      for (const embedUpdate of grid.embedUpdates) {
        const steps = grid.fixedSteps ?? Math.max(2, Math.round(SAMPLES_PER_REPEAT / batch));
        const cfg = flags('--model', model, '--global-batch', String(batch), '--steps', String(steps), '--embed-update', embedUpdate);
        ctx.log(`warm-up ${model} batch ${batch} embed-update ${embedUpdate}: ${WARMUP_STEPS} steps`);
        const { hyper } = (await ctx.train(cfg, WARMUP_STEPS)).replica;
        const torchErrors = torch && !TORCH_MODELS.includes(model) ? [`the torch reference has no ${model}`] : [];
        cases.push({ model, batch, embedUpdate, steps, cfg, hyper, runs: [], torch: new Map(), torchErrors, rssMB: process.memoryUsage().rss / MB });
      }
    }
  }
  return cases;
}

/** The torch command of case c: our shapes and hyper-parameters (CowClip's threshold floor in the paper form). */
const torchCommand = (c: Case, t: number, device: string, data: LoadedData): Record<string, unknown> => ({
  model: c.model,
  batch: c.batch,
  mode: c.embedUpdate,
  device,
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

/**
 * The timed repeats: fills each case's runs (and torch's) and returns every run in order. A torch failure is
 * noted on its case, which is then ours only; `gpu` keeps the transfer split of each run of ours.
 */
export async function runRepeats(ctx: RunContext, cases: Case[], repeats: number, torch: TorchSide | null, gpu: boolean): Promise<RunRecord[]> {
  const records: RunRecord[] = [];
  for (let r = 1; r <= repeats; r++) {
    for (const c of cases) {
      let loadavg = loadavgNow();
      const res = await ctx.train(c.cfg, c.steps);
      const ours: OursRun = { steps: res.steps, trainSeconds: res.trainSeconds, samplesPerSec: res.samplesPerSec, time: res.time, transfer: res.transfer, uniqueIdsPerStep: res.uniqueIdsPerStep };
      c.runs.push(ours);
      records.push({
        repeat: r, model: c.model, batch: c.batch, embedUpdate: c.embedUpdate, impl: 'ours', threads: 1, samplesPerSec: ours.samplesPerSec,
        msPerStep: perStepMs(ours.trainSeconds, ours), loadavg, splitMs: splitOf(ours), ...(gpu ? { transfer: transferPerStep(ours) } : {}),
      });
      let line = `repeat ${r}/${repeats} ${c.model} batch ${c.batch} ${c.embedUpdate}: ours ${Math.round(ours.samplesPerSec)}`;
      for (const t of torch?.threads ?? []) {
        const { server, device } = torch!;
        if (!server.alive || c.torchErrors.length) break;
        loadavg = loadavgNow();
        try {
          const tr = await server.run(torchCommand(c, t, device, ctx.data));
          if (!c.torch.has(t)) c.torch.set(t, []);
          c.torch.get(t)!.push(tr);
          records.push({ repeat: r, model: c.model, batch: c.batch, embedUpdate: c.embedUpdate, impl: 'torch', threads: t, samplesPerSec: tr.samplesPerSec, msPerStep: tr.msPerStep, loadavg });
          line += `, torch ${device === 'cuda' ? 'cuda' : `${t} thread(s)`} ${Math.round(tr.samplesPerSec)}`;
        } catch (err) {
          const msg = (err as Error).message;
          c.torchErrors.push(msg);
          console.error(`notice: torch failed on ${c.model} batch ${c.batch} ${c.embedUpdate} (${device}, ${t} thread(s)): ${msg}; ours only there`);
        }
      }
      ctx.log(`${line} samples/s (load ${loadavgNow().join(' ')})`);
    }
  }
  return records;
}
