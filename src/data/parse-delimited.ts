/** The row builder for delimited layouts (formats.ts), and the separator names its errors use. */
import type { DelimitedLayout } from './formats.js';
import { excerpt, parseLabel, RowBuffers } from './parse-row-builder.js';
import { parseDecimal, parseInteger, splitHour, tokenKey } from './tokens.js';

/** Delimited lines: one cell per column. */
export class ChunkBuilder extends RowBuffers {
  private readonly numIndex: Int32Array; // column -> numeric field, or -1
  private readonly catIndex: Int32Array; // column -> categorical field, or -1
  private readonly firstCat: number; // fields before the column-read ones (the time fields)
  private readonly time = new Float64Array(2);

  constructor(
    private readonly spec: DelimitedLayout,
    capacity: number,
  ) {
    super(spec.numericColumns.length, spec.fieldNames.length, capacity);
    this.numIndex = new Int32Array(spec.columns.length).fill(-1);
    this.catIndex = new Int32Array(spec.columns.length).fill(-1);
    this.firstCat = spec.timeColumn >= 0 ? 2 : 0;
    spec.numericColumns.forEach((c, i) => (this.numIndex[c] = i));
    spec.categoricalColumns.forEach((c, i) => (this.catIndex[c] = this.firstCat + i));
  }

  addLine(buf: Uint8Array, start: number, end: number, lineNo: number): string | null {
    const { spec, numIndex, catIndex } = this;
    const ncols = spec.columns.length;
    const delim = spec.delimiter;
    const decimal = spec.numbers === 'decimal';
    const r = this.rows;
    const numBase = r * this.numNumeric;
    const catBase = r * this.numCategorical;
    if (spec.labelColumn < 0) this.labels[r] = 0;
    let col = 0;
    let s = start;
    for (let i = start; ; i++) {
      if (i !== end && buf[i] !== delim) continue;
      if (col >= ncols) return this.columnCountError(buf, start, end);
      if (col === spec.labelColumn) {
        const y = parseLabel(buf, s, i, spec.labels === 'signed');
        if (y < 0) return `column ${col + 1} (${spec.columns[col]}): expected ${spec.labels === 'signed' ? '0/1 or -1/+1' : '0 or 1'}, found ${excerpt(buf, s, i)}`;
        this.labels[r] = y;
      } else if (numIndex[col] >= 0) {
        let v = NaN;
        if (i > s) {
          v = decimal ? parseDecimal(buf, s, i) : parseInteger(buf, s, i);
          if (v !== v) {
            return `column ${col + 1} (${spec.columns[col]}): expected ${decimal ? 'a number' : 'an integer'} or an empty cell, found ${excerpt(buf, s, i)}`;
          }
        }
        this.numeric[numBase + numIndex[col]] = v;
      } else if (catIndex[col] >= 0) {
        if (i > s && buf[s] === 34) return `column ${col + 1} (${spec.columns[col]}): quoted cells are not read (a cell holding the separator); found ${excerpt(buf, s, i)}`;
        this.keys[catBase + catIndex[col]] = tokenKey(buf, s, i);
      } else if (col === spec.timeColumn) {
        if (!splitHour(i > s ? parseInteger(buf, s, i) : NaN, this.time)) {
          return `column ${col + 1} (${spec.columns[col]}): expected an hour YYMMDDHH such as 14102100, found ${excerpt(buf, s, i)}`;
        }
        this.keys[catBase] = this.time[0];
        this.keys[catBase + 1] = this.time[1];
      }
      col++;
      s = i + 1;
      if (i === end) break;
    }
    if (col !== ncols) return this.columnCountError(buf, start, end);
    this.lines[r] = lineNo;
    this.rows = r + 1;
    return null;
  }

  private columnCountError(buf: Uint8Array, start: number, end: number): string {
    let found = 1;
    let cr = 0;
    for (let i = start; i < end; i++) {
      if (buf[i] === this.spec.delimiter) found++;
      else if (buf[i] === 13) cr++;
    }
    const sep = separatorName(this.spec.delimiter);
    // A file with CR-only line endings is one long line: "found 1561 columns" alone would not say why.
    const hint = cr > 0 ? `; the line holds ${cr} carriage returns (CR line endings?)` : '';
    return `expected ${this.spec.columns.length} ${sep}-separated columns, found ${found}${hint}`;
  }
}

/** "tab", "comma", or the character. */
export function separatorName(delimiter: number): string {
  const names: Record<number, string> = { 9: 'tab', 44: 'comma', 59: 'semicolon', 124: 'pipe', 32: 'space' };
  return names[delimiter] ?? JSON.stringify(String.fromCharCode(delimiter));
}
