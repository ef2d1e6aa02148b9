/**
 * Evaluation metrics for binary click labels (1 = click, anything else = no click).
 * All functions are O(n) or O(n log n) over typed arrays and allocate only O(n) scratch arrays.
 */

/**
 * Exact ROC AUC: the probability that a random positive scores above a random negative, a tie
 * counting 1/2 (the same as the average-rank / Mann-Whitney form).
 * Returns NaN when either class is absent (AUC is undefined there, and NaN keeps a bad eval set
 * from passing for a perfect or a useless model), or when a score is NaN.
 *
 * Positives' and negatives' scores are sorted separately with the native numeric sort (no
 * comparator callback, no per-element objects), then merged once.
 */
export function auc(labels: Float32Array, scores: Float32Array | Float64Array): number {
  checkLengths(labels.length, scores.length, 'auc');
  let nPos = 0;
  for (let i = 0; i < labels.length; i++) if (labels[i] > 0.5) nPos++;
  const nNeg = labels.length - nPos;
  if (nPos === 0 || nNeg === 0) return NaN;

  const pos = new Float64Array(nPos);
  const neg = new Float64Array(nNeg);
  for (let i = 0, p = 0, q = 0; i < labels.length; i++) {
    const s = scores[i];
    if (s !== s) return NaN;
    if (labels[i] > 0.5) pos[p++] = s;
    else neg[q++] = s;
  }
  pos.sort();
  neg.sort();

  // For each positive: negatives strictly below count 1, equal ones 1/2.
  let wins = 0;
  let below = 0; // negatives < current positive score
  let upTo = 0; // negatives <= current positive score
  for (let i = 0; i < nPos; i++) {
    const s = pos[i];
    while (below < nNeg && neg[below] < s) below++;
    if (upTo < below) upTo = below;
    while (upTo < nNeg && neg[upTo] === s) upTo++;
    wins += below + 0.5 * (upTo - below);
  }
  return wins / nPos / nNeg;
}

const EPS = 1e-7;

/** Mean binary cross-entropy of probabilities, each clamped to [1e-7, 1 - 1e-7]. NaN when empty. */
export function logloss(labels: Float32Array, probs: Float32Array | Float64Array): number {
  checkLengths(labels.length, probs.length, 'logloss');
  if (labels.length === 0) return NaN;
  let sum = 0;
  for (let i = 0; i < labels.length; i++) {
    const p = Math.min(1 - EPS, Math.max(EPS, probs[i]));
    sum -= labels[i] > 0.5 ? Math.log(p) : Math.log(1 - p);
  }
  return sum / labels.length;
}

/**
 * Mean binary cross-entropy computed from logits without forming probabilities, so large |logit|
 * neither overflows nor rounds to log(0): loss = max(z, 0) - z*y + log1p(exp(-|z|)). NaN when empty.
 */
export function logLossFromLogits(labels: Float32Array, logits: Float32Array | Float64Array): number {
  checkLengths(labels.length, logits.length, 'logLossFromLogits');
  if (labels.length === 0) return NaN;
  let sum = 0;
  for (let i = 0; i < labels.length; i++) {
    const z = logits[i];
    const y = labels[i] > 0.5 ? 1 : 0;
    sum += Math.max(z, 0) - z * y + Math.log1p(Math.exp(-Math.abs(z)));
  }
  return sum / labels.length;
}

function checkLengths(a: number, b: number, fn: string): void {
  if (a !== b) throw new Error(`${fn}: ${a} labels but ${b} scores`);
}
