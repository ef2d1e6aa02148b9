/**
 * Planted-truth synthetic CTR data (design and measurements: shared/SYNTHETIC.md).
 *
 * Each categorical field draws ID ranks with P(rank r) ∝ (r + 1)^-zipf. The click logit is
 *   b + c * (a1 * S1' + a2 * S2' + an * Sn'),   a_t = sqrt(share_t)
 * where S1 = sum over fields of a first-order weight per ID, S2 = sum over all field pairs of
 * <v_f[id_f], v_g[id_g]> with planted vectors of dimension `pairRank`, Sn = linear in log1p(x_j) of the
 * numeric features x_j = floor(exp(N(mu_j, sd_j))), and ' marks standardisation to zero mean and unit
 * variance (estimated on a calibration sample). Each field's (and numeric feature's) weights are scaled
 * by a factor log-uniform in [scaleMin, scaleMax]. c is bisected so that the expected AUC of the true
 * probabilities equals targetAuc, and b is solved so that the expected click rate equals clickRate.
 *
 * Everything derives from `seed` through separate Rng streams (planted model, calibration sample,
 * train rows, train labels, eval rows, eval labels), so changing `trainRows` keeps the first rows and
 * the planted model unchanged. Rank r of field f is local index r + 1 (0 is the never-used OOV row).
 */
import { auc, logloss } from '../metrics/auc.js';
import { UserError } from '../util/errors.js';
import { Rng } from '../util/rng.js';
import { applyNumeric, NumericStats, type NumericTransformName } from './numeric.js';
import type { EncodedData, LoadedData } from './types.js';
import { Vocabulary, prefixSums, saveVocabulary } from './vocab.js';

export interface SyntheticOptions {
  seed: number;
  /** IDs per categorical field (the OOV row comes on top). */
  vocabSizes: number[];
  numNumeric: number;
  trainRows: number;
  evalRows: number;
  zipfExponent: number;
  /** Dimension of the planted pairwise vectors. */
  pairRank: number;
  /** Variance shares of the first-order, pairwise and numeric terms (normalised to sum 1). */
  shares: [number, number, number];
  scaleMin: number;
  scaleMax: number;
  /** Ranges the numeric features' mu_j and sd_j are drawn uniformly from. */
  numericMu: [number, number];
  numericSd: [number, number];
  targetAuc: number;
  clickRate: number;
  /** Rows of the sample that estimates the term variances and calibrates b and c. */
  calibrationRows: number;
}

/** The "V1" vocabulary sizes of SYNTHETIC.md (about 121K IDs). */
export const V1_VOCAB_SIZES: readonly number[] = [
  292, 117, 20000, 10000, 61, 24, 2503, 127, 3, 6000, 1137, 20000, 639, 27, 2998, 12000, 10, 1130, 435, 4, 20000,
  18, 15, 8000, 21, 15400,
];

/** Vocabulary sizes `factor` times the V1 sizes, at least 3 IDs per field. */
export function scaleVocab(factor: number): number[] {
  return V1_VOCAB_SIZES.map((v) => Math.max(3, Math.round(v * factor)));
}

const BASE: Omit<SyntheticOptions, 'vocabSizes' | 'trainRows' | 'evalRows'> = {
  seed: 1,
  numNumeric: 13,
  zipfExponent: 1.1,
  pairRank: 4,
  shares: [0.5, 0.3, 0.2],
  scaleMin: 0.2,
  scaleMax: 1,
  numericMu: [0, 4],
  numericSd: [0.5, 1.5],
  targetAuc: 0.78,
  clickRate: 0.25,
  calibrationRows: 100_000,
};

export const SYNTHETIC_PRESETS: Readonly<Record<string, Readonly<SyntheticOptions>>> = {
  /** The benchmark setting of SYNTHETIC.md. */
  v1: { ...BASE, vocabSizes: [...V1_VOCAB_SIZES], trainRows: 2_000_000, evalRows: 200_000 },
  /**
   * The default: ~1/100 of the V1 vocabularies. Measured with the default DeepFM (MLP 400-400-400, wasm):
   * one pass over 300K rows takes ~1 minute on 2 cores and ends ~0.015 AUC under the oracle; with 40K
   * rows the model overfits and ends ~0.05 under it, so rows, not epochs, close the gap.
   */
  quick: { ...BASE, vocabSizes: scaleVocab(0.01), trainRows: 300_000, evalRows: 20_000 },
};

