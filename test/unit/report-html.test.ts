import t, { type Test } from 'tap';
import { barChart, lineChart } from '../../src/report/chart.js';
import type { CompareRow } from '../../src/report/compare.js';
import { compareReportHtml, runReportHtml } from '../../src/report/html.js';
import type { EvalRecord, MetricsRecord, StepRecord } from '../../src/train/metrics.js';
import type { RankSummary, RunReport } from '../../src/train/report.js';

const STAMP = { time: '2026-11-22T10:00:00.000Z', elapsed: 1 };

function rank(r: number): RankSummary {
  return {
    rank: r,
    paramChecksum: 'a1b2c3d4e5f60718',
    bytes: { sent: 49.8e6, received: 49.7e6, densePerStep: 1.97e6, sparsePerStep: 101e3 },
    stepTime: { data: 0.02, compute: 0.37 + r / 100, merge: 0.05, comm: 0.17, update: 0.61 },
    uniqueIdsPerStep: { local: 1332, global: 2183 },
    startup: { toFirstStep: 1.8, data: 0.9 },
    peakRssBytes: 310e6,
  };
}

/** A report as the worker writes it; `data` carries markup characters, which every page must escape. */
function report(): RunReport {
  const time = rank(0).stepTime;
  return {
    worldSize: 2,
    model: 'deepfm',
    sync: 'allreduce',
    backend: 'wasm',
    transfer: { calls: 24, uploads: 312, readbacks: 264, uploadBytes: 8.1e7, readbackBytes: 7.6e7, packMs: 0, dispatchMs: 410, deviceMs: 0, readbackMs: 0 },
    data: 'synthetic:<v1>&"rows"',
    globalBatch: 256,
    steps: 24,
    plannedSteps: 24,
    stoppedEarly: false,
    epochs: 0.75,
    samplesPerSec: 4929.4,
    wallSeconds: 1.5,
    trainSeconds: 1.2,
    train: { logloss: 0.6, lastLogloss: 0.58 },
    eval: { auc: 0.62424, logloss: 0.52113, rows: 1000 },
    oracle: { auc: 0.80312, logloss: 0.41443 },
    history: [
      { step: 8, auc: 0.5444, logloss: 0.5384, seconds: 0.4 },
      { step: 16, auc: 0.5713, logloss: 0.5384, seconds: 0.8 },
      { step: 24, auc: 0.62424, logloss: 0.52113, seconds: 1.2 },
    ],
    best: { step: 24, auc: 0.62424, logloss: 0.52113, metric: 'auc' },
    skippedLines: 0,
    skippedSteps: 0,
    clipFraction: { mean: 0, last: 0, byBucket: { tail: { rows: 10, fraction: 0.5 }, torso: { rows: 4, fraction: 0.25 }, head: { rows: 0, fraction: 0 } } },
    paramChecksums: ['a1b2c3d4e5f60718', 'a1b2c3d4e5f60718'],
    ranks: [rank(0), rank(1)],
    stepTime: time,
    bytes: { sent: 49.8e6, received: 49.7e6 },
    hyper: { lrDense: 0.001, lrEmbed: 0.003, l2: 0, warmupSteps: 10 },
    config: { mlp: ['400', '400'], embedDim: 16, scaleRule: 'cowclip', optimizer: 'adam', embedUpdate: 'dense', cowclip: true, cowclipForm: 'paper', cowclipRatio: 1, cowclipZeta: 1e-5, seed: 42 } as unknown as RunReport['config'],
    startedAt: '2026-12-04T18:00:00.000Z',
    command: 'ddp-launch -n 2 --mlp 400,400 <quick>',
    versions: { ddpCtr: '0.1.0', node: 'v20.20.2', tfjs: '4.22.0' },
  };
}

function step(n: number, loss: number): StepRecord {
  return {
    ...STAMP,
    type: 'step',
    step: n,
    epoch: n / 32,
    loss,
    samples: 1024,
    lr: 1e-4,
    lrEmbed: 3e-3,
    samplesPerSec: 4000 + 100 * n,
    commShare: 0.1 + n / 1000,
    bytesSent: 8.3e6,
    bytesReceived: 8.3e6,
    denseBytesPerStep: 1.97e6,
    sparseBytesPerStep: 1.0e5,
    clipFraction: 0,
    clipByBucket: { tail: { rows: 0, fraction: 0 }, torso: { rows: 0, fraction: 0 }, head: { rows: 0, fraction: 0 } },
  };
}

