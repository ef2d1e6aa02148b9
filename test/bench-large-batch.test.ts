// bench/large-batch at tiny settings: one real job per batch x rule x form, and its table read against the jobs'
// own reports (AUC, the gap to the smallest batch, clip fractions), so the bench's arithmetic is checked by an
// independent reading.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { RunReport } from '../src/train/report.js';

const BENCH = fileURLToPath(new URL('../dist/bench/large-batch.js', import.meta.url));

interface Row {
  batch: number;
  rule: string;
  form: string;
  steps: number;
  auc: number | null;
  oracleAuc: number | null;
  gapToSmallest: number | null;
  best: { auc: number; pass: number } | null;
  bestGapToSmallest: number | null;
  clip: { all: number; tail: number; torso: number; head: number } | null;
  sameJobAs?: string;
}

t.test('large-batch: every configuration run, the table matches the runs', async (t) => {
  const out = t.testdir();
  const args = ['--data', 'quick', '--rows', '1000', '--samples', '2048', '--batches', '512,256', '--rules', 'none,cowclip', '--forms', 'paper,auto', '--mlp', '16', '--out', out, '--', '--embed-dim', '4', '--cowclip-ratio', '0.01', '--base-batch', '256'];
  const res = spawnSync(process.execPath, [BENCH, ...args], { encoding: 'utf8', timeout: 600_000 });
  t.equal(res.status, 0, res.stderr.slice(-2000));
  const json = JSON.parse(res.stdout.split('\n').find((l) => l.startsWith('{'))!) as { rows: Row[]; samples: number };
  t.same(json.rows.map((r) => [r.batch, r.rule, r.form]), [256, 512].flatMap((b) => ['none', 'cowclip'].flatMap((r) => ['paper', 'auto'].map((f) => [b, r, f]))), 'batches ascending, every rule and form');
  // At the base batch (256 here) every rule keeps the values as given: one job, run once, stands for both rules.
  t.same(json.rows.map((r) => r.sameJobAs), [undefined, undefined, 'none', 'none', undefined, undefined, undefined, undefined], 'the base batch ran once');
  t.notOk(existsSync(join(out, 'b256-cowclip-paper.json')) || existsSync(join(out, 'b256-cowclip-auto.json')), 'no second job at the base batch');
  for (const r of json.rows) {
    const rep = JSON.parse(readFileSync(join(out, `b${r.batch}-${r.sameJobAs ?? r.rule}-${r.form}.json`), 'utf8')) as RunReport;
    t.equal(rep.steps, 2048 / r.batch, `${r.batch}: the same samples at every batch`);
    t.equal(r.auc, rep.eval.auc, 'AUC from the run');
    t.equal(r.oracleAuc, rep.oracle!.auc);
    t.equal(rep.config.scaleRule, r.sameJobAs ?? r.rule);
    t.equal(rep.config.cowclipForm, r.form);
    t.same(r.clip, { all: rep.clipFraction.mean, tail: rep.clipFraction.byBucket.tail.fraction, torso: rep.clipFraction.byBucket.torso.fraction, head: rep.clipFraction.byBucket.head.fraction });
    const base = json.rows.find((x) => x.batch === 256 && x.rule === r.rule && x.form === r.form)!;
    t.equal(r.gapToSmallest, r.auc! - base.auc!, 'the gap to the smallest batch');
    // Evaluated once a pass over the 1,000 rows: every 4 steps at 256, every 2 at 512.
    t.same(rep.history.map((h) => h.step), r.batch === 256 ? [4, 8] : [2, 4], 'once a pass');
    const bestEval = rep.history.reduce((a, h) => (h.auc > a.auc ? h : a));
    t.same(r.best, { auc: bestEval.auc, pass: (bestEval.step * r.batch) / 1000 }, 'the best pass from the history');
    t.equal(r.bestGapToSmallest, r.best!.auc - base.best!.auc);
  }
  t.ok(json.rows.some((r) => r.form === 'auto' && r.clip!.all > 0), 'auto scales rows down');
  t.match(res.stdout, /\| batch \| scale rule \| clip form \| steps \| AUC at the end \| end - end at 256 \| best AUC \(pass\) \| oracle - best \| best - best at 256 \|/);
});

t.test('large-batch: --resume reads the reports already in --out; a different study there is refused', async (t) => {
  const out = t.testdir();
  const args = ['--data', 'quick', '--rows', '2000', '--samples', '1024', '--batches', '256,512', '--rules', 'cowclip', '--forms', 'auto', '--mlp', '8', '--out', out, '--', '--embed-dim', '4'];
  const run = (extra: string[]) => spawnSync(process.execPath, [BENCH, ...args.slice(0, args.indexOf('--')), ...extra, ...args.slice(args.indexOf('--'))], { encoding: 'utf8', timeout: 600_000 });
  const rowsOf = (stdout: string) => (JSON.parse(stdout.split('\n').find((l) => l.startsWith('{'))!) as { rows: Row[] }).rows;
  const first = run([]);
  t.equal(first.status, 0, first.stderr.slice(-2000));
  // A report edited by hand shows in the table: it was read, not rerun.
  const file = join(out, 'b512-cowclip-auto.json');
  const rep = JSON.parse(readFileSync(file, 'utf8')) as RunReport;
  rep.eval.auc = 0.123;
  writeFileSync(file, JSON.stringify(rep));
  const resumed = run(['--resume']);
  t.equal(resumed.status, 0, resumed.stderr.slice(-2000));
  t.match(resumed.stderr, /b256-cowclip-auto: 4 steps \(report reused\)/);
  const rows = rowsOf(resumed.stdout);
  t.equal(rows[1].auc, 0.123, 'the 512 row is the report on disk');
  t.equal(rows[0].auc, rowsOf(first.stdout)[0].auc, 'the 256 row as first measured');
  t.equal(rows[1].gapToSmallest, 0.123 - rows[0].auc!);

  // --table-only runs nothing: the reports there are tabled, a configuration without one shows as not run.
  const table = run(['--batches', '256,512,1024', '--table-only']);
  t.equal(table.status, 0, table.stderr.slice(-2000));
  t.same(rowsOf(table.stdout).map((r) => r.auc), [rows[0].auc, 0.123, null]);
  t.match(table.stdout, /\| 1024 \| cowclip \| auto \| 1 \| skipped \(not run\) \|/);
  t.notOk(existsSync(join(out, 'b1024-cowclip-auto.json')), 'no job ran');
  const empty = spawnSync(process.execPath, [BENCH, '--table-only', '--out', join(out, 'empty')], { encoding: 'utf8' });
  t.match(empty.stderr, /--table-only: no study in .* \(.*study\.json is missing\)/);
  t.notOk(existsSync(join(out, 'empty')), 'nor a folder made for it');

  const other = run(['--samples', '2048', '--resume']);
  t.not(other.status, 0);
  t.match(other.stderr, /--out: .*study\.json records a study with samples 1024, this one has 2048; use another --out or the same parameters/);
  t.equal((JSON.parse(readFileSync(file, 'utf8')) as RunReport).eval.auc, 0.123, 'the other study overwrote nothing');
});
