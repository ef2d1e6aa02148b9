import { execFileSync } from 'node:child_process';
import { UserError } from '../src/util/errors.js';

/**
 * GPUs on this host: `--gpus 0,1` if given, else the devices `nvidia-smi -L` lists, else none.
 * `run` is injectable so tests can simulate machines with and without GPUs.
 */
export function detectGpus(flag: string | undefined, run: () => string = nvidiaSmi): string[] {
  if (flag !== undefined) {
    if (flag === '' || flag === 'none') return [];
    const ids = flag.split(',').map((s) => s.trim());
    for (const id of ids) {
      if (!/^\d+$/.test(id)) throw new UserError(`--gpus ${flag}: expected comma-separated device indices like 0,1 (or none)`);
    }
    return ids;
  }
  let out: string;
  try {
    out = run();
  } catch {
    return []; // no driver or no nvidia-smi: a CPU machine
  }
  const ids: string[] = [];
  for (const line of out.split('\n')) {
    const m = /^GPU (\d+):/.exec(line.trim());
    if (m) ids.push(m[1]);
  }
  return ids;
}

function nvidiaSmi(): string {
  return execFileSync('nvidia-smi', ['-L'], { encoding: 'utf8', timeout: 5000, stdio: ['ignore', 'pipe', 'ignore'] });
}

/**
 * CUDA_VISIBLE_DEVICES for a local rank: one GPU per rank, round-robin when ranks outnumber GPUs;
 * empty (no GPU) on a CPU host so the backend selection skips tfjs-node-gpu.
 */
export function cudaDevicesFor(localRank: number, gpus: string[]): string {
  return gpus.length === 0 ? '' : gpus[localRank % gpus.length];
}

/**
 * What the launcher can do but the user probably did not mean, one line each: GPUs named on a host where
 * nvidia-smi sees none (the ranks fall back to the CPU), more workers than cores (they share them, each slower),
 * restarts without checkpoints (each restart begins again from step 0).
 */
export function launchWarnings(
  o: { nproc: number; cores: number; gpus: string | undefined; maxRestarts: number; save: string | undefined },
  seen: () => string[] = () => detectGpus(undefined),
): string[] {
  const out: string[] = [];
  if (o.gpus !== undefined && o.gpus !== 'none' && o.gpus !== '' && seen().length === 0) {
    out.push(`--gpus ${o.gpus}: nvidia-smi finds no GPU on this host; the ranks will run on the CPU`);
  }
  if (o.nproc > o.cores) out.push(`-n ${o.nproc} on ${o.cores} CPU cores: the workers share them and each runs slower (-n ${o.cores} is likely faster without GPUs)`);
  if (o.maxRestarts > 0 && !o.save) out.push(`--max-restarts ${o.maxRestarts} without --save: every restart begins again from step 0 (add --save DIR --save-every K to resume)`);
  return out;
}
