// --embed-device gpu end to end on whatever adapter Dawn finds (lavapipe in CI): the tables, lookup, per-ID merge,
// CowClip and optimizer on the GPU train the model the host tables train, for the four models, lazy and dense,
// at N = 1 and 2 (every checkpoint tensor within 1e-5 relative, replicas identical), and only merged rows cross.
import t from 'tap';
import { runJob, worstRelativeDiff } from './helpers/runs.js';
import { runLauncher } from './helpers/cli.js';
import { GPU_ENV, needWebGpu } from './helpers/gpu.js';

const BASE = [
  '--data', 'synthetic:quick,rows=4000,eval-rows=400',
  '--mlp', '16,16', '--embed-dim', '4', '--cross-layers', '2', '--low-rank', '4', '--experts', '2',
  '--global-batch', '200', '--steps', '20', '--cowclip-ratio', '0.01', '--check-every', '5', '--log-every', '0', '--backend', 'webgpu',
];

if (needWebGpu(t)) {
  for (const model of ['deepfm', 'wd', 'dcn', 'dcnv2']) {
    for (const mode of ['lazy', 'dense']) {
      t.test(`${model}, --embed-update ${mode}: tables on the GPU train the host tables' model at N = 1 and 2`, async (t) => {
        const dir = t.testdir();
        const flags = [...BASE, '--model', model, '--embed-update', mode];
        const host = await runJob(t, dir, 'host', 1, [...flags, '--embed-device', 'host'], GPU_ENV);
        t.ok(host.rep.clipFraction.mean > 0.1, `CowClip fires (${(host.rep.clipFraction.mean * 100).toFixed(1)}% of rows)`);
        for (const n of [1, 2]) {
          const gpu = await runJob(t, dir, `gpu${n}`, n, [...flags, '--embed-device', 'gpu'], GPU_ENV);
          const worst = worstRelativeDiff(host.ckpt.tensors, gpu.ckpt.tensors);
          t.ok(worst.rel <= 1e-5, `N = ${n}: every checkpoint tensor within 1e-5 of the host tables': worst ${worst.rel.toExponential(2)} (${worst.name})`);
          t.equal(new Set(gpu.rep.paramChecksums).size, 1, `N = ${n}: replicas identical`);
          t.same(gpu.rep.clipFraction, host.rep.clipFraction, `N = ${n}: the same rows clipped`);
          t.ok(Math.abs(gpu.rep.eval.auc - host.rep.eval.auc) <= 1e-5, `N = ${n}: eval AUC ${gpu.rep.eval.auc} vs ${host.rep.eval.auc}`);
          // Per step: up, the weights, numeric features and labels (one upload), the ids, the global merged rows;
          // down, the loss and dense gradients, this rank's merged payload, and two 4-byte counts.
          const tr = gpu.rep.transfer;
          t.equal(tr.uploads, 3 * tr.calls, `N = ${n}: three uploads per step`);
          const stepBytes = (tr.uploadBytes + tr.readbackBytes) / tr.calls;
          const hostBytes = (host.rep.transfer.uploadBytes + host.rep.transfer.readbackBytes) / host.rep.transfer.calls;
          t.ok(stepBytes < hostBytes, `N = ${n}: ${Math.round(stepBytes)} bytes cross per step, against ${Math.round(hostBytes)} with the tables on the host`);
        }
      });
    }
  }

  t.test('dense and hybrid exchanges, and the Adagrad family, with the tables on the GPU train their host-table models at N = 2', async (t) => {
    const dir = t.testdir();
    // Per-weight Adagrad for 6 steps only: its first step on a weight is lr x sign(g), so float32 against float64
    // arithmetic flips the step of the odd weight whose gradient is ~0, and the runs drift apart with the steps
    // (8.9e-7 after 3 steps, 5.9e-5 after 20); row-wise accumulators average over the row and do not.
    const runs = [['dense', []], ['hybrid', []], ['allreduce', ['--optimizer-embed', 'rowwise-adagrad', '--embed-update', 'dense']], ['allreduce', ['--optimizer-embed', 'adagrad', '--steps', '6']]] as const;
    for (const [sync, extra] of runs) {
      const flags = [...BASE, '--sync', sync, '--embed-update', 'lazy', ...extra];
      const name = [sync, ...extra].join('').replace(/-/g, '');
      const host = await runJob(t, dir, `${name}-host`, 2, [...flags, '--embed-device', 'host'], GPU_ENV);
      const gpu = await runJob(t, dir, `${name}-gpu`, 2, [...flags, '--embed-device', 'gpu'], GPU_ENV);
      const worst = worstRelativeDiff(host.ckpt.tensors, gpu.ckpt.tensors);
      t.ok(worst.rel <= 1e-5, `${name}: every checkpoint tensor within 1e-5: worst ${worst.rel.toExponential(2)} (${worst.name})`);
      t.equal(new Set(gpu.rep.paramChecksums).size, 1, `${name}: replicas identical`);
      t.same(gpu.rep.clipFraction, host.rep.clipFraction, `${name}: the same rows clipped (hybrid's last update, applied after the last step, included)`);
    }
  });

  t.test('tables larger than the GPU allows: refused under gpu, kept on the host under auto', async (t) => {
    const env = { ...GPU_ENV, DDP_GPU_TABLE_LIMIT_MB: '0.05' };
    const gpu = await runLauncher(['-n', '1', ...BASE, '--steps', '2', '--embed-device', 'gpu'], { env });
    t.not(gpu.code, 0);
    t.match(gpu.stderr, /--embed-device gpu: the field table with its optimizer state takes \d+\.\d KiB \(\d+ rows x 12 values\), more than the 51\.2 KiB allowed on this GPU/);
    const auto = await runLauncher(['-n', '1', ...BASE, '--steps', '2'], { env });
    t.equal(auto.code, 0, auto.stderr);
    t.match(auto.stdout + auto.stderr, /embedding tables kept on the host: the field table with its optimizer state takes/);
  });

  t.test('refusals: a strategy that needs the host tables, a backend without a GPU', async (t) => {
    const sgd = await runLauncher(['-n', '1', ...BASE, '--sync', 'local-sgd', '--embed-device', 'gpu']);
    t.not(sgd.code, 0);
    t.match(sgd.stderr, /--embed-device gpu does not work with --sync local-sgd yet: it averages the host tables/);
    const wasm = await runLauncher(['-n', '1', ...BASE.slice(0, -1), 'wasm', '--embed-device', 'gpu']);
    t.not(wasm.code, 0);
    t.match(wasm.stderr, /--embed-device gpu needs the webgpu backend, not --backend wasm/);
  });
}
