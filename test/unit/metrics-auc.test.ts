import t from 'tap';
import { auc, logLossFromLogits, logloss } from '../../src/metrics/auc.js';
import { Rng } from '../../src/util/rng.js';

/** O(n^2) definition: P(score_pos > score_neg) + 1/2 P(tie). */
function bruteAuc(labels: Float32Array, scores: ArrayLike<number>): number {
  let wins = 0;
  let pairs = 0;
  for (let i = 0; i < labels.length; i++) {
    if (labels[i] !== 1) continue;
    for (let j = 0; j < labels.length; j++) {
      if (labels[j] !== 0) continue;
      pairs++;
      if (scores[i] > scores[j]) wins++;
      else if (scores[i] === scores[j]) wins += 0.5;
    }
  }
  return wins / pairs;
}

t.test('auc equals the brute-force pair count, with many ties', async (t) => {
  const rng = new Rng(7);
  for (const [n, levels] of [
    [50, 3],
    [400, 10],
    [1500, 1000],
    [2000, 2],
  ]) {
    const labels = new Float32Array(n);
    const scores = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      scores[i] = rng.int(levels) / levels;
      // Labels correlated with the score so the AUC is away from 0.5.
      labels[i] = rng.next() < 0.2 + 0.6 * scores[i] ? 1 : 0;
    }
    t.ok(Math.abs(auc(labels, scores) - bruteAuc(labels, scores)) < 1e-12, `n=${n}, ${levels} levels`);
    const f32 = Float32Array.from(scores);
    t.ok(Math.abs(auc(labels, f32) - bruteAuc(labels, f32)) < 1e-12, `n=${n} float32`);
  }
});

t.test('auc: known values and degenerate inputs', async (t) => {
  const y = Float32Array.from([0, 0, 1, 1]);
  t.equal(auc(y, Float64Array.from([0.1, 0.2, 0.3, 0.4])), 1);
  t.equal(auc(y, Float64Array.from([0.4, 0.3, 0.2, 0.1])), 0);
  t.equal(auc(y, Float64Array.from([0.5, 0.5, 0.5, 0.5])), 0.5);
  t.equal(auc(y, Float64Array.from([0.1, 0.3, 0.3, 0.4])), 0.875);
  t.ok(Number.isNaN(auc(Float32Array.from([1, 1]), Float64Array.from([0.1, 0.2]))), 'all positive -> NaN');
  t.ok(Number.isNaN(auc(Float32Array.from([0, 0]), Float64Array.from([0.1, 0.2]))), 'all negative -> NaN');
  t.ok(Number.isNaN(auc(new Float32Array(0), new Float64Array(0))), 'empty -> NaN');
  t.ok(Number.isNaN(auc(y, Float64Array.from([0.1, NaN, 0.3, 0.4]))), 'NaN score -> NaN');
  t.throws(() => auc(y, new Float64Array(3)), /4 labels but 3 scores/);
});

t.test('logloss clamps, logLossFromLogits is stable and agrees', async (t) => {
  const y = Float32Array.from([1, 0, 1, 0]);
  const p = Float64Array.from([0.9, 0.2, 0.6, 0.5]);
  const expected = -(Math.log(0.9) + Math.log(0.8) + Math.log(0.6) + Math.log(0.5)) / 4;
  t.ok(Math.abs(logloss(y, p) - expected) < 1e-12);
  const logits = Float64Array.from(p, (q) => Math.log(q / (1 - q)));
  t.ok(Math.abs(logLossFromLogits(y, logits) - expected) < 1e-12);

  // Hard mistakes: clamped to -log(1e-7), finite.
  t.ok(Math.abs(logloss(Float32Array.from([1, 0]), Float64Array.from([0, 1])) + Math.log(1e-7)) < 1e-9);
  // Large logits neither overflow nor lose the loss of a confident mistake.
  const big = logLossFromLogits(Float32Array.from([0, 1]), Float64Array.from([800, -800]));
  t.equal(big, 800);
  t.equal(logLossFromLogits(Float32Array.from([1, 0]), Float64Array.from([800, -800])), 0);
  t.ok(Number.isNaN(logloss(new Float32Array(0), new Float64Array(0))));
  t.ok(Number.isNaN(logLossFromLogits(new Float32Array(0), new Float64Array(0))));
});
