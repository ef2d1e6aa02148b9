/**
 * The HTML reports of real runs, opened in a real browser: Debian's headless Chromium driven by playwright-core.
 * Checks that every chart rendered (a laid-out <svg> with drawn marks and its titles visible), that the tables
 * show the run's numbers, that the page loads nothing but itself, and saves full-page screenshots to
 * artifacts/ for a person to look at.
 */
import t, { type Test } from 'tap';
import { existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium, type Browser } from 'playwright-core';
import type { RunReport } from '../src/train/report.js';
import { REPO, runLauncher } from './helpers/cli.js';

const CHROMIUM = '/usr/bin/chromium';
/**
 * Headless as root, and quiet on a closed network: without the background-networking flags Chromium keeps
 * trying to reach Google's hosts and has its connections refused.
 */
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const ARTIFACTS = join(REPO, 'artifacts');
/** A laptop screen: the page must fit its width. */
const VIEWPORT = { width: 1366, height: 768 };

interface Chart {
  id: string;
  /** The <svg>'s <title>, also drawn as its heading. */
  title: string;
  /** Other texts that must be visible: axis titles, legend entries, category labels. */
  labels: string[];
}

/** What the page shows, read in the browser after layout. */
interface Seen {
  title: string;
  overflowX: number;
  charts: Record<string, { title: string; width: number; height: number; marks: number; texts: string[] } | null>;
  /** Each table's rows: the cells' text, header cells included. */
  tables: Record<string, string[][]>;
}

function inPage(ids: string[]): Seen {
  const visible = (el: Element) => {
    const box = el.getBoundingClientRect();
    return box.width > 0 && box.height > 0 && getComputedStyle(el).visibility === 'visible';
  };
  const chart = (id: string) => {
    const svg = document.querySelector(`#${id} > svg`);
    if (!(svg instanceof SVGSVGElement)) return null;
    const box = svg.getBoundingClientRect();
    // Marks with something to draw: lines with points, markers, bars with a width.
    const lines = [...svg.querySelectorAll('polyline')].filter((l) => l.points.numberOfItems > 0);
    const shapes = [...svg.querySelectorAll('circle.point, rect.bar, path')].filter(visible);
    const texts = [...svg.querySelectorAll('text')].filter(visible).map((e) => e.textContent ?? '');
    return { title: svg.querySelector(':scope > title')?.textContent ?? '', width: box.width, height: box.height, marks: lines.length + shapes.length, texts };
  };
  const tables: Seen['tables'] = {};
  for (const table of document.querySelectorAll('table')) {
    tables[table.id] = [...table.querySelectorAll('tr')].map((tr) => [...tr.querySelectorAll('th, td')].map((c) => c.textContent ?? ''));
  }
  return {
    title: document.title,
    overflowX: document.documentElement.scrollWidth - window.innerWidth,
    charts: Object.fromEntries(ids.map((id) => [id, chart(id)])),
    tables,
  };
}

/**
 * Opens FILE, refusing every request that is not a file of its own, and checks each chart; resolves to what
 * the page shows, after saving a full-page screenshot to artifacts/SHOT.
 */
async function openPage(t: Test, browser: Browser, file: string, charts: Chart[], shot: string): Promise<Seen> {
  const page = await browser.newPage({ viewport: VIEWPORT });
  const outside: string[] = [];
  page.on('request', (r) => {
    if (!r.url().startsWith('file:')) outside.push(r.url());
  });
  await page.route(/^(?!file:)/, (route) => route.abort());
  await page.goto(pathToFileURL(file).href, { waitUntil: 'load' });
  const seen = await page.evaluate(inPage, charts.map((c) => c.id));
  t.same(outside, [], 'the page requested nothing outside its file');
  t.ok(seen.overflowX <= 0, `fits a ${VIEWPORT.width}px wide screen (overflow ${seen.overflowX}px)`);
  for (const c of charts) {
    const got = seen.charts[c.id];
    if (!got) {
      t.fail(`${c.id}: no <svg>`);
      continue;
    }
    t.equal(got.title, c.title, `${c.id}: the <svg> titled '${c.title}'`);
    t.ok(got.width > 100 && got.height > 100, `${c.id}: laid out at ${got.width.toFixed(0)} x ${got.height.toFixed(0)} px`);
    t.ok(got.marks > 0, `${c.id}: ${got.marks} marks drawn`);
    for (const label of [c.title, ...c.labels]) t.ok(got.texts.includes(label), `${c.id}: '${label}' visible`);
  }
  const path = join(ARTIFACTS, shot);
  await page.screenshot({ path, fullPage: true });
  await page.close();
  t.ok(statSync(path).size > 10_000, `screenshot ${path}: ${statSync(path).size} bytes`);
  return seen;
}

