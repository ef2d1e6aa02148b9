import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t, { type Test } from 'tap';
import { realSample } from './helpers/cli.js';
import { loadData, loadVocabulary, streamWithVocabulary, type DataOptions } from '../src/data/load.js';
import { parseDataSpec } from '../src/data/spec.js';
import { isEvalLine } from '../src/data/split.js';
import type { EncodedData, LoadedData } from '../src/data/types.js';

const base: DataOptions = {
  data: 'synthetic',
  split: 'random:0.1',
  seed: 1,
  minCount: 1,
  numericTransform: 'log1p',
  skipBadLines: false,
};

/**
 * Criteo line for row i: I1 = i (so a row can be recognised after encoding), C1 = `c1`,
 * C2 = i as hex (unique per row), other cells fixed or missing.
 */
function line(i: number, c1: string, label = i % 3 === 0 ? 1 : 0): string {
  const ints = Array.from({ length: 13 }, (_, j) => (j === 0 ? String(i) : j === 2 ? '-4' : ''));
  const cats = Array.from({ length: 26 }, (_, j) => (j === 0 ? c1 : j === 1 ? i.toString(16).padStart(8, '0') : j === 2 ? '' : 'abcdef01'));
  return [String(label), ...ints, ...cats].join('\t');
}

/** Row identity from the log1p-transformed I1. */
const rowIds = (d: EncodedData): number[] =>
  Array.from({ length: d.rows }, (_, r) => Math.round(Math.expm1(d.numeric[r * d.numNumeric])));

function checkEncoded(t: Test, d: LoadedData, split: EncodedData, name: string): void {
  const F = split.numCategorical;
  let ok = true;
  for (let i = 0; i < split.ids.length; i++) {
    const f = i % F;
    const id = split.ids[i];
    if (id < d.fieldOffsets[f] || id >= d.fieldOffsets[f] + d.fieldSizes[f]) ok = false;
  }
  t.ok(ok, `${name}: every id inside its field's rows`);
  t.ok(split.numeric.every(Number.isFinite), `${name}: numeric finite`);
  t.ok(split.labels.every((y) => y === 0 || y === 1), `${name}: labels 0/1`);
  t.equal(split.ids.length, split.rows * F);
  t.equal(split.numeric.length, split.rows * split.numNumeric);
}

