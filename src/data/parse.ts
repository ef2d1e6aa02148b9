/**
 * Text -> columnar RawChunks. Works on raw bytes (no string per line or per cell) so the reader
 * worker's cost is one scan per line. Independent of I/O, so it is unit-tested directly.
 */
import { UserError } from '../util/errors.js';
import { article, type DelimitedLayout, type Layout, type SparseLayout } from './formats.js';
import { parseDecimal, parseInteger, splitHour, tokenKey } from './tokens.js';
import { MISSING_KEY, type RawChunk } from './types.js';

/** A line this long is not CTR data (binary file, wrong delimiter, missing newlines): stop early. */
const MAX_LINE_BYTES = 1 << 20;

export interface ParseOptions {
  chunkRows: number;
  skipBadLines: boolean;
  /**
   * Called with the number of each data line (not blank, not the header) before it is parsed: false
   * passes it over unparsed (a streaming rank reads only its own rows).
   */
  select?: (lineNo: number) => boolean;
}

/** A row builder for one layout kind: parses lines into fixed-capacity column buffers. */
export interface RowBuilder {
  rows: number;
  readonly full: boolean;
  /** Parses one line (without its newline) into the next row; returns what is wrong, or null. */
  addLine(buf: Uint8Array, start: number, end: number, lineNo: number): string | null;
  /** The filled rows as a RawChunk (arrays trimmed to `rows`); the builder starts empty again. */
  take(): RawChunk;
}

export function createRowBuilder(layout: Layout, capacity: number): RowBuilder {
  return layout.kind === 'sparse' ? new SparseRowBuilder(layout, capacity) : new ChunkBuilder(layout, capacity);
}

/** The column buffers both builders fill, and their hand-off. */
abstract class RowBuffers implements RowBuilder {
  rows = 0;
  protected labels!: Float32Array;
  protected numeric!: Float64Array;
  protected keys!: Float64Array;
  protected lines!: Float64Array;

  constructor(
    protected readonly numNumeric: number,
    protected readonly numCategorical: number,
    private readonly capacity: number,
  ) {
    this.allocate();
  }

  get full(): boolean {
    return this.rows === this.capacity;
  }

  abstract addLine(buf: Uint8Array, start: number, end: number, lineNo: number): string | null;

  take(): RawChunk {
    const n = this.rows;
    const trim = n < this.capacity;
    const chunk: RawChunk = {
      rows: n,
      labels: trim ? this.labels.slice(0, n) : this.labels,
      numeric: trim ? this.numeric.slice(0, n * this.numNumeric) : this.numeric,
      keys: trim ? this.keys.slice(0, n * this.numCategorical) : this.keys,
      lines: trim ? this.lines.slice(0, n) : this.lines,
    };
    if (trim) this.rows = 0;
    else this.allocate();
    return chunk;
  }

  private allocate(): void {
    const c = this.capacity;
    this.rows = 0;
    this.labels = new Float32Array(c);
    this.numeric = new Float64Array(c * this.numNumeric);
    this.keys = new Float64Array(c * this.numCategorical);
    this.lines = new Float64Array(c);
  }
}

/** Label cell -> 0 or 1, or -1 when it is not a label of this form. */
function parseLabel(buf: Uint8Array, s: number, e: number, signed: boolean): number {
  if (e - s === 1 && (buf[s] === 48 || buf[s] === 49)) return buf[s] - 48;
  if (signed && e - s === 2 && buf[s + 1] === 49 && (buf[s] === 45 || buf[s] === 43)) return buf[s] === 43 ? 1 : 0;
  return -1;
}

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

/**
 * libSVM / libFM lines: a label (0/1 or -1/+1), then `index:value` pairs separated by spaces or tabs.
 * A binary field's value must be 1 (0: the feature is absent) and its index is the ID; a numeric field's
 * value is the feature. A field without a pair in a line is missing.
 */
class SparseRowBuilder extends RowBuffers {
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

/**
 * Splits a byte stream into lines (LF or CRLF; the last line may lack its newline; blank lines are
 * ignored but counted), checks the header, and emits full chunks. Bad lines throw a UserError naming
 * the file and 1-based line, or are counted under skipBadLines.
 */
export class LineParser {
  /** Lines consumed so far (header and blank lines included). */
  lineNo = 0;
  /** Rows emitted so far. */
  rows = 0;
  skipped = 0;
  /** The first skipped line's error, for the summary. */
  firstSkipped = '';
  /** Numbers of the skipped lines, ascending (a streamed file's later passes pass them over). */
  readonly skippedLines: number[] = [];
  private rest: Buffer | null = null;
  private readonly builder: RowBuilder;