export const DEFAULT_SYNTHETIC_PRESET = 'quick';

type Setter = (o: SyntheticOptions, v: string, fail: (expected: string) => never) => void;

const positiveInt = (v: string, fail: (e: string) => never): number => {
  const n = Number(v);
  return Number.isSafeInteger(n) && n > 0 ? n : fail('a positive integer');
};
const number = (v: string, fail: (e: string) => never): number => {
  const n = Number(v);
  return v.trim() !== '' && Number.isFinite(n) ? n : fail('a number');
};
const list = (v: string, fail: (e: string) => never, n?: number): number[] => {
  const xs = v.split('/').map((s) => number(s, fail));
  return n === undefined || xs.length === n ? xs : fail(`${n} numbers separated by "/"`);
};

/** The spec keys, in the order the error message lists them. */
const SPEC_KEYS: Record<string, Setter> = {
  rows: (o, v, fail) => (o.trainRows = positiveInt(v, fail)),
  'eval-rows': (o, v, fail) => (o.evalRows = positiveInt(v, fail)),
  seed: (o, v, fail) => {
    const n = Number(v);
    o.seed = Number.isSafeInteger(n) && n >= 0 ? n : fail('a non-negative integer');
  },
  vocab: (o, v, fail) => (o.vocabSizes = v.split('/').map((s) => positiveInt(s, fail))),
  'vocab-scale': (o, v, fail) => (o.vocabSizes = scaleVocab(number(v, fail))),
  numeric: (o, v, fail) => {
    const n = Number(v);
    o.numNumeric = Number.isSafeInteger(n) && n >= 0 ? n : fail('a non-negative integer');
  },
  zipf: (o, v, fail) => (o.zipfExponent = number(v, fail)),
  rank: (o, v, fail) => (o.pairRank = positiveInt(v, fail)),
  shares: (o, v, fail) => (o.shares = list(v, fail, 3) as [number, number, number]),
  'scale-min': (o, v, fail) => (o.scaleMin = number(v, fail)),
  'scale-max': (o, v, fail) => (o.scaleMax = number(v, fail)),
  auc: (o, v, fail) => (o.targetAuc = number(v, fail)),
  ctr: (o, v, fail) => (o.clickRate = number(v, fail)),
  'calib-rows': (o, v, fail) => (o.calibrationRows = positiveInt(v, fail)),
};

/**
 * Parses `synthetic`, `synthetic:PRESET` or `synthetic:[PRESET,]key=value,...`, e.g.
 * `synthetic:quick,rows=100000,eval-rows=20000,seed=3`. The preset defaults to `quick`.
 * Keys: see SPEC_KEYS (lists use "/", e.g. `shares=0.6/0.2/0.2`, `vocab=100/20/5`).
 */
export function parseSyntheticSpec(spec: string, flag = '--data'): { preset: string; options: SyntheticOptions } {
  const m = /^synthetic(?::(.*))?$/.exec(spec.trim());
  if (!m) throw new UserError(`${flag} ${JSON.stringify(spec)}: not a synthetic spec (expected synthetic[:PRESET][,key=value...])`);
  const items = m[1] === undefined || m[1] === '' ? [] : m[1].split(',').map((s) => s.trim());
  let preset = DEFAULT_SYNTHETIC_PRESET;
  if (items.length > 0 && !items[0].includes('=')) {
    preset = items.shift() as string;
    if (!Object.hasOwn(SYNTHETIC_PRESETS, preset)) {
      throw new UserError(
        `${flag} ${spec}: unknown synthetic preset ${JSON.stringify(preset)}; presets: ${Object.keys(SYNTHETIC_PRESETS).join(', ')}`,
      );
    }
  }
  const p = SYNTHETIC_PRESETS[preset];
  const options: SyntheticOptions = {
    ...p,
    vocabSizes: [...p.vocabSizes],
    shares: [...p.shares],
    numericMu: [...p.numericMu],
    numericSd: [...p.numericSd],
  };
  for (const item of items) {
    const eq = item.indexOf('=');
    const key = eq < 0 ? item : item.slice(0, eq);
    const set = Object.hasOwn(SPEC_KEYS, key) ? SPEC_KEYS[key] : undefined;
    if (eq < 0 || !set) {
      const what = eq < 0 ? `${JSON.stringify(item)} is not key=value` : `unknown synthetic option ${JSON.stringify(key)}`;
      throw new UserError(`${flag} ${spec}: ${what}; valid keys: ${Object.keys(SPEC_KEYS).join(', ')}`);
    }
    const value = item.slice(eq + 1);
    set(options, value, (expected) => {
      throw new UserError(`${flag} ${spec}: ${key} must be ${expected}, found ${JSON.stringify(value)}`);
    });
  }
  checkSyntheticOptions(options, `${flag} ${spec}`);
  return { preset, options };
}

