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
import { Rng } from '../util/rng.js';
import { applyNumeric, NumericStats, type NumericTransformName } from './numeric.js';
import { calibrate, fitMixer, mix, sigmoid, type Mixer } from './synthetic-calibrate.js';
import { plant, sampleRows, type Planted } from './synthetic-planted.js';
import { checkSyntheticOptions, type SyntheticOptions } from './synthetic-spec.js';
import type { EncodedData, LoadedData } from './types.js';
import { Vocabulary, saveVocabulary } from './vocab.js';

/** One split: rows drawn with rowRng, each label drawn from its true probability with labelRng. */
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
