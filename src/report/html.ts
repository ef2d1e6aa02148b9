/**
 * Self-contained HTML pages: a run's (`--html FILE`) and a strategy comparison's (compare.html). Inline CSS
 * and inline SVG charts, no scripts and no external references: a page opens offline, and can be mailed or
 * archived as one file.
 */
import { BUCKETS } from '../optim/cowclip.js';
import type { EvalRecord, MetricsRecord, StepRecord } from '../train/metrics.js';
import type { RankSummary, RunReport } from '../train/report.js';
import { barChart, lineChart, type LinePanel } from './chart.js';
import { aucCurves, aucSeries, COMPARE_HEADER, COMPARE_NUMERIC, compareCells, repeatsNote, type CompareRow } from './compare.js';
import { esc, formatBytes, formatCount, formatTick } from './format.js';

const STYLE = `
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #222; background: #f5f6f8; }
main { max-width: 1200px; margin: 0 auto; padding: 20px 24px 40px; }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 { font-size: 17px; margin: 28px 0 10px; }
.sub { color: #555; margin: 0 0 8px; overflow-wrap: anywhere; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; background: #fff; font-variant-numeric: tabular-nums; }
th, td { border: 1px solid #d8dbe0; padding: 4px 10px; text-align: left; vertical-align: top; }
thead th, .facts th { background: #eef0f3; font-weight: 600; }
.facts th { white-space: nowrap; }
.num { text-align: right; }
.note { background: #fff8e1; border: 1px solid #f0d48a; padding: 8px 12px; }
.charts { display: grid; grid-template-columns: repeat(auto-fill, minmax(440px, 1fr)); gap: 16px; }
figure { margin: 0; background: #fff; border: 1px solid #d8dbe0; padding: 8px; }
figure svg { display: block; width: 100%; max-width: 600px; height: auto; margin: 0 auto; }
`;

const PHASES = ['data', 'compute', 'merge', 'comm', 'update'] as const;
const RANK_HEADER = ['rank', 'parameter checksum', 'bytes sent', 'bytes received', 'dense bytes/step', 'sparse bytes/step', 'unique IDs/step (local / global)', 'start to first step (s)', 'of which data (s)'];
const RANK_NUMERIC = RANK_HEADER.map((h) => h !== 'parameter checksum');

function page(title: string, body: string[]): string {
  return [
    '<!doctype html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>${esc(title)}</title>`,
    `<style>${STYLE}</style>`,
    '</head>',
    '<body>',
    '<main>',
    ...body,
    '</main>',
    '</body>',
    '</html>',
    '',
  ].join('\n');
}

/** A table with a header row; every cell is escaped text, `numeric` columns right-aligned. */
function table(id: string, header: string[], rows: string[][], numeric: boolean[]): string {
  const cell = (tag: 'th' | 'td', text: string, i: number) => `<${tag}${numeric[i] ? ' class="num"' : ''}>${esc(text)}</${tag}>`;
  const tr = (tag: 'th' | 'td', cells: string[]) => `<tr>${cells.map((c, i) => cell(tag, c, i)).join('')}</tr>`;
  return [`<div class="scroll"><table id="${id}">`, `<thead>${tr('th', header)}</thead>`, '<tbody>', ...rows.map((r) => tr('td', r)), '</tbody>', '</table></div>'].join('\n');
}

/** A two-column table: a name and its value per row. */
function facts(id: string, pairs: [string, string][]): string {
  const rows = pairs.map(([k, v]) => `<tr><th scope="row">${esc(k)}</th><td>${esc(v)}</td></tr>`);
  return [`<div class="scroll"><table id="${id}" class="facts">`, ...rows, '</table></div>'].join('\n');
}

function figure(id: string, svg: string): string {
  return `<figure id="${id}">\n${svg}</figure>`;
}

function charts(figures: string[]): string[] {
  return ['<div class="charts">', ...figures, '</div>'];
}

/** Records of one type by step: with --resume the file holds the interrupted run's records too, and the later record of a step wins. */
function byStep<R extends { step: number }>(records: R[]): R[] {
  return [...new Map(records.map((r) => [r.step, r])).values()].sort((a, b) => a.step - b.step);
}