/** Rejects options the generator cannot honour; `where` prefixes the message. */
export function checkSyntheticOptions(o: SyntheticOptions, where = 'synthetic data'): void {
  const fail = (msg: string): never => {
    throw new UserError(`${where}: ${msg}`);
  };
  const posInt = (n: number): boolean => Number.isSafeInteger(n) && n > 0;
  if (o.vocabSizes.length === 0 || !o.vocabSizes.every(posInt)) fail('every vocabulary size must be a positive integer');
  if (!(Number.isSafeInteger(o.numNumeric) && o.numNumeric >= 0)) fail('numeric must be a non-negative integer');
  if (!posInt(o.trainRows) || !posInt(o.evalRows) || !posInt(o.calibrationRows)) fail('row counts must be positive integers');
  if (!(o.zipfExponent >= 0)) fail('zipf must be >= 0');
  if (!posInt(o.pairRank)) fail('rank must be a positive integer');
  if (!o.shares.every((s) => s >= 0) || !(o.shares[0] + o.shares[1] + o.shares[2] > 0)) {
    fail('shares must be non-negative with a positive sum');
  }
  if (!(o.scaleMin > 0 && o.scaleMax >= o.scaleMin)) fail('need 0 < scale-min <= scale-max');
  if (!(o.numericSd[0] >= 0 && o.numericSd[1] >= o.numericSd[0] && o.numericMu[1] >= o.numericMu[0])) {
    fail('numeric mu/sd ranges must be ordered, sd >= 0');
  }
  if (!(o.targetAuc > 0.5 && o.targetAuc < 1)) fail('auc must lie strictly between 0.5 and 1');
  if (!(o.clickRate > 0 && o.clickRate < 1)) fail('ctr must lie strictly between 0 and 1');
}

/** The planted model: everything that maps a row's features to its logit. */
interface Planted {
  F: number;
  J: number;
  k: number;
  fieldOffsets: number[];
  /** Concatenated per-field CDFs over ranks; field f's starts at cdfStart[f]. */
  cdf: Float64Array;
  cdfStart: Int32Array;
  /**
   * Guide table (Chen & Asau's indexed search), one bucket per rank: guide[cdfStart[f] + g] is the
   * first rank whose CDF exceeds g / V_f, so the search from there takes O(1) steps on average where
   * a binary search takes log2(V) unpredictable branches.
   */
  guide: Int32Array;
  vocab: Int32Array;
  /**
   * Per global embedding row (fieldOffset + rank + 1), interleaved so one row's parameters share a
   * cache line: [first-order weight, |v|^2, v_0 .. v_{k-1}].
   */
  idParams: Float64Array;
  mu: Float64Array;
  sd: Float64Array;
  wn: Float64Array;
}

