/**
 * bench/train-throughput.ts's PyTorch reference: bench/torch_deepfm.py kept running as a server (so it imports
 * torch once), and what it does differently from ours, for the JSON and the notes.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { benchScript, type Python } from './common.js';

/** Models bench/torch_deepfm.py implements. */
export const TORCH_MODELS = ['deepfm', 'wd'];

/** Torch's hello line: versions, cores, and whether it sees a CUDA device (and which). */
export interface TorchHello {
  torch: string;
  python: string;
  cores: number;
  cuda: boolean;
  cudaDevice: string | null;
}

/** One timed torch run, as bench/torch_deepfm.py reports it. */
export interface TorchRun {
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

/** bench/torch_deepfm.py --serve: one JSON command line in, one JSON line out. */
export class TorchServer {
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

/** The JSON's `torch` when the reference ran. */
export interface TorchInfo {
  python: string;
  version: string;
  device: string;
  cudaDevice: string | null;
  /** Thread counts it ran at. */
  threads: number[];
  warmupSteps: number;
  note: string;
}

/** How the reference's step compares with ours: `backend` is ours, `gpu` whether its step is packed for a GPU. */
export function referenceNote(mlp: readonly number[], backend: string, gpu: boolean, torchDevice: string): string {
  const oursKernels =
    backend === 'wasm'
      ? 'tfjs wasm (SIMD, one thread) with its matmuls on OpenBLAS (T threads; --no-native: tfjs kernels)'
      : `tfjs ${backend}${gpu ? ' (the dense step on the GPU, one packed upload and one readback per step)' : ''}`;
  const torchKernels = torchDevice === 'cuda' ? 'torch CUDA kernels with the model, tables and batches on the GPU' : 'torch ATen/oneDNN kernels with T OpenMP threads';
  return (
    `same model (26 fields x d 16 embeddings + 1-d first-order table, 13 numeric, MLP ${mlp.join('-')} ReLU + linear out, FM term), ` +
    'init, mean BCE, Adam on dense weights, L2 + CowClip (paper form, field table) + Adam on embeddings: dense mode = nn.Embedding ' +
    'with dense gradients, L2 on every row, CowClip with count 1 for absent rows, Adam over the whole table; lazy = sparse=True, L2 and ' +
    'CowClip on the batch rows, SparseAdam. Differences: ids from the same Zipf law but other draws; torch slices pre-generated ' +
    'contiguous batches (ours fills each batch from a shuffled order: "data" time); ours merges duplicate IDs of the batch by hand ' +
    '("merge"), torch via index_add (dense) or coalesce (lazy); ours checks every gradient for NaN/Inf each step, torch only the loss; ' +
    "torch's Adam puts eps on sqrt(v_hat), ours (Keras form) on sqrt(v); ours applies the dense lr warm-up schedule, torch a constant lr " +
    `(no effect on speed); ours runs ${oursKernels} plus plain JS loops (batch fill, per-ID merge, embedding update), ${torchKernels}.`
  );
}