function summary(r: RunReport): [string, string][] {
  return [
    ['model', r.model],
    ['sync strategy', r.sync],
    ['world size', String(r.worldSize)],
    ['backend', r.backend],
    ['data', r.data],
    ['global batch', formatCount(r.globalBatch)],
    ['steps', formatCount(r.steps)],
    ['epochs', formatTick(r.epochs)],
    ['eval AUC', r.eval.auc.toFixed(4)],
    ['eval logloss', r.eval.logloss.toFixed(4)],
    ['eval rows', formatCount(r.eval.rows)],
    ...(r.history.length > 1 && r.best
      ? ([['best eval', `step ${formatCount(r.best.step)} (by ${r.best.metric}): AUC ${r.best.auc.toFixed(4)}, logloss ${r.best.logloss.toFixed(4)}`]] as [string, string][])
      : []),
    ...(r.stoppedEarly ? ([['stopped early', `at step ${formatCount(r.steps)} of ${formatCount(r.plannedSteps)} (--early-stop ${r.config.earlyStop})`]] as [string, string][]) : []),
    ...(r.oracle ? ([['oracle AUC', r.oracle.auc.toFixed(4)], ['oracle logloss', r.oracle.logloss.toFixed(4)]] as [string, string][]) : []),
    ['samples/s', formatCount(r.samplesPerSec)],
    ['train seconds', r.trainSeconds.toFixed(1)],
    ['wall seconds', r.wallSeconds.toFixed(1)],
    ['replicas', new Set(r.paramChecksums).size === 1 ? 'identical' : 'DIFFER'],
  ];
}

/** How the model was trained: what it takes to reproduce or compare the run. */
function hyperparameters(r: RunReport): [string, string][] {
  const c = r.config;
  const pct = (x: number) => `${(100 * x).toFixed(2)}%`;
  return [
    ['MLP', c.mlp?.length ? c.mlp.join('-') : 'none'],
    ['embedding dim', String(c.embedDim)],
    ['learning rate (dense / embeddings)', `${r.hyper.lrDense.toExponential(2)} / ${r.hyper.lrEmbed.toExponential(2)} (after the ${c.scaleRule} scaling rule; warmup ${r.hyper.warmupSteps} steps)`],
    ['L2', r.hyper.l2.toExponential(2)],
    ['optimizer, embedding update', `${c.optimizer}, ${c.embedUpdate}`],
    ['CowClip', c.cowclip ? `on (${c.cowclipForm} form, r = ${c.cowclipRatio}, zeta = ${c.cowclipZeta}${c.cowclipForm === 'auto' ? `, gamma = ${c.cowclipGamma}` : ''})` : 'off'],
    ['rows clipped (run / last step)', `${pct(r.clipFraction.mean)} / ${pct(r.clipFraction.last)}`],
    ['rows clipped by batch count (tail 1 / torso 2-31 / head 32+)', BUCKETS.map((b) => pct(r.clipFraction.byBucket[b].fraction)).join(' / ')],
    ['seed', String(c.seed)],
    ['started', r.startedAt],
    ['command', r.command],
    ['versions', `ddp-ctr ${r.versions.ddpCtr}, Node ${r.versions.node}, tfjs ${r.versions.tfjs}`],
  ];
}

function rankCells(r: RankSummary): string[] {
  return [
    String(r.rank),
    r.paramChecksum,
    formatBytes(r.bytes.sent),
    formatBytes(r.bytes.received),
    formatBytes(r.bytes.densePerStep),
    formatBytes(r.bytes.sparsePerStep),
    `${formatCount(r.uniqueIdsPerStep.local)} / ${formatCount(r.uniqueIdsPerStep.global)}`,
    r.startup.toFirstStep.toFixed(2),
    r.startup.data.toFixed(2),
  ];
}

/** A line chart against the training step of one value per step record, or of several (one series each). */
function stepChart(id: string, steps: StepRecord[], ys: Record<string, (s: StepRecord) => number>, p: Omit<LinePanel, 'series' | 'xTitle'>): string {
  const series = Object.entries(ys).map(([label, y]) => ({ label, points: steps.map((s) => ({ x: s.step, y: y(s) })) }));
  return figure(id, lineChart({ ...p, xTitle: 'training step', series }));
}

/** The curves of the step records (--metrics with --metrics-every). */
function stepCharts(steps: StepRecord[]): string[] {
  return [
    stepChart('chart-loss', steps, { 'training logloss': (s) => s.loss }, { title: 'Training loss', yTitle: 'logloss (since the previous record)' }),
    stepChart('chart-throughput', steps, { 'samples/s': (s) => s.samplesPerSec }, { title: 'Throughput', yTitle: 'samples/s (all ranks)', yFromZero: true }),
    stepChart('chart-comm', steps, { 'communication share': (s) => 100 * s.commShare }, {
      title: 'Communication share of step time',
      yTitle: '% of time in collectives (rank 0)',
      yFromZero: true,
      yFormat: (v) => `${formatTick(v)}%`,
    }),
    stepChart('chart-bytes', steps, { dense: (s) => s.denseBytesPerStep, sparse: (s) => s.sparseBytesPerStep }, {
      title: 'Bytes sent per step (rank 0)',
      yTitle: 'bytes per step',
      yFromZero: true,
      yFormat: formatBytes,
    }),
  ];
}

