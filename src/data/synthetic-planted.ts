/**
 * The planted ground-truth model of the synthetic data (synthetic.ts has the design): its per-ID and
 * numeric weights, and the row sampler that draws features and the logit terms they produce.
 */
import { Rng } from '../util/rng.js';
import type { SyntheticOptions } from './synthetic-spec.js';
import { prefixSums } from './vocab.js';

/** The planted model: everything that maps a row's features to its logit. */
export interface Planted {
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

export function plant(o: SyntheticOptions, fieldSizes: number[]): Planted {
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
export function sampleRows(
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