function evalAt(n: number, auc: number): EvalRecord {
  return { ...STAMP, type: 'eval', step: n, epoch: n / 32, auc, logloss: 0.52, rows: 1000, best: true };
}

/** `<figure id=...>` contents by id. */
function figures(html: string): Map<string, string> {
  return new Map([...html.matchAll(/<figure id="([\w-]+)">([^]*?)<\/figure>/g)].map((m) => [m[1], m[2]]));
}

/** Number of coordinate pairs of each polyline. */
function polylines(svg: string): number[] {
  return [...svg.matchAll(/<polyline[^>]* points="([^"]*)"/g)].map((m) => m[1].split(' ').filter((p) => /^-?[\d.]+,-?[\d.]+$/.test(p)).length);
}

function barWidths(svg: string): number[] {
  return [...svg.matchAll(/<rect class="bar"[^>]* width="([^"]+)"/g)].map((m) => Number(m[1]));
}

function texts(svg: string): string[] {
  return [...svg.matchAll(/<text[^>]*>([^<]*)<\/text>/g)].map((m) => m[1]);
}

/** A page is self-contained: nothing it would load or link to lies outside it, and it runs no script. */
function assertSelfContained(t: Test, html: string): void {
  t.notMatch(html, /\b(?:src|href)\s*=\s*["']?\s*(?:https?:)?\/\//i, 'no src/href to another host');
  t.notMatch(html, /https?:/i, 'no URL at all (inline SVG needs no namespace URL)');
  t.notMatch(html, /<script|@import|url\(|<link|<iframe|<img/i, 'no scripts, imports, links or embedded resources');
  t.notMatch(html, /NaN|undefined|Infinity|\[object/, 'every number formatted');
}

/** Each figure is one <svg> named by its <title>, with the given texts (title, axis titles) drawn. */
function assertChart(t: Test, figs: Map<string, string>, id: string, title: string, labels: string[]): string {
  const svg = figs.get(id) ?? '';
  const named = /^\s*<svg [^>]*viewBox="0 0 \d+ \d+"[^>]*>\n<title>([^<]*)<\/title>/.exec(svg);
  t.equal(named?.[1], title, `${id}: an <svg> titled '${title}'`);
  const drawn = texts(svg);
  for (const l of [title, ...labels]) t.ok(drawn.includes(l), `${id}: shows '${l}'`);
  return svg;
}

t.test('run page: summary, every curve from the metrics records, step time bars and the rank table', (t) => {
  const records: MetricsRecord[] = [
    { ...STAMP, type: 'start', worldSize: 2, model: 'deepfm', sync: 'allreduce', backend: 'wasm', data: 'x', globalBatch: 256, steps: 24, stepsPerEpoch: 32, startStep: 0 },
    ...[4, 8, 12, 16, 20, 24].map((n) => step(n, 0.7 - n / 100)),
    evalAt(24, 0.62424),
  ];
  const html = runReportHtml(report(), records);
  t.match(html, /^<!doctype html>\n<html lang="en">/);
  t.match(html, /<title>ddp-ctr run: deepfm, allreduce, 2 workers<\/title>/);
  assertSelfContained(t, html);
  t.match(html, /<th scope="row">eval AUC<\/th><td>0\.6242<\/td>/, 'eval AUC to 4 decimals');
  t.match(html, /<th scope="row">oracle AUC<\/th><td>0\.8031<\/td>/, "the oracle's AUC");
  t.match(html, /<th scope="row">samples\/s<\/th><td>4,929<\/td>/);
  t.match(html, /<th scope="row">data<\/th><td>synthetic:&lt;v1&gt;&amp;&quot;rows&quot;<\/td>/, 'markup in text is escaped');
  t.notMatch(html, /<v1>/);
  t.notMatch(html, /id="no-step-records"/, 'no fallback notice with step records');
  for (const [key, value] of [
    ['MLP', '400-400'],
    ['learning rate (dense / embeddings)', '1.00e-3 / 3.00e-3 (after the cowclip scaling rule; warmup 10 steps)'],
    ['CowClip', 'on (paper form, r = 1, zeta = 0.00001)'],
    ['rows clipped (run / last step)', '0.00% / 0.00%'],
    ['rows clipped by batch count (tail 1 / torso 2-31 / head 32+)', '50.00% / 25.00% / 0.00%'],
    ['seed', '42'],
    ['started', '2026-12-04T18:00:00.000Z'],
    ['command', 'ddp-launch -n 2 --mlp 400,400 &lt;quick&gt;'],
    ['versions', 'ddp-ctr 0.1.0, Node v20.20.2, tfjs 4.22.0'],
  ]) {
    t.ok(html.includes(`<th scope="row">${key}</th><td>${value}</td>`), `training settings: ${key} ${value}`);
  }

  const figs = figures(html);
  t.same([...figs.keys()], ['chart-auc', 'chart-loss', 'chart-throughput', 'chart-comm', 'chart-bytes', 'chart-step-time']);
  const auc = assertChart(t, figs, 'chart-auc', 'Eval AUC', ['training step', 'eval AUC']);
  t.same(polylines(auc), [1], 'AUC: the eval records (one point)');
  t.equal(auc.match(/<circle class="point"/g)?.length, 1, 'a lone point is drawn as a marker');
  const loss = assertChart(t, figs, 'chart-loss', 'Training loss', ['training step', 'logloss (since the previous record)']);
  t.same(polylines(loss), [6], 'loss: one point per step record');
  t.same(polylines(assertChart(t, figs, 'chart-throughput', 'Throughput', ['samples/s (all ranks)'])), [6]);
  const comm = assertChart(t, figs, 'chart-comm', 'Communication share of step time', ['% of time in collectives (rank 0)', '0%']);
  t.same(polylines(comm), [6]);
  const bytes = assertChart(t, figs, 'chart-bytes', 'Bytes sent per step (rank 0)', ['bytes per step', 'dense', 'sparse', '0 B']);
  t.same(polylines(bytes), [6, 6], 'dense and sparse lines');
  const split = assertChart(t, figs, 'chart-step-time', 'Step time split', ['seconds over the run', 'data', 'compute', 'merge', 'comm', 'update', 'rank 0', 'rank 1']);
  const widths = barWidths(split);
  t.equal(widths.length, 10, 'five phases x two ranks');
  t.ok(widths.every((w) => w > 0), 'every bar has a width');
  t.ok(widths[2] > widths[0], 'bars scale with time: compute > data');
  t.match(split, /<title>update, rank 0: 0\.61 s<\/title>/, 'each bar has its value as a tooltip');

  t.match(html, /<table id="ranks">/);
  t.equal(html.match(/<tr><td class="num">[01]<\/td><td>a1b2c3d4e5f60718<\/td><td class="num">49\.80 MB<\/td>/g)?.length, 2, 'one row per rank: checksum, bytes');
  t.end();
});

t.test('run page without --metrics: the AUC chart from the report history, and a notice for the step curves', (t) => {
  const html = runReportHtml(report(), []);
  assertSelfContained(t, html);
  t.match(html, /<p class="note" id="no-step-records">[^<]*<code>--metrics FILE --metrics-every K<\/code>/);
  const figs = figures(html);
  t.same([...figs.keys()], ['chart-auc', 'chart-step-time'], 'no step curves without step records');
  t.same(polylines(assertChart(t, figs, 'chart-auc', 'Eval AUC', ['training step', 'eval AUC'])), [3], 'three evaluations from the history');
  t.end();
});

t.test('run page after --resume: the later record of a repeated step wins', (t) => {
  const html = runReportHtml(report(), [step(10, 0.5), step(20, 2), step(20, 0.5), step(30, 0.5)]);
  const loss = figures(html).get('chart-loss')!;
  t.same(polylines(loss), [3], 'steps 10, 20, 30 once each');
  // The x ticks are whole steps: the fractional labels are the y axis's.
  const yTicks = texts(loss).map(Number).filter((v) => Number.isFinite(v) && !Number.isInteger(v));
  t.ok(yTicks.length > 0 && yTicks.every((v) => Math.abs(v - 0.5) < 0.01), `y axis around 0.5, the superseded 2 is gone: ${yTicks.join(', ')}`);
  t.end();
});

t.test('comparison page: the compare.md table, AUC curves, throughput and bytes bars', (t) => {
  const history = (d: number) => [
    { step: 8, auc: 0.5465 + d, logloss: 0.55, seconds: 0.5 },
    { step: 16, auc: 0.5975 + d, logloss: 0.48, seconds: 0.9 + d },
  ];
  const ok = (label: string, d: number): CompareRow => ({
    label,
    sync: label.split(':')[0],
    ok: true,
    exitCode: 0,
    jobSeconds: 2.7,
    eval: { auc: 0.5975 + d, logloss: 0.4832 },
    samplesPerSec: 4649 + 1000 * d,
    trainSeconds: 0.9,
    bytesPerStep: { dense: 1.97e6 * (1 - d), sparse: 100.9e3 },
    history: history(d),
    replicasIdentical: true,
  });
  const rows = [ok('allreduce', 0), ok('local-sgd:<4>', 0.01), { label: 'hybrid', sync: 'hybrid', ok: false, exitCode: 1, jobSeconds: 1.5 }];
  const html = compareReportHtml(rows, 'job -n 2 <quick>');
  assertSelfContained(t, html);
  t.match(html, /<title>ddp-ctr: sync strategy comparison<\/title>/);
  t.match(html, /Job: job -n 2 &lt;quick&gt;/);
  t.match(
    html,
    /<thead><tr><th>strategy<\/th><th class="num">eval AUC<\/th><th class="num">eval logloss<\/th><th class="num">samples\/s<\/th><th class="num">dense bytes\/step<\/th><th class="num">sparse bytes\/step<\/th><th class="num">train s<\/th><th class="num">job s<\/th><th>replicas<\/th><\/tr><\/thead>/,
    "compare.md's columns",
  );
  t.match(html, /<tr><td>allreduce<\/td><td class="num">0\.5975<\/td><td class="num">0\.4832<\/td><td class="num">4,649<\/td><td class="num">1\.97 MB<\/td><td class="num">100\.9 kB<\/td>/);
  t.match(html, /<tr><td>local-sgd:&lt;4&gt;<\/td><td class="num">0\.6075<\/td>/, 'labels escaped');
  t.match(html, /<tr><td>hybrid<\/td><td class="num">failed \(exit 1\)<\/td>/, 'a failed strategy keeps its row');
  t.notMatch(html, /<4>/);

  const figs = figures(html);
  t.same([...figs.keys()], ['chart-auc-step', 'chart-auc-seconds', 'chart-throughput', 'chart-bytes']);
  const legend = ['allreduce', 'local-sgd:&lt;4&gt;'];
  t.same(polylines(assertChart(t, figs, 'chart-auc-step', 'Eval AUC vs step', ['training step', 'eval AUC', ...legend])), [2, 2], 'one line per strategy that ran');
  t.same(polylines(assertChart(t, figs, 'chart-auc-seconds', 'Eval AUC vs training time', ['training seconds (evaluation excluded)', ...legend])), [2, 2]);
  // Strategies that train the same model draw the same curve: each line, and its key, has its own dash pattern.
  const styles = (svg: string, tag: string) => [...svg.matchAll(new RegExp(`<${tag}[^>]* stroke="(#[0-9a-f]+)" stroke-width="\\d"( stroke-dasharray="[^"]*")?`, 'g'))].map((m) => m[2] ?? 'solid');
  const aucStep = figs.get('chart-auc-step')!;
  t.same(styles(aucStep, 'polyline'), ['solid', ' stroke-dasharray="8 4"'], 'lines: solid, then dashed');
  t.same(styles(aucStep, 'line').slice(-2), styles(aucStep, 'polyline'), 'the key shows the same patterns');
  const throughput = assertChart(t, figs, 'chart-throughput', 'Throughput', ['samples/s', ...legend, '4,649']);
  t.equal(barWidths(throughput).length, 2, 'a bar per strategy that ran');
  const bytes = assertChart(t, figs, 'chart-bytes', 'Bytes sent per step (mean over ranks)', ['bytes per step', 'dense', 'sparse', '1.97 MB', '100.9 kB']);
  const [denseA, sparseA, denseB] = barWidths(bytes);
  t.ok(denseA > denseB && denseB > sparseA && sparseA > 0, 'dense and sparse bars per strategy, to scale');
  t.end();
});

t.test('charts drop non-finite values and say when there is nothing to draw', (t) => {
  const line = lineChart({ title: 'T', xTitle: 'x', yTitle: 'y', series: [{ label: 'a', points: [{ x: 1, y: NaN }, { x: 2, y: 3 }] }] });
  t.same(polylines(line), [1]);
  t.notMatch(line, /NaN/);
  const empty = lineChart({ title: 'T', xTitle: 'x', yTitle: 'y', series: [{ label: 'a', points: [] }] });
  t.ok(texts(empty).includes('no data'));
  const bars = barChart({ title: 'B', valueTitle: 'v', categories: ['a', 'b'], series: [{ label: 's', values: [0, Infinity] }] });
  t.same(barWidths(bars), [0], 'a zero bar drawn, an infinite one left out');
  t.notMatch(bars, /NaN|Infinity/);
  t.end();
});
