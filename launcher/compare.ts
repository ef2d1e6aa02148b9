/**
 * `ddp-launch --compare allreduce,dense,local-clip,... [launcher flags] [training flags]`: runs the same job
 * (data, seed, model, global batch, -n) under each sync strategy, one after another, each a real ddp-launch
 * job writing its report, then writes a markdown table, a JSON summary, an SVG chart and an HTML page side by side.
 */
import { spawn } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseFlags, partitionArgs, type FlagSpec, type FlagValues } from '../src/config/flags.js';
import { checkOutput } from '../src/util/outputs.js';
import { parseTrainConfig } from '../src/config/train-config.js';
import { SYNC_NAMES, traitsOf, type SyncName } from '../src/config/strategies.js';
import { aucSeries, COMPARE_HEADER, COMPARE_NUMERIC, compareCells, repeatsNote, type CompareRow } from '../src/report/compare.js';
import { compareReportHtml } from '../src/report/html.js';
import type { RunReport } from '../src/train/report.js';
import { UserError } from '../src/util/errors.js';
import { LAUNCH_FLAGS, splitArgs, withoutFlag } from './args.js';
import { compareSvg } from './compare-svg.js';

export type { CompareRow };

export const COMPARE_FLAGS = [
  {
    group: 'Comparison',
    name: 'compare',
    type: 'list',
    help: `run the job once per sync strategy, e.g. allreduce,dense,local-clip,local-sgd:8,hybrid,ps,async-ps:4 (local-sgd:H averages every H steps, async-ps:S runs with staleness S; strategies: ${SYNC_NAMES.join(', ')})`,
  },
  { group: 'Comparison', name: 'compare-out', placeholder: 'DIR', type: 'string', help: 'directory for compare.md, compare.json, compare.svg, compare.html and the per-run reports (default: compare-<timestamp>)' },
  {
    group: 'Comparison',
    name: 'compare-repeats',
    type: 'int',
    default: 1,
    min: 1,
    help: 'run the whole list R times, interleaved, and report each strategy\'s median run by training time (throughput on a shared machine varies)',
  },
] as const satisfies readonly FlagSpec[];

/** Training flags the comparison sets itself for every run. */
const OWNED = ['sync', 'report', 'save', 'save-best'];

export function compareRequested(argv: readonly string[]): boolean {
  return argv.some((a) => a === '--compare' || a.startsWith('--compare='));
}

interface Strategy {
  label: string;
  sync: SyncName;
  /** The flag and value NAME:X sets (local-sgd:H, async-ps:S). */
  param?: [flag: string, value: string];
}

interface Run {
  code: number | null;
  seconds: number;
  rep: RunReport | null;
  file: string;
}

function parseStrategies(list: string[]): Strategy[] {
  if (list.length === 0) throw new UserError(`--compare needs a list of strategies, e.g. allreduce,dense,local-clip (strategies: ${SYNC_NAMES.join(', ')})`);
  const out = list.map((item): Strategy => {
    const [name, h, extra] = item.split(':');
    if (!(SYNC_NAMES as readonly string[]).includes(name) || extra !== undefined) {
      throw new UserError(`--compare ${list.join(',')}: unknown strategy '${item}'; expected one of ${SYNC_NAMES.join(', ')} (local-sgd:H for an averaging interval, async-ps:S for a staleness)`);
    }
    const sync = name as SyncName;
    if (h === undefined) return { label: name, sync };
    const param = traitsOf(sync).param;
    if (!param || !/^\d+$/.test(h) || Number(h) < param.min) throw new UserError(`--compare: '${item}': only local-sgd:H (H >= 1) and async-ps:S (S >= 0) take a number`);
    return { label: item, sync, param: [param.flag, h] };
  });
  const dup = out.find((s, i) => out.findIndex((o) => o.label === s.label) !== i);
  if (dup) throw new UserError(`--compare: '${dup.label}' is listed twice`);
  return out;
}

