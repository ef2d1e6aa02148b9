/**
 * Text -> columnar RawChunks. Works on raw bytes (no string per line or per cell) so the reader
 * worker's cost is one scan per line. Independent of I/O, so it is unit-tested directly. This file
 * splits lines and checks the header; the row builders (parse-delimited.ts, parse-sparse.ts) parse them.
 */
import { UserError } from '../util/errors.js';
import { article, type DelimitedLayout, type Layout } from './formats.js';
import { ChunkBuilder } from './parse-delimited.js';
import { cut, quote, type RowBuilder } from './parse-row-builder.js';
import { SparseRowBuilder } from './parse-sparse.js';
import type { RawChunk } from './types.js';

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

/** The row builder of the layout's kind. */
export function createRowBuilder(layout: Layout, capacity: number): RowBuilder {
  return layout.kind === 'sparse' ? new SparseRowBuilder(layout, capacity) : new ChunkBuilder(layout, capacity);
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
