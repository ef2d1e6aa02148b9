import t from 'tap';
import { EmbeddingTable } from '../../src/model/embedding.js';
import type { SparseGrad } from '../../src/sparse/merge.js';
import type { Adam } from '../../src/optim/adam.js';
import { EmbeddingUpdater, type EmbedUpdateOptions } from '../../src/optim/embed-update.js';

const near = (a: { ok(ok: boolean, msg: string): unknown }, got: ArrayLike<number>, want: number[], msg: string, tol = 1e-6): void => {
  const ok = want.length === got.length && want.every((w, i) => Math.abs(got[i] - w) <= tol * Math.max(1, Math.abs(w)));
  a.ok(ok, ok ? msg : `${msg}: got [${Array.from(got)}] want [${want}]`);
};

const W0 = [0.6, 0.8, 0.3, 0.4, 0.2, 0, 0, 0, 0, 0.1, -0.1, 0.2]; // 6 rows x 2; row norms 1, .5, .2, 0, .1, .224
const W1 = [0, 0.1, 0.2, 0.3, 0.4, 0.5];

/** Batch gradient of rows 1 (3 occurrences) and 4 (1): with lambda 0.25 (+0.5 W) they become [3, 4] and [0.3, 0.4]. */
function batch(): { field: SparseGrad; first: SparseGrad } {
  const ids = Int32Array.of(1, 4);
  const counts = Float32Array.of(3, 1);
  return {
    field: { dim: 2, ids, counts, rows: Float32Array.of(3 - 0.15, 4 - 0.2, 0.3, 0.4 - 0.05) },
    first: { dim: 1, ids, counts, rows: Float32Array.of(5, -5) },
  };
}

function run(opts: Partial<EmbedUpdateOptions>): { up: EmbeddingUpdater; stats: EmbeddingUpdater['applied'] } {
  const field = new EmbeddingTable(6, 2, Float32Array.from(W0));
  const first = new EmbeddingTable(6, 1, Float32Array.from(W1));
  const up = new EmbeddingUpdater(field, first, { mode: 'lazy', lr: 0.01, lambda: 0.25, clip: true, ratio: 1, zeta: 1e-5, ...opts });
  const g = batch();
  up.update(g.field, g.first, 1);
  return { up, stats: up.applied };
}

const rows = (a: Float32Array, dim: number, ...ids: number[]): number[] => ids.flatMap((id) => Array.from(a.subarray(id * dim, id * dim + dim)));

t.test('lazy: L2 then CowClip on batch rows only; first-order table not clipped', (t) => {
  const { up, stats } = run({ mode: 'lazy' });
  t.has(stats, { rowsInBatch: 2, rowsClipped: 2 });
  // m = (1 - b1) * g_clipped: row 1 t = 3 * 0.5 = 1.5 -> [0.9, 1.2]; row 4 t = 0.1 -> [0.06, 0.08]
  near(t, rows((up.fieldOpt as Adam).m, 2, 1, 4), [0.09, 0.12, 0.006, 0.008], 'clipped moments of the batch rows');
  // first-order: g + 2*lambda*W, unclipped
  near(t, rows((up.firstOpt as Adam).m, 1, 1, 4), [0.1 * (5 + 0.05), 0.1 * (-5 + 0.2)], 'first-order moments');
  t.same(rows(up.field.weights, 2, 0, 2, 3, 5), rows(Float32Array.from(W0), 2, 0, 2, 3, 5), 'absent field rows unchanged');
  t.same(rows(up.first.weights, 1, 0, 2, 3, 5), rows(Float32Array.from(W1), 1, 0, 2, 3, 5), 'absent first-order rows unchanged');
  t.ok(rows(up.field.weights, 2, 1).every((w, k) => w !== W0[2 + k]), 'batch rows moved');
  t.end();
});