/** Debian's chromium, or undefined after failing (in CI, which installs it) or skipping with a notice. */
function chromiumPath(): string | undefined {
  if (existsSync(CHROMIUM)) return CHROMIUM;
  if (process.env.CI) t.fail(`${CHROMIUM} is missing: install Debian's chromium (apt-get install chromium; .ci/run does)`);
  else t.test('HTML reports in Chromium', { skip: `NOTICE: ${CHROMIUM} not found: apt-get install chromium to run this test` }, () => {});
  return undefined;
}

const executablePath = chromiumPath();
if (executablePath) {
  mkdirSync(ARTIFACTS, { recursive: true });
  const browser = await chromium.launch({ executablePath, args: CHROMIUM_ARGS });
  t.teardown(() => browser.close());

  t.test('--html: the run page of a real 2-rank job', async (t) => {
    const dir = t.testdir();
    const [report, html] = [join(dir, 'R.json'), join(dir, 'H.html')];
    const job = ['-n', '2', '--steps', '24', '--global-batch', '256', '--data', 'synthetic:v1,rows=8192,eval-rows=1000', '--eval-every', '8', '--log-every', '0'];
    const r = await runLauncher([...job, '--report', report, '--metrics', join(dir, 'M.jsonl'), '--metrics-every', '4', '--html', html]);
    t.equal(r.code, 0, r.stderr.slice(-2000));
    const rep = JSON.parse(readFileSync(report, 'utf8')) as RunReport;
    const step = ['training step'];
    const seen = await openPage(
      t,
      browser,
      html,
      [
        { id: 'chart-auc', title: 'Eval AUC', labels: [...step, 'eval AUC'] },
        { id: 'chart-loss', title: 'Training loss', labels: [...step, 'logloss (since the previous record)'] },
        { id: 'chart-throughput', title: 'Throughput', labels: [...step, 'samples/s (all ranks)'] },
        { id: 'chart-comm', title: 'Communication share of step time', labels: [...step, '% of time in collectives (rank 0)'] },
        { id: 'chart-bytes', title: 'Bytes sent per step (rank 0)', labels: [...step, 'bytes per step', 'dense', 'sparse'] },
        { id: 'chart-step-time', title: 'Step time split', labels: ['seconds over the run', 'data', 'compute', 'merge', 'comm', 'update', 'rank 0', 'rank 1'] },
      ],
      'report-run.png',
    );
    t.equal(seen.title, 'ddp-ctr run: deepfm, allreduce, 2 workers');
    const summary = new Map(seen.tables.summary.map(([k, v]) => [k, v]));
    for (const k of ['model', 'sync strategy', 'world size', 'backend', 'data', 'global batch', 'steps', 'epochs', 'eval AUC', 'eval logloss', 'oracle AUC', 'samples/s', 'train seconds']) t.ok(summary.has(k), `summary: ${k}`);
    t.equal(summary.get('eval AUC'), rep.eval.auc.toFixed(4), "summary: the report's eval AUC");
    t.equal(summary.get('oracle AUC'), rep.oracle!.auc.toFixed(4), "summary: the oracle's AUC");
    t.same(seen.tables.ranks.slice(1).map((row) => row[1]), rep.paramChecksums, 'rank table: one row per rank with its checksum');
  });

  t.test('--compare: compare.html of a real comparison', async (t) => {
    const out = join(t.testdir(), 'cmp');
    const job = ['-n', '2', '--steps', '16', '--global-batch', '256', '--data', 'synthetic:v1,rows=4096,eval-rows=500', '--eval-every', '8', '--log-every', '0'];
    const r = await runLauncher(['--compare', 'allreduce,local-clip', '--compare-out', out, ...job]);
    t.equal(r.code, 0, r.stderr.slice(-2000));
    t.match(r.stdout, /wrote .*compare\.md, compare\.json, compare\.svg, compare\.html/);
    const strategies = ['allreduce', 'local-clip'];
    const seen = await openPage(
      t,
      browser,
      join(out, 'compare.html'),
      [
        { id: 'chart-auc-step', title: 'Eval AUC vs step', labels: ['training step', 'eval AUC', ...strategies] },
        { id: 'chart-auc-seconds', title: 'Eval AUC vs training time', labels: ['training seconds (evaluation excluded)', ...strategies] },
        { id: 'chart-throughput', title: 'Throughput', labels: ['samples/s', ...strategies] },
        { id: 'chart-bytes', title: 'Bytes sent per step (mean over ranks)', labels: ['bytes per step', 'dense', 'sparse', ...strategies] },
      ],
      'report-compare.png',
    );
    t.equal(seen.title, 'ddp-ctr: sync strategy comparison');
    const [header, ...rows] = seen.tables.comparison;
    t.same(header.slice(0, 3), ['strategy', 'eval AUC', 'eval logloss']);
    t.same(rows.map((row) => row[0]), strategies, 'a row per strategy');
    for (const [label, auc] of rows) {
      const rep = JSON.parse(readFileSync(join(out, `${label}.json`), 'utf8')) as RunReport;
      t.equal(auc, rep.eval.auc.toFixed(4), `${label}: the AUC of its report`);
    }
  });
}
