import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { KeyTable } from '../../src/data/keytable.js';
import { applyNumeric, NumericStats } from '../../src/data/numeric.js';
import { isEvalLine, parseSplit } from '../../src/data/split.js';
import { MISSING_KEY } from '../../src/data/types.js';
import { loadVocabulary, saveVocabulary, VocabCounter, Vocabulary } from '../../src/data/vocab.js';
import { UserError } from '../../src/util/errors.js';
import { Rng } from '../../src/util/rng.js';

t.test('KeyTable maps keys to insertion ids across growth', async (t) => {
  const table = new KeyTable(4);
  const rng = new Rng(3);
  const keys = [MISSING_KEY, 0, 2 ** 53 - 1, 2 ** 32, 2 ** 32 + 1, 0xffffffff];
  for (let i = 0; i < 50_000; i++) keys.push(Math.floor(rng.next() * 2 ** 53));
  const expected = new Map<number, number>();
  let ok = true;
  for (const k of keys) {
    if (!expected.has(k)) expected.set(k, expected.size);
    if (table.insert(k) !== expected.get(k)) ok = false;
  }
  t.ok(ok, 'insert returns the first-insertion id');
  t.equal(table.size, expected.size);
  for (const [k, id] of expected) if (table.get(k) !== id || table.keys[id] !== k) ok = false;
  t.ok(ok, 'every key found with its id');
  t.equal(table.get(12345.5), -1);
  t.equal(table.get(7), expected.has(7) ? expected.get(7) : -1);
});

/** Field 0: key 10 x3, key 20 x2, MISSING x2, key 30 x1; field 1: key 5 in every row. */
const TRAIN_KEYS = Float64Array.from([10, 5, 10, 5, 20, 5, MISSING_KEY, 5, 10, 5, 20, 5, 30, 5, MISSING_KEY, 5]);

t.test('VocabCounter: min-count, order by count then key, missing is a token, OOV = 0', async (t) => {
  const counter = new VocabCounter(2);
  const pids = new Int32Array(TRAIN_KEYS.length);
  counter.countRows(TRAIN_KEYS, 8, pids);
  const { vocab, remap } = counter.build(2);
  // Field 0: 10 (3) first, then MISSING (2) and 20 (2) tied -> by key; 30 (1) is dropped.
  t.same([...vocab.fieldKeys[0]], [10, MISSING_KEY, 20]);
  t.same([...vocab.fieldKeys[1]], [5]);
  t.same(vocab.fieldSizes, [4, 2]);
  t.same(vocab.fieldOffsets, [0, 4]);
  t.equal(vocab.totalRows, 6);
  const local = [...pids].filter((_, i) => i % 2 === 0).map((p) => remap[0][p]);
  t.same(local, [1, 1, 3, 2, 1, 3, 0, 2], 'rows of field 0 -> local indices (30 -> OOV)');

  const ids = new Int32Array(8);
  const oov = vocab.encodeRows(Float64Array.from([10, 5, 30, 5, 99, 6, MISSING_KEY, 5]), 4, ids, 0);
  t.same([...ids], [1, 5, 0, 5, 0, 4, 2, 5], 'unseen and rare keys -> the field OOV row');
  t.equal(oov, 3);

  const all = new VocabCounter(2);
  all.countRows(TRAIN_KEYS, 8, new Int32Array(16));
  t.same([...all.build(1).vocab.fieldKeys[0]], [10, MISSING_KEY, 20, 30], 'min-count 1 keeps everything');
  t.same([...all.build(4).vocab.fieldKeys[0]], [], 'a field can be all OOV');
  t.same(all.build(4).vocab.fieldSizes, [1, 2]);
});

t.test('VocabCounter: lookups do not count, uncount takes rows back', async (t) => {
  const counter = new VocabCounter(2);
  const pids = new Int32Array(16);
  counter.countRows(TRAIN_KEYS, 8, pids);
  const looked = new Int32Array(4);
  counter.lookupRows(Float64Array.from([30, 5, 77, 5]), 2, looked);
  t.equal(looked[2], -1, 'unknown key -> -1');
  t.same([...counter.build(2).vocab.fieldKeys[0]], [10, MISSING_KEY, 20]);
  counter.uncountRows(pids, 4, 8); // rows 4..7 become eval: 10, 20, 30, MISSING
  t.same([...counter.build(1).vocab.fieldKeys[0]], [10, MISSING_KEY, 20], 'rows 0..3: 10 x2, 20 and MISSING x1');
  t.same([...counter.build(2).vocab.fieldKeys[0]], [10]);
});

