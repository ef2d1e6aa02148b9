/**
 * Hashed IDs (vocab.ts): HashedVocabulary per field or shared, --hash-buckets parsing, a hashed vocabulary
 * saved and loaded, --hash-buckets through loadData with a checkpoint vocabulary; and the fields check
 * that refuses a vocabulary of other fields (an Avazu one saved before the hour split) with the reason.
 *
 * Most cases run in this thread; two go through loadData or the reader (a worker each), end to end.
 */
import { join } from 'node:path';
import t from 'tap';
import { FORMATS } from '../src/data/formats.js';
import { loadData, loadVocabulary, streamWithVocabulary } from '../src/data/load.js';
import { MISSING_KEY } from '../src/data/types.js';
import { HashedVocabulary, parseHashBuckets, saveVocabulary, Vocabulary, type VocabularyMeta } from '../src/data/vocab.js';
import { base, errorOf, layoutOf, rng } from './helpers/data-formats.js';

t.test('HashedVocabulary: each field in its own K rows, or one shared space; deterministic; missing hashed', async (t) => {
  const F = 3;
  const K = 50;
  const r = rng(9);
  const rows = 2000;
  const keys = Float64Array.from({ length: rows * F }, (_, i) => (i % 97 === 0 ? MISSING_KEY : i % 5 === 0 ? Math.floor(r() * 2 ** 52) : Math.floor(r() * 300)));
  const v = new HashedVocabulary(F, { buckets: K, shared: false });
  t.same([v.fieldSizes, v.fieldOffsets, v.totalRows], [[K, K, K], [0, K, 2 * K], F * K]);
  const ids = new Int32Array(rows * F + 2);
  t.equal(v.encodeRows(keys, rows, ids, 2), 0, 'no cell is OOV');
  t.ok(ids.subarray(2).every((id, i) => id >= (i % F) * K && id < (i % F + 1) * K), "every id in its field's rows");
  const again = new Int32Array(rows * F);
  new HashedVocabulary(F, { buckets: K, shared: false }).encodeRows(keys, rows, again, 0);
  t.same(again, ids.subarray(2), 'deterministic (another instance, the same ids)');
  for (let f = 0; f < F; f++) {
    const used = new Set(Array.from({ length: rows }, (_, r) => ids[2 + r * F + f]));
    t.ok(used.size > 0.9 * K, `field ${f + 1}: ${used.size} of ${K} buckets used`);
  }
  // The missing key is a key like any other: the same bucket wherever it appears in a field.
  const missing = new Int32Array(F * 2);
  v.encodeRows(Float64Array.from([MISSING_KEY, MISSING_KEY, MISSING_KEY, 7, 7, 7]), 2, missing, 0);
  t.ok(missing.every((id, i) => id >= (i % F) * K && id < (i % F + 1) * K), 'missing -> a bucket in range');
  const again2 = new Int32Array(F);
  v.encodeRows(Float64Array.from([MISSING_KEY, MISSING_KEY, MISSING_KEY]), 1, again2, 0);
  t.same(again2, missing.subarray(0, F));
  // A key's bucket depends on its field.
  const sameKey = new Int32Array(F * 200);
  v.encodeRows(Float64Array.from({ length: F * 200 }, (_, i) => Math.floor(i / F)), 200, sameKey, 0);
  const differ = Array.from({ length: 200 }, (_, r) => sameKey[r * F] - 0 !== sameKey[r * F + 1] - K).filter(Boolean).length;
  t.ok(differ > 150, `fields hash a key differently (${differ} of 200)`);

  const shared = new HashedVocabulary(F, { buckets: K, shared: true });
  t.same([shared.fieldSizes, shared.fieldOffsets, shared.totalRows], [[K, 0, 0], [0, K, K], K]);
  const sids = new Int32Array(rows * F);
  shared.encodeRows(keys, rows, sids, 0);
  t.ok(sids.every((id) => id >= 0 && id < K), 'shared: every id in [0, K)');
  t.ok(sids.every((id, i) => id === ids[2 + i] - (i % F) * K), 'shared: the same bucket as per field, in one space');

  t.same(parseHashBuckets('1000'), { buckets: 1000, shared: false });
  t.same(parseHashBuckets(' shared:64 '), { buckets: 64, shared: true });
  for (const bad of ['0', 'x', 'shared:', 'shared:0', '1e3', '-5', String(2 ** 26 + 1), 'per:5']) {
    t.throws(() => parseHashBuckets(bad), { name: 'UserError', message: `--hash-buckets ${bad}: expected K (rows per field) or shared:K (one space for all fields), K from 1 to ${2 ** 26}` });
  }
});

