/** Column layouts of the supported file formats. */

export type FormatName = 'criteo' | 'avazu';

export interface FormatSpec {
  name: FormatName;
  /** Byte that separates columns. */
  delimiter: number;
  /** Column names in file order (for messages, and the required header when `hasHeader`). */
  columns: readonly string[];
  /** The first line must be exactly `columns` joined by the delimiter. */
  hasHeader: boolean;
  labelColumn: number;
  /** Columns parsed as integers (empty = missing), in field order. */
  numericColumns: readonly number[];
  /** Columns read as categorical tokens, in field order. */
  categoricalColumns: readonly number[];
}

const range = (from: number, to: number): number[] => Array.from({ length: to - from }, (_, i) => from + i);

/** Criteo Display Advertising Challenge train.txt: label, I1..I13, C1..C26; tab-separated; no header. */
const CRITEO: FormatSpec = {
  name: 'criteo',
  delimiter: 9,
  columns: ['label', ...range(1, 14).map((i) => `I${i}`), ...range(1, 27).map((i) => `C${i}`)],
  hasHeader: false,
  labelColumn: 0,
  numericColumns: range(1, 14),
  categoricalColumns: range(14, 40),
};

/**
 * Avazu train.csv (the labelled file; test.csv has no click column). The id column is dropped;
 * every other column, hour included, is categorical.
 */
const AVAZU: FormatSpec = {
  name: 'avazu',
  delimiter: 44,
  columns: [
    'id', 'click', 'hour', 'C1', 'banner_pos', 'site_id', 'site_domain', 'site_category', 'app_id',
    'app_domain', 'app_category', 'device_id', 'device_ip', 'device_model', 'device_type',
    'device_conn_type', 'C14', 'C15', 'C16', 'C17', 'C18', 'C19', 'C20', 'C21',
  ],
  hasHeader: true,
  labelColumn: 1,
  numericColumns: [],
  categoricalColumns: range(2, 24),
};

export const FORMATS: Readonly<Record<FormatName, FormatSpec>> = { criteo: CRITEO, avazu: AVAZU };

export function isFormatName(s: string): s is FormatName {
  return s === 'criteo' || s === 'avazu';
}

/**
 * The layout of the same data without its label column (Criteo's test.txt, Avazu's test.csv): what
 * `ddp-launch predict --no-labels` reads. Labels then read as 0.
 */
export function withoutLabel(spec: FormatSpec): FormatSpec {
  const shift = (c: number) => (c > spec.labelColumn ? c - 1 : c);
  return {
    ...spec,
    columns: spec.columns.filter((_, c) => c !== spec.labelColumn),
    labelColumn: -1,
    numericColumns: spec.numericColumns.map(shift),
    categoricalColumns: spec.categoricalColumns.map(shift),
  };
}

export function numericNames(spec: FormatSpec): string[] {
  return spec.numericColumns.map((c) => spec.columns[c]);
}

export function categoricalNames(spec: FormatSpec): string[] {
  return spec.categoricalColumns.map((c) => spec.columns[c]);
}
