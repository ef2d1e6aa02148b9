import { join } from 'node:path';
import t from 'tap';
import { generateSynthetic } from '../../src/data/synthetic.js';
import { parseSyntheticSpec, SYNTHETIC_PRESETS, V1_VOCAB_SIZES } from '../../src/data/synthetic-spec.js';
import type { LoadedData } from '../../src/data/types.js';
import { loadVocabulary } from '../../src/data/vocab.js';

const small = (extra = ''): LoadedData =>
  generateSynthetic(parseSyntheticSpec(`synthetic:quick,rows=3000,eval-rows=1000,calib-rows=20000${extra}`).options);

t.test('spec parsing: presets, keys, defaults', async (t) => {
  t.equal(parseSyntheticSpec('synthetic').preset, 'quick');
  t.same(parseSyntheticSpec('synthetic').options, SYNTHETIC_PRESETS.quick);
  t.same(parseSyntheticSpec('synthetic:v1').options, SYNTHETIC_PRESETS.v1);
  t.same(SYNTHETIC_PRESETS.v1.vocabSizes, V1_VOCAB_SIZES);
  t.equal(SYNTHETIC_PRESETS.v1.trainRows, 2_000_000);
  t.equal(SYNTHETIC_PRESETS.v1.evalRows, 200_000);
  t.equal(SYNTHETIC_PRESETS.quick.vocabSizes.length, 26);
  t.ok(SYNTHETIC_PRESETS.quick.vocabSizes.every((v, f) => v >= 3 && v <= Math.max(3, V1_VOCAB_SIZES[f] / 100 + 1)));

  const { preset, options } = parseSyntheticSpec('synthetic:quick,rows=100000,eval-rows=20000,seed=3');
  t.equal(preset, 'quick');
  t.match(options, { trainRows: 100000, evalRows: 20000, seed: 3 });
  t.match(parseSyntheticSpec('synthetic:rows=5').options, { trainRows: 5, vocabSizes: SYNTHETIC_PRESETS.quick.vocabSizes });
  const o = parseSyntheticSpec('synthetic:v1,vocab=5/6/7,numeric=2,zipf=1.3,rank=8,shares=1/1/2,auc=0.7,ctr=0.1,scale-min=0.5,scale-max=2,vocab-scale=0.5').options;
  t.match(o, { numNumeric: 2, zipfExponent: 1.3, pairRank: 8, shares: [1, 1, 2], targetAuc: 0.7, clickRate: 0.1, scaleMin: 0.5, scaleMax: 2 });
  t.same(o.vocabSizes, V1_VOCAB_SIZES.map((v) => Math.max(3, Math.round(v / 2))), 'the last of vocab / vocab-scale wins');
  t.same(parseSyntheticSpec('synthetic:vocab=5/6/7').options.vocabSizes, [5, 6, 7]);
  t.same(SYNTHETIC_PRESETS.quick.vocabSizes, SYNTHETIC_PRESETS.quick.vocabSizes.slice(), 'presets are not mutated');

  const bad: [string, RegExp][] = [
    ['synthetic:quick,foo=1', /^--data synthetic:quick,foo=1: unknown synthetic option "foo"; valid keys: rows, eval-rows, seed, vocab, vocab-scale, numeric, zipf, rank, shares, scale-min, scale-max, auc, ctr, calib-rows$/],
    ['synthetic:huge', /unknown synthetic preset "huge"; presets: v1, quick/],
    ['synthetic:quick,rows', /"rows" is not key=value; valid keys: rows,/],
    ['synthetic:rows=abc', /rows must be a positive integer, found "abc"/],
    ['synthetic:rows=0', /rows must be a positive integer, found "0"/],
    ['synthetic:rows=1.5', /rows must be a positive integer/],
    ['synthetic:seed=-1', /seed must be a non-negative integer/],
    ['synthetic:auc=1', /auc must lie strictly between 0\.5 and 1/],
    ['synthetic:ctr=0', /ctr must lie strictly between 0 and 1/],
    ['synthetic:shares=1/2', /shares must be 3 numbers separated by "\/"/],
    ['synthetic:vocab=3/x', /vocab must be a positive integer, found "3\/x"/],
    ['synthetic:scale-min=2', /need 0 < scale-min <= scale-max/],
    ['synthetic:zipf=', /zipf must be a number, found ""/],
  ];
  for (const [spec, re] of bad) t.throws(() => parseSyntheticSpec(spec), { name: 'UserError', message: re }, spec);
});

