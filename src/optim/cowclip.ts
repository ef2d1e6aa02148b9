/**
 * CowClip (Zheng et al., AAAI 2023): clip each embedding row's gradient to a threshold proportional to
 * the ID's count in the (global) batch and to the row's own norm. See /work/shared/COWCLIP.md.
 *   paper:     t_j = cnt_j * max(r * ||W_j||, zeta)
 *   reference: t_j = r * cnt_j * max(||W_j||, r * sqrt(d) * zeta)     (bytedance/LargeBatchCTR)
 *   g_j <- g_j * min(1, t_j / ||g_j||), g_j unchanged when ||g_j|| = 0.
 *   auto:      the paper's t_j, and every row normalised to it (AUTO-S, Bu et al. 2022, per ID instead of per
 *              sample): g_j <- g_j * t_j / (||g_j|| + gamma). Always active: at a large batch a mean loss makes
 *              ||g_j|| ~ cnt_j / B of a sample's gradient, far below t_j, and clipping never fires; under Adam
 *              the scale of t_j cancels and what remains is each row's direction, weighted by its count.
 *              "Clipped" counts the rows it scaled down.
 */

/**
 * Rows by their ID's count in the global batch, the frequency CowClip's threshold scales with: tail (seen once),
 * torso (2 to 31 times), head (32 and more). A tally holds, per bucket, the rows CowClip looked at and the rows
 * it scaled down: [tail rows, tail clipped, torso rows, torso clipped, head rows, head clipped].
 */
export const BUCKETS = ['tail', 'torso', 'head'] as const;
export const TALLY_LENGTH = 2 * BUCKETS.length;

export function bucketOf(count: number): number {
  return count < 2 ? 0 : count < 32 ? 1 : 2;
}

export interface CowClipOptions {
  /** r */
  ratio: number;
  /** zeta, the lower bound that keeps near-zero rows trainable. */
  zeta: number;
  form?: 'paper' | 'reference' | 'auto';
  /** auto: the stability constant gamma (rows with ||g|| well below it are scaled by t / gamma, not normalised). */
  gamma?: number;
}

/**
 * Both forms as t = cnt * max(r * ||W||, floor): the reference form's r * max(||W||, r sqrt(d) zeta)
 * equals max(r ||W||, r^2 sqrt(d) zeta) for r >= 0.
 */
export function thresholdFloor(opts: CowClipOptions, dim: number): number {
  const { ratio, zeta } = opts;
  if (!(ratio >= 0) || !(zeta >= 0)) throw new RangeError(`cowclip: ratio and zeta must be >= 0, got ${ratio}, ${zeta}`);
  const form = opts.form ?? 'paper';
  if (form === 'paper' || form === 'auto') return zeta;
  if (form === 'reference') return ratio * ratio * Math.sqrt(dim) * zeta;
  throw new RangeError(`cowclip: unknown form ${String(form)}`);
}

/** auto's gamma, checked; null for the clipping forms. */
export function normaliseGamma(opts: CowClipOptions): number | null {
  if (opts.form !== 'auto') return null;
  const gamma = opts.gamma ?? DEFAULT_GAMMA;
  if (!(gamma > 0)) throw new RangeError(`cowclip: gamma must be > 0, got ${gamma}`);
  return gamma;
}

/** Below typical row gradients even at B = 65,536 (~1e-6 per sample), above float noise. */
export const DEFAULT_GAMMA = 1e-8;

/**
 * The per-row kernel: clips grads[gOff .. gOff+dim) against weights[wOff ..] (gamma null), or normalises them
 * to the threshold (auto: gamma); true when it scaled the row down.
 */
function clipRow(
  weights: Float32Array,
  wOff: number,
  grads: Float32Array,
  gOff: number,
  dim: number,
  count: number,
  ratio: number,
  floor: number,
  gamma: number | null,
): boolean {
  let ww = 0;
  let gg = 0;
  for (let k = 0; k < dim; k++) {
    const w = weights[wOff + k];
    const g = grads[gOff + k];
    ww += w * w;
    gg += g * g;
  }
  const gNorm = Math.sqrt(gg);
  const t = count * Math.max(ratio * Math.sqrt(ww), floor);
  if (gamma !== null && gNorm === 0) return false;
  if (gamma === null && !(gNorm > t)) return false; // also covers ||g|| = 0
  const scale = gamma === null ? t / gNorm : t / (gNorm + gamma);
  for (let k = 0; k < dim; k++) grads[gOff + k] *= scale;
  return scale < 1;
}

/**
 * Clips aligned rows in place: row i of grads against row i of weights with counts[i]
 * (n = counts.length rows). Returns the number of rows clipped.
 */
export function cowclip(weights: Float32Array, grads: Float32Array, counts: ArrayLike<number>, dim: number, opts: CowClipOptions): number {
  const n = counts.length;
  if (weights.length < n * dim || grads.length < n * dim) {
    throw new RangeError(`cowclip: ${weights.length} weights / ${grads.length} grads for ${n} rows x ${dim}`);
  }
  const floor = thresholdFloor(opts, dim);
  const gamma = normaliseGamma(opts);
  let clipped = 0;
  for (let i = 0; i < n; i++) {
    if (clipRow(weights, i * dim, grads, i * dim, dim, counts[i], opts.ratio, floor, gamma)) clipped++;
  }
  return clipped;
}

/**
 * Clips packed gradient rows in place against rows of a full table: grads row i belongs to table row
 * ids[i] (as in a merged SparseGrad), so no weights need gathering. Returns the number of rows clipped, and
 * adds the rows to `tally` by bucket when given.
 */
export function cowclipIndexed(
  table: Float32Array,
  ids: ArrayLike<number>,
  grads: Float32Array,
  counts: ArrayLike<number>,
  dim: number,
  opts: CowClipOptions,
  tally?: number[],
): number {
  const n = ids.length;
  if (counts.length < n || grads.length < n * dim) {
    throw new RangeError(`cowclipIndexed: ${counts.length} counts / ${grads.length} grads for ${n} rows x ${dim}`);
  }
  const rows = table.length / dim;
  const floor = thresholdFloor(opts, dim);
  const gamma = normaliseGamma(opts);
  let clipped = 0;
  for (let i = 0; i < n; i++) {
    const id = ids[i];
    if (!(id >= 0 && id < rows)) throw new RangeError(`cowclipIndexed: id ${id} outside table of ${rows} rows`);
    const scaled = clipRow(table, id * dim, grads, i * dim, dim, counts[i], opts.ratio, floor, gamma);
    if (scaled) clipped++;
    if (tally) {
      const b = 2 * bucketOf(counts[i]);
      tally[b]++;
      if (scaled) tally[b + 1]++;
    }
  }
  return clipped;
}