t.test('dense: absent rows get L2 + Adam; batch rows as in lazy mode', (t) => {
  const lazy = run({ mode: 'lazy' });
  const { up, stats } = run({ mode: 'dense' });
  t.has(stats, { rowsInBatch: 2, rowsClipped: 2 });
  t.same(rows(up.field.weights, 2, 1, 4), rows(lazy.up.field.weights, 2, 1, 4), 'batch rows identical at step 1');
  t.same(rows(up.first.weights, 1, 1, 4), rows(lazy.up.first.weights, 1, 1, 4), 'first-order batch rows identical');
  // absent rows: g = 0.5 W, under the count-1 threshold ||W||, so m = 0.1 * 0.5 W
  near(t, rows((up.fieldOpt as Adam).m, 2, 0, 5), rows(Float32Array.from(W0), 2, 0, 5).map((w) => 0.05 * w), 'absent-row moments');
  const before = rows(Float32Array.from(W0), 2, 0, 2, 3, 5);
  const after = rows(up.field.weights, 2, 0, 2, 3, 5);
  t.ok(after.every((w, i) => (before[i] === 0 ? w === 0 : Math.abs(w) < Math.abs(before[i]))), 'L2 shrinks absent rows, zeros stay');
  t.ok(rows(up.first.weights, 1, 2, 5).every((w, i) => w < [0.2, 0.5][i]), 'first-order absent rows shrink');
  t.end();
});

t.test('dense: absent rows are clipped with count 1 but not counted', (t) => {
  // r = 0.25: absent row 0 (||W|| = 1) has ||0.5 W|| = 0.5 > t = 0.25 -> [0.15, 0.2];
  // batch rows: row 1 t = 3 * 0.125 = 0.375 -> [0.225, 0.3]; row 4 t = 0.025 -> [0.015, 0.02]
  const { up, stats } = run({ mode: 'dense', ratio: 0.25 });
  t.has(stats, { rowsInBatch: 2, rowsClipped: 2 });
  near(t, rows((up.fieldOpt as Adam).m, 2, 0, 1, 4), [0.015, 0.02, 0.0225, 0.03, 0.0015, 0.002], 'moments');
  t.end();
});

t.test('the updater adds up what it applied, update after update', (t) => {
  const { up } = run({ mode: 'lazy' });
  const g = batch();
  up.update(g.field, g.first, 2);
  t.has(up.applied, { rowsInBatch: 4, rowsClipped: 4 });
  t.end();
});

t.test('auto form, dense: batch rows normalised, absent rows only clipped as in the paper form', (t) => {
  const paper = run({ mode: 'dense', ratio: 0.25 });
  const auto = run({ mode: 'dense', ratio: 0.25, form: 'auto', gamma: 1e-8 });
  const m = (u: EmbeddingUpdater, ...ids: number[]) => rows((u.fieldOpt as Adam).m, 2, ...ids);
  t.same(m(auto.up, 0, 2, 3, 5), m(paper.up, 0, 2, 3, 5), "absent rows: the paper form's clipped L2 gradient");
  // Batch rows (ids 1 and 4) come out at exactly their thresholds, 0.375 and 0.025: already so in the paper form here.
  near(t, m(auto.up, 1, 4), m(paper.up, 1, 4), 'batch rows at their thresholds');
  t.end();
});

t.test('clip off: plain L2 + Adam', (t) => {
  const { up, stats } = run({ mode: 'lazy', clip: false });
  t.has(stats, { rowsInBatch: 2, rowsClipped: 0 });
  near(t, rows((up.fieldOpt as Adam).m, 2, 1, 4), [0.3, 0.4, 0.03, 0.04], 'unclipped moments');
  t.end();
});

t.test('mismatched shapes are rejected', (t) => {
  const field = new EmbeddingTable(6, 2);
  t.throws(() => new EmbeddingUpdater(field, new EmbeddingTable(5, 1), { mode: 'lazy', lr: 1, lambda: 0, clip: false, ratio: 1, zeta: 0 }), RangeError);
  const up = new EmbeddingUpdater(field, new EmbeddingTable(6, 1), { mode: 'lazy', lr: 1, lambda: 0, clip: false, ratio: 1, zeta: 0 });
  const g = batch();
  t.throws(() => up.update(g.first, g.first, 1), RangeError);
  t.end();
});