t.test('data specs and option errors name the flag', async (t) => {
  t.same(parseDataSpec('synthetic', '--data'), { kind: 'synthetic', spec: 'synthetic' });
  t.same(parseDataSpec('synthetic:v1,rows=10', '--data'), { kind: 'synthetic', spec: 'synthetic:v1,rows=10' });
  t.same(parseDataSpec('criteo:/a/b:c.tsv', '--data'), { kind: 'criteo', path: '/a/b:c.tsv', options: {} });
  t.same(parseDataSpec('avazu:x.csv', '--eval-data'), { kind: 'avazu', path: 'x.csv', options: {} });
  const bad: [() => unknown, RegExp][] = [
    [() => parseDataSpec('parquet:x', '--data'), /^--data "parquet:x": unknown data kind "parquet"; expected synthetic\[:PRESET\]\[,key=value\.\.\.\], criteo:PATH, avazu:PATH, csv:PATH,label=COL,cat=COLS,num=COLS, libsvm:PATH or libfm:PATH$/],
    [() => parseDataSpec('criteo', '--data'), /^--data "criteo": missing file path; expected criteo:PATH$/],
    [() => parseDataSpec('criteo:', '--eval-data'), /^--eval-data "criteo:": missing file path/],
    [() => parseDataSpec('synthetic', '--eval-data'), /^--eval-data "synthetic": synthetic data brings its own eval split/],
    [() => parseDataSpec('x', '--eval-data'), /^--eval-data "x": unknown data kind "x"; expected criteo:PATH, avazu:PATH, csv:PATH,label=COL,cat=COLS,num=COLS, libsvm:PATH or libfm:PATH$/],
  ];
  for (const [fn, re] of bad) t.throws(fn, { name: 'UserError', message: re });
  const rejects: [Partial<DataOptions>, RegExp][] = [
    [{ data: 'criteo:x', split: 'random:abc' }, /^--split "random:abc": expected random:F or sequential:F/],
    [{ data: 'criteo:x', split: 'sequential:1' }, /^--split "sequential:1"/],
    [{ data: 'synthetic:quick,bogus=1' }, /^--data synthetic:quick,bogus=1: unknown synthetic option "bogus"/],
    [{ data: 'synthetic', evalData: 'criteo:x' }, /^--eval-data cannot be combined with --data synthetic/],
    [{ data: 'criteo:x', evalData: 'avazu:y' }, /^--eval-data avazu:y: its format \(avazu\) must match --data's \(criteo\)$/],
    [{ minCount: 0 }, /^--min-count 0: expected an integer >= 1/],
    [{ numericTransform: 'log' as 'log1p' }, /^--numeric-transform log: expected log1p or minmax/],
  ];
  for (const [opts, re] of rejects) await t.rejects(loadData({ ...base, ...opts }), { name: 'UserError', message: re });
});

t.test('synthetic through loadData', async (t) => {
  const msgs: string[] = [];
  const d = await loadData({ ...base, data: 'synthetic:rows=2000,eval-rows=500,calib-rows=10000', onProgress: (m) => msgs.push(m) });
  t.equal(d.train.rows, 2000);
  t.equal(d.eval.rows, 500);
  t.ok(d.oracle && d.oracle.auc > 0.7);
  t.match(msgs[0], /generating synthetic:rows=2000/);
  checkEncoded(t, d, d.train, 'train');
});

t.test('random split: by line hash, disjoint, complete; vocabulary from train only', async (t) => {
  const n = 20_000;
  // C1 of the first eval line is a key met there first, and on train lines only in a later chunk (16K rows).
  const firstEval = Array.from({ length: n }, (_, i) => i + 1).find((l) => isEvalLine(5, l, 0.25)) as number;
  const c1 = (l: number): string => (l === firstEval || l > 17_000 ? 'dddddddd' : l % 2 ? 'aaaaaaaa' : 'bbbbbbbb');
  const text = Array.from({ length: n }, (_, i) => line(i + 1, c1(i + 1))).join('\n');
  const dir = t.testdir({ 'd.tsv': text });
  const d = await loadData({ ...base, data: `criteo:${join(dir, 'd.tsv')}`, split: 'random:0.25', seed: 5, minCount: 1 });
  const trainIds = rowIds(d.train);
  const evalIds = rowIds(d.eval);
  t.same([...trainIds, ...evalIds].sort((a, b) => a - b), Array.from({ length: n }, (_, i) => i + 1), 'every row once');
  t.same(evalIds, Array.from({ length: n }, (_, i) => i + 1).filter((l) => isEvalLine(5, l, 0.25)), 'eval = hashed lines, in order');
  t.ok(Math.abs(evalIds.length / n - 0.25) < 0.04, `eval fraction ${evalIds.length / n}`);
  checkEncoded(t, d, d.train, 'train');
  checkEncoded(t, d, d.eval, 'eval');
  // C2 is unique per row, so every eval row's C2 is unseen in train -> OOV; train rows' C2 are kept.
  const F = 26;
  t.ok(Array.from({ length: d.eval.rows }, (_, r) => d.eval.ids[r * F + 1]).every((id) => id === d.fieldOffsets[1]));
  t.equal(d.fieldSizes[1], d.train.rows + 1);
  t.equal(d.fieldSizes[0], 4, 'three keys + OOV');
  t.equal(evalIds[0], firstEval);
  t.equal(d.eval.ids[0], d.train.ids[(d.train.rows - 1) * F], 'a key met first on an eval line still gets its train row');
  t.not(d.eval.ids[0], 0);
  t.equal(d.fieldSizes[2], 2, 'missing is a token');
  t.ok(Math.abs(d.eval.numeric[2] + Math.log1p(4)) < 1e-6, 'negative ints: -log1p(-x)');
  t.ok(d.eval.numeric.every((x, i) => i % 13 < 3 || x === 0), 'missing numeric -> 0');
  t.match(d.description, /^criteo .*d\.tsv: \d+ train \/ \d+ eval rows \(random:0\.25 split, seed 5\), 26 fields, \d+ ids \(min-count 1\), 13 numeric \(log1p\); eval OOV [\d.]+% of cells$/);
  t.equal(d.skippedLines, 0);
});

t.test('sequential split with bad lines skipped; min-count; minmax', async (t) => {
  const lines = Array.from({ length: 100 }, (_, i) => line(i + 1, i >= 80 ? 'eeeeeeee' : i === 3 ? 'cccccccc' : 'aaaaaaaa'));
  lines.splice(10, 0, 'garbage');
  lines.splice(50, 0, line(0, 'aaaaaaaa', 5));
  const dir = t.testdir({ 'd.tsv': `${lines.join('\r\n')}\r\n` });
  const opts = { ...base, data: `criteo:${join(dir, 'd.tsv')}`, split: 'sequential:0.2', minCount: 2, skipBadLines: true };
  const d = await loadData({ ...opts, numericTransform: 'minmax' });
  t.equal(d.skippedLines, 2);
  t.match(d.description, /; 2 bad lines skipped$/);
  t.equal(d.train.rows, 80);
  t.equal(d.eval.rows, 20);
  // minmax on I1 = row id: train min 1, max 80; eval rows (81..100) clamp to 1.
  t.same(Array.from({ length: 3 }, (_, r) => Math.round(d.train.numeric[r * 13] * 79 + 1)), [1, 2, 3]);
  t.ok(Array.from({ length: 20 }, (_, r) => d.eval.numeric[r * 13]).every((x) => x === 1), 'eval clamped to 1');
  t.ok(d.train.numeric.every((x) => x >= 0 && x <= 1) && d.eval.numeric.every((x) => x >= 0 && x <= 1));
  // C1: 'aaaaaaaa' x79 kept; 'cccccccc' x1 below min-count; 'eeeeeeee' only in eval rows -> OOV.
  t.equal(d.fieldSizes[0], 2);
  t.ok(Array.from({ length: 20 }, (_, r) => d.eval.ids[r * 26]).every((id) => id === 0), 'eval-only key is OOV');
  t.equal(d.train.ids[3 * 26], 0, 'rare train key is OOV');
  t.equal(d.train.ids[0], 1);
});

t.test('separate eval file, saved vocabulary scores new data identically', async (t) => {
  const train = Array.from({ length: 300 }, (_, i) => line(i + 1, i % 4 ? 'aaaaaaaa' : '0000abcd')).join('\n');
  const evalText = Array.from({ length: 50 }, (_, i) => line(i + 1000, i % 2 ? '0000abcd' : 'ffffffff')).join('\n');
  const dir = t.testdir({ 'train.tsv': train, 'eval.tsv': evalText });
  const evalData = `criteo:${join(dir, 'eval.tsv')}`;
  const d = await loadData({ ...base, data: `criteo:${join(dir, 'train.tsv')}`, evalData, split: 'sequential:0.5', minCount: 2 });
  t.equal(d.train.rows, 300, 'the split is not applied');
  t.equal(d.eval.rows, 50);
  t.match(d.description, /300 train \/ 50 eval rows \(eval file .*eval\.tsv\)/);
  t.match(d.description, /eval OOV [\d.]+% of cells/);
  t.same(
    Array.from({ length: 4 }, (_, r) => d.eval.ids[r * 26]),
    [0, 2, 0, 2],
    "'ffffffff' unseen in train -> OOV; '0000abcd' (75 in train) is local 2",
  );
  const files = await d.saveVocabulary(join(dir, 'ckpt'));
  t.same(files, ['vocab.json', 'vocab-keys.f64']);
  const saved = { ...(await loadVocabulary(join(dir, 'ckpt'))), from: join(dir, 'ckpt') };
  t.equal(saved.meta.format, 'criteo');
  const chunks: { ids: number[]; numeric: number[]; labels: number[] }[] = [];
  const stream = (spec: string, labelled?: boolean) =>
    streamWithVocabulary(spec, saved, { skipBadLines: false, labelled, chunkRows: 16 }, async (c) => {
      await new Promise((r) => setTimeout(r, 1)); // an async consumer: chunks must still come one at a time, in order
      chunks.push({ ids: [...c.ids], numeric: [...c.numeric], labels: [...c.labels] });
    });
  await stream(evalData);
  t.same(chunks.map((c) => c.ids.length / 26), [16, 16, 16, 2], 'streamed in chunks of 16 rows');
  t.same(chunks.flatMap((c) => c.ids), [...d.eval.ids], 'encoded as the training run encoded its eval rows');
  t.same(chunks.flatMap((c) => c.numeric), [...d.eval.numeric]);
  t.same(chunks.flatMap((c) => c.labels), [...d.eval.labels]);
  // The same rows without their label column (Criteo's test.txt layout).
  const unlabelled = join(dir, 'nolabel.tsv');
  writeFileSync(unlabelled, evalText.split('\n').map((l) => l.split('\t').slice(1).join('\t')).join('\n'));
  chunks.length = 0;
  await stream(`criteo:${unlabelled}`, false);
  t.same(chunks.flatMap((c) => c.ids), [...d.eval.ids], 'a file without labels encodes the same');
  t.ok(chunks.every((c) => c.labels.every((l) => l === 0)), 'its labels read as 0');
  await t.rejects(stream(`criteo:${unlabelled}`), { name: 'UserError', message: /nolabel\.tsv, line 1: / }, 'read as labelled, it is refused');
  await t.rejects(stream('avazu:x.csv'), {
    name: 'UserError',
    message: /the vocabulary of .*ckpt was built from criteo data/,
  });
});

// Real excerpts live beside the repository (../shared/data), never inside it.
const samples = [
  { kind: 'criteo', file: 'criteo-sample/train.tsv.gz', rows: 8000, fields: 26, numeric: 13 },
  { kind: 'avazu', file: 'avazu-sample/train.csv.gz', rows: 8999, fields: 23, numeric: 0 }, // hour -> hour_of_day, day_of_week
];
for (const s of samples) {
  t.test(`real sample: ${s.file}`, async (t) => {
    const path = realSample(t, s.file);
    if (!path) return;
    const d = await loadData({ ...base, data: `${s.kind}:${path}`, minCount: 2 });
    t.equal(d.train.rows + d.eval.rows, s.rows);
    t.ok(Math.abs(d.eval.rows / s.rows - 0.1) < 0.02, `eval fraction ${d.eval.rows / s.rows}`);
    t.equal(d.train.numCategorical, s.fields);
    t.equal(d.train.numNumeric, s.numeric);
    t.equal(d.fieldSizes.length, s.fields);
    t.equal(d.skippedLines, 0);
    const ctr = d.train.labels.reduce((a, b) => a + b, 0) / d.train.rows;
    t.ok(ctr > 0.1 && ctr < 0.4, `click rate ${ctr.toFixed(3)}`);
    checkEncoded(t, d, d.train, 'train');
    checkEncoded(t, d, d.eval, 'eval');
    t.comment(d.description);
  });
}
