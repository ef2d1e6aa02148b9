// bench/gpu (train-throughput with the GPU case's defaults) at tiny settings on whatever adapter Dawn finds
// (lavapipe in CI): our rows on webgpu with the transfer split, and the PyTorch side on CUDA where torch has a
// GPU, else a notice in its place.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { GPU_ENV, needWebGpu } from './helpers/gpu.js';

const BENCH = fileURLToPath(new URL('../dist/bench/gpu.js', import.meta.url));
const TINY = ['--batches', '256', '--steps', '2', '--repeats', '1', '--rows', 'small', '--mlp', '32,32', '--no-all-cores'];

interface Report {
  bench: string;
  machine: { backend: string; embedDevice: string };
  settings: { mlp: number[]; transfer: string };
  torch: string | { version: string; device: string };
  results: {
    model: string;
    batch: number;
    embedUpdate: string;
    samplesPerSec: number;
    splitMs: Record<string, number>;
    transfer: { packMs: number; dispatchMs: number; deviceMs: number; readbackMs: number; uploads: number; readbacks: number; upMB: number; downMB: number } | null;
    torch: { samplesPerSec: number } | null;
    ratio: number | null;
  }[];
}

if (needWebGpu(t)) {
  t.test('bench/gpu: tiny run on webgpu, transfer split, torch on cuda or a notice', async (t) => {
    const res = spawnSync(process.execPath, [BENCH, ...TINY], { encoding: 'utf8', timeout: 180_000, env: { ...process.env, ...GPU_ENV } });
    t.equal(res.status, 0, res.stderr);
    const json = JSON.parse(res.stdout.split('\n').find((l) => l.startsWith('{'))!) as Report;
    t.equal(json.bench, 'gpu');
    t.equal(json.machine.backend, 'webgpu', 'webgpu by default');
    t.equal(json.settings.transfer, 'packed');
    t.same(json.settings.mlp, [32, 32], 'flags given override the defaults');
    t.same(json.results.map((r) => [r.model, r.batch, r.embedUpdate]), [['deepfm', 256, 'lazy']], 'deepfm, lazy by default; --batches overrides');
    const [r] = json.results;
    t.ok(r.samplesPerSec > 0, `ours timed (${Math.round(r.samplesPerSec)} samples/s)`);
    t.same(Object.keys(r.splitMs), ['data', 'compute', 'merge', 'comm', 'update']);
    t.ok(r.transfer, 'transfer split present');
    // The tables on the GPU (--embed-device auto on webgpu): up, the step's inputs, the ids and the global
    // merged rows; down, the step's results, the merge's distinct-id count, the merged payload, CowClip's count.
    t.equal(json.machine.embedDevice, 'auto');
    t.equal(r.transfer!.uploads, 3, 'three uploads per step');
    t.equal(r.transfer!.readbacks, 4, 'four readbacks per step');
    t.ok(r.transfer!.upMB > 0 && r.transfer!.downMB > 0, 'bytes both ways');
    t.ok(r.transfer!.deviceMs + r.transfer!.readbackMs <= r.splitMs.compute + 1e-9, 'device and readback are part of compute');
    t.match(res.stdout, /\| tfjs split: pack \/ dispatch \/ device \/ readback ms \| per step: uploads \(MB\) \/ readbacks \(MB\) \|/, 'markdown table with the split');

    if (typeof json.torch === 'string') {
      t.match(json.torch, /^skipped/);
      t.match(res.stderr, /notice: .*(no python with torch|no CUDA device|did not start)/, 'a notice says why torch is left out');
      t.equal(r.torch, null);
      t.equal(r.ratio, null);
      t.comment(`torch not compared here: ${json.torch}`);
      return;
    }
    t.equal(json.torch.device, 'cuda');
    t.ok(r.torch && r.torch.samplesPerSec > 0, 'torch on cuda timed');
    t.ok(Math.abs(r.ratio! - r.samplesPerSec / r.torch!.samplesPerSec) < 1e-12, 'ratio = ours / torch');
    t.match(res.stdout, /torch samples\/s \(cuda\)/);
  });

  t.test('bench/gpu --embed-device host: the tables on the host, one upload and one readback per step', async (t) => {
    const res = spawnSync(process.execPath, [BENCH, ...TINY, '--embed-device', 'host', '--no-torch'], { encoding: 'utf8', timeout: 180_000, env: { ...process.env, ...GPU_ENV } });
    t.equal(res.status, 0, res.stderr);
    const json = JSON.parse(res.stdout.split('\n').find((l) => l.startsWith('{'))!) as Report;
    t.equal(json.machine.embedDevice, 'host');
    const [r] = json.results;
    t.equal(r.transfer!.uploads, 1, 'one upload per step');
    t.equal(r.transfer!.readbacks, 1, 'one readback per step');
  });
}
