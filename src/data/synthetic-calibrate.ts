/**
 * Calibration of the synthetic click model: mixes the planted terms to the requested variance shares and
 * solves the logit's scale and bias for the target AUC and click rate, on a calibration sample.
 */
import { UserError } from '../util/errors.js';

/** z = sum_t a_t * (S_t - mean_t) / sd_t, from a calibration sample's term moments. */
export interface Mixer {
  mean: Float64Array;
  weight: Float64Array; // a_t / sd_t (0 for a constant term)
}

export function fitMixer(terms: Float64Array, n: number, shares: [number, number, number]): Mixer {
  const mean = new Float64Array(3);
  const sd = new Float64Array(3);
  for (let t = 0; t < 3; t++) {
    let s = 0;
    for (let i = 0; i < n; i++) s += terms[3 * i + t];
    mean[t] = s / n;
    let ss = 0;
    for (let i = 0; i < n; i++) ss += (terms[3 * i + t] - mean[t]) ** 2;
    sd[t] = Math.sqrt(ss / n);
  }
  // A term that is constant here (no numeric features, say) gives its share to the others.
  let shareSum = 0;
  for (let t = 0; t < 3; t++) if (sd[t] > 1e-12) shareSum += shares[t];
  if (!(shareSum > 0)) throw new UserError('synthetic data: every term with a positive share is constant');
  const weight = new Float64Array(3);
  for (let t = 0; t < 3; t++) weight[t] = sd[t] > 1e-12 ? Math.sqrt(shares[t] / shareSum) / sd[t] : 0;
  return { mean, weight };
}

export function mix(mx: Mixer, terms: Float64Array, i: number): number {
  const { mean, weight } = mx;
  return (
    weight[0] * (terms[3 * i] - mean[0]) +
    weight[1] * (terms[3 * i + 1] - mean[1]) +
    weight[2] * (terms[3 * i + 2] - mean[2])
  );
}

export const sigmoid = (x: number): number => 1 / (1 + Math.exp(-x));

/** b such that the mean of sigmoid(b + c z) over z is `rate` (Newton; the mean is increasing in b). */
function solveBias(z: Float64Array, c: number, rate: number): number {
  let b = Math.log(rate / (1 - rate));
  for (let it = 0; it < 50; it++) {
    let m = 0;
    let d = 0;
    for (let i = 0; i < z.length; i++) {
      const p = sigmoid(b + c * z[i]);
      m += p;
      d += p * (1 - p);
    }
    m /= z.length;
    d /= z.length;
    const step = (m - rate) / Math.max(d, 1e-12);
    b -= Math.max(-5, Math.min(5, step));
    if (Math.abs(m - rate) < 1e-9) break;
  }
  return b;
}

/**
 * Expected AUC of scores z when each label is Bernoulli(sigmoid(b + c z)): the expected count of
 * correctly ordered (click, no-click) pairs, ties 1/2, over the expected count of such pairs.
 * `z` must be sorted ascending.
 */
function expectedAuc(z: Float64Array, b: number, c: number): number {
  let num = 0;
  let negBelow = 0;
  let sumP = 0;
  let sumQ = 0;
  let sumPQ = 0;
  for (let i = 0; i < z.length; ) {
    let gp = 0;
    let gq = 0;
    let gpq = 0;
    let j = i;
    for (; j < z.length && z[j] === z[i]; j++) {
      const p = sigmoid(b + c * z[j]);
      gp += p;
      gq += 1 - p;
      gpq += p * (1 - p);
    }
    num += gp * negBelow + 0.5 * (gp * gq - gpq);
    negBelow += gq;
    sumP += gp;
    sumQ += gq;
    sumPQ += gpq;
    i = j;
  }
  return num / (sumP * sumQ - sumPQ);
}

/** The scale c (and its bias b) at which the expected AUC is `target`, by bisection. */
export function calibrate(z: Float64Array, target: number, rate: number): { b: number; c: number } {
  const at = (c: number): number => expectedAuc(z, solveBias(z, c, rate), c);
  let lo = 0;
  let hi = 1;
  while (at(hi) < target) {
    lo = hi;
    hi *= 2;
    if (hi > 1e4) throw new UserError(`synthetic data: target AUC ${target} is out of reach of this generator`);
  }
  for (let it = 0; it < 40; it++) {
    const mid = 0.5 * (lo + hi);
    if (at(mid) < target) lo = mid;
    else hi = mid;
  }
  const c = 0.5 * (lo + hi);
  return { b: solveBias(z, c, rate), c };
}
