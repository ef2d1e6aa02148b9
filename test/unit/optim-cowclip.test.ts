import t from 'tap';
import { cowclip, cowclipIndexed } from '../../src/optim/cowclip.js';

const f32 = (...v: number[]): Float32Array => Float32Array.from(v);
const norm = (a: ArrayLike<number>): number => Math.sqrt(Array.from(a).reduce((s, x) => s + x * x, 0));
/** Asserts element-wise closeness (relative, absolute below 1), printing both arrays. */
const near = (a: { ok(ok: boolean, msg: string): unknown }, got: ArrayLike<number>, want: number[], msg: string, tol = 1e-6): void => {
  const ok = want.length === got.length && want.every((w, i) => Math.abs(got[i] - w) <= tol * Math.max(1, Math.abs(w)));
  a.ok(ok, ok ? msg : `${msg}: got [${Array.from(got)}] want [${want}]`);
};

t.test('paper form: count > 1 scales the threshold', (t) => {
  // ||w|| = 0.5, cnt = 2, r = 1 -> t = 1.0; ||g|| = 5 -> g * 0.2
  const g = f32(3, 4);
  t.equal(cowclip(f32(0.3, 0.4), g, [2], 2, { ratio: 1, zeta: 1e-5 }), 1);
  near(t, g, [0.6, 0.8], 'clipped to norm 1');
  t.end();
});

t.test('paper form: ratio multiplies the row norm', (t) => {
  // r = 0.5, ||w|| = 0.5, cnt = 3 -> t = 3 * 0.25 = 0.75; ||g|| = 5
  const g = f32(3, 4);
  cowclip(f32(0.3, 0.4), g, [3], 2, { ratio: 0.5, zeta: 1e-5 });
  near(t, g, [0.45, 0.6], 'clipped to norm 0.75');
  t.end();
});

t.test('row absent from the batch: count 1', (t) => {
  // ||w|| = 0.1, cnt = 1 -> t = 0.1; ||g|| = 0.5
  const g = f32(0.3, 0.4);
  t.equal(cowclip(f32(0, 0.1), g, f32(1), 2, { ratio: 1, zeta: 1e-5 }), 1);
  near(t, g, [0.06, 0.08], 'clipped to norm 0.1');
  t.end();
});

t.test('gradient under the threshold and zero gradient are unchanged', (t) => {
  const g = f32(0.03, 0.04, 0, 0);
  t.equal(cowclip(f32(0.3, 0.4, 0, 0), g, [1, 5], 2, { ratio: 1, zeta: 1e-5 }), 0);
  t.same(Array.from(g), Array.from(f32(0.03, 0.04, 0, 0)));
  t.notOk(g.some(Number.isNaN), 'no NaN from 0/0');
  t.end();
});

t.test('zeta lower bound takes over for small rows', (t) => {
  // ||w|| = 0 -> paper t = cnt * zeta = 2e-3; reference t = r * cnt * r * sqrt(d) * zeta = 2 * 2 * 1e-3 = 4e-3 (d = 4)
  const paper = f32(3, 4, 0, 0);
  t.equal(cowclip(new Float32Array(4), paper, [2], 4, { ratio: 1, zeta: 1e-3 }), 1);
  near(t, paper, [0.0012, 0.0016, 0, 0], 'paper: norm 2e-3');
  const ref = f32(3, 4, 0, 0);
  cowclip(new Float32Array(4), ref, [2], 4, { ratio: 1, zeta: 1e-3, form: 'reference' });
  near(t, ref, [0.0024, 0.0032, 0, 0], 'reference: norm 4e-3');
  // r = 2, tiny row: reference t = r * cnt * max(||w||, r sqrt(d) zeta) = 2 * 1 * max(1e-6, 2 * 2 * 1e-3) = 8e-3
  const ref2 = f32(3, 4, 0, 0);
  cowclip(f32(1e-6, 0, 0, 0), ref2, [1], 4, { ratio: 2, zeta: 1e-3, form: 'reference' });
  t.ok(Math.abs(norm(ref2) - 8e-3) < 1e-8, `reference r=2: norm ${norm(ref2)}`);
  t.end();
});

t.test('both forms agree when the row norm dominates and r = 1', (t) => {
  const w = f32(0.3, 0.4);
  const a = f32(3, 4);
  const b = f32(3, 4);
  cowclip(w, a, [4], 2, { ratio: 1, zeta: 1e-5, form: 'paper' });
  cowclip(w, b, [4], 2, { ratio: 1, zeta: 1e-5, form: 'reference' });
  t.same(Array.from(a), Array.from(b));
  near(t, a, [1.2, 1.6], 'norm 2');
  t.end();
});

