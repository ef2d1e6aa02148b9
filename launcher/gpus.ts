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
