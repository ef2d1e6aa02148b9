/**
 * Train/eval split of a single data file (--split):
 *   random:F      each line is eval with probability F, decided by a hash of (seed, line number), so
 *                 the split depends on neither chunking nor skipped lines, and is the same on every rank
 *   sequential:F  the last round(F * rows) rows are eval (the usual "last days are test" protocol)
 * F must lie strictly between 0 and 1.
 */
import { UserError } from '../util/errors.js';
import type { RawChunk } from './types.js';

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

/** Splits a chunk's rows into (a: predicate false, b: predicate true) by line number, preserving order. */
export function partition(
  chunk: RawChunk,
  F: number,
  J: number,
  inB: (line: number) => boolean,
): { a: RawChunk; b: RawChunk } {
  const lines = chunk.lines;
  if (!lines) throw new Error('partition: chunk without line numbers');
  const mask = new Uint8Array(chunk.rows);
  let nb = 0;
  for (let r = 0; r < chunk.rows; r++) if ((mask[r] = inB(lines[r]) ? 1 : 0)) nb++;
  const make = (n: number): RawChunk => ({
    rows: 0,
    labels: new Float32Array(n),
    numeric: new Float64Array(n * J),
    keys: new Float64Array(n * F),
    lines: new Float64Array(n),
  });
  const a = make(chunk.rows - nb);
  const b = make(nb);
  for (let r = 0; r < chunk.rows; r++) {
    const out = mask[r] ? b : a;
    const i = out.rows++;
    out.labels[i] = chunk.labels[r];
    (out.lines as Float64Array)[i] = lines[r];
    for (let j = 0; j < J; j++) out.numeric[i * J + j] = chunk.numeric[r * J + j];
    for (let f = 0; f < F; f++) out.keys[i * F + f] = chunk.keys[r * F + f];
  }
  return { a, b };
}
