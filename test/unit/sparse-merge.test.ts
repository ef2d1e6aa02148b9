import t from 'tap';
import { type SparseGrad, decodeSparse, encodeSparse, mergeRows, mergeSparse } from '../../src/sparse/merge.js';
import { Rng } from '../../src/util/rng.js';

const plain = (g: SparseGrad) => ({ dim: g.dim, ids: Array.from(g.ids), counts: Array.from(g.counts), rows: Array.from(g.rows) });

t.test('duplicates are summed, counts counted, ids ascending', (t) => {
  const ids = Int32Array.of(7, 2, 7, 0, 2, 7);
  const rows = Float32Array.of(1, 10, 2, 20, 3, 30, 4, 40, 5, 50, 6, 60);
  t.same(plain(mergeRows(ids, null, rows, 2)), {
    dim: 2,
    ids: [0, 2, 7],
    counts: [1, 2, 3],
    rows: [4, 40, 2 + 5, 20 + 50, 1 + 3 + 6, 10 + 30 + 60],
  });
  t.same(Array.from(mergeRows(ids, Int32Array.of(1, 2, 3, 4, 5, 6), rows, 2).counts), [4, 2 + 5, 1 + 3 + 6], 'integer counts summed');
  t.same(Array.from(mergeRows(ids, Float32Array.of(0.5, 1, 1, 1, 1, 1), rows, 2).counts), [1, 2, 2.5], 'float counts summed');
  t.end();
});

t.test('summation follows input position (bit-exact, deterministic)', (t) => {
  // float32: (1e8 + 1) - 1e8 = 0, while 1 + (1e8 - 1e8) = 1: the order is observable.
  const g = mergeRows(Int32Array.of(3, 3, 3), null, Float32Array.of(1e8, 1, -1e8), 1);
  t.equal(g.rows[0], Math.fround(Math.fround(1e8 + 1) - 1e8));
  const g2 = mergeRows(Int32Array.of(3, 3, 3), null, Float32Array.of(1, 1e8, -1e8), 1);
  t.equal(g2.rows[0], Math.fround(Math.fround(1 + 1e8) - 1e8));
  t.end();
});

t.test('large ids (several radix passes) and random input match a reference merge', (t) => {
  let seed = 12345;
  const rnd = (): number => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32;
  const n = 5000;
  const pool = Array.from({ length: 300 }, () => Math.floor(rnd() * 2 ** 31));
  const ids = Int32Array.from({ length: n }, () => pool[Math.floor(rnd() * pool.length)]);
  const rows = Float32Array.from({ length: n * 3 }, () => Math.round(rnd() * 64) - 32); // integers: exact sums
  const ref = new Map<number, { c: number; r: number[] }>();
  ids.forEach((id, i) => {
    const e = ref.get(id) ?? { c: 0, r: [0, 0, 0] };
    e.c++;
    for (let k = 0; k < 3; k++) e.r[k] += rows[i * 3 + k];
    ref.set(id, e);
  });
  const keys = [...ref.keys()].sort((a, b) => a - b);
  t.same(plain(mergeRows(ids, null, rows, 3)), {
    dim: 3,
    ids: keys,
    counts: keys.map((k) => ref.get(k)!.c),
    rows: keys.flatMap((k) => ref.get(k)!.r),
  });
  t.end();
});

t.test('merging payloads equals merging their concatenation', (t) => {
  const ids = Int32Array.of(5, 1, 5, 9, 1, 1, 0, 9);
  const rows = Float32Array.from({ length: 16 }, (_, i) => i - 4);
  const whole = mergeRows(ids, null, rows, 2);
  const parts = [
    mergeRows(ids.subarray(0, 3), null, rows.subarray(0, 6), 2),
    mergeRows(ids.subarray(3, 3), null, rows.subarray(6, 6), 2), // an empty rank
    mergeRows(ids.subarray(3), null, rows.subarray(6), 2),
  ];
  t.same(plain(mergeSparse(parts, 2)), plain(whole));
  t.same(plain(mergeSparse([], 4)), { dim: 4, ids: [], counts: [], rows: [] }, 'no payloads');
  t.throws(() => mergeSparse([whole], 3), RangeError, 'dim mismatch');
  t.end();
});

t.test('the k-way merge of payloads gives mergeRows of their concatenation, to the bit, on adversarial parts', (t) => {
  const rng = new Rng(7);
  const bits = (g: SparseGrad) => [Array.from(g.ids), Array.from(new Uint32Array(g.counts.buffer, g.counts.byteOffset, g.counts.length)), Array.from(new Uint32Array(g.rows.buffer, g.rows.byteOffset, g.rows.length))];
  const concat = (parts: SparseGrad[], dim: number) => {
    const ids = Int32Array.from(parts.flatMap((p) => Array.from(p.ids)));
    const counts = Float32Array.from(parts.flatMap((p) => Array.from(p.counts)));
    const rows = Float32Array.from(parts.flatMap((p) => Array.from(p.rows)));
    return mergeRows(ids, counts, rows, dim);
  };
  const sets: Record<string, (k: number) => Int32Array[]> = {
    'all the same id': (k) => Array.from({ length: k }, () => Int32Array.of(3)),
    'all distinct': (k) => Array.from({ length: k }, (_, p) => Int32Array.from({ length: 5 }, (_, i) => i * k + p)),
    'one part holds all': (k) => Array.from({ length: k }, (_, p) => (p === k - 1 ? Int32Array.from({ length: 40 }, (_, i) => i) : new Int32Array(0))),
    'random overlaps': (k) => Array.from({ length: k }, () => Int32Array.from(new Set(Array.from({ length: 30 }, () => rng.int(50)))).sort()),
    'empty parts': (k) => Array.from({ length: k }, () => new Int32Array(0)),
  };
  for (const [name, make] of Object.entries(sets)) {
    for (const k of [1, 2, 3, 7, 16]) {
      const dim = 3;
      const parts = make(k).map((ids) => ({
        dim,
        ids,
        counts: Float32Array.from(ids, () => 1 + rng.int(5)),
        // Values of mixed magnitude and sign, -0 among them: any change of summation order shows in the bits.
        rows: Float32Array.from({ length: ids.length * dim }, (_, i) => (i % 11 === 0 ? -0 : (rng.next() - 0.5) * 10 ** rng.int(6))),
      }));
      t.same(bits(mergeSparse(parts, dim)), bits(concat(parts, dim)), `${name}, ${k} parts`);
    }
  }
  const bad = { dim: 1, ids: Int32Array.of(4, 2), counts: Float32Array.of(1, 1), rows: Float32Array.of(1, 1) };
  t.throws(() => mergeSparse([bad], 1), /part 0: ids not ascending at position 1/, 'a part whose ids do not ascend is refused');
  t.end();
});

