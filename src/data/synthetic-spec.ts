/**
 * What synthetic data to generate: the options, the presets, and the `synthetic[:PRESET][,key=value...]`
 * spec that picks them (kept apart from the generator so the CLI and benches read them without it).
 */
import { UserError } from '../util/errors.js';

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
