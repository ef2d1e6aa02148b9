/**
 * Layouts of the file formats: where each field of a row is in a line. A layout is plain data (it is
 * posted to the reader thread and saved with the vocabulary), built by spec.ts from a --data value.
 *  - delimited: one column per cell (Criteo, Avazu, and any CSV/TSV described by `csv:`)
 *  - sparse: `label idx:val idx:val ...` (libSVM / libFM), fields by position or by index ranges
 */

export type FormatName = 'criteo' | 'avazu' | 'csv' | 'libsvm' | 'libfm';

export const FORMAT_NAMES: readonly FormatName[] = ['criteo', 'avazu', 'csv', 'libsvm', 'libfm'];

export function isFormatName(s: string): s is FormatName {
  return (FORMAT_NAMES as readonly string[]).includes(s);
}

interface LayoutBase {
  name: FormatName;
  /** Categorical fields, in field (embedding table) order. */
  fieldNames: readonly string[];
  /** Numeric fields, in feature order. */
  numericNames: readonly string[];
}

export interface DelimitedLayout extends LayoutBase {
  kind: 'delimited';
  /** Byte that separates columns. */
  delimiter: number;
  /** Column names in file order (for messages, and the header). */
  columns: readonly string[];
  /** exact: the first line must be `columns` joined by the delimiter; skip: the first line is a header already read; none. */
  header: 'none' | 'exact' | 'skip';
  /** -1: no label column (rows to predict); labels then read as 0. */
  labelColumn: number;
  /** binary: "0" or "1" only (Criteo, Avazu); signed: also "-1" and "+1" (-1 is a negative). */
  labels: 'binary' | 'signed';
  /** Columns of the numeric features, in feature order. */
  numericColumns: readonly number[];
  /** integer: decimal integers only (Criteo's counts); decimal: any decimal number such as -1.5e3. */
  numbers: 'integer' | 'decimal';
  /** Columns read as categorical tokens, in the order of fieldNames (after the time fields, if any). */
  categoricalColumns: readonly number[];
  /**
   * A YYMMDDHH column (Avazu's hour) read as two categorical fields, hour of day (0-23) and day of week
   * (0 = Monday), which come first in fieldNames: the raw value never repeats across days.
   */
  timeColumn: number;
}

export interface SparseLayout extends LayoutBase {
  kind: 'sparse';
  /** Fields in a line: categorical and numeric together. */
  numFields: number;
  /**
   * First feature index of each field, ascending (a pair belongs to the last field starting at or below
   * its index); null: the k-th pair of a line is field k.
   */
  fieldStarts: readonly number[] | null;
  /** 0-based fields whose value is the feature (numeric); the others are binary: their index is the ID. */
  numericFields: readonly number[];
}

export type Layout = DelimitedLayout | SparseLayout;

const range = (from: number, to: number): number[] => Array.from({ length: to - from }, (_, i) => from + i);

const CRITEO_COLUMNS = ['label', ...range(1, 14).map((i) => `I${i}`), ...range(1, 27).map((i) => `C${i}`)];

/** Criteo Display Advertising Challenge train.txt: label, I1..I13, C1..C26; tab-separated; no header. */
const CRITEO: DelimitedLayout = {
  kind: 'delimited',
  name: 'criteo',
  delimiter: 9,
  columns: CRITEO_COLUMNS,
  header: 'none',
  labelColumn: 0,
  labels: 'binary',
  numericColumns: range(1, 14),
  numbers: 'integer',
  categoricalColumns: range(14, 40),
  timeColumn: -1,
  fieldNames: CRITEO_COLUMNS.slice(14),
  numericNames: CRITEO_COLUMNS.slice(1, 14),
};

const AVAZU_COLUMNS = [
  'id', 'click', 'hour', 'C1', 'banner_pos', 'site_id', 'site_domain', 'site_category', 'app_id',
  'app_domain', 'app_category', 'device_id', 'device_ip', 'device_model', 'device_type',
  'device_conn_type', 'C14', 'C15', 'C16', 'C17', 'C18', 'C19', 'C20', 'C21',
];

/**
 * Avazu train.csv (the labelled file; test.csv has no click column). The id column is dropped; hour
 * (YYMMDDHH) becomes hour_of_day and day_of_week; every other column is categorical.
 */
const AVAZU: DelimitedLayout = {
  kind: 'delimited',
  name: 'avazu',
  delimiter: 44,
  columns: AVAZU_COLUMNS,
  header: 'exact',
  labelColumn: 1,
  labels: 'binary',
  numericColumns: [],
  numbers: 'integer',
  categoricalColumns: range(3, 24),
  timeColumn: 2,
  fieldNames: ['hour_of_day', 'day_of_week', ...AVAZU_COLUMNS.slice(3)],
  numericNames: [],
};

/** The fixed layouts, by name. */
export const FORMATS = { criteo: CRITEO, avazu: AVAZU } as const;

/**
 * The layout of the same data without its label column (Criteo's test.txt, Avazu's test.csv): what
 * `ddp-launch predict --no-labels` reads. Labels then read as 0. A csv layout describes its file's own
 * columns, so its label column is only ignored; a sparse line always starts with its label.
 */
export function withoutLabel(layout: Layout): Layout {
  if (layout.kind === 'sparse' || layout.labelColumn < 0) return layout;
  if (layout.name === 'csv') return { ...layout, labelColumn: -1 }; // csv: its columns are the file's, as the user described them
  const drop = layout.labelColumn;
  const shift = (c: number) => (c > drop ? c - 1 : c);
  return {
    ...layout,
    columns: layout.columns.filter((_, c) => c !== drop),
    labelColumn: -1,
    numericColumns: layout.numericColumns.map(shift),
    categoricalColumns: layout.categoricalColumns.map(shift),
    timeColumn: layout.timeColumn < 0 ? -1 : shift(layout.timeColumn),
  };
}

/** "a criteo", "an avazu": for messages. */
export function article(name: string): string {
  return `${/^[aeiou]/.test(name) ? 'an' : 'a'} ${name}`;
}
