/**
 * --data / --eval-data values -> where the rows are and how a line reads (a Layout).
 *
 *   synthetic[:PRESET][,key=value...]
 *   criteo:PATH | avazu:PATH                                      fixed layouts
 *   csv:PATH,label=COL,cat=COLS,num=COLS[,sep=C][,header=true]    any delimited file, described
 *   libsvm:PATH[,fields=S1/S2/...][,num=FIELDS] (libfm: the same)  label idx:val idx:val ...
 *
 * Parsing the text is synchronous (flags are checked before any worker starts); resolving a layout may
 * read the file's first line (csv column names, the field count of a libSVM file by position).
 */
import { UserError } from '../util/errors.js';
import { FORMATS, FORMAT_NAMES, isFormatName, type DelimitedLayout, type FormatName, type Layout, type SparseLayout } from './formats.js';
import { readFirstLine } from './reader.js';

export type DataSource =
  | { kind: 'synthetic'; spec: string }
  | { kind: FormatName; path: string; options: Readonly<Record<string, string>> };

const OPTION_KEYS: Record<FormatName, readonly string[]> = {
  criteo: [],
  avazu: [],
  csv: ['label', 'cat', 'num', 'sep', 'header'],
  libsvm: ['fields', 'num'],
  libfm: ['fields', 'num'],
};

const FILE_SYNTAX = 'criteo:PATH, avazu:PATH, csv:PATH,label=COL,cat=COLS,num=COLS, libsvm:PATH or libfm:PATH';
const DATA_SYNTAX = `synthetic[:PRESET][,key=value...], ${FILE_SYNTAX}`;

/** Parses a --data / --eval-data value (its syntax only; files are not opened). */
export function parseDataSpec(spec: string, flag: '--data' | '--eval-data'): DataSource {
  const s = spec.trim();
  const what = `${flag} ${JSON.stringify(spec)}`;
  if (/^synthetic(:|$)/.test(s)) {
    if (flag === '--eval-data') throw new UserError(`${what}: synthetic data brings its own eval split; expected ${FILE_SYNTAX}`);
    return { kind: 'synthetic', spec: s };
  }
  const colon = s.indexOf(':');
  const kind = colon < 0 ? s : s.slice(0, colon);
  if (!isFormatName(kind)) {
    throw new UserError(`${what}: unknown data kind ${JSON.stringify(kind)}; expected ${flag === '--data' ? DATA_SYNTAX : FILE_SYNTAX}`);
  }
  const keys = OPTION_KEYS[kind];
  const rest = colon < 0 ? '' : s.slice(colon + 1);
  // Options are the trailing ",key=value" parts with this format's keys; a value runs to the next one
  // (so lists may hold commas: cat=C1..C20,hour and sep=, both read).
  const parts = keys.length ? rest.split(new RegExp(`,(?=(?:${keys.join('|')})=)`)) : [rest];
  const path = parts[0];
  const stray = parts.map((p) => /,([A-Za-z_-]+)=/.exec(p)).find((m) => m !== null);
  if (stray) {
    const takes = keys.length ? `${kind} takes ${keys.map((k) => `${k}=`).join(', ')}` : `${kind} takes no options`;
    throw new UserError(`${what}: unknown option ${stray[1]}=; ${takes}`);
  }
  if (path === '') throw new UserError(`${what}: missing file path; expected ${kind}:PATH${keys.length ? ',OPTIONS' : ''}`);
  const options: Record<string, string> = {};
  for (const part of parts.slice(1)) {
    const eq = part.indexOf('=');
    const key = part.slice(0, eq);
    if (key in options) throw new UserError(`${what}: ${key}= given twice`);
    options[key] = part.slice(eq + 1);
  }
  if (kind === 'csv' && options.cat === undefined && options.num === undefined) {
    throw new UserError(`${what}: csv needs its feature columns: cat=COLS and/or num=COLS (names with header=true, or 1-based numbers; ranges as C1..C26)`);
  }
  return { kind, path, options };
}

