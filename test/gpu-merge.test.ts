// The per-ID merge on the GPU (src/gpu/merge.ts) against the host's mergeRows, on adversarial id sets: the
// same ids, counts and row sums, to the bit. In this process, on whatever adapter Dawn finds (lavapipe in CI).
import t from 'tap';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../src/backend/select.js';
import { mergeRowsGpu } from '../src/gpu/merge.js';
import { mergeRows } from '../src/sparse/merge.js';
import { Rng } from '../src/util/rng.js';
import { GPU_ENV, needWebGpu } from './helpers/gpu.js';

const DIM = 5;

/** Rows whose sums depend on the order they are added in (magnitudes spread over many exponents). */
function rowsFor(n: number, rng: Rng): Float32Array {
  const rows = new Float32Array(n * DIM);
  for (let i = 0; i < rows.length; i++) rows[i] = (rng.next() - 0.5) * 10 ** Math.floor(rng.next() * 8 - 4);
  return rows;
}

const CASES: [string, (n: number, rng: Rng) => number[]][] = [
  ['all equal', (n) => Array(n).fill(7)],
  ['all distinct, shuffled', (n, rng) => Array.from({ length: n }, (_, i) => i * 3).sort(() => rng.next() - 0.5)],
  ['sorted with repeats', (n) => Array.from({ length: n }, (_, i) => Math.floor(i / 3))],
  ['reversed', (n) => Array.from({ length: n }, (_, i) => n - i)],
  ['skewed: a few hot ids and a long tail', (n, rng) => Array.from({ length: n }, () => (rng.next() < 0.5 ? Math.floor(rng.next() * 3) : Math.floor(rng.next() * 100_000)))],
  ['one id', () => [123_456]],
  ['empty', () => []],
];

if (needWebGpu(t)) {
  t.before(async () => {
    Object.assign(process.env, GPU_ENV);
    await selectBackend({ forced: 'webgpu' });
  });

  for (const [name, make] of CASES) {
    for (const n of name === 'one id' || name === 'empty' ? [0] : [1000, 1537]) {
      t.test(`${name}${n ? `, ${n} rows` : ''}: the GPU merge equals mergeRows to the bit`, async (t) => {
        const rng = new Rng(n + name.length, 3);
        const ids = Int32Array.from(make(n, rng));
        const rows = rowsFor(ids.length, rng);
        const want = mergeRows(ids, null, rows, DIM);
        const idsT = tf.tensor1d(ids, 'int32');
        const rowsT = tf.tensor1d(rows);
        const got = await mergeRowsGpu(idsT, rowsT, DIM);
        t.same(Array.from(await got.ids.data()), Array.from(want.ids), `${want.ids.length} distinct ids, ascending`);
        t.same(Array.from(await got.counts.data()), Array.from(want.counts), 'counts');
        const gotRows = (await got.rows.data()) as Float32Array;
        const diff = gotRows.findIndex((v, i) => !Object.is(v, want.rows[i]));
        t.equal(gotRows.length, want.rows.length);
        t.equal(diff, -1, diff < 0 ? 'row sums identical' : `first difference at ${diff}: ${gotRows[diff]} vs ${want.rows[diff]}`);
        for (const x of [idsT, rowsT, got.ids, got.counts, got.rows]) x.dispose();
      });
    }
  }

  t.test('bad input is refused', async (t) => {
    const ids = tf.tensor1d([1, 2], 'int32');
    await t.rejects(mergeRowsGpu(ids, tf.tensor1d([1, 2, 3]), 2), /3 row values for 2 ids x 2/);
    await t.rejects(mergeRowsGpu(tf.tensor1d([1, 2]), tf.tensor1d([1, 2, 3, 4]), 2), /ids must be int32/);
  });
}
