/**
 * Text -> columnar RawChunks. Works on raw bytes (no string per line or per cell) so the reader
 * worker's cost is one scan per line. Independent of I/O, so it is unit-tested directly.
 */
import { UserError } from '../util/errors.js';
import type { FormatSpec } from './formats.js';
import { parseInteger, tokenKey } from './tokens.js';
import type { RawChunk } from './types.js';

/** A line this long is not CTR data (binary file, wrong delimiter, missing newlines): stop early. */
const MAX_LINE_BYTES = 1 << 20;

export interface ParseOptions {
  chunkRows: number;
  skipBadLines: boolean;
}

/** Parses lines into fixed-capacity column buffers; `take()` hands them off and starts new ones. */
export class ChunkBuilder {
  rows = 0;
  private labels!: Float32Array;
  private numeric!: Float64Array;
  private keys!: Float64Array;
  private lines!: Float64Array;
  private readonly numIndex: Int32Array; // column -> numeric field, or -1
  private readonly catIndex: Int32Array; // column -> categorical field, or -1
  private readonly numNumeric: number;
  private readonly numCategorical: number;

  constructor(
    private readonly spec: FormatSpec,
    private readonly capacity: number,
  ) {
    this.numNumeric = spec.numericColumns.length;
    this.numCategorical = spec.categoricalColumns.length;
    this.numIndex = new Int32Array(spec.columns.length).fill(-1);
    this.catIndex = new Int32Array(spec.columns.length).fill(-1);
    spec.numericColumns.forEach((c, i) => (this.numIndex[c] = i));
    spec.categoricalColumns.forEach((c, i) => (this.catIndex[c] = i));
    this.allocate();
  }

  get full(): boolean {
    return this.rows === this.capacity;
  }

  /** Parses one line (without its newline) into the next row; returns what is wrong, or null. */
  addLine(buf: Uint8Array, start: number, end: number, lineNo: number): string | null {
    const { spec, numIndex, catIndex } = this;
    const ncols = spec.columns.length;
    const delim = spec.delimiter;
    const r = this.rows;
    const numBase = r * this.numNumeric;
    const catBase = r * this.numCategorical;
    let col = 0;
    let s = start;
    for (let i = start; ; i++) {
      if (i !== end && buf[i] !== delim) continue;
      if (col >= ncols) return this.columnCountError(buf, start, end);
      if (col === spec.labelColumn) {
        if (i - s !== 1 || (buf[s] !== 48 && buf[s] !== 49)) {
          return `column ${col + 1} (${spec.columns[col]}): expected 0 or 1, found ${excerpt(buf, s, i)}`;
        }
        this.labels[r] = buf[s] - 48;
      } else if (numIndex[col] >= 0) {
        let v = NaN;
        if (i > s) {
          v = parseInteger(buf, s, i);
          if (v !== v) {
            return `column ${col + 1} (${spec.columns[col]}): expected an integer or an empty cell, found ${excerpt(buf, s, i)}`;
          }
        }
        this.numeric[numBase + numIndex[col]] = v;
      } else if (catIndex[col] >= 0) {
        this.keys[catBase + catIndex[col]] = tokenKey(buf, s, i);
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

  /** The filled rows as a RawChunk (arrays trimmed to `rows`); the builder starts empty again. */
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

  private columnCountError(buf: Uint8Array, start: number, end: number): string {
    let found = 1;
    let cr = 0;
    for (let i = start; i < end; i++) {
      if (buf[i] === this.spec.delimiter) found++;
      else if (buf[i] === 13) cr++;
    }
    const sep = this.spec.delimiter === 9 ? 'tab' : 'comma';
    // A file with CR-only line endings is one long line: "found 1561 columns" alone would not say why.
    const hint = cr > 0 ? `; the line holds ${cr} carriage returns (CR line endings?)` : '';
    return `expected ${this.spec.columns.length} ${sep}-separated columns, found ${found}${hint}`;
  }
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
  private rest: Buffer | null = null;
  private readonly builder: ChunkBuilder;

  constructor(
    private readonly spec: FormatSpec,
    private readonly path: string,
    private readonly opts: ParseOptions,
    private readonly emit: (chunk: RawChunk) => void,
  ) {
    this.builder = new ChunkBuilder(spec, opts.chunkRows);
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
    if (this.rows > 0) return;
    if (this.skipped > 0) {
      throw new UserError(`${this.path}: all ${this.skipped} data lines are bad (first: ${this.firstSkipped})`);
    }
    const what = this.lineNo === 0 ? 'the file is empty' : this.spec.hasHeader ? 'only a header' : 'only blank lines';
    throw new UserError(`${this.path}: no data rows (${what})`);
  }

  private line(buf: Uint8Array, start: number, end: number): void {
    const lineNo = ++this.lineNo;
    if (end > start && buf[end - 1] === 13) end--;
    if (lineNo === 1 && this.spec.hasHeader) {
      this.checkHeader(buf, start, end);
      return;
    }
    if (end === start) return;
    const err = this.builder.addLine(buf, start, end, lineNo);
    if (err !== null) {
      const msg = `${this.path}, line ${lineNo}: ${err}`;
      if (!this.opts.skipBadLines) throw new UserError(msg);
      if (this.skipped++ === 0) this.firstSkipped = msg;
      return;
    }
    if (this.builder.full) this.flush();
  }

  private flush(): void {
    const chunk = this.builder.take();
    this.rows += chunk.rows;
    this.emit(chunk);
  }

  private checkHeader(buf: Uint8Array, start: number, end: number): void {
    // A UTF-8 byte-order mark is tolerated.
    if (end - start >= 3 && buf[start] === 0xef && buf[start + 1] === 0xbb && buf[start + 2] === 0xbf) start += 3;
    const found = Buffer.from(buf.buffer, buf.byteOffset + start, end - start).toString('latin1');
    const sep = String.fromCharCode(this.spec.delimiter);
    const expected = this.spec.columns;
    if (found === expected.join(sep)) return;
    const cols = found.split(sep);
    const at = expected.findIndex((name, i) => cols[i] !== name);
    const detail =
      at >= 0 && at < cols.length
        ? `column ${at + 1} is ${quote(cut(cols[at]))} where ${quote(expected[at])} was expected`
        : `found ${cols.length} columns`;
    throw new UserError(
      `${this.path}, line 1: expected the ${this.spec.name} header "${expected.join(sep)}" (${expected.length} columns); ${detail}`,
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

/** "a criteo", "an avazu". */
function article(name: string): string {
  return `${/^[aeiou]/.test(name) ? 'an' : 'a'} ${name}`;
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
