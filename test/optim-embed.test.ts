// --optimizer-embed adagrad / rowwise-adagrad: on every strategy that trains the allreduce model (dense,
// sharded, ps) they still do, replicas stay identical (local-sgd too), and a checkpoint carries their state:
// stopped and resumed = uninterrupted, to the bit. Compared at the same N: Adagrad's first step on a weight is
// lr x sign(g), so a weight whose gradient is ~0 moves by +-lr on float noise, which another N's dense
// summation order changes.
import t from 'tap';
import { join } from 'node:path';
import { runJob, worstRelativeDiff } from './helpers/runs.js';

const BASE = [
  '--data', 'synthetic:quick,rows=6000,eval-rows=400,vocab-scale=0.1',
  '--mlp', '16,16', '--embed-dim', '4', '--global-batch', '250', '--steps', '16',
  '--cowclip-ratio', '0.01', '--check-every', '4', '--log-every', '0', '--embed-update', 'lazy',
];

for (const optimizer of ['adagrad', 'rowwise-adagrad']) {
  t.test(`--optimizer-embed ${optimizer}: every strategy, checkpoint and resume`, async (t) => {
    const dir = t.testdir();
    const flags = [...BASE, '--optimizer-embed', optimizer];
    const ref = await runJob(t, dir, 'allreduce', 2, [...flags, '--sync', 'allreduce']);
    const state = [...ref.ckpt.tensors.keys()].filter((k) => k.startsWith('optimizer/field/'));
    t.same(state, ['optimizer/field/acc'], 'the field table keeps one accumulator array');
    const rows = ref.ckpt.tensors.get('embedding/field')!.length / 4;
    t.equal(ref.ckpt.tensors.get('optimizer/field/acc')!.length, optimizer === 'adagrad' ? rows * 4 : rows, optimizer === 'adagrad' ? 'one per weight' : 'one per row');
    t.ok(ref.ckpt.tensors.get('optimizer/dense/m'), 'the dense weights keep --optimizer (adam)');
    for (const [sync, n, extra] of [['dense', 2, []], ['sharded', 2, []], ['ps', 2, ['--servers', '2']]] as const) {
      const j = await runJob(t, dir, sync, n, [...flags, '--sync', sync, ...extra]);
      const d = worstRelativeDiff(ref.ckpt.tensors, j.ckpt.tensors);
      t.ok(d.rel <= 1e-5, `${sync} -n ${n}: the allreduce model, state included: worst ${d.rel.toExponential(2)} (${d.name || 'none'})`);
      t.equal(new Set(j.rep.paramChecksums).size, 1, `${sync}: replicas identical`);
    }
    const local = await runJob(t, dir, 'local-sgd', 2, [...flags, '--sync', 'local-sgd', '--sync-every', '4']);
    t.equal(new Set(local.rep.paramChecksums).size, 1, 'local-sgd: replicas identical after averaging, accumulators included');
    await runJob(t, dir, 'half', 2, [...flags, '--steps', '8']);
    const resumed = await runJob(t, dir, 'resumed', 2, [...flags, '--resume', join(dir, 'half')]);
    const r = worstRelativeDiff(ref.ckpt.tensors, resumed.ckpt.tensors);
    t.equal(r.rel, 0, `stopped at 8 and resumed = uninterrupted: ${r.rel} (${r.name || 'every tensor equal'})`);
  });
}
