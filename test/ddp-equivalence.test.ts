import t, { type Test } from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RunReport } from '../src/train/report.js';
import { runLauncher, realSample } from './helpers/cli.js';
import { runJob, worstRelativeDiff } from './helpers/runs.js';

/**
 * The product's central promise: N workers x B/N train the same model as 1 worker x B, because CowClip
 * sees global per-ID counts and global gradient rows. A small CowClip ratio makes clipping fire on a
 * large share of rows, so the counts really matter; global batch 250 splits unevenly over 4 ranks.
 */
const BASE = [
  '--data', 'synthetic:quick,rows=8000,eval-rows=500',
  '--mlp', '16,16', '--embed-dim', '4', '--cross-layers', '2', '--low-rank', '4', '--experts', '2',
  '--global-batch', '250', '--steps', '20', '--cowclip-ratio', '0.01', '--check-every', '5', '--log-every', '0',
];

const run = (t: Test, dir: string, name: string, n: number, extra: string[]) => runJob(t, dir, name, n, [...BASE, ...extra]);

for (const model of ['deepfm', 'wd', 'dcn', 'dcnv2']) {
  for (const mode of ['dense', 'lazy']) {
    t.test(`${model}, --embed-update ${mode}: N = 1, 2, 4 train the same model`, async (t) => {
      const dir = t.testdir();
      const extra = ['--model', model, '--embed-update', mode];
      const one = await run(t, dir, 'n1', 1, extra);
      t.ok(one.rep.clipFraction.mean > 0.1, `CowClip fires (${(one.rep.clipFraction.mean * 100).toFixed(1)}% of rows)`);
      for (const n of [2, 4]) {
        const many = await run(t, dir, `n${n}`, n, extra);
        t.equal(new Set(many.rep.paramChecksums).size, 1, `all ${n} ranks hold identical parameters`);
        t.equal(many.rep.paramChecksums.length, n);
        const worst = worstRelativeDiff(one.ckpt.tensors, many.ckpt.tensors);
        t.ok(worst.rel <= 1e-5, `N=${n} vs N=1: worst relative difference ${worst.rel.toExponential(2)} (${worst.name || 'none'})`);
        const dl = Math.abs(many.rep.train.logloss - one.rep.train.logloss) / one.rep.train.logloss;
        t.ok(dl <= 1e-5, `training loss ${many.rep.train.logloss} vs ${one.rep.train.logloss}`);
        // A row whose gradient norm sits on the threshold may flip with summation order; the rest must agree.
        const dc = Math.abs(many.rep.clipFraction.mean - one.rep.clipFraction.mean);
        t.ok(dc <= 1e-3 * one.rep.clipFraction.mean, `clip fraction ${many.rep.clipFraction.mean} vs ${one.rep.clipFraction.mean}`);
      }
    });
  }
}

t.test('--cowclip-form auto (every row normalised to its threshold): N = 2 trains the N = 1 model, not the paper form', async (t) => {
  const dir = t.testdir();
  const auto = ['--cowclip-form', 'auto', '--embed-update', 'lazy'];
  const one = await run(t, dir, 'auto1', 1, auto);
  const two = await run(t, dir, 'auto2', 2, auto);
  const paper = await run(t, dir, 'paper1', 1, ['--embed-update', 'lazy']);
  const same = worstRelativeDiff(one.ckpt.tensors, two.ckpt.tensors);
  t.ok(same.rel <= 1e-5, `N = 2 vs N = 1: worst ${same.rel.toExponential(2)} (${same.name || 'none'})`);
  t.equal(new Set(two.rep.paramChecksums).size, 1, 'replicas identical');
  const other = worstRelativeDiff(paper.ckpt.tensors, one.ckpt.tensors);
  t.ok(other.rel > 1e-3, `auto vs paper: ${other.rel.toExponential(2)} in ${other.name}`);
  t.ok(one.rep.clipFraction.mean > 0 && one.rep.clipFraction.mean < 1, `rows scaled down: ${(one.rep.clipFraction.mean * 100).toFixed(1)}%`);
});

t.test('the naive port (clip with local counts, then average) trains a different model', async (t) => {
  const dir = t.testdir();
  const one = await run(t, dir, 'global1', 1, []);
  const global4 = await run(t, dir, 'global4', 4, []);
  const naive4 = await run(t, dir, 'naive4', 4, ['--sync', 'local-clip']);
  t.ok(worstRelativeDiff(one.ckpt.tensors, global4.ckpt.tensors).rel <= 1e-5, 'global aggregation matches one worker');
  const naive = worstRelativeDiff(one.ckpt.tensors, naive4.ckpt.tensors);
  t.ok(naive.rel > 1e-2, `local clipping differs from one worker: ${naive.rel.toExponential(2)} in ${naive.name}`);
  t.equal(new Set(naive4.rep.paramChecksums).size, 1, 'its replicas still agree with each other');
  // Its clipping happens in the strategy, rank by rank: the report counts those rows, summed over ranks.
  const [naiveClip, globalClip] = [naive4.rep.clipFraction.mean, global4.rep.clipFraction.mean];
  t.ok(naiveClip > 0.1 && naiveClip !== globalClip, `local clipping reported: ${naiveClip} of rows (global counts: ${globalClip})`);
  t.equal(naive4.rep.ranks[0].uniqueIdsPerStep.global, global4.rep.ranks[0].uniqueIdsPerStep.global, 'the same global distinct ids per step');
});

t.test('report: per-rank bytes per step split dense / sparse, step time split, start-up', async (t) => {
  const dir = t.testdir();
  const { rep } = await run(t, dir, 'r2', 2, []);
  t.equal(rep.ranks.length, 2);
  for (const r of rep.ranks) {
    t.ok(r.bytes.densePerStep > 0 && r.bytes.sparsePerStep > 0, `rank ${r.rank} sends dense and sparse bytes`);
    t.ok(r.stepTime.compute > 0 && r.stepTime.comm > 0 && r.stepTime.data > 0);
    t.ok(r.startup.toFirstStep > r.startup.data && r.startup.data > 0, `rank ${r.rank}: first step ${r.startup.toFirstStep} s after start, ${r.startup.data} s of it data`);
  }
});

t.test('real data: -n 2 reaches the same eval AUC as -n 1 on the Criteo sample', async (t) => {
  const file = realSample(t, 'criteo-sample/train.tsv.gz');
  if (!file) return;
  const dir = t.testdir();
  const flags = ['--data', `criteo:${file}`, '--epochs', '3', '--mlp', '64,64', '--log-every', '0'];
  const reports: RunReport[] = [];
  for (const n of [1, 2]) {
    const report = join(dir, `c${n}.json`);
    const r = await runLauncher(['-n', String(n), ...flags, '--report', report]);
    t.equal(r.code, 0, r.stderr.slice(-2000));
    reports.push(JSON.parse(readFileSync(report, 'utf8')) as RunReport);
  }
  const [a, b] = reports;
  t.ok(Math.abs(a.eval.auc - b.eval.auc) <= 0.002, `eval AUC -n 1 ${a.eval.auc.toFixed(5)}, -n 2 ${b.eval.auc.toFixed(5)}`);
  t.ok(a.eval.auc >= 0.7, `AUC ${a.eval.auc.toFixed(4)}`);
});