t.test('a hashed vocabulary saves as vocab.json alone and loads as the same encoder', async (t) => {
  const dir = t.testdir();
  const layout = FORMATS.criteo;
  for (const shared of [false, true]) {
    const v = new HashedVocabulary(26, { buckets: 100, shared });
    const meta: VocabularyMeta = {
      format: 'criteo',
      fieldNames: [...layout.fieldNames],
      numericNames: [...layout.numericNames],
      minCount: 1,
      numeric: { kind: 'log1p' },
      layout,
      hash: { buckets: 100, shared },
    };
    const at = join(dir, shared ? 'shared' : 'per-field');
    t.same(await saveVocabulary(at, v, meta), ['vocab.json'], 'no keys file');
    const back = await loadVocabulary(at);
    t.ok(back.vocab instanceof HashedVocabulary);
    t.same(back.vocab.fieldSizes, v.fieldSizes);
    t.same(back.vocab.fieldOffsets, v.fieldOffsets);
    t.same(back.meta.hash, { buckets: 100, shared });
    t.same(back.meta.layout, layout, 'the layout is saved');
    const keys = Float64Array.from({ length: 26 * 10 }, (_, i) => i * 7919);
    const a = new Int32Array(260);
    const b = new Int32Array(260);
    v.encodeRows(keys, 10, a, 0);
    back.vocab.encodeRows(keys, 10, b, 0);
    t.same(b, a, 'encodes as the saved one');
  }
});

t.test('--hash-buckets through loadData: hashed train and eval; a checkpoint vocabulary scores the same', async (t) => {
  const rows = Array.from({ length: 60 }, (_, i) => `${i % 4 ? 0 : 1},${i % 9},${['a', 'b', 'c', ''][i % 4]},t${i}`);
  const dir = t.testdir({ 'train.csv': `${rows.slice(0, 40).join('\n')}\n`, 'eval.csv': `${rows.slice(40).join('\n')}\n` });
  const cols = ',label=1,num=2,cat=3..4';
  const evalData = `csv:${join(dir, 'eval.csv')}${cols}`;
  const d = await loadData({ ...base, data: `csv:${join(dir, 'train.csv')}${cols}`, evalData, hashBuckets: { buckets: 16, shared: false } });
  t.match(d.description, /: 40 train \/ 20 eval rows \(eval file .*eval\.csv\), 2 fields, 32 ids \(hashed, 16 rows per field\), 1 numeric \(log1p\)$/);
  t.same(d.fieldSizes, [16, 16]);
  t.ok([...d.train.ids, ...d.eval.ids].every((id, i) => id >= (i % 2) * 16 && id < (i % 2 + 1) * 16), "ids in their field's buckets");
  t.same(await d.saveVocabulary(join(dir, 'ck')), ['vocab.json']);
  const saved = { ...(await loadVocabulary(join(dir, 'ck'))), from: join(dir, 'ck') };
  t.same(saved.meta.hash, { buckets: 16, shared: false });
  const ids: number[] = [];
  await streamWithVocabulary(evalData, saved, { skipBadLines: false }, async (c) => void ids.push(...c.ids));
  t.same(ids, [...d.eval.ids], 'streamed with the saved vocabulary: the same ids');
  // The fields must match the vocabulary's.
  const other = `csv:${join(dir, 'eval.csv')},label=1,num=2,cat=4..3`;
  t.equal(
    await errorOf(() => streamWithVocabulary(`csv:${join(dir, 'eval.csv')},label=1,num=2,cat=4`, saved, { skipBadLines: false }, async () => {})),
    `--data csv:${join(dir, 'eval.csv')},label=1,num=2,cat=4: its fields differ from those of the vocabulary of ${join(dir, 'ck')} (2 vs 3; field 1 is c4 where the vocabulary of ${join(dir, 'ck')} has c3)`,
  );
  t.match(await errorOf(() => layoutOf(other)), /range 4\.\.3 runs backwards/);
  t.equal(
    await errorOf(() => loadData({ ...base, data: 'synthetic', hashBuckets: { buckets: 16, shared: false } })),
    '--hash-buckets is for files: the synthetic IDs are already rows of fixed tables',
  );
});

t.test("avazu: a vocabulary saved before the hour split (22 fields) is refused with the reason", async (t) => {
  const dir = t.testdir({ 'train.csv': `${FORMATS.avazu.columns.join(',')}\n` });
  const oldFields = ['hour', ...FORMATS.avazu.fieldNames.slice(2)];
  t.equal(oldFields.length, 22);
  t.equal(FORMATS.avazu.fieldNames.length, 23);
  const ck = join(dir, 'ck');
  await saveVocabulary(ck, new Vocabulary(oldFields.map(() => new Float64Array(0))), {
    format: 'avazu',
    fieldNames: oldFields,
    numericNames: [],
    minCount: 1,
    numeric: { kind: 'log1p' },
  });
  const saved = { ...(await loadVocabulary(ck)), from: ck };
  const data = `avazu:${join(dir, 'train.csv')}`;
  t.equal(
    await errorOf(() => streamWithVocabulary(data, saved, { skipBadLines: false }, async () => {})),
    `--data ${data}: its fields differ from those of the vocabulary of ${ck} (23 vs 22; field 1 is hour_of_day where the vocabulary of ${ck} has hour)` +
      " (Avazu's hour is now read as two fields, hour_of_day and day_of_week: a model trained on the raw hour must be retrained)",
  );
});