/** --servers K is for the parameter-server strategies: the other runs of a comparison go without it. */
function withoutServers(args: string[], sync: SyncName): string[] {
  return traitsOf(sync).servers ? args : withoutFlag(args, 'servers');
}

/** Splits --compare/--compare-out off argv; the rest is an ordinary ddp-launch command line. */
function splitCompareArgs(argv: readonly string[]): { compare: FlagValues<typeof COMPARE_FLAGS>; rest: string[] } {
  const { mine, rest } = partitionArgs(argv, COMPARE_FLAGS);
  return { compare: parseFlags(COMPARE_FLAGS, mine).flags, rest };
}

function timestamp(): string {
  return new Date().toISOString().slice(0, 19).replace(/[:T]/g, (c) => (c === 'T' ? '-' : ''));
}

/** Runs this launcher with args, output passed through; resolves to its exit code and duration. */
function launch(args: string[]): Promise<{ code: number | null; seconds: number }> {
  const cli = fileURLToPath(new URL(`./cli${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`, import.meta.url));
  const t = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...process.execArgv, cli, ...args], { stdio: 'inherit' });
    // Ctrl-C or a kill stops the running job (ddp-launch stops its workers) and the whole comparison.
    let stopped: NodeJS.Signals | null = null;
    const stop = (sig: NodeJS.Signals) => {
      stopped = sig;
      child.kill(sig);
    };
    process.on('SIGINT', stop).on('SIGTERM', stop);
    child.on('error', reject);
    child.on('close', (code) => {
      process.off('SIGINT', stop).off('SIGTERM', stop);
      if (stopped) {
        console.error(`ddp-compare: stopped by ${stopped}`);
        process.exit(stopped === 'SIGINT' ? 130 : 143);
      }
      resolve({ code, seconds: (performance.now() - t) / 1000 });
    });
  });
}

function median(xs: number[]): number {
  const v = [...xs].sort((a, b) => a - b);
  return v[Math.floor((v.length - 1) / 2)];
}

/** One table row from a strategy's runs: the median run by training time, or the first failure. */
function summarise(s: Strategy, runs: Run[]): CompareRow {
  const jobSeconds = median(runs.map((r) => r.seconds));
  const failed = runs.find((r) => r.code !== 0 || !r.rep);
  if (failed) return { label: s.label, sync: s.sync, ok: false, exitCode: failed.code, jobSeconds };
  const byTime = [...runs].sort((a, b) => a.rep!.trainSeconds - b.rep!.trainSeconds);
  const { rep, file } = byTime[Math.floor((byTime.length - 1) / 2)] as Run & { rep: RunReport };
  const mean = (f: (r: RunReport['ranks'][number]) => number) => rep.ranks.reduce((a, r) => a + f(r), 0) / rep.ranks.length;
  return {
    label: s.label,
    sync: s.sync,
    ok: true,
    exitCode: 0,
    jobSeconds,
    eval: { auc: rep.eval.auc, logloss: rep.eval.logloss },
    samplesPerSec: rep.samplesPerSec,
    trainSeconds: rep.trainSeconds,
    bytesPerStep: { dense: mean((r) => r.bytes.densePerStep), sparse: mean((r) => r.bytes.sparsePerStep) },
    history: rep.history,
    replicasIdentical: new Set(rep.paramChecksums).size === 1,
    report: file,
    ...(runs.length > 1 && { repeats: runs.map((r) => ({ samplesPerSec: r.rep!.samplesPerSec, trainSeconds: r.rep!.trainSeconds, jobSeconds: r.seconds })) }),
  };
}