t.test("a merge built in its payload is encoded without a copy, with the same values", (t) => {
  const ids = Int32Array.of(9, 2, 9, 4);
  const rows = Float32Array.of(1, 2, 3, 4, 5, 6, 7, 8);
  for (const wide of [false, true]) {
    // Ids beyond the slot map take the sorted path: both paths build the payload.
    const at = wide ? ids.map((id) => id + (1 << 25)) : ids;
    const inPayload = mergeRows(at, null, rows, 2, 'payload');
    const bytes = encodeSparse(inPayload);
    t.equal(bytes.buffer, inPayload.ids.buffer, `the payload itself (${wide ? 'sorted' : 'slot'} path)`);
    t.same(plain(decodeSparse(bytes)), plain(mergeRows(at, null, rows, 2)), 'the same merge as into arrays');
    t.not(encodeSparse(mergeRows(at, null, rows, 2)).buffer, inPayload.ids.buffer, 'separate arrays are copied into a payload');
  }
  const empty = mergeRows(new Int32Array(0), null, new Float32Array(0), 3, 'payload');
  t.same(plain(decodeSparse(encodeSparse(empty))), { dim: 3, ids: [], counts: [], rows: [] }, 'an empty payload');
  t.end();
});

t.test('encode/decode round trip, empty, unaligned, corrupt', (t) => {
  const g = mergeRows(Int32Array.of(4, 2, 4), null, Float32Array.of(1.5, -2, 3, 0.25, 7, 8), 2);
  const bytes = encodeSparse(g);
  t.equal(bytes.byteLength, 16 + 2 * 4 * (2 + 2));
  const back = decodeSparse(bytes);
  t.same(plain(back), plain(g));
  t.equal(back.rows.buffer, bytes.buffer, 'aligned input decoded without copy');

  const empty = decodeSparse(encodeSparse(mergeRows(new Int32Array(0), null, new Float32Array(0), 16)));
  t.same(plain(empty), { dim: 16, ids: [], counts: [], rows: [] }, 'empty keeps its dim');

  const shifted = new Uint8Array(bytes.byteLength + 1);
  shifted.set(bytes, 1);
  t.same(plain(decodeSparse(shifted.subarray(1))), plain(g), 'unaligned input is copied');

  t.throws(() => decodeSparse(bytes.subarray(0, bytes.byteLength - 4)), /do not hold/, 'truncated');
  const bad = bytes.slice();
  bad[0] ^= 0xff;
  t.throws(() => decodeSparse(bad), /bad magic/, 'bad magic');
  t.throws(() => decodeSparse(new Uint8Array(3)), /too short/);
  t.end();
});

t.test('bad input is rejected', (t) => {
  t.throws(() => mergeRows(Int32Array.of(-1), null, Float32Array.of(1), 1), RangeError, 'negative id');
  t.throws(() => mergeRows(Int32Array.of(1, 2), null, Float32Array.of(1), 1), RangeError, 'rows too short');
  t.throws(() => mergeRows(Int32Array.of(1), Float32Array.of(), Float32Array.of(1), 1), RangeError, 'counts too short');
  t.end();
});

t.test('the slot-map path (ids < 2^24) and the radix path (larger ids) give the same bits', (t) => {
  let seed = 777;
  const rnd = (): number => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32;
  const n = 20_000;
  const dim = 5;
  // Skewed draws, as CTR ids are; float rows, so any change of summation order would show.
  const small = Int32Array.from({ length: n }, () => Math.floor(3000 * rnd() ** 3));
  const large = small.map((id) => id + 2 ** 24); // the same order, on the radix path
  const rows = Float32Array.from({ length: n * dim }, () => (rnd() - 0.5) * 10 ** Math.floor(rnd() * 6));
  const counts = Float32Array.from({ length: n }, () => 1 + Math.floor(rnd() * 3));
  for (const c of [null, counts]) {
    const a = mergeRows(small, c, rows, dim);
    const b = mergeRows(large, c, rows, dim);
    t.same(Array.from(a.ids, (id) => id + 2 ** 24), Array.from(b.ids), 'same ids, ascending');
    t.ok(Buffer.from(a.rows.buffer).equals(Buffer.from(b.rows.buffer)), `rows bit-identical (${a.ids.length} distinct of ${n})`);
    t.ok(Buffer.from(a.counts.buffer).equals(Buffer.from(b.counts.buffer)), 'counts bit-identical');
  }
  const again = mergeRows(small, null, rows, dim);
  t.same(plain(again), plain(mergeRows(small, null, rows, dim)), 'scratch reused between calls: same result');
  t.end();
});
