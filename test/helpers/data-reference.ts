/**
 * The reference parser of the data fuzz tests (data-hostile, data-fuzz): what the reader must make of a
 * file (its rows, its skip count, or the line and reason it fails), to check LineParser and loadData against.
 */
import type { DelimitedLayout, Layout, SparseLayout } from '../../src/data/formats.js';
import { tokenKey } from '../../src/data/tokens.js';
import { MISSING_KEY } from '../../src/data/types.js';
import { latin1 } from './data-fuzz.js';

/**
 * What the reference parser expects of a file: the rules of parse.ts written the slow obvious way, on
 * strings (fuzz inputs stay far below the 1 MiB line limit, which it does not model).
 */
export type Expected =
  | { ok: true; lines: number[]; labels: number[]; numeric: number[]; keys: number[]; skipped: number }
  | { ok: false; line: number | null; why: RegExp };

export function reference(layout: Layout, bytes: Buffer, skipBadLines: boolean): Expected {
  let text = bytes.toString('latin1');
  if (text.endsWith('\n')) text = text.slice(0, -1);
  const lines = bytes.length === 0 ? [] : text.split('\n');
  const out = { ok: true as const, lines: [] as number[], labels: [] as number[], numeric: [] as number[], keys: [] as number[], skipped: 0 };
  let first: number | null = null;
  for (let k = 0; k < lines.length; k++) {
    const lineNo = k + 1;
    let line = lines[k];
    if (line.endsWith('\r')) line = line.slice(0, -1);
    if (lineNo === 1 && layout.kind === 'delimited' && layout.header !== 'none') {
      // skip: the header was read when the layout was resolved; exact: it must be the format's own.
      if (layout.header === 'skip') continue;
      if (line.startsWith('\xef\xbb\xbf')) line = line.slice(3);
      if (line !== layout.columns.join(String.fromCharCode(layout.delimiter))) return { ok: false, line: 1, why: new RegExp(`expected the ${layout.name} header`) };
      continue;
    }
    if (line === '') continue;
    const row = layout.kind === 'delimited' ? delimitedRow(layout, line) : sparseRow(layout, line);
    if (row === null) {
      if (!skipBadLines) return { ok: false, line: lineNo, why: layout.kind === 'delimited' ? /column|columns/ : /label|pair/ };
      if (out.skipped++ === 0) first = lineNo;
      continue;
    }
    out.lines.push(lineNo);
    out.labels.push(row.label);
    out.numeric.push(...row.numeric);
    out.keys.push(...row.keys);
  }
  if (out.lines.length > 0) return out;
  if (out.skipped > 0) return { ok: false, line: first, why: new RegExp(`all ${out.skipped} data lines are bad`) };
  return { ok: false, line: null, why: /no data rows/ };
}

interface Row {
  label: number;
  numeric: number[];
  keys: number[];
}

/** "0"/"1" (and with signed labels "-1" = 0, "+1" = 1) -> 0/1; anything else NaN. */
function label(s: string, signed: boolean): number {
  if (s === '0' || (signed && s === '-1')) return 0;
  if (s === '1' || (signed && s === '+1')) return 1;
  return NaN;
}

/** A decimal integer that a double holds exactly, or NaN. */
const integer = (s: string): number => (/^[+-]?[0-9]+$/.test(s) && Math.abs(Number(s)) <= Number.MAX_SAFE_INTEGER ? Number(s) : NaN);
/** A decimal number such as -1.5e3 with a finite value, or NaN. */
function decimal(s: string): number {
  const v = /^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?$/.test(s) ? Number(s) : NaN;
  return Number.isFinite(v) ? v : NaN;
}

/** YYMMDDHH (years 2000-2099) -> [hour of day, day of week with Monday 0], through Date; null if no such hour. */
function hourOf(s: string): [number, number] | null {
  const v = integer(s);
  if (!(v >= 0 && v <= 99_999_999)) return null;
  const d = String(v).padStart(8, '0');
  const [yy, mm, dd, hh] = [0, 2, 4, 6].map((at) => Number(d.slice(at, at + 2)));
  const date = new Date(Date.UTC(2000 + yy, mm - 1, dd));
  if (hh > 23 || mm < 1 || date.getUTCMonth() !== mm - 1 || date.getUTCDate() !== dd) return null;
  return [hh, (date.getUTCDay() + 6) % 7];
}

function delimitedRow(layout: DelimitedLayout, line: string): Row | null {
  const cells = line.split(String.fromCharCode(layout.delimiter));
  if (cells.length !== layout.columns.length) return null;
  const y = layout.labelColumn < 0 ? 0 : label(cells[layout.labelColumn], layout.labels === 'signed');
  if (Number.isNaN(y)) return null;
  const numeric: number[] = [];
  for (const c of layout.numericColumns) {
    const v = cells[c] === '' ? NaN : layout.numbers === 'integer' ? integer(cells[c]) : decimal(cells[c]);
    if (cells[c] !== '' && Number.isNaN(v)) return null;
    numeric.push(v);
  }
  const keys: number[] = [];
  if (layout.timeColumn >= 0) {
    const hour = hourOf(cells[layout.timeColumn]);
    if (hour === null) return null;
    keys.push(...hour);
  }
  for (const c of layout.categoricalColumns) {
    if (cells[c].startsWith('"')) return null; // a quoted cell is refused, not read
    keys.push(tokenKey(latin1(cells[c]), 0, cells[c].length));
  }
  return { label: y, numeric, keys };
}

function sparseRow(layout: SparseLayout, line: string): Row | null {
  const tokens = line.split(/[ \t]/).filter((x) => x !== '');
  const y = tokens.length ? label(tokens[0], true) : NaN;
  if (Number.isNaN(y)) return null;
  const pairs = tokens.slice(1);
  if (layout.fieldStarts === null && pairs.length !== layout.numFields) return null;
  const categorical = Array.from({ length: layout.numFields }, (_, f) => f).filter((f) => !layout.numericFields.includes(f));
  const numeric = layout.numericFields.map(() => NaN);
  const keys = categorical.map(() => MISSING_KEY);
  const seen = new Set<number>();
  for (let pos = 0; pos < pairs.length; pos++) {
    const m = /^([^:]*):(.*)$/.exec(pairs[pos]);
    const idx = m ? integer(m[1]) : NaN;
    const val = m ? decimal(m[2]) : NaN;
    if (!(idx >= 0) || Number.isNaN(val)) return null;
    const starts = layout.fieldStarts;
    const field = starts === null ? pos : starts.filter((s) => s <= idx).length - 1;
    if (field < 0 || field >= layout.numFields || seen.has(field)) return null;
    seen.add(field);
    if (layout.numericFields.includes(field)) numeric[layout.numericFields.indexOf(field)] = val;
    else if (val === 1) keys[categorical.indexOf(field)] = idx;
    else if (val !== 0) return null; // a binary field's value is 1, or 0 for absent
  }
  return { label: y, numeric, keys };
}
