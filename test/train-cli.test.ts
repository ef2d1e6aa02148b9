import t from 'tap';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadCheckpoint } from '../src/train/checkpoint.js';
import type { RunReport } from '../src/train/report.js';
import { runLauncher, realSample } from './helpers/cli.js';

const TINY = ['--data', 'synthetic:quick,rows=4000,eval-rows=1000', '--mlp', '16,16', '--embed-dim', '4', '--global-batch', '256', '--log-every', '0'];

t.test('ddp-launch -n 1 trains, reports and saves a checkpoint that reloads bit-exactly', async (t) => {
  const dir = t.testdir();
  const report = join(dir, 'report.json');
  const save = join(dir, 'ckpt');
  const r = await runLauncher(['-n', '1', ...TINY, '--epochs', '2', '--report', report, '--save', save]);
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, /\[r0\] tensor backend: (wasm|cpu|node|node-gpu)/, 'the backend choice is logged');
  t.match(r.stdout, /\[r0\] done: 32 steps/);
  const rep = JSON.parse(readFileSync(report, 'utf8')) as RunReport;
  t.match(rep, {
    worldSize: 1,
    model: 'deepfm',
    sync: 'allreduce',
    globalBatch: 256,
    steps: 32,
    skippedLines: 0,
    eval: { rows: 1000 },
  });
  t.ok(['wasm', 'cpu', 'node', 'node-gpu'].includes(rep.backend));
  t.ok(rep.epochs > 1.99 && rep.epochs < 2.01, `epochs ${rep.epochs}`);
  t.ok(rep.samplesPerSec > 0 && rep.wallSeconds > 0);
  t.ok(rep.eval.auc > 0.55 && rep.eval.auc < 1, `auc ${rep.eval.auc}`);
  t.ok(rep.oracle && rep.oracle.auc > rep.eval.auc, 'the oracle is reported and above the model');
  t.ok(rep.train.logloss > 0 && rep.train.logloss < 1);
  t.equal(rep.clipFraction.mean, 0, 'at the default ratio CowClip does not fire on this data');
  t.equal(rep.paramChecksums.length, 1);
  t.match(rep.paramChecksums[0], /^[0-9a-f]{16}$/);

  const { manifest, tensors } = await loadCheckpoint(save);
  t.equal(manifest.step, 32);
  t.ok(manifest.vocabulary.every((f) => existsSync(join(save, f))), 'vocabulary files are in the checkpoint');
  const names = manifest.tensors.map((x) => x.name);
  for (const n of ['embedding/field', 'embedding/first_order', 'optimizer/dense/m', 'optimizer/field/v']) t.ok(names.includes(n), n);
  t.same(manifest.tensors.find((x) => x.name === 'embedding/field')!.shape, [manifest.fieldOffsets.at(-1)! + manifest.fieldSizes.at(-1)!, 4]);
  for (const x of manifest.tensors) t.equal(tensors.get(x.name)!.length, x.shape.reduce((a, b) => a * b, 1));
  t.ok([...tensors.get('embedding/first_order')!].some((v) => v !== 0), 'first-order weights were trained');
});

t.test('CowClip fires with a small ratio and changes the model; --no-cowclip never clips', async (t) => {
  const dir = t.testdir();
  const run = async (name: string, extra: string[]) => {
    const report = join(dir, `${name}.json`);
    const r = await runLauncher(['-n', '1', ...TINY, '--steps', '8', '--report', report, ...extra]);
    t.equal(r.code, 0, r.stderr);
    return JSON.parse(readFileSync(report, 'utf8')) as RunReport;
  };
  const clipped = await run('clip', ['--cowclip-ratio', '1e-3', '--cowclip-zeta', '0']);
  const off = await run('off', ['--no-cowclip']);
  const base = await run('base', []);
  t.ok(clipped.clipFraction.mean > 0.5, `clip fraction ${clipped.clipFraction.mean}`);
  t.ok(clipped.clipFraction.last > 0.5);
  t.equal(off.clipFraction.mean, 0);
  t.not(clipped.paramChecksums[0], off.paramChecksums[0], 'clipping changed the parameters');
  t.equal(base.paramChecksums[0], off.paramChecksums[0], 'a CowClip that never fires equals no CowClip');
});

t.test('bad flags and bad data fail fast with a clear message and exit code 2', async (t) => {
  const cases: [string[], RegExp][] = [
    [['--model', 'xgboost'], /--model xgboost: expected one of deepfm, wd, dcn, dcnv2/],
    [['--global-batch', 'ten'], /--global-batch ten: expected an integer/],
    [['--lr-embd', '1'], /unknown flag --lr-embd \(did you mean --lr-embed\?\)/],
    [['--data', 'criteo:/nonexistent/train.tsv'], /\/nonexistent\/train\.tsv/],
    [['--split', 'random:2'], /--split "random:2": expected random:F or sequential:F/],
    [['--mlp', '400,x'], /--mlp 400,x: expected positive integers/],
  ];
  for (const [args, re] of cases) {
    const r = await runLauncher(['-n', '1', ...args]);
    t.equal(r.code, 2, `${args.join(' ')} exits 2`);
    t.match(r.stderr, re, args.join(' '));
    t.notMatch(r.stderr, /    at /, 'no stack trace for user errors');
  }
});

t.test('--help lists launcher and training flags with defaults', async (t) => {
  const r = await runLauncher(['--help']);
  t.equal(r.code, 0);
  for (const f of ['-n, --nproc-per-node', '--master-port', '--global-batch', '--cowclip-ratio', '--embed-update', '--report']) t.match(r.stdout, f);
  t.match(r.stdout, /--model <deepfm\|wd\|dcn\|dcnv2>\s+CTR model \(default deepfm\)/);
});

t.test('real data: DeepFM on the Criteo sample reaches eval AUC >= 0.70', async (t) => {
  const file = realSample(t, 'criteo-sample/train.tsv.gz');
  if (!file) return;
  const dir = t.testdir();
  const report = join(dir, 'criteo.json');
  const r = await runLauncher(['-n', '1', '--data', `criteo:${file}`, '--epochs', '3', '--log-every', '0', '--report', report]);
  t.equal(r.code, 0, r.stderr);
  const rep = JSON.parse(readFileSync(report, 'utf8')) as RunReport;
  t.ok(rep.eval.auc >= 0.7, `Criteo sample eval AUC ${rep.eval.auc.toFixed(4)} on ${rep.eval.rows} rows`);
  t.equal(rep.oracle, null);
});

t.test('synthetic data: a small DeepFM lands within 0.02 AUC of the oracle', async (t) => {
  const dir = t.testdir();
  const report = join(dir, 'synthetic.json');
  // The default quick preset (300K rows, one pass); a smaller MLP than the default keeps this ~15 s.
  const r = await runLauncher(['-n', '1', '--mlp', '64,64', '--log-every', '0', '--report', report]);
  t.equal(r.code, 0, r.stderr);
  const rep = JSON.parse(readFileSync(report, 'utf8')) as RunReport;
  const gap = rep.oracle!.auc - rep.eval.auc;
  t.ok(gap < 0.02, `eval AUC ${rep.eval.auc.toFixed(4)}, oracle ${rep.oracle!.auc.toFixed(4)}, gap ${gap.toFixed(4)}`);
});