/** The layout of a file source; reads its first line where the options need it. */
export async function resolveLayout(src: DataSource & { kind: FormatName }, flag: string): Promise<Layout> {
  const what = `${flag} ${src.kind}:${src.path}`;
  if (src.kind === 'criteo' || src.kind === 'avazu') return FORMATS[src.kind];
  if (src.kind === 'csv') return csvLayout(src.path, src.options, what);
  return sparseLayout(src.kind, src.path, src.options, what);
}

const SEPARATORS: Record<string, number> = { tab: 9, comma: 44, semicolon: 59, pipe: 124, space: 32 };

async function csvLayout(path: string, opts: Readonly<Record<string, string>>, what: string): Promise<DelimitedLayout> {
  const sepText = opts.sep ?? ',';
  const delimiter = SEPARATORS[sepText] ?? (sepText === '\\t' ? 9 : sepText.length === 1 && sepText !== '"' && sepText < '\x80' ? sepText.charCodeAt(0) : -1);
  if (delimiter < 0 || delimiter === 10 || delimiter === 13) {
    throw new UserError(`${what}: sep=${sepText}: expected one ASCII character or ${Object.keys(SEPARATORS).join(', ')}`);
  }
  const headerText = opts.header ?? 'false';
  if (headerText !== 'true' && headerText !== 'false') throw new UserError(`${what}: header=${headerText}: expected true or false`);
  const header = headerText === 'true';
  const first = await readFirstLine(path, !header);
  if (first === null) throw new UserError(`${path}: no data rows (the file is empty or holds only blank lines)`);
  // readFirstLine decodes bytes as latin1: as UTF-8 the header's names match the command line's, and a
  // byte-order mark is one character.
  const cells = Buffer.from(first, 'latin1').toString('utf8').replace(/^\ufeff/, '').split(String.fromCharCode(delimiter));
  const columns = header ? cells : cells.map((_, i) => `c${i + 1}`);
  if (header) {
    const dup = columns.find((c, i) => columns.indexOf(c) !== i);
    if (dup !== undefined) throw new UserError(`${path}, line 1: the header names column ${JSON.stringify(dup)} twice`);
  }
  const resolve = (key: string): number[] => (opts[key] === undefined ? [] : columnList(opts[key], columns, header, `${what}: ${key}=`));
  const label = opts.label === undefined ? [] : resolve('label');
  if (label.length > 1) throw new UserError(`${what}: label=${opts.label}: expected one column`);
  const cat = resolve('cat');
  const num = resolve('num');
  const used = new Map<number, string>();
  for (const [key, cols] of [['label', label], ['cat', cat], ['num', num]] as const) {
    for (const c of cols) {
      const prev = used.get(c);
      if (prev !== undefined) throw new UserError(`${what}: column ${columns[c]} is in both ${prev}= and ${key}=`);
      used.set(c, key);
    }
  }
  return {
    kind: 'delimited',
    name: 'csv',
    delimiter,
    columns,
    header: header ? 'skip' : 'none',
    labelColumn: label.length ? label[0] : -1,
    labels: 'signed',
    numericColumns: num,
    numbers: 'decimal',
    categoricalColumns: cat,
    timeColumn: -1,
    fieldNames: cat.map((c) => columns[c]),
    numericNames: num.map((c) => columns[c]),
  };
}

/**
 * "C1..C26,hour,3" -> column indices: names (with a header) or 1-based numbers, and ranges A..B that take
 * every column from A to B in file order.
 */