function plant(o: SyntheticOptions, fieldSizes: number[]): Planted {
  const rng = new Rng(o.seed, 0);
  const F = o.vocabSizes.length;
  const J = o.numNumeric;
  const k = o.pairRank;
  const fieldOffsets = prefixSums(fieldSizes);
  const total = fieldOffsets[F - 1] + fieldSizes[F - 1];
  const logMin = Math.log(o.scaleMin);
  const logSpan = Math.log(o.scaleMax) - logMin;
  const scale = (): number => Math.exp(logMin + rng.next() * logSpan);

  const vocab = Int32Array.from(o.vocabSizes);
  const cdfStart = Int32Array.from(prefixSums(o.vocabSizes));
  const cdf = new Float64Array(cdfStart[F - 1] + vocab[F - 1]);
  const guide = new Int32Array(cdf.length);
  const stride = k + 2;
  const idParams = new Float64Array(total * stride);
  const vStd = 1 / Math.sqrt(k);
  for (let f = 0; f < F; f++) {
    const V = vocab[f];
    const base = cdfStart[f];
    let sum = 0;
    for (let r = 0; r < V; r++) cdf[base + r] = sum += Math.pow(r + 1, -o.zipfExponent);
    for (let r = 0; r < V; r++) cdf[base + r] /= sum;
    cdf[base + V - 1] = 1; // the search always finds a rank
    for (let g = 0, r = 0; g < V; g++) {
      while (cdf[base + r] <= g / V) r++;
      guide[base + g] = r;
    }
    const s1 = scale();
    const s2 = scale() * vStd;
    for (let r = 0; r < V; r++) {
      const id = fieldOffsets[f] + r + 1;
      idParams[id * stride] = s1 * rng.normal();
      let n2 = 0;
      for (let q = 0; q < k; q++) {
        const x = s2 * rng.normal();
        idParams[id * stride + 2 + q] = x;
        n2 += x * x;
      }
      idParams[id * stride + 1] = n2;
    }
  }
  const mu = new Float64Array(J);
  const sd = new Float64Array(J);
  const wn = new Float64Array(J);
  for (let j = 0; j < J; j++) {
    mu[j] = o.numericMu[0] + rng.next() * (o.numericMu[1] - o.numericMu[0]);
    sd[j] = o.numericSd[0] + rng.next() * (o.numericSd[1] - o.numericSd[0]);
    wn[j] = scale() * rng.normal();
  }
  return { F, J, k, fieldOffsets, cdf, cdfStart, guide, vocab, idParams, mu, sd, wn };
}

/** log1p of the small integers most numeric draws are (Math.log1p costs ~25 ns a call). */
const LOG1P_TABLE = Float64Array.from({ length: 4096 }, (_, x) => Math.log1p(x));

/**
 * Draws n rows: ids [n * F] and numeric features [n * J] when given (log1p(x) if `storeLog1p`, else
 * the raw x), and the three unnormalised terms (S1, S2, Sn) of each row into terms [3n].
 */
function sampleRows(
  m: Planted,
  rng: Rng,
  n: number,
  ids: Int32Array | null,
  numeric: Float32Array | null,
  storeLog1p: boolean,
  terms: Float64Array,
): void {
  const { F, J, k, cdf, cdfStart, guide, vocab, fieldOffsets, mu, sd, wn } = m;
  const params = m.idParams;
  const stride = k + 2;
  const acc = new Float64Array(k);
  const U32 = 1 / 4294967296;
  for (let r = 0; r < n; r++) {
    let s1 = 0;
    let sq = 0;
    acc.fill(0);
    for (let f = 0; f < F; f++) {
      // Smallest rank whose CDF exceeds u, searched from its guide bucket.
      const u = rng.nextU32() * U32;
      const base = cdfStart[f];
      let rank = guide[base + Math.floor(u * vocab[f])];
      while (cdf[base + rank] <= u) rank++;
      const id = fieldOffsets[f] + rank + 1;
      if (ids) ids[r * F + f] = id;
      const p = id * stride;
      s1 += params[p];
      sq += params[p + 1];
      for (let q = 0; q < k; q++) acc[q] += params[p + 2 + q];
    }
    // Sum over pairs f < g of <v_f, v_g> = (|sum_f v_f|^2 - sum_f |v_f|^2) / 2.
    let s2 = -sq;
    for (let q = 0; q < k; q++) s2 += acc[q] * acc[q];
    let sn = 0;
    for (let j = 0; j < J; j++) {
      const x = Math.floor(Math.exp(mu[j] + sd[j] * rng.normal()));
      const lx = x < 4096 ? LOG1P_TABLE[x] : Math.log1p(x);
      if (numeric) numeric[r * J + j] = storeLog1p ? lx : x;
      sn += wn[j] * lx;
    }
    terms[3 * r] = s1;
    terms[3 * r + 1] = 0.5 * s2;
    terms[3 * r + 2] = sn;
  }
}

/** z = sum_t a_t * (S_t - mean_t) / sd_t, from a calibration sample's term moments. */
interface Mixer {
  mean: Float64Array;
  weight: Float64Array; // a_t / sd_t (0 for a constant term)
}

