/**
 * Train/eval split of a single data file (--split):
 *   random:F      each line is eval with probability F, decided by a hash of (seed, line number), so
 *                 the split depends on neither chunking nor skipped lines, and is the same on every rank
 *   sequential:F  the last round(F * rows) rows are eval (the usual "last days are test" protocol)
 * F must lie strictly between 0 and 1.
 */
import { UserError } from '../util/errors.js';

export interface SplitSpec {
  kind: 'random' | 'sequential';
  fraction: number;
}

export const DEFAULT_SPLIT = 'random:0.1';

export function parseSplit(spec: string): SplitSpec {
  const m = /^(random|sequential):(.+)$/.exec(spec.trim());
  const fraction = m ? Number(m[2]) : NaN;
  if (!m || !(fraction > 0 && fraction < 1)) {
    throw new UserError(
      `--split ${JSON.stringify(spec)}: expected random:F or sequential:F with the eval fraction F strictly between 0 and 1 (e.g. ${DEFAULT_SPLIT})`,
    );
  }
  return { kind: m[1] as SplitSpec['kind'], fraction };
}

/** For random:F, whether the row on 1-based line `line` is an eval row. */
export function isEvalLine(seed: number, line: number, fraction: number): boolean {
  let h = Math.imul((seed | 0) ^ 0x5bd1e995, 0x9e3779b1);
  h = Math.imul(h ^ (line >>> 0), 0x85ebca6b);
  h = Math.imul(h ^ Math.floor(line / 4294967296), 0xc2b2ae35);
  h ^= h >>> 15;
  h = Math.imul(h, 0x2c1b3c6d);
  h ^= h >>> 12;
  h = Math.imul(h, 0x297a2d39);
  h ^= h >>> 15;
  return (h >>> 0) / 4294967296 < fraction;
}