function columnList(text: string, columns: readonly string[], header: boolean, what: string): number[] {
  const find = (ref: string): number => {
    const named = header ? columns.indexOf(ref) : -1;
    if (named >= 0) return named;
    if (/^\d+$/.test(ref) && Number(ref) >= 1 && Number(ref) <= columns.length) return Number(ref) - 1;
    const known = header ? `; the header has ${columns.slice(0, 8).join(', ')}${columns.length > 8 ? ', ...' : ''}` : ` (without header=true, columns are numbers 1..${columns.length})`;
    throw new UserError(`${what}${text}: no column ${JSON.stringify(ref)}${known}`);
  };
  const out: number[] = [];
  for (const item of text.split(',')) {
    if (item === '') throw new UserError(`${what}${text}: an empty column name`);
    const dots = item.indexOf('..');
    if (dots < 0) {
      out.push(find(item));
      continue;
    }
    const a = find(item.slice(0, dots));
    const b = find(item.slice(dots + 2));
    if (b < a) throw new UserError(`${what}${text}: range ${item} runs backwards`);
    for (let c = a; c <= b; c++) out.push(c);
  }
  const dup = out.find((c, i) => out.indexOf(c) !== i);
  if (dup !== undefined) throw new UserError(`${what}${text}: column ${columns[dup]} listed twice`);
  return out;
}

async function sparseLayout(name: 'libsvm' | 'libfm', path: string, opts: Readonly<Record<string, string>>, what: string): Promise<SparseLayout> {
  let fieldStarts: number[] | null = null;
  let numFields: number;
  if (opts.fields !== undefined) {
    fieldStarts = opts.fields.split('/').map(Number);
    if (!fieldStarts.every((v, i) => Number.isSafeInteger(v) && v >= 0 && (i === 0 || v > fieldStarts![i - 1])) || opts.fields === '') {
      throw new UserError(`${what}: fields=${opts.fields}: expected the ascending first feature index of each field, separated by /, e.g. fields=0/1000/5000`);
    }
    numFields = fieldStarts.length;
  } else {
    const first = await readFirstLine(path, true);
    if (first === null) throw new UserError(`${path}: no data rows (the file is empty or holds only blank lines)`);
    numFields = first.trim().split(/[ \t]+/).length - 1;
    if (numFields < 1) throw new UserError(`${path}: the first line has a label and no index:value pairs; fields are read by position from it`);
  }
  const numericFields = opts.num === undefined ? [] : fieldList(opts.num, numFields, `${what}: num=`);
  const names = Array.from({ length: numFields }, (_, f) => `f${f + 1}`);
  const isNum = new Set(numericFields);
  const fieldNames = names.filter((_, f) => !isNum.has(f));
  if (fieldNames.length === 0) throw new UserError(`${what}: num=${opts.num} makes every field numeric; at least one binary (categorical) field is needed`);
  return { kind: 'sparse', name, numFields, fieldStarts, numericFields, fieldNames, numericNames: numericFields.map((f) => names[f]) };
}

/** "1..13,20" -> 0-based field indices (ascending), fields numbered from 1. */
function fieldList(text: string, numFields: number, what: string): number[] {
  const out = new Set<number>();
  for (const item of text.split(',')) {
    const m = /^(\d+)(?:\.\.(\d+))?$/.exec(item);
    const a = m ? Number(m[1]) : NaN;
    const b = m ? Number(m[2] ?? m[1]) : NaN;
    if (!(a >= 1 && b >= a && b <= numFields)) {
      throw new UserError(`${what}${text}: expected field numbers 1..${numFields} or ranges A..B, found ${JSON.stringify(item)}`);
    }
    for (let f = a; f <= b; f++) out.add(f - 1);
  }
  return [...out].sort((x, y) => x - y);
}

/** Whether two layouts give the same fields (a checkpoint's data and new data; train and eval files). */
export function sameFields(a: { fieldNames: readonly string[]; numericNames: readonly string[] }, b: { fieldNames: readonly string[]; numericNames: readonly string[] }): boolean {
  return a.fieldNames.join('\n') === b.fieldNames.join('\n') && a.numericNames.join('\n') === b.numericNames.join('\n');
}

export { FORMAT_NAMES };