/** Each rank's step time split into phases, seconds over the whole run. */
function stepTimeChart(ranks: RankSummary[]): string {
  const seconds = (v: number) => `${v.toFixed(2)} s`;
  const series = ranks.map((r) => ({ label: `rank ${r.rank}`, values: PHASES.map((p) => r.stepTime[p]) }));
  return figure('chart-step-time', barChart({ title: 'Step time split', valueTitle: 'seconds over the run', categories: [...PHASES], series, format: seconds }));
}

/** The page of one run: its report, and the curves of its --metrics records (the eval history without them). */
export function runReportHtml(report: RunReport, records: MetricsRecord[]): string {
  const steps = byStep(records.filter((r): r is StepRecord => r.type === 'step'));
  const evals = byStep(records.filter((r): r is EvalRecord => r.type === 'eval'));
  const auc = evals.length > 0 ? evals : report.history;
  const title = `ddp-ctr run: ${report.model}, ${report.sync}, ${report.worldSize} ${report.worldSize === 1 ? 'worker' : 'workers'}`;
  const noSteps = '<p class="note" id="no-step-records">Loss, throughput, communication and bytes curves need step records: run with <code>--metrics FILE --metrics-every K</code>.</p>';
  const aucChart = lineChart({ title: 'Eval AUC', xTitle: 'training step', yTitle: 'eval AUC', series: [{ label: 'eval AUC', points: auc.map((e) => ({ x: e.step, y: e.auc })) }] });
  return page(title, [
    `<h1>${esc(title)}</h1>`,
    `<p class="sub">${esc(report.data)}</p>`,
    '<h2>Summary</h2>',
    facts('summary', summary(report)),
    '<h2>Training settings</h2>',
    facts('hyperparameters', hyperparameters(report)),
    '<h2>Curves</h2>',
    ...(steps.length === 0 ? [noSteps] : []),
    ...charts([figure('chart-auc', aucChart), ...(steps.length > 0 ? stepCharts(steps) : []), stepTimeChart(report.ranks)]),
    '<h2>Ranks</h2>',
    table('ranks', RANK_HEADER, report.ranks.map(rankCells), RANK_NUMERIC),
  ]);
}

/** The page of a strategy comparison: compare.md's table, the AUC curves, throughput and bytes per strategy. */
export function compareReportHtml(rows: CompareRow[], job: string): string {
  const series = aucSeries(rows);
  const done = rows.filter((r) => r.ok && r.samplesPerSec !== undefined && r.bytesPerStep !== undefined);
  const categories = done.map((r) => r.label);
  const title = 'ddp-ctr: sync strategy comparison';
  const note = repeatsNote(rows);
  const aucChart = (x: 'step' | 'seconds', chartTitle: string, xTitle: string) => lineChart({ title: chartTitle, xTitle, yTitle: 'eval AUC', series: aucCurves(series, x) });
  return page(title, [
    `<h1>${esc(title)}</h1>`,
    `<p class="sub">Job: ${esc(job)}</p>`,
    ...(note ? [`<p>${esc(note)}</p>`] : []),
    table('comparison', COMPARE_HEADER, rows.map(compareCells), COMPARE_NUMERIC),
    '<h2>Charts</h2>',
    ...charts([
      figure('chart-auc-step', aucChart('step', 'Eval AUC vs step', 'training step')),
      figure('chart-auc-seconds', aucChart('seconds', 'Eval AUC vs training time', 'training seconds (evaluation excluded)')),
      figure('chart-throughput', barChart({ title: 'Throughput', valueTitle: 'samples/s', categories, series: [{ label: 'samples/s', values: done.map((r) => r.samplesPerSec!) }], format: formatCount })),
      figure(
        'chart-bytes',
        barChart({
          title: 'Bytes sent per step (mean over ranks)',
          valueTitle: 'bytes per step',
          categories,
          series: [
            { label: 'dense', values: done.map((r) => r.bytesPerStep!.dense) },
            { label: 'sparse', values: done.map((r) => r.bytesPerStep!.sparse) },
          ],
          format: formatBytes,
        }),
      ),
    ]),
  ]);
}
