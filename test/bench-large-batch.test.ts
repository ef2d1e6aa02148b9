// bench/large-batch at tiny settings: one real job per batch x rule x form, and its table read against the jobs'
// own reports (AUC, the gap to the smallest batch, clip fractions), so the bench's arithmetic is checked by an
// independent reading.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
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
  clip: { all: number; tail: number; torso: number; head: number } | null;
}

t.test('large-batch: every configuration run, the table matches the runs', async (t) => {
  const out = t.testdir();
  const args = ['--data', 'quick', '--rows', '3000', '--samples', '2048', '--batches', '512,256', '--rules', 'none,cowclip', '--forms', 'paper,auto', '--mlp', '16', '--out', out, '--', '--embed-dim', '4', '--cowclip-ratio', '0.01'];
  const res = spawnSync(process.execPath, [BENCH, ...args], { encoding: 'utf8', timeout: 600_000 });
  t.equal(res.status, 0, res.stderr.slice(-2000));
  const json = JSON.parse(res.stdout.split('\n').find((l) => l.startsWith('{'))!) as { rows: Row[]; samples: number };
  t.same(json.rows.map((r) => [r.batch, r.rule, r.form]), [256, 512].flatMap((b) => ['none', 'cowclip'].flatMap((r) => ['paper', 'auto'].map((f) => [b, r, f]))), 'batches ascending, every rule and form');
  for (const r of json.rows) {
    const rep = JSON.parse(readFileSync(join(out, `b${r.batch}-${r.rule}-${r.form}.json`), 'utf8')) as RunReport;
    t.equal(rep.steps, 2048 / r.batch, `${r.batch}: the same samples at every batch`);
    t.equal(r.auc, rep.eval.auc, 'AUC from the run');
    t.equal(r.oracleAuc, rep.oracle!.auc);
    t.equal(rep.config.scaleRule, r.rule);
    t.equal(rep.config.cowclipForm, r.form);
    t.same(r.clip, { all: rep.clipFraction.mean, tail: rep.clipFraction.byBucket.tail.fraction, torso: rep.clipFraction.byBucket.torso.fraction, head: rep.clipFraction.byBucket.head.fraction });
    const base = json.rows.find((x) => x.batch === 256 && x.rule === r.rule && x.form === r.form)!;
    t.equal(r.gapToSmallest, r.auc! - base.auc!, 'the gap to the smallest batch');
  }
  t.ok(json.rows.some((r) => r.form === 'auto' && r.clip!.all > 0), 'auto scales rows down');
  t.match(res.stdout, /\| batch \| scale rule \| clip form \| steps \| eval AUC \| oracle - AUC \| AUC - AUC at 256 \|/);
});
