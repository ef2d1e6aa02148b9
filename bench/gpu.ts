/**
 * The GPU benchmark: bench/train-throughput.ts with the GPU case's defaults. The v1-shaped DeepFM step
 * (26 x 16 embeddings, ~1M rows, MLP 400x3, lazy embedding updates) at B = 8,192, 65,536 and 131,072 on webgpu
 * (the embedding tables on the GPU under --embed-device auto; --embed-device host for the host tables), its
 * split (data, tfjs = pack / dispatch / device / readback, merge, comm, update; uploads and readbacks per
 * step), and in the same run PyTorch on CUDA (bench/torch_deepfm.py --device cuda) with ours/PyTorch; where
 * torch has no CUDA device the report says so and gives ours alone. Any train-throughput flag given here
 * overrides the default. JSON (one line) and a markdown table on stdout, progress on stderr.
 *
 *   node dist/bench/gpu.js [--batches 8192,65536,131072] [--embed-device auto|host|gpu] [--models deepfm] [--embed-updates lazy] [--rows 1M]
 *     [--mlp 400,400,400] [--backend webgpu] [--torch-device cuda] [--steps N] [--repeats 5] [--json FILE]
 *     [--python PATH | --no-torch] [--no-all-cores] [--threads 1] [--no-native]
 */
import { runMain } from './common.js';
import { throughputBench } from './train-throughput.js';

const GPU_DEFAULTS = [
  '--backend', 'webgpu',
  '--models', 'deepfm',
  '--batches', '8192,65536,131072',
  '--rows', '1M',
  '--embed-updates', 'lazy',
  '--torch-device', 'cuda',
  '--mlp', '400,400,400',
];

runMain(() => throughputBench('gpu', [...GPU_DEFAULTS, ...process.argv.slice(2)]));
