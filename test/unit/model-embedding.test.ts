import t from 'tap';
import { EmbeddingTable } from '../../src/model/embedding.js';
import { Rng } from '../../src/util/rng.js';

t.test('seeded normal init', (t) => {
  const a = EmbeddingTable.normal(1000, 16, 1e-2, new Rng(7));
  const b = EmbeddingTable.normal(1000, 16, 1e-2, new Rng(7));
  t.same(Array.from(a.weights), Array.from(b.weights), 'same seed, same table');
  const w = a.weights;
  const mean = w.reduce((s, x) => s + x, 0) / w.length;
  const std = Math.sqrt(w.reduce((s, x) => s + (x - mean) ** 2, 0) / w.length);
  t.ok(Math.abs(mean) < 2e-4 && Math.abs(std - 1e-2) < 2e-4, `mean ${mean}, std ${std}`);
  t.ok(EmbeddingTable.normal(10, 1, 0, new Rng(1)).weights.every((x) => x === 0), 'std 0 gives zeros');
  t.end();
});

t.test('gather copies rows in id order and checks ids', (t) => {
  const table = new EmbeddingTable(3, 2, Float32Array.of(0, 1, 10, 11, 20, 21));
  const out = new Float32Array(8);
  table.gather(Int32Array.of(2, 0, 2, 1), out);
  t.same(Array.from(out), [20, 21, 0, 1, 20, 21, 10, 11]);
  const first = new EmbeddingTable(3, 1, Float32Array.of(5, 6, 7));
  const o1 = new Float32Array(2);
  first.gather(Int32Array.of(1, 1), o1);
  t.same(Array.from(o1), [6, 6]);
  t.throws(() => table.gather(Int32Array.of(3), out), RangeError, 'id past the end');
  t.throws(() => table.gather(Int32Array.of(-1), out), RangeError, 'negative id');
  t.throws(() => table.gather(Int32Array.of(0, 0, 0, 0, 0), out), RangeError, 'out too small');
  t.throws(() => new EmbeddingTable(3, 2, new Float32Array(5)), RangeError, 'weights of the wrong size');
  t.end();
});