t.test('worked example of COWCLIP.md (reference form, r = 1, zeta = 1e-5, d = 10)', (t) => {
  const d = 10;
  const w = new Float32Array(2 * d);
  const g = new Float32Array(2 * d);
  for (let k = 0; k < d; k++) {
    w[k] = 0.05 / Math.sqrt(d); // ||w|| = 0.05
    g[k] = (k % 2 ? 0.3 : -0.3) / Math.sqrt(d); // ||g|| = 0.3
    w[d + k] = 0.0316 / Math.sqrt(d);
    g[d + k] = 3.16e-3 / Math.sqrt(d);
  }
  const before = g.slice();
  const clipped = cowclip(w, g, [3, 1], d, { ratio: 1, zeta: 1e-5, form: 'reference' });
  t.equal(clipped, 1);
  t.ok(Math.abs(norm(g.subarray(0, d)) - 0.15) < 1e-6, `row 0 clipped to 0.15: ${norm(g.subarray(0, d))}`);
  near(t, g.subarray(0, d), Array.from(before.subarray(0, d), (x) => x / 2), 'direction kept');
  t.same(Array.from(g.subarray(d)), Array.from(before.subarray(d)), 'row 1 unchanged');
  t.end();
});

t.test('indexed variant equals the aligned one on gathered rows', (t) => {
  const dim = 3;
  const table = Float32Array.from({ length: 5 * dim }, (_, i) => Math.sin(i + 1) * 0.1);
  const ids = Int32Array.from([4, 0, 2]);
  const counts = f32(1, 3, 2);
  const grads = Float32Array.from({ length: ids.length * dim }, (_, i) => Math.cos(i) * 0.5);
  const gathered = new Float32Array(ids.length * dim);
  ids.forEach((id, i) => gathered.set(table.subarray(id * dim, id * dim + dim), i * dim));
  const a = grads.slice();
  const b = grads.slice();
  const opts = { ratio: 1, zeta: 1e-4 };
  t.equal(cowclipIndexed(table, ids, a, counts, dim, opts), cowclip(gathered, b, counts, dim, opts));
  t.same(Array.from(a), Array.from(b));
  t.throws(() => cowclipIndexed(table, [5], a, counts, dim, opts), RangeError, 'id outside the table');
  t.end();
});

t.test('bad options are rejected', (t) => {
  t.throws(() => cowclip(f32(1), f32(1), [1], 1, { ratio: -1, zeta: 0 }), RangeError);
  t.throws(() => cowclip(f32(1), f32(1), [1], 1, { ratio: 1, zeta: 0, form: 'x' as 'paper' }), RangeError);
  t.throws(() => cowclip(f32(1), f32(1), [1, 1], 1, { ratio: 1, zeta: 0 }), RangeError, 'counts longer than rows');
  t.end();
});

t.test('auto form: every row normalised to its threshold, small rows scaled up, zero rows left alone', (t) => {
  // Row 0: ||w|| = 0.5, cnt = 2, r = 1 -> t = 1; ||g|| = 5, gamma = 1 -> g * 1 / 6 (scaled down: counted).
  // Row 1: ||w|| = 1, cnt = 1 -> t = 1; ||g|| = 0.05 -> g * 1 / 1.05 (0.952: down, counted).
  // Row 2 (gamma 1e-3 below): ||g|| = 0.05 -> g * 1 / 0.051 (scaled up: not counted). Row 3: zero gradient.
  const g = f32(3, 4, 0.03, 0.04);
  t.equal(cowclip(f32(0.3, 0.4, 0.6, 0.8), g, [2, 1], 2, { ratio: 1, zeta: 1e-5, form: 'auto', gamma: 1 }), 2);
  near(t, g, [3 / 6, 4 / 6, 0.03 / 1.05, 0.04 / 1.05], 'g * t / (||g|| + gamma)');
  const h = f32(0.03, 0.04, 0, 0);
  t.equal(cowclip(f32(0.6, 0.8, 0.6, 0.8), h, [1, 1], 2, { ratio: 1, zeta: 1e-5, form: 'auto', gamma: 1e-3 }), 0);
  near(t, h, [0.03 / 0.051, 0.04 / 0.051, 0, 0], 'a small row is scaled up to about the threshold; a zero row stays zero');
  t.notOk(h.some(Number.isNaN), 'no NaN');
  t.end();
});

t.test('auto form: the zeta floor bounds the threshold of near-zero rows; gamma must be > 0', (t) => {
  // ||w|| = 0 -> t = cnt * zeta = 3 * 0.01; ||g|| = 5, gamma = 1e-8 -> norm 0.03.
  const g = f32(3, 4);
  cowclip(f32(0, 0), g, [3], 2, { ratio: 1, zeta: 0.01, form: 'auto', gamma: 1e-8 });
  t.ok(Math.abs(norm(g) - 0.03) < 1e-8, `normalised to 0.03: ${norm(g)}`);
  t.throws(() => cowclip(f32(0, 0), f32(1, 1), [1], 2, { ratio: 1, zeta: 0.01, form: 'auto', gamma: 0 }), /gamma must be > 0/);
  t.end();
});

t.test("the tally counts rows by their ID's batch count: tail 1, torso 2-31, head 32+", (t) => {
  // Rows with counts 1, 5, 40; gradients big enough that all three are clipped except the head row.
  const table = f32(0.3, 0.4, 0.3, 0.4, 0.3, 0.4);
  const grads = f32(3, 4, 3, 4, 0.3, 0.4);
  const tally = [0, 0, 0, 0, 0, 0];
  t.equal(cowclipIndexed(table, [0, 1, 2], grads, [1, 5, 40], 2, { ratio: 1, zeta: 1e-5 }, tally), 2);
  t.same(tally, [1, 1, 1, 1, 1, 0], '[rows, clipped] of tail, torso, head');
  t.end();
});
