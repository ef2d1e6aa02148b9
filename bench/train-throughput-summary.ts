/** bench/train-throughput.ts's figures: medians over repeats per case, ours against torch, and the JSON they go in. */
import { median, medianOf, type MachineInfo } from './common.js';
import { perStepMs, splitOf, transferPerStep, type Case, type OursRun, type RunRecord } from './train-throughput-runs.js';
import type { TorchInfo, TorchRun } from './train-throughput-torch.js';

function torchSummary(runs: TorchRun[] | undefined) {
  return runs?.length
    ? {
        device: runs[0].device,
        threads: runs[0].threads,
        samplesPerSec: median(runs.map((x) => x.samplesPerSec)),
        samplesPerSecAll: runs.map((x) => x.samplesPerSec),
        msPerStep: median(runs.map((x) => x.msPerStep)),
        uniqueIdsPerStep: runs[0].uniqueIdsPerStep,
      }
    : null;
}

/**
 * One result per case: `threads` is torch's --threads, `allCores` the machine's cores (torch's second thread
 * count), `gpu` whether our step's transfer split is kept.
 */
export function summariseCases(cases: Case[], threads: number, allCores: number, gpu: boolean) {
  return cases.map((c) => {
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
}

export type CaseResult = ReturnType<typeof summariseCases>[number];

/** The JSON line (every run kept; `results` are medians per case). */
export interface ThroughputReport {
  bench: string;
  machine: MachineInfo & { backend: string; embedDevice: string; adapter: string | null; tfjs: string; loadavgEnd: number[]; peakRssMB: number };
  settings: {
    data: string;
    embeddingRows: number;
    rowsAsked: number;
    mlp: number[];
    worldSize: number;
    warmupSteps: number;
    repeats: number;
    threads: number;
    oursThreads: number | string;
    kernels: string;
    /** The step's transfer mode: `packed` on a GPU backend. */
    transfer: string;
  };
  /** The reference's settings, or why it did not run. */
  torch: TorchInfo | string;
  results: CaseResult[];
  runs: RunRecord[];
  wallSeconds: number;
}
