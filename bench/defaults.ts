/**
 * Are the training defaults sound on real rows? Trains DeepFM with `ddp-launch -n 1` (one job at a time) on the
 * Criteo and Avazu samples with held-out splits and several seeds (the seed also draws the holdout), evaluating
 * once per epoch, over a grid of settings (learning rates, L2, min-count, ...) x global batch x scale rule. Per
 * cell, averaged over seeds: best eval AUC and its epoch, AUC and logloss at epoch --at (or the last), and the
 * drop from the best AUC to the last. Prints one JSON line and a markdown table per data set.
 *
 *   node dist/bench/defaults.js [--data criteo,avazu] [--criteo PATH] [--avazu PATH] [--seeds 1,2,3]
 *       [--epochs 8] [--at 5] [--split random:0.2] [--settings old,reference,...] [--custom 'name=FLAGS;...']
 *       [--scale-settings old,defaults] [--batches 256] [--rules none,cowclip] [--main 1024:none]
 *       [--mlp 400,400,400] [--json FILE] [--list]
 *
 * Every setting runs at --main (batch:rule); the --scale-settings also run at every batch x rule of --batches x
 * --rules (at the base batch 1024 every rule keeps the flags, so 1024:cowclip would repeat 1024:none). Settings
 * are named flag sets (--list prints them; --custom adds some); `defaults` passes no flag, so it measures
 * whatever the build's defaults are. The run's `--global-batch` and `--scale-rule` are always given.
 * With the defaults: 90 jobs, 11 minutes on 2 shared cores (load 3-7); --seeds, --epochs, --settings make it smaller.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { RunReport } from '../src/train/report.js';
import { loadavgNow, machineInfo, markdownTable, median, positiveInt, splitList } from './common.js';

// The repository root, from the compiled bench (dist/bench) or the TypeScript one (bench/).
const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = basename(dirname(HERE)) === 'dist' ? resolve(HERE, '../..') : resolve(HERE, '..');
const CLI = join(ROOT, 'dist/launcher/cli.js');
const SHARED = resolve(ROOT, '../shared/data');

/**
 * Named flag sets, each pinning lr, lr-embed, l2 and min-count so it means the same whatever the build's
 * defaults: `old` (before issue #16), `reference` (the CowClip paper's Criteo values, with the old min-count,
 * as the issue measured them), one change at a time from `old`, and neighbours of the defaults chosen in #16
 * (lr 1e-3, lr-embed 3e-3, l2 1e-5, min-count 10). `defaults` passes nothing: the build's own defaults.
 */
const PRESETS: Record<string, string> = {
  defaults: '',
  old: '--lr 1e-3 --lr-embed 3e-3 --l2 1e-5 --min-count 2',
  reference: '--lr 8e-4 --lr-embed 1e-4 --l2 1e-5 --min-count 2',
  'emb1e-3': '--lr 1e-3 --lr-embed 1e-3 --l2 1e-5 --min-count 2',
  'l2-1e-3': '--lr 1e-3 --lr-embed 3e-3 --l2 1e-3 --min-count 2',
  mc5: '--lr 1e-3 --lr-embed 3e-3 --l2 1e-5 --min-count 5',
  mc20: '--lr 1e-3 --lr-embed 3e-3 --l2 1e-5 --min-count 20',
  'mc10-emb2e-3': '--lr 1e-3 --lr-embed 2e-3 --l2 1e-5 --min-count 10',
  'mc10-emb1e-3': '--lr 1e-3 --lr-embed 1e-3 --l2 1e-5 --min-count 10',
  'mc10-l2-1e-4': '--lr 1e-3 --lr-embed 3e-3 --l2 1e-4 --min-count 10',
  'mc10-lr5e-4': '--lr 5e-4 --lr-embed 3e-3 --l2 1e-5 --min-count 10',
};
const DEFAULT_SETTINGS = Object.keys(PRESETS).join(',');

interface Cell {
  data: string;
  setting: string;
  flags: string[];
  batch: number;
  rule: string;
}

interface Run extends Cell {
  seed: number;
  stepsPerEpoch: number;
  /** Eval AUC / logloss after each epoch (index 0 = epoch 1). */
  auc: number[];
  logloss: number[];
  hyper: RunReport['hyper'];
  seconds: number;
}

interface Row extends Cell {
  seeds: number;
  /** Means over seeds. */
  bestAuc: number;
  bestEpochs: number[];
  aucAt: number;
  loglossAt: number;
  atEpoch: number;
  lastAuc: number;
  lastLogloss: number;
  drop: number;
  seconds: number;
}

const mean = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;

