/** The row builder for sparse layouts (libSVM / libFM, formats.ts). */
import type { SparseLayout } from './formats.js';
import { excerpt, parseLabel, RowBuffers } from './parse-row-builder.js';
import { parseDecimal, parseInteger } from './tokens.js';
import { MISSING_KEY } from './types.js';

/**
 * libSVM / libFM lines: a label (0/1 or -1/+1), then `index:value` pairs separated by spaces or tabs.
 * A binary field's value must be 1 (0: the feature is absent) and its index is the ID; a numeric field's
 * value is the feature. A field without a pair in a line is missing.
 */
export class SparseRowBuilder extends RowBuffers {
  /** Field -> numeric feature index, or -1 for a categorical field; and -> categorical field index. */
  private readonly numOf: Int32Array;
  private readonly catOf: Int32Array;
  /** Which fields the current line has set (duplicate check). */
  private readonly seen: Uint8Array;

  constructor(
    private readonly spec: SparseLayout,
    capacity: number,
  ) {
    super(spec.numericFields.length, spec.numFields - spec.numericFields.length, capacity);
    this.numOf = new Int32Array(spec.numFields).fill(-1);
    this.catOf = new Int32Array(spec.numFields).fill(-1);
    spec.numericFields.forEach((f, i) => (this.numOf[f] = i));
    for (let f = 0, c = 0; f < spec.numFields; f++) if (this.numOf[f] < 0) this.catOf[f] = c++;
    this.seen = new Uint8Array(spec.numFields);
  }

  addLine(buf: Uint8Array, start: number, end: number, lineNo: number): string | null {
    const { spec, numOf, catOf, seen } = this;
    const r = this.rows;
    const numBase = r * this.numNumeric;
    const catBase = r * this.numCategorical;
    this.numeric.fill(NaN, numBase, numBase + this.numNumeric);
    this.keys.fill(MISSING_KEY, catBase, catBase + this.numCategorical);
    seen.fill(0);
    let i = skipBlanks(buf, start, end);
    let s = i;
    i = nextBlank(buf, i, end);
    const y = parseLabel(buf, s, i, true);
    if (y < 0) return `expected a label 0/1 or -1/+1 first, found ${excerpt(buf, s, i)}`;
    this.labels[r] = y;
    let pos = 0;
    for (;;) {
      s = i = skipBlanks(buf, i, end);
      if (i === end) break;
      i = nextBlank(buf, i, end);
      let colon = s;
      while (colon < i && buf[colon] !== 58) colon++;
      const idx = colon < i ? parseInteger(buf, s, colon) : NaN;
      const val = colon < i && colon + 1 < i ? parseDecimal(buf, colon + 1, i) : NaN;
      if (!(idx >= 0) || val !== val) return `pair ${pos + 1}: expected index:value with an integer index >= 0 and a number, found ${excerpt(buf, s, i)}`;
      const f = spec.fieldStarts ? fieldOf(spec.fieldStarts, idx) : pos;
      if (f >= spec.numFields) return `pair ${pos + 1} (${excerpt(buf, s, i)}): the lines have ${spec.numFields} fields, one pair each, by position (give fields=START/START/... when fields are index ranges)`;
      if (f < 0) return `pair ${pos + 1}: index ${idx} is below the first field's start ${spec.fieldStarts?.[0]}`;
      if (seen[f]) return `pair ${pos + 1} (${excerpt(buf, s, i)}): a second feature of field ${f + 1}; each field holds one feature per line`;
      seen[f] = 1;
      if (numOf[f] >= 0) {
        this.numeric[numBase + numOf[f]] = val;
      } else if (val === 1) {
        this.keys[catBase + catOf[f]] = idx;
      } else if (val !== 0) {
        return `pair ${pos + 1} (${excerpt(buf, s, i)}): field ${f + 1} is binary (value 1), but this value is ${val}; declare valued fields numeric with num= (e.g. num=${f + 1})`;
      }
      pos++;
    }
    if (!spec.fieldStarts && pos !== spec.numFields) return `expected ${spec.numFields} index:value pairs (one per field, by position), found ${pos}`;
    this.lines[r] = lineNo;
    this.rows = r + 1;
    return null;
  }
}

function isBlank(c: number): boolean {
  return c === 32 || c === 9;
}

function skipBlanks(buf: Uint8Array, i: number, end: number): number {
  while (i < end && isBlank(buf[i])) i++;
  return i;
}

function nextBlank(buf: Uint8Array, i: number, end: number): number {
  while (i < end && !isBlank(buf[i])) i++;
  return i;
}

/** The field of a feature index: the last start at or below it (-1 below the first). */
function fieldOf(starts: readonly number[], idx: number): number {
  let lo = 0;
  let hi = starts.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (starts[mid] <= idx) lo = mid + 1;
    else hi = mid;
  }
  return lo - 1;
}
