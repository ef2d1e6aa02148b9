/**
 * What the per-layout row builders (parse-delimited.ts, parse-sparse.ts) share: the RowBuilder contract
 * LineParser drives, the column buffers they fill, the label cell, and cell excerpts for error messages.
 */
import type { RawChunk } from './types.js';

/** A row builder for one layout kind: parses lines into fixed-capacity column buffers. */
export interface RowBuilder {
  rows: number;
  readonly full: boolean;
  /** Parses one line (without its newline) into the next row; returns what is wrong, or null. */
  addLine(buf: Uint8Array, start: number, end: number, lineNo: number): string | null;
  /** The filled rows as a RawChunk (arrays trimmed to `rows`); the builder starts empty again. */
  take(): RawChunk;
}

/** The column buffers both builders fill, and their hand-off. */
export abstract class RowBuffers implements RowBuilder {
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
export function parseLabel(buf: Uint8Array, s: number, e: number, signed: boolean): number {
  if (e - s === 1 && (buf[s] === 48 || buf[s] === 49)) return buf[s] - 48;
  if (signed && e - s === 2 && buf[s + 1] === 49 && (buf[s] === 45 || buf[s] === 43)) return buf[s] === 43 ? 1 : 0;
  return -1;
}

const EXCERPT = 24;

/** A short quoted excerpt of a cell for error messages. */
export function excerpt(buf: Uint8Array, start: number, end: number): string {
  const n = Math.min(end - start, EXCERPT + 1);
  return quote(cut(Buffer.from(buf.buffer, buf.byteOffset + start, n).toString('latin1')));
}

/** At most EXCERPT characters (LineParser quotes header cells the same way). */
export function cut(s: string): string {
  return s.length > EXCERPT ? `${s.slice(0, EXCERPT)}...` : s;
}

export function quote(s: string): string {
  return JSON.stringify(s);
}