  constructor(
    private readonly spec: Layout,
    private readonly path: string,
    private readonly opts: ParseOptions,
    private readonly emit: (chunk: RawChunk) => void,
  ) {
    this.builder = createRowBuilder(spec, opts.chunkRows);
  }

  push(buf: Buffer): void {
    let pos = 0;
    if (this.rest) {
      const nl = buf.indexOf(10);
      if (nl < 0) {
        this.rest = Buffer.concat([this.rest, buf]);
        this.checkLength(this.rest.length);
        return;
      }
      const line = Buffer.concat([this.rest, buf.subarray(0, nl)]);
      this.rest = null;
      this.line(line, 0, line.length);
      pos = nl + 1;
    }
    for (;;) {
      const nl = buf.indexOf(10, pos);
      if (nl < 0) break;
      this.line(buf, pos, nl);
      pos = nl + 1;
    }
    if (pos < buf.length) {
      this.checkLength(buf.length - pos);
      this.rest = Buffer.from(buf.subarray(pos)); // copy: the stream may reuse its buffer
    }
  }

  /** Flushes the last line and rows; throws if the file held no data row. */
  end(): void {
    if (this.rest) {
      const line = this.rest;
      this.rest = null;
      this.line(line, 0, line.length);
    }
    if (this.builder.rows > 0) this.flush();
    if (this.rows > 0 || this.opts.select) return; // a streaming rank may own no row of a file

    if (this.skipped > 0) {
      throw new UserError(`${this.path}: all ${this.skipped} data lines are bad (first: ${this.firstSkipped})`);
    }
    const what = this.lineNo === 0 ? 'the file is empty' : this.spec.kind === 'delimited' && this.spec.header !== 'none' ? 'only a header' : 'only blank lines';
    throw new UserError(`${this.path}: no data rows (${what})`);
  }

  private line(buf: Uint8Array, start: number, end: number): void {
    const lineNo = ++this.lineNo;
    if (end > start && buf[end - 1] === 13) end--;
    if (lineNo === 1 && this.spec.kind === 'delimited' && this.spec.header !== 'none') {
      if (this.spec.header === 'exact') this.checkHeader(this.spec, buf, start, end);
      return;
    }
    if (end === start) return;
    if (this.opts.select && !this.opts.select(lineNo)) return;
    const err = this.builder.addLine(buf, start, end, lineNo);
    if (err !== null) {
      const msg = `${this.path}, line ${lineNo}: ${err}`;
      if (!this.opts.skipBadLines) throw new UserError(msg);
      if (this.skipped++ === 0) this.firstSkipped = msg;
      this.skippedLines.push(lineNo);
      return;
    }
    if (this.builder.full) this.flush();
  }

  /** Emits the rows parsed so far, even short of a full chunk. */
  flushRows(): void {
    if (this.builder.rows > 0) this.flush();
  }

  private flush(): void {
    const chunk = this.builder.take();
    this.rows += chunk.rows;
    this.emit(chunk);
  }

  private checkHeader(spec: DelimitedLayout, buf: Uint8Array, start: number, end: number): void {
    // A UTF-8 byte-order mark is tolerated.
    if (end - start >= 3 && buf[start] === 0xef && buf[start + 1] === 0xbb && buf[start + 2] === 0xbf) start += 3;
    const found = Buffer.from(buf.buffer, buf.byteOffset + start, end - start).toString('latin1');
    const sep = String.fromCharCode(spec.delimiter);
    const expected = spec.columns;
    if (found === expected.join(sep)) return;
    const cols = found.split(sep);
    const at = expected.findIndex((name, i) => cols[i] !== name);
    const detail =
      at >= 0 && at < cols.length
        ? `column ${at + 1} is ${quote(cut(cols[at]))} where ${quote(expected[at])} was expected`
        : `found ${cols.length} columns`;
    throw new UserError(
      `${this.path}, line 1: expected the ${spec.name} header "${expected.join(sep)}" (${expected.length} columns); ${detail}`,
    );
  }

  private checkLength(n: number): void {
    if (n > MAX_LINE_BYTES) {
      throw new UserError(
        `${this.path}, line ${this.lineNo + 1}: longer than ${MAX_LINE_BYTES} bytes; is this ${article(this.spec.name)} text file?`,
      );
    }
  }
}

const EXCERPT = 24;

/** A short quoted excerpt of a cell for error messages. */
function excerpt(buf: Uint8Array, start: number, end: number): string {
  const n = Math.min(end - start, EXCERPT + 1);
  return quote(cut(Buffer.from(buf.buffer, buf.byteOffset + start, n).toString('latin1')));
}

function cut(s: string): string {
  return s.length > EXCERPT ? `${s.slice(0, EXCERPT)}...` : s;
}

function quote(s: string): string {
  return JSON.stringify(s);
}
