// The WebGPU backend end to end, on whatever adapter Dawn finds (lavapipe in CI), with its default of the
// embedding tables on the GPU: every model against wasm, N = 2 against N = 1, checkpoint + resume to the bit.
// Small shapes: lavapipe runs ~1 GFLOP/s.
import t, { type Test } from 'tap';
import { join } from 'node:path';
import { runJob, worstRelativeDiff, type Job } from './helpers/runs.js';
import { GPU_ENV, needWebGpu } from './helpers/gpu.js';

const BASE = [
  '--data', 'synthetic:quick,rows=4000,eval-rows=400',
  '--mlp', '16,16', '--embed-dim', '4', '--cross-layers', '2', '--low-rank', '4', '--experts', '2',
  '--global-batch', '200', '--steps', '20', '--cowclip-ratio', '0.01', '--check-every', '5', '--log-every', '0',
];

const lossDiff = (a: Job, b: Job): number => Math.abs(a.rep.train.logloss - b.rep.train.logloss) / a.rep.train.logloss;

if (needWebGpu(t)) {
  // DeepFM (the default model), 20 steps, one rank on webgpu: compared with wasm, with -n 2, and with a resumed run.
  const shared = t.testdir();
  let deepfm: Promise<Job> | undefined;
  const deepfmOnGpu = (t: Test): Promise<Job> => (deepfm ??= runJob(t, shared, 'deepfm-webgpu', 1, [...BASE, '--backend', 'webgpu'], GPU_ENV));

  for (const model of ['deepfm', 'wd', 'dcn', 'dcnv2']) {
    t.test(`${model}: 20 steps on webgpu = on wasm, within 1e-4 relative`, async (t) => {
      const dir = t.testdir();
      const flags = [...BASE, '--model', model];
      const wasm = await runJob(t, dir, 'wasm', 1, [...flags, '--backend', 'wasm']);
      const gpu = model === 'deepfm' ? await deepfmOnGpu(t) : await runJob(t, dir, 'webgpu', 1, [...flags, '--backend', 'webgpu'], GPU_ENV);
      t.equal(gpu.rep.backend, 'webgpu');
      t.ok(gpu.rep.clipFraction.mean > 0.1, `CowClip fires (${(gpu.rep.clipFraction.mean * 100).toFixed(1)}% of rows)`);
      const worst = worstRelativeDiff(wasm.ckpt.tensors, gpu.ckpt.tensors);
      t.ok(worst.rel <= 1e-4, `every checkpoint tensor, optimizer state included: worst ${worst.rel.toExponential(2)} (${worst.name})`);
      t.ok(lossDiff(wasm, gpu) <= 1e-4, `training loss ${gpu.rep.train.logloss} vs ${wasm.rep.train.logloss}`);
      t.ok(Math.abs(gpu.rep.eval.auc - wasm.rep.eval.auc) <= 1e-4, `eval AUC ${gpu.rep.eval.auc} vs ${wasm.rep.eval.auc}`);
      // The embedding tables on the GPU (--embed-device auto): up, the step's inputs, the ids, the global merged
      // rows; down, the step's results, the merge's distinct-id count, the merged payload, CowClip's count.
      const tr = gpu.rep.transfer;
      t.equal(tr.uploads, 3 * tr.calls, 'three uploads per step');
      t.equal(tr.readbacks, 4 * tr.calls, 'four readbacks per step');
      t.equal(tr.calls, 20);
    });
  }

  t.test('webgpu: -n 2 = -n 1 for the same global batch, replicas bit-identical', async (t) => {
    const dir = t.testdir();
    const flags = [...BASE, '--backend', 'webgpu'];
    const one = await deepfmOnGpu(t);
    const two = await runJob(t, dir, 'n2', 2, flags, GPU_ENV);
    t.equal(new Set(two.rep.paramChecksums).size, 1, 'both ranks hold identical parameters (the drift guard also checked every 5 steps)');
    const worst = worstRelativeDiff(one.ckpt.tensors, two.ckpt.tensors);
    t.ok(worst.rel <= 1e-4, `N=2 vs N=1: worst ${worst.rel.toExponential(2)} (${worst.name})`);
    t.ok(lossDiff(one, two) <= 1e-4, `training loss ${two.rep.train.logloss} vs ${one.rep.train.logloss}`);
  });

  t.test('webgpu: stopped at step 10 and resumed = uninterrupted, to the bit', async (t) => {
    const dir = t.testdir();
    const flags = [...BASE, '--backend', 'webgpu'];
    const full = await deepfmOnGpu(t);
    await runJob(t, dir, 'half', 1, [...flags, '--steps', '10'], GPU_ENV);
    const resumed = await runJob(t, dir, 'resumed', 1, [...flags, '--resume', join(dir, 'half')], GPU_ENV);
    t.equal(resumed.ckpt.manifest.step, 20);
    const d = worstRelativeDiff(full.ckpt.tensors, resumed.ckpt.tensors);
    t.equal(d.rel, 0, `resumed vs uninterrupted: ${d.rel} (${d.name || 'every tensor equal'})`);
  });
}
