/**
 * The same rows in two formats give the same data and the same trained model: a Criteo TSV and the same
 * rows as a described `csv:` with a header load identically (loadData, a reader worker each) and train
 * the same model through the CLI, where libfm and --hash-buckets also train end to end.
 *
 * The formats one by one: data-csv, data-libsvm, data-tokens (numbers and hours), data-hashing.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { FORMATS } from '../src/data/formats.js';
import { loadData } from '../src/data/load.js';
import { sameFields } from '../src/data/spec.js';
import type { LoadedData } from '../src/data/types.js';
import type { RunReport } from '../src/train/report.js';
import { base, layoutOf, rng } from './helpers/data-formats.js';
import { runLauncher } from './helpers/cli.js';

/** Criteo rows whose click depends on two fields: negative, empty and large integers, missing tokens. */
function criteoRows(n: number, seed: number): string[][] {
  const r = rng(seed);
  return Array.from({ length: n }, () => {
    const a = Math.floor(r() * 20);
    const b = Math.floor(r() * 50);
    const click = r() < (a < 8 ? 0.5 : 0.1) + (b % 5 === 0 ? 0.2 : 0) ? 1 : 0;
    const ints = Array.from({ length: 13 }, (_, j) => (j === 2 ? '' : j === 1 ? String(-Math.floor(r() * 3)) : String(Math.floor(r() * 100 * (j + 1)))));
    const cats = Array.from({ length: 26 }, (_, f) => (f === 5 && r() < 0.3 ? '' : (f === 0 ? a : f === 1 ? b : Math.floor(r() * 30) + f * 1000).toString(16).padStart(8, '0')));
    return [String(click), ...ints, ...cats];
  });
}

const criteoFiles = (rows: string[][]) => ({
  'rows.tsv': rows.map((c) => c.join('\t')).join('\n') + '\n',
  'rows.csv': [FORMATS.criteo.columns.join(','), ...rows.map((c) => c.join(','))].join('\n') + '\n',
});
const CSV_COLS = ',header=true,label=label,num=I1..I13,cat=C1..C26';

function sameLoaded(t: Test, a: LoadedData, b: LoadedData, name: string): void {
  for (const s of ['train', 'eval'] as const) {
    t.same(a[s].labels, b[s].labels, `${name}: ${s} labels`);
    t.same(a[s].numeric, b[s].numeric, `${name}: ${s} numeric`);
    t.same(a[s].ids, b[s].ids, `${name}: ${s} ids`);
  }
  t.same(a.fieldSizes, b.fieldSizes, `${name}: field sizes`);
}

t.test('a Criteo TSV and the same rows as a CSV with a header give identical data', async (t) => {
  const dir = t.testdir(criteoFiles(criteoRows(400, 3)));
  const tsv = `criteo:${join(dir, 'rows.tsv')}`;
  const csv = `csv:${join(dir, 'rows.csv')}${CSV_COLS}`;
  const criteoLayout = await layoutOf(tsv);
  const csvLayout = await layoutOf(csv);
  t.ok(sameFields(criteoLayout, csvLayout), 'the same field and numeric names');
  for (const opts of [{ minCount: 1 }, { minCount: 2, numericTransform: 'minmax' as const }]) {
    const a = await loadData({ ...base, ...opts, data: tsv });
    const b = await loadData({ ...base, ...opts, data: csv });
    t.equal(a.train.rows, 300);
    t.equal(a.eval.rows, 100);
    sameLoaded(t, a, b, `min-count ${opts.minCount}`);
    t.equal(b.description.replace(/^csv .*?rows\.csv/, ''), a.description.replace(/^criteo .*?rows\.tsv/, ''), 'the same description but for the file');
  }
});

// ---------------------------------------------------------------------------------------------------
// End to end: the CLI

t.test('CLI: criteo and csv train the same model; libfm and --hash-buckets train', async (t) => {
  const lib = criteoRows(600, 5).map((c) => `${c[0] === '1' ? '+1' : '-1'} ${parseInt(c[14], 16)}:1 ${100 + parseInt(c[15], 16)}:1 200:${Number(c[1]) / 10}`);
  const dir = t.testdir({ ...criteoFiles(criteoRows(500, 4)), 'rows.libfm': lib.join('\n') + '\n' });
  const train = async (name: string, data: string, extra: string[] = []) => {
    const report = join(dir, `${name}.json`);
    const r = await runLauncher(['-n', '1', '--data', data, '--split', 'sequential:0.2', '--steps', '20', '--mlp', '16', '--embed-dim', '4', '--log-every', '0', '--report', report, ...extra]);
    t.equal(r.code, 0, `${name} exits 0`, { stderr: r.stderr.slice(-2000) });
    const rep = r.code === 0 ? (JSON.parse(readFileSync(report, 'utf8')) as RunReport) : undefined;
    return { r, rep };
  };
  const tsv = await train('tsv', `criteo:${join(dir, 'rows.tsv')}`);
  const csv = await train('csv', `csv:${join(dir, 'rows.csv')}${CSV_COLS}`);
  t.match(tsv.rep?.paramChecksums[0], /^[0-9a-f]{16}$/);
  t.equal(csv.rep?.paramChecksums[0], tsv.rep?.paramChecksums[0], 'the same paramChecksum');
  t.equal(csv.rep?.eval.auc, tsv.rep?.eval.auc, 'the same eval AUC');
  t.match(csv.r.stdout, /\[r0\] data: csv .*rows\.csv: 400 train \/ 100 eval rows/);

  const fm = await train('libfm', `libfm:${join(dir, 'rows.libfm')},num=3`);
  t.match(fm.r.stdout, /\[r0\] data: libfm .*rows\.libfm: 480 train \/ 120 eval rows .*, 2 fields, .*1 numeric/);
  t.equal(fm.rep?.steps, 20);
  t.ok(fm.rep && fm.rep.eval.auc > 0.5 && fm.rep.eval.auc < 1, `libfm: eval AUC ${fm.rep?.eval.auc}`);

  const hashed = await train('hashed', `criteo:${join(dir, 'rows.tsv')}`, ['--hash-buckets', '1000']);
  t.match(hashed.r.stdout, /\[r0\] data: criteo .*rows\.tsv: 400 train \/ 100 eval rows .*26 fields, 26000 ids \(hashed, 1000 rows per field\)/);
  t.equal(hashed.rep?.steps, 20);
  t.not(hashed.rep?.paramChecksums[0], tsv.rep?.paramChecksums[0], 'other IDs, another model');
});