function fitMixer(terms: Float64Array, n: number, shares: [number, number, number]): Mixer {
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

function mix(mx: Mixer, terms: Float64Array, i: number): number {
  const { mean, weight } = mx;
  return (
    weight[0] * (terms[3 * i] - mean[0]) +
    weight[1] * (terms[3 * i + 1] - mean[1]) +
    weight[2] * (terms[3 * i + 2] - mean[2])
  );
}

const sigmoid = (x: number): number => 1 / (1 + Math.exp(-x));

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
function calibrate(z: Float64Array, target: number, rate: number): { b: number; c: number } {
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

function makeSplit(
  m: Planted,
  mx: Mixer,
  bc: { b: number; c: number },
  rows: number,
  rowRng: Rng,
  labelRng: Rng,
  storeLog1p: boolean,
): EncodedData {
  const ids = new Int32Array(rows * m.F);
  const numeric = new Float32Array(rows * m.J);
  const terms = new Float64Array(3 * rows);
  sampleRows(m, rowRng, rows, ids, numeric, storeLog1p, terms);
  const labels = new Float32Array(rows);
  const trueProb = new Float32Array(rows);
  for (let i = 0; i < rows; i++) {
    const p = sigmoid(bc.b + bc.c * mix(mx, terms, i));
    trueProb[i] = p;
    labels[i] = labelRng.next() < p ? 1 : 0;
  }
  return { rows, numNumeric: m.J, numCategorical: m.F, labels, numeric, ids, trueProb };
}

/**
 * Generates the dataset. Numeric features are stored raw and then transformed like file data
 * (log1p by default, which is exactly what the planted logit sees; minmax fitted on train).
 * `name` labels the description (e.g. the spec string).
 */
export function generateSynthetic(
  o: SyntheticOptions,
  numericTransform: NumericTransformName = 'log1p',
  name = 'synthetic',
): LoadedData {
  checkSyntheticOptions(o);
  const fieldSizes = o.vocabSizes.map((v) => v + 1);
  const m = plant(o, fieldSizes);

  const calib = new Float64Array(3 * o.calibrationRows);
  sampleRows(m, new Rng(o.seed, 1), o.calibrationRows, null, null, false, calib);
  const mx = fitMixer(calib, o.calibrationRows, o.shares);
  const z = new Float64Array(o.calibrationRows);
  for (let i = 0; i < z.length; i++) z[i] = mix(mx, calib, i);
  z.sort();
  const bc = calibrate(z, o.targetAuc, o.clickRate);

  // log1p is what the planted logit sees, so the generator stores it directly; minmax is fitted on raw x.
  const log1p = numericTransform === 'log1p';
  const train = makeSplit(m, mx, bc, o.trainRows, new Rng(o.seed, 2), new Rng(o.seed, 3), log1p);
  const evalData = makeSplit(m, mx, bc, o.evalRows, new Rng(o.seed, 4), new Rng(o.seed, 5), log1p);
  const stats = new NumericStats(m.J);
  if (!log1p) stats.add(train.numeric, 0, o.trainRows);
  const numeric = stats.params(numericTransform);
  if (!log1p) {
    applyNumeric(numeric, train.numeric, train.numeric, m.J);
    applyNumeric(numeric, evalData.numeric, evalData.numeric, m.J);
  }

  const trueProb = evalData.trueProb as Float32Array;
  const oracle = { auc: auc(evalData.labels, trueProb), logloss: logloss(evalData.labels, trueProb) };
  // Keys of the saved vocabulary are the ranks: key r is local index r + 1.
  const vocab = new Vocabulary(o.vocabSizes.map((v) => Float64Array.from({ length: v }, (_, r) => r)));
  const totalRows = vocab.totalRows;
  return {
    train,
    eval: evalData,
    fieldSizes,
    fieldOffsets: vocab.fieldOffsets,
    totalRows,
    skippedLines: 0,
    oracle,
    saveVocabulary: (dir) =>
      saveVocabulary(dir, vocab, {
        format: 'synthetic',
        fieldNames: o.vocabSizes.map((_, f) => `C${f + 1}`),
        numericNames: Array.from({ length: m.J }, (_, j) => `I${j + 1}`),
        minCount: 1,
        numeric,
        source: o,
      }),
    description:
      `${name} (seed ${o.seed}): ${o.trainRows} train / ${o.evalRows} eval rows, ${m.F} fields (${totalRows} ids), ` +
      `${m.J} numeric (${numericTransform}); oracle AUC ${oracle.auc.toFixed(4)}, logloss ${oracle.logloss.toFixed(4)}`,
  };
}