t.test('vocabulary files round-trip', async (t) => {
  const dir = t.testdir({});
  const vocab = new Vocabulary([Float64Array.from([10, MISSING_KEY, 2 ** 53 - 1]), new Float64Array(0), Float64Array.from([7])]);
  const meta = {
    format: 'criteo',
    fieldNames: ['C1', 'C2', 'C3'],
    numericNames: ['I1'],
    minCount: 2,
    numeric: { kind: 'minmax' as const, min: [-1], max: [9] },
  };
  const files = await saveVocabulary(join(dir, 'ckpt'), vocab, meta);
  t.same(files, ['vocab.json', 'vocab-keys.f64']);
  t.equal(readFileSync(join(dir, 'ckpt', 'vocab-keys.f64')).length, 4 * 8);
  const back = await loadVocabulary(join(dir, 'ckpt'));
  t.same(back.meta, meta);
  t.same(back.vocab.fieldSizes, [4, 1, 2]);
  t.same((back.vocab as Vocabulary).fieldKeys.map((k) => [...k]), [[10, MISSING_KEY, 2 ** 53 - 1], [], [7]]);
  const ids = new Int32Array(3);
  back.vocab.encodeRows(Float64Array.from([2 ** 53 - 1, 1, 7]), 1, ids, 0);
  t.same([...ids], [3, 4, 6]);

  await t.rejects(loadVocabulary(join(dir, 'nope')), { name: 'UserError', message: /cannot read the vocabulary .*nope.vocab\.json/ });
  const badDir = t.testdir({ 'vocab.json': readFileSync(join(dir, 'ckpt', 'vocab.json')), 'vocab-keys.f64': Buffer.alloc(8) });
  await t.rejects(loadVocabulary(badDir), { name: 'UserError', message: /vocab-keys\.f64: 8 bytes, expected 32/ });
});

t.test('numeric transforms: log1p (odd for negatives), minmax from train, missing -> 0', async (t) => {
  const raw = Float64Array.from([0, 3, -3, NaN, 1e15, 7]); // rows of width 2
  const out = new Float32Array(6);
  applyNumeric({ kind: 'log1p' }, raw, out, 2);
  const want = [0, Math.log1p(3), -Math.log1p(3), 0, Math.log1p(1e15), Math.log1p(7)];
  t.ok(out.every((v, i) => Math.abs(v - want[i]) < 1e-5), 'log1p');

  const stats = new NumericStats(2);
  stats.add(Float64Array.from([0, 10, 4, NaN, 2, 30]), 0, 3);
  const params = stats.params('minmax');
  t.same(params, { kind: 'minmax', min: [0, 10], max: [4, 30] });
  const evalRaw = Float64Array.from([2, 20, -5, 99, NaN, 10]);
  applyNumeric(params, evalRaw, out, 2);
  t.same([...out], [0.5, 0.5, 0, 1, 0, 0], 'clamped to [0, 1], missing 0');
  // Offsets address whole rows: the column is (srcOffset + i) % width.
  const part = new Float32Array(2);
  applyNumeric(params, evalRaw, part, 2, 2, 0, 2);
  t.same([...part], [0, 1]);

  const empty = new NumericStats(1);
  empty.add(Float64Array.from([NaN]), 0, 1);
  t.same(empty.params('minmax'), { kind: 'minmax', min: [0], max: [0] }, 'an all-missing column maps to 0');
  t.same(new NumericStats(1).params('log1p'), { kind: 'log1p' });
});

t.test('split specs and the per-line random split', async (t) => {
  t.same(parseSplit('random:0.1'), { kind: 'random', fraction: 0.1 });
  t.same(parseSplit('sequential:0.25'), { kind: 'sequential', fraction: 0.25 });
  for (const bad of ['random:abc', 'random:0', 'random:1', 'random:1.5', 'random', 'shuffle:0.1', 'random:-0.1', '']) {
    t.throws(() => parseSplit(bad), { name: 'UserError', message: /^--split .*expected random:F or sequential:F .*strictly between 0 and 1/ }, bad);
  }
  t.ok(new UserError('x') instanceof Error);
  const n = 200_000;
  for (const [seed, f] of [
    [1, 0.1],
    [2, 0.1],
    [1, 0.5],
    [7, 0.02],
  ]) {
    let k = 0;
    for (let line = 1; line <= n; line++) if (isEvalLine(seed, line, f)) k++;
    const sd = Math.sqrt(n * f * (1 - f));
    t.ok(Math.abs(k - n * f) < 4 * sd, `seed ${seed}, F ${f}: ${k} of ${n}`);
  }
  let same = 0;
  for (let line = 1; line <= 10_000; line++) if (isEvalLine(1, line, 0.5) === isEvalLine(2, line, 0.5)) same++;
  t.ok(same > 4700 && same < 5300, 'different seeds give independent splits');
});