/** One `ddp-launch -n 1` job; its report, or an error with the job's last output lines. */
async function launch(args: string[], report: string): Promise<RunReport> {
  const tail: string[] = [];
  const code = await new Promise<number | null>((done) => {
    const p = spawn(process.execPath, [CLI, '-n', '1', '--gpus', 'none', '--log-every', '0', '--report', report, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    const keep = (b: Buffer): void => {
      tail.push(...b.toString().split('\n').filter(Boolean));
      tail.splice(0, Math.max(0, tail.length - 20));
    };
    p.stdout.on('data', keep);
    p.stderr.on('data', keep);
    p.on('close', done);
  });
  if (code !== 0) throw new Error(`ddp-launch ${args.join(' ')} exited with ${code}:\n${tail.join('\n')}`);
  return JSON.parse(readFileSync(report, 'utf8')) as RunReport;
}

/** Training rows of a data set under a split and seed: one step of batch 1 trains 1/rows of an epoch. */
async function trainRows(spec: string, split: string, seed: number, dir: string): Promise<number> {
  const rep = await launch(['--data', spec, '--split', split, '--seed', String(seed), '--global-batch', '1', '--steps', '1', '--mlp', '8', '--embed-dim', '2'], join(dir, 'probe.json'));
  return Math.round(1 / rep.epochs);
}

function summarise(runs: readonly Run[], at: number): Row {
  const r0 = runs[0];
  const epochs = Math.min(...runs.map((r) => r.auc.length));
  const atEpoch = Math.min(at, epochs);
  const best = runs.map((r) => r.auc.reduce((b, a, i) => (a > r.auc[b] ? i : b), 0));
  return {
    data: r0.data,
    setting: r0.setting,
    flags: r0.flags,
    batch: r0.batch,
    rule: r0.rule,
    seeds: runs.length,
    bestAuc: mean(runs.map((r, i) => r.auc[best[i]])),
    bestEpochs: best.map((b) => b + 1),
    aucAt: mean(runs.map((r) => r.auc[atEpoch - 1])),
    loglossAt: mean(runs.map((r) => r.logloss[atEpoch - 1])),
    atEpoch,
    lastAuc: mean(runs.map((r) => r.auc[epochs - 1])),
    lastLogloss: mean(runs.map((r) => r.logloss[epochs - 1])),
    drop: mean(runs.map((r, i) => r.auc[best[i]] - r.auc[epochs - 1])),
    seconds: mean(runs.map((r) => r.seconds)),
  };
}

const parseCell = (s: string): { batch: number; rule: string } => {
  const [b, rule] = s.split(':');
  if (!rule) throw new Error(`${s}: expected BATCH:RULE, e.g. 1024:none`);
  return { batch: positiveInt('main', b), rule };
};

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      data: { type: 'string', default: 'criteo,avazu' },
      criteo: { type: 'string', default: join(SHARED, 'criteo-sample/train.tsv.gz') },
      avazu: { type: 'string', default: join(SHARED, 'avazu-sample/train.csv.gz') },
      seeds: { type: 'string', default: '1,2,3' },
      epochs: { type: 'string', default: '8' },
      at: { type: 'string', default: '5' },
      split: { type: 'string', default: 'random:0.2' },
      settings: { type: 'string', default: DEFAULT_SETTINGS },
      custom: { type: 'string', default: '' },
      'scale-settings': { type: 'string', default: 'old,defaults' },
      batches: { type: 'string', default: '256' },
      rules: { type: 'string', default: 'none,cowclip' },
      main: { type: 'string', default: '1024:none' },
      mlp: { type: 'string', default: '400,400,400' },
      json: { type: 'string' },
      list: { type: 'boolean', default: false },
    },
  });
  const presets: Record<string, string> = { ...PRESETS };
  for (const c of values.custom.split(';').map((x) => x.trim()).filter(Boolean)) {
    const eq = c.indexOf('=');
    if (eq < 1) throw new Error(`--custom ${c}: expected NAME=FLAGS`);
    presets[c.slice(0, eq).trim()] = c.slice(eq + 1).trim();
  }
  if (values.list) {
    for (const [k, v] of Object.entries(presets)) console.log(`${k.padEnd(20)} ${v || '(no flags: the build defaults)'}`);
    return;
  }
  if (!existsSync(CLI)) throw new Error(`${CLI} not found: run npm run build first`);
  const flagsOf = (name: string): string[] => {
    if (!(name in presets)) throw new Error(`unknown setting ${name}; known: ${Object.keys(presets).join(', ')} (or --custom NAME=FLAGS)`);
    return presets[name].split(/\s+/).filter(Boolean);
  };
  const seeds = splitList(values.seeds).map((s) => positiveInt('seeds', s));
  const epochs = positiveInt('epochs', values.epochs);
  const at = positiveInt('at', values.at);
  const mainCell = parseCell(values.main);
  const settings = splitList(values.settings);
  const scaleSettings = splitList(values['scale-settings']);
  const extra = splitList(values.batches).flatMap((b) => splitList(values.rules).map((rule) => ({ batch: positiveInt('batches', b), rule })));
  const dataSets = splitList(values.data).map((d) => {
    const path = d === 'criteo' ? values.criteo : d === 'avazu' ? values.avazu : undefined;
    if (!path) throw new Error(`--data ${d}: expected criteo or avazu`);
    if (!existsSync(path)) throw new Error(`${d} sample not found at ${path} (pass --${d} PATH)`);
    return { name: d, spec: `${d}:${path}` };
  });

  const cells: Cell[] = [];
  for (const ds of dataSets) {
    const add = (setting: string, batch: number, rule: string): void => {
      if (!cells.some((c) => c.data === ds.name && c.setting === setting && c.batch === batch && c.rule === rule)) {
        cells.push({ data: ds.name, setting, flags: flagsOf(setting), batch, rule });
      }
    };
    for (const s of [...settings, ...scaleSettings]) if (settings.includes(s)) add(s, mainCell.batch, mainCell.rule);
    for (const s of scaleSettings) for (const x of [mainCell, ...extra]) add(s, x.batch, x.rule);
  }
  const total = cells.length * seeds.length;
  console.error(`defaults bench: ${cells.length} cells x ${seeds.length} seeds = ${total} jobs of ${epochs} epochs, one at a time`);

  const dir = mkdtempSync(join(tmpdir(), 'ddp-defaults-'));
  const runs: Run[] = [];
  const t0 = performance.now();
  try {
    const rowsOf = new Map<string, number>();
    for (const ds of dataSets) for (const seed of seeds) rowsOf.set(`${ds.name}/${seed}`, await trainRows(ds.spec, values.split, seed, dir));
    let n = 0;
    for (const cell of cells) {
      const ds = dataSets.find((d) => d.name === cell.data)!;
      for (const seed of seeds) {
        const spe = Math.ceil(rowsOf.get(`${ds.name}/${seed}`)! / cell.batch);
        const args = ['--data', ds.spec, '--split', values.split, '--seed', String(seed), '--mlp', values.mlp, '--epochs', String(epochs),
          '--eval-every', String(spe), '--check-every', '0', '--global-batch', String(cell.batch), '--scale-rule', cell.rule, ...cell.flags];
        const ts = performance.now();
        const rep = await launch(args, join(dir, 'run.json'));
        const seconds = (performance.now() - ts) / 1000;
        // Evaluations at each epoch's end (the last one is the final evaluation, recorded once).
        const byEpoch = rep.history.filter((h) => h.step % spe === 0 || h.step === rep.steps);
        const run: Run = { ...cell, seed, stepsPerEpoch: spe, auc: byEpoch.map((h) => h.auc), logloss: byEpoch.map((h) => h.logloss), hyper: rep.hyper, seconds };
        runs.push(run);
        const best = Math.max(...run.auc);
        console.error(
          `[${++n}/${total}] ${cell.data} ${cell.setting} batch ${cell.batch} ${cell.rule} seed ${seed}: ` +
            `auc by epoch ${run.auc.map((a) => a.toFixed(3)).join(' ')} (best ${best.toFixed(4)} at ${run.auc.indexOf(best) + 1}); ${seconds.toFixed(1)} s, load ${loadavgNow()[0]}`,
        );
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const rows = cells.map((c) => summarise(runs.filter((r) => r.data === c.data && r.setting === c.setting && r.batch === c.batch && r.rule === c.rule), at));
  const result = { machine: machineInfo(), loadavgEnd: loadavgNow(), seconds: (performance.now() - t0) / 1000, split: values.split, seeds, epochs, at, mlp: values.mlp, presets, rows, runs };
  console.log(JSON.stringify(result));
  if (values.json) writeFileSync(values.json, JSON.stringify(result, null, 2) + '\n');
  for (const ds of dataSets) {
    const mine = rows.filter((r) => r.data === ds.name);
    const bestOfGrid = Math.max(...mine.map((r) => r.bestAuc));
    console.log(`\n${ds.name} sample, ${values.split} holdout, seeds ${seeds.join(',')} (means over seeds; best-of-grid AUC ${bestOfGrid.toFixed(4)}):\n`);
    console.log(
      markdownTable(
        ['setting', 'batch', 'rule', 'best AUC', 'best epoch(s)', `AUC @${mine[0]?.atEpoch ?? at}`, `logloss @${mine[0]?.atEpoch ?? at}`, 'last AUC', 'last logloss', 'drop best-last'],
        mine.map((r) => [
          r.setting,
          r.batch,
          r.rule,
          r.bestAuc.toFixed(4),
          `${r.bestEpochs.join(',')} (med ${median(r.bestEpochs)})`,
          r.aucAt.toFixed(4),
          r.loglossAt.toFixed(4),
          r.lastAuc.toFixed(4),
          r.lastLogloss.toFixed(4),
          r.drop.toFixed(4),
        ]),
        [0, 2],
      ),
    );
  }
  console.log(`\n${runs.length} jobs in ${((performance.now() - t0) / 1000).toFixed(0)} s; load ${loadavgNow().join(' ')}. Settings:`);
  for (const s of [...new Set(cells.map((c) => c.setting))]) console.log(`- ${s}: ${presets[s] || '(no flags: the build defaults)'}`);
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