/** The markdown summary: one row per strategy, then eval AUC by step. */
export function compareMarkdown(rows: CompareRow[], job: string): string {
  const note = repeatsNote(rows);
  const row = (cells: string[]) => `| ${cells.join(' | ')} |`;
  const lines = [
    `Job: ${job}`,
    ...(note ? ['', note] : []),
    '',
    row(COMPARE_HEADER),
    row(COMPARE_NUMERIC.map((n) => (n ? '---:' : '---'))),
    ...rows.map((r) => row(compareCells(r))),
  ];
  const done = rows.filter((r) => r.history);
  const steps = [...new Set(done.flatMap((r) => r.history!.map((h) => h.step)))].sort((a, b) => a - b);
  if (steps.length > 1) {
    lines.push('', 'Eval AUC by step:', '', `| step | ${done.map((r) => r.label).join(' | ')} |`, `| ---: |${' ---: |'.repeat(done.length)}`);
    for (const step of steps) {
      const cells = done.map((r) => r.history!.find((h) => h.step === step)?.auc.toFixed(4) ?? '');
      lines.push(`| ${step} | ${cells.join(' | ')} |`);
    }
  }
  return lines.join('\n') + '\n';
}

export async function runCompare(argv: readonly string[]): Promise<number> {
  const { compare, rest } = splitCompareArgs(argv);
  const strategies = parseStrategies(compare.compare ?? []);
  const { launch: launchArgs, train } = splitArgs(rest);
  const { flags } = parseFlags(LAUNCH_FLAGS, launchArgs);
  const cfg = parseTrainConfig(train);
  const owned = train.find((a) => a.startsWith('--') && OWNED.includes(a.slice(2).split('=')[0]));
  if (owned) throw new UserError(`${owned.split('=')[0]} cannot be combined with --compare: the comparison sets it for every run`);
  const out = compare.compareOut ?? `compare-${timestamp()}`;
  checkOutput('compare-out', out, 'dir');
  if (cfg.evalEvery === 0) console.error('ddp-compare: no --eval-every: the chart will show one point per strategy (pass --eval-every K for curves)');

  const repeats = compare.compareRepeats;
  const runs = new Map<string, Run[]>(strategies.map((s) => [s.label, []]));
  for (let r = 0; r < repeats; r++) {
    for (const [i, s] of strategies.entries()) {
      const file = join(out, `${s.label.replace(/[^A-Za-z0-9_-]/g, '-')}${repeats > 1 ? `.r${r + 1}` : ''}.json`);
      const args = [...withoutServers(rest, s.sync), '--sync', s.sync, ...(s.param ?? []), '--report', file];
      console.error(`ddp-compare: [${r * strategies.length + i + 1}/${repeats * strategies.length}] ${s.label}`);
      const { code, seconds } = await launch(args);
      let rep: RunReport | null = null;
      if (code === 0) rep = JSON.parse(await readFile(file, 'utf8')) as RunReport;
      else console.error(`ddp-compare: ${s.label} failed (exit code ${code}); continuing with the others`);
      runs.get(s.label)!.push({ code, seconds, rep, file });
    }
  }
  const rows = strategies.map((s) => summarise(s, runs.get(s.label)!));

  const first = rows.find((r) => r.ok);
  const firstReport = first ? (JSON.parse(await readFile(first.report!, 'utf8')) as RunReport) : null;
  const job =
    `-n ${flags.nprocPerNode}${flags.nnodes > 1 ? ` x ${flags.nnodes} hosts` : ''}, model ${cfg.model}, global batch ${cfg.globalBatch}, ` +
    `${firstReport ? `${firstReport.steps} steps, ` : ''}seed ${cfg.seed}, data ${cfg.data}`;
  const fullJob = firstReport ? `${job} (${firstReport.data})` : job;
  const md = compareMarkdown(rows, fullJob);
  await writeFile(join(out, 'compare.md'), md);
  await writeFile(join(out, 'compare.json'), JSON.stringify({ job, args: rest, strategies: rows }, null, 2) + '\n');
  await writeFile(join(out, 'compare.svg'), compareSvg(aucSeries(rows), `Sync strategies: ${job}`));
  await writeFile(join(out, 'compare.html'), compareReportHtml(rows, fullJob));
  console.log(`\n${md}\nddp-compare: wrote ${join(out, 'compare.md')}, compare.json, compare.svg, compare.html`);
  return rows.every((r) => r.ok) ? 0 : 1;
}