t.test('quick preset: oracle near its target AUC, click rate, planted structure', async (t) => {
  const d = generateSynthetic(SYNTHETIC_PRESETS.quick, 'log1p', 'synthetic:quick');
  const o = SYNTHETIC_PRESETS.quick;
  t.equal(d.train.rows, o.trainRows);
  t.equal(d.eval.rows, o.evalRows);
  const oracle = d.oracle as { auc: number; logloss: number };
  t.ok(Math.abs(oracle.auc - 0.78) < 0.03, `oracle AUC ${oracle.auc}`);
  t.ok(oracle.logloss > 0.3 && oracle.logloss < 0.56, `oracle logloss ${oracle.logloss}`);
  const clicks = d.train.labels.reduce((a, b) => a + b, 0) / d.train.rows;
  t.ok(Math.abs(clicks - 0.25) < 0.015, `click rate ${clicks}`);
  t.match(d.description, /^synthetic:quick \(seed 1\): 300000 train \/ 20000 eval rows, 26 fields \(\d+ ids\), 13 numeric \(log1p\); oracle AUC 0\.7\d+/);

  t.same(d.fieldSizes, o.vocabSizes.map((v) => v + 1), 'one OOV row per field on top');
  t.equal(d.totalRows, d.fieldSizes.reduce((a, b) => a + b));
  t.equal(d.fieldOffsets[1], d.fieldSizes[0]);
  let inRange = true;
  const F = 26;
  const counts = new Float64Array(d.totalRows);
  for (const split of [d.train, d.eval]) {
    for (let i = 0; i < split.ids.length; i++) {
      const f = i % F;
      const local = split.ids[i] - d.fieldOffsets[f];
      if (local < 1 || local >= d.fieldSizes[f]) inRange = false;
      counts[split.ids[i]]++;
    }
    t.ok(split.numeric.every(Number.isFinite) && split.numeric.every((x) => x >= 0), 'numeric: finite log1p values');
    t.equal(split.numeric.length, split.rows * 13);
    const p = split.trueProb as Float32Array;
    t.ok(p.every((x) => x > 0 && x < 1), 'trueProb in (0, 1)');
  }
  t.ok(inRange, 'ids inside their field, never the OOV row');
  // Zipf 1.1: rank 0 is drawn 2^1.1 ~ 2.14 times as often as rank 1 (field C3, 200 IDs).
  const off = d.fieldOffsets[2];
  const ratio = counts[off + 1] / counts[off + 2];
  t.ok(ratio > 1.9 && ratio < 2.4, `rank 0 / rank 1 frequency ${ratio.toFixed(3)}`);
});

t.test('deterministic by seed; more rows keep the first rows', async (t) => {
  const a = small();
  const b = small();
  t.same(a.train.ids, b.train.ids);
  t.same(a.train.labels, b.train.labels);
  t.same(a.eval.trueProb, b.eval.trueProb);
  t.same(a.train.numeric, b.train.numeric);
  t.same(a.oracle, b.oracle);
  const c = small(',seed=2');
  t.not(c.train.ids.join(), a.train.ids.join(), 'another seed, other data');
  const longer = small(',rows=4000');
  t.same(longer.train.ids.subarray(0, a.train.ids.length), a.train.ids, 'train prefix unchanged');
  t.same(longer.train.labels.subarray(0, 3000), a.train.labels);
  t.same(longer.eval.ids, a.eval.ids, 'eval unchanged');
});

t.test('minmax numeric transform, no numeric features, saved vocabulary', async (t) => {
  const d = generateSynthetic(parseSyntheticSpec('synthetic:rows=2000,eval-rows=500,calib-rows=10000').options, 'minmax');
  t.ok(d.train.numeric.every((x) => x >= 0 && x <= 1) && d.eval.numeric.every((x) => x >= 0 && x <= 1));
  t.equal(Math.max(...d.train.numeric), 1);

  const none = small(',numeric=0');
  t.equal(none.train.numNumeric, 0);
  t.equal(none.train.numeric.length, 0);
  t.ok(Math.abs((none.oracle as { auc: number }).auc - 0.78) < 0.05, 'AUC target still met without numeric features');

  const dir = t.testdir({});
  t.same(await d.saveVocabulary(join(dir, 'ck')), ['vocab.json', 'vocab-keys.f64']);
  const { vocab, meta } = await loadVocabulary(join(dir, 'ck'));
  t.same(vocab.fieldSizes, d.fieldSizes);
  t.equal(meta.format, 'synthetic');
  t.equal(meta.numeric.kind, 'minmax');
  t.match(meta.source, { trainRows: 2000, evalRows: 500 });
});
