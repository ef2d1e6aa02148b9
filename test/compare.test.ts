import t from 'tap';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ticks } from '../src/report/chart.js';
import type { CompareRow } from '../launcher/compare.js';
import { runLauncher } from './helpers/cli.js';

const TINY = ['--data', 'synthetic:quick,rows=3000,eval-rows=400', '--mlp', '8', '--embed-dim', '4', '--global-batch', '200', '--log-every', '0'];

t.test('ddp-launch --compare runs the job under each strategy and writes table, JSON and chart', async (t) => {
  const out = join(t.testdir(), 'cmp');
  const strategies = ['allreduce', 'dense', 'local-clip', 'local-sgd:2', 'hybrid', 'sharded', 'ps', 'async-ps:0'];
  // --servers goes to the parameter-server runs only; async-ps workers meet every --check-every steps.
  const args = ['-n', '2', '--servers', '2', ...TINY, '--steps', '6', '--eval-every', '2', '--check-every', '2'];
  const r = await runLauncher(['--compare', strategies.join(','), '--compare-out', out, ...args], { timeoutMs: 150_000 });
  t.equal(r.code, 0, r.stderr.slice(-2000));
  for (const f of ['compare.md', 'compare.json', 'compare.svg', 'compare.html', 'allreduce.json', 'local-sgd-2.json']) t.ok(existsSync(join(out, f)), f);
  const json = JSON.parse(readFileSync(join(out, 'compare.json'), 'utf8')) as { job: string; strategies: CompareRow[] };
  t.same(json.strategies.map((s) => s.label), strategies);
  t.match(json.job, /-n 2, model deepfm, global batch 200, 6 steps/);
  for (const s of json.strategies) {
    t.ok(s.ok && s.replicasIdentical, `${s.label}: ran, replicas identical`);
    t.same(s.history!.map((h) => h.step), [2, 4, 6], `${s.label}: AUC at steps 2, 4, 6`);
    t.ok(s.history!.every((h, i) => i === 0 || h.seconds >= s.history![i - 1].seconds), `${s.label}: training seconds grow`);
    t.ok(s.samplesPerSec! > 0 && s.bytesPerStep!.dense > 0 && s.bytesPerStep!.sparse > 0, `${s.label}: throughput and traffic`);
  }
  const by = new Map(json.strategies.map((s) => [s.label, s]));
  for (const same of ['dense', 'sharded', 'ps', 'async-ps:0']) t.equal(by.get(same)!.eval!.auc, by.get('allreduce')!.eval!.auc, `${same} trains the allreduce model`);
  // Averaging every 2 steps sends weights + Adam's m and v: 3 vectors per 2 steps, 1.5x allreduce's gradients.
  const ratio = by.get('local-sgd:2')!.bytesPerStep!.dense / by.get('allreduce')!.bytesPerStep!.dense;
  t.ok(ratio > 1.4 && ratio < 1.6, `local-sgd:2 dense bytes per step = ${ratio.toFixed(3)} x allreduce's`);
  const md = readFileSync(join(out, 'compare.md'), 'utf8');
  t.match(md, /\| strategy \| eval AUC \| eval logloss \| samples\/s \| dense bytes\/step \| sparse bytes\/step \|/);
  for (const s of strategies) t.match(md, new RegExp(`^\\| ${s} \\| 0\\.\\d{4} \\|`, 'm'), `table row ${s}`);
  t.match(md, /Eval AUC by step:/);
  t.ok(r.stdout.includes(md.split('\n')[2]), 'the table is printed');
  const svg = readFileSync(join(out, 'compare.svg'), 'utf8');
  t.match(svg, /^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
  t.equal(svg.match(/<polyline/g)?.length, 2 * strategies.length, 'one line per strategy in each of the two panels');
  t.notMatch(svg, /NaN|undefined|<script|href=/, 'numbers only, self-contained');
});

t.test('--compare-repeats R runs the list R times, interleaved, and reports the median run', async (t) => {
  const out = join(t.testdir(), 'rep');
  const r = await runLauncher(['--compare', 'allreduce,hybrid', '--compare-repeats', '2', '--compare-out', out, '-n', '2', ...TINY, '--steps', '2'], { timeoutMs: 60_000 });
  t.equal(r.code, 0, r.stderr.slice(-2000));
  t.match(r.stderr, /\[1\/4\] allreduce[^]*\[2\/4\] hybrid[^]*\[3\/4\] allreduce[^]*\[4\/4\] hybrid/, 'interleaved');
  const json = JSON.parse(readFileSync(join(out, 'compare.json'), 'utf8')) as { strategies: CompareRow[] };
  for (const s of json.strategies) {
    t.equal(s.repeats?.length, 2, `${s.label}: both runs' timings kept`);
    t.ok(s.repeats!.some((x) => x.trainSeconds === s.trainSeconds), `${s.label}: the row shows one of them`);
  }
  t.match(readFileSync(join(out, 'compare.md'), 'utf8'), /the median of 2 interleaved runs/);
});

t.test('--compare rejects bad lists and flags it sets itself, before running anything', async (t) => {
  const cases: [string[], RegExp][] = [
    [['--compare', 'allreduce,bogus'], /unknown strategy 'bogus'/],
    [['--compare', 'dense:4'], /only local-sgd:H \(H >= 1\) and async-ps:S \(S >= 0\) take a number/],
    [['--compare', 'local-sgd:0'], /'local-sgd:0': only local-sgd:H/],
    [['--compare', 'allreduce,allreduce'], /listed twice/],
    [['--compare', 'allreduce', '--sync', 'dense'], /--sync cannot be combined with --compare/],
    [['--compare', 'allreduce', '--lr', 'x'], /--lr x: expected a number/],
  ];
  for (const [args, re] of cases) {
    const r = await runLauncher(args);
    t.equal(r.code, 2, `${args.join(' ')} exits 2`);
    t.match(r.stderr, re);
  }
});

t.test('chart ticks are round numbers covering the range', (t) => {
  t.same(ticks(0, 20), [0, 5, 10, 15, 20]);
  t.same(ticks(0.61, 0.7), [0.62, 0.64, 0.66, 0.68, 0.7]);
  t.same(ticks(3, 3), [3]);
  t.end();
});
