/**
 * What the data fuzz tests (data-hostile, data-fuzz) share: valid samples of every fuzzed layout kind,
 * a seeded generator, and loadData raced against a timer with the checks every outcome must satisfy.
 * Each loadData call starts a reader worker, which under tap's TypeScript loader costs about a second.
 */
import type { Test } from 'tap';
import { FORMATS, type Layout } from '../../src/data/formats.js';
import { loadData, type DataOptions } from '../../src/data/load.js';
import { parseDataSpec, resolveLayout } from '../../src/data/spec.js';
import type { EncodedData, LoadedData } from '../../src/data/types.js';
import { UserError } from '../../src/util/errors.js';

/** Far above a normal load (about a second, mostly the worker's start): only a hang gets here. */
const LOAD_TIMEOUT_MS = 20_000;
/** Loads run a few at a time (each mostly waits for its worker to start). */
const CONCURRENT_LOADS = 3;

const base: Omit<DataOptions, 'data' | 'skipBadLines'> = {
  split: 'sequential:0.25',
  seed: 1,
  minCount: 1,
  numericTransform: 'log1p',
};

// ---------------------------------------------------------------------------------------------------
// Valid samples

/** Criteo line i: varied labels, negative, empty and large integers, hex, short and missing tokens. */
export function criteoLine(i: number): string {
  const ints = Array.from({ length: 13 }, (_, j) =>
    (i + j) % 7 === 0 ? '' : j === 1 ? String(-(i % 3)) : j === 5 ? String(i * 104729) : String((i * (j + 1)) % 50),
  );
  const cats = Array.from({ length: 26 }, (_, j) =>
    (i + j) % 11 === 0 ? '' : j === 7 ? `t${i % 4}` : ((i * 31 + j * 7) % 97).toString(16).padStart(8, '0'),
  );
  return [String(i % 3 === 0 ? 1 : 0), ...ints, ...cats].join('\t');
}
export const criteoText = (n: number, eol = '\n', final = true): string =>
  Array.from({ length: n }, (_, i) => criteoLine(i)).join(eol) + (final ? eol : '');

export const AVAZU_HEADER = FORMATS.avazu.columns.join(',');
function avazuLine(i: number): string {
  const cells = [
    String(1000009418151094273n + BigInt(i)), String(i % 4 === 0 ? 1 : 0), String(14102100 + (i % 24)), '1005', String(i % 2),
    '1fbe01fe', 'f3845767', '28905ebd', 'ecad2386', '7801e8d9', '07d7df22', 'a99f214a', (i * 7919).toString(16).padStart(8, '0'),
    '44956a24', '1', '2', String(15706 + (i % 5)), '320', '50', '1722', '0', '35', i % 3 ? '-1' : '100084', '79',
  ];
  return cells.join(',');
}
export const avazuText = (n: number, eol = '\n', final = true): string =>
  [AVAZU_HEADER, ...Array.from({ length: n }, (_, i) => avazuLine(i))].join(eol) + (final ? eol : '');

/**
 * Criteo's columns as a comma CSV with a header, read through `csv:` (CSV_OPTIONS): an ignored id column
 * first (any content, even a quote), labels 0/1/-1/+1, decimal numbers with exponents and signs.
 */
const CSV_HEADER = ['id', ...FORMATS.criteo.columns].join(',');
const CSV_OPTIONS = ',header=true,label=label,num=I1..I13,cat=C1..C26';
function csvLine(i: number): string {
  const cells = criteoLine(i).split('\t');
  cells[0] = i % 3 === 0 ? (i % 2 ? '+1' : '1') : i % 4 === 0 ? '-1' : '0';
  cells[4] = i % 5 === 0 ? '' : `${(i % 7) - 3}.${i % 10}e${(i % 3) - 1}`; // I4
  cells[8] = `-${i}.25`; // I8
  return [`"id${i}`, ...cells].join(',');
}
const csvText = (n: number, eol = '\n', final = true): string =>
  [CSV_HEADER, ...Array.from({ length: n }, (_, i) => csvLine(i))].join(eol) + (final ? eol : '');

/** libSVM by index ranges: fields 1/50/100/200, the last numeric; pairs in any order, some absent, value 0 = absent. */
const LIBSVM_OPTIONS = ',fields=1/50/100/200,num=4';
function libsvmLine(i: number): string {
  const pairs = [`${1 + (i % 40)}:1`, `${50 + ((i * 7) % 50)}:${i % 9 === 0 ? 0 : 1}`, `${100 + (i % 3)}:1`, `${200 + i}:${((i % 13) - 6) / 4}`];
  if (i % 5 === 0) pairs.splice(2, 1);
  if (i % 2) pairs.reverse();
  return [['1', '0', '-1', '+1'][i % 4], ...pairs].join(i % 7 === 0 ? '\t' : ' ');
}
/** libFM by position: three pairs a line, the second numeric. */
const LIBFM_OPTIONS = ',num=2';
const libfmLine = (i: number): string => `${i % 3 === 0 ? 1 : 0} ${i % 17}:1 ${1000 + i}:${(i % 5) / 2} ${2000 + (i % 29)}:${i % 6 === 0 ? 0 : 1}`;
const linesText = (line: (i: number) => string) => (n: number, eol = '\n', final = true): string =>
  Array.from({ length: n }, (_, i) => line(i)).join(eol) + (final ? eol : '');
const libsvmText = linesText(libsvmLine);
const libfmText = linesText(libfmLine);

export type FuzzFormat = 'criteo' | 'avazu' | 'csv' | 'libsvm' | 'libfm';
/** The --data value of each fuzzed format for a file. */
export const SPEC: Record<FuzzFormat, (path: string) => string> = {
  criteo: (p) => `criteo:${p}`,
  avazu: (p) => `avazu:${p}`,
  csv: (p) => `csv:${p}${CSV_OPTIONS}`,
  libsvm: (p) => `libsvm:${p}${LIBSVM_OPTIONS}`,
  libfm: (p) => `libfm:${p}${LIBFM_OPTIONS}`,
};
export const TEXT: Record<FuzzFormat, (n: number, eol?: string, final?: boolean) => string> = {
  criteo: criteoText,
  avazu: avazuText,
  csv: csvText,
  libsvm: libsvmText,
  libfm: libfmText,
};

export const resolve = (data: string): Promise<Layout> => resolveLayout(parseDataSpec(data, '--data') as Parameters<typeof resolveLayout>[0], '--data');

export const latin1 = (s: string): Buffer => Buffer.from(s, 'latin1');

/** mulberry32: a small seeded generator, so every run fuzzes the same inputs. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = Math.imul(a ^ (a >>> 15), 1 | a);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

export function randomBytes(n: number, seed: number): Buffer {
  const r = rng(seed);
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = Math.floor(r() * 256);
  return b;
}

// ---------------------------------------------------------------------------------------------------
// Loading with a deadline, and what every outcome must satisfy

export type Outcome = { data: LoadedData; ms: number } | { error: unknown; ms: number } | { hang: true; ms: number };

/** loadData raced against LOAD_TIMEOUT_MS; never rejects. */
export async function load(data: string, skipBadLines: boolean, opts: Partial<DataOptions> = {}): Promise<Outcome> {
  const t0 = Date.now();
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<'hang'>((resolve) => {
    timer = setTimeout(() => resolve('hang'), LOAD_TIMEOUT_MS);
  });
  try {
    const r = await Promise.race([loadData({ ...base, ...opts, data, skipBadLines }), deadline]);
    return r === 'hang' ? { hang: true, ms: Date.now() - t0 } : { data: r, ms: Date.now() - t0 };
  } catch (error) {
    return { error, ms: Date.now() - t0 };
  } finally {
    clearTimeout(timer);
  }
}

/** Runs the thunks CONCURRENT_LOADS at a time; results in input order. */
export async function all<T>(thunks: (() => Promise<T>)[]): Promise<T[]> {
  const out: T[] = new Array(thunks.length);
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < thunks.length) {
      const i = next++;
      out[i] = await thunks[i]();
    }
  };
  await Promise.all(Array.from({ length: CONCURRENT_LOADS }, lane));
  return out;
}

/** Finite numeric features, 0/1 labels, ids inside their field's rows, consistent shapes. */
function checkEncoded(t: Test, d: LoadedData, split: EncodedData, name: string): void {
  const F = split.numCategorical;
  let badId = -1;
  for (let i = 0; i < split.ids.length && badId < 0; i++) {
    const f = i % F;
    const id = split.ids[i];
    if (!(id >= d.fieldOffsets[f] && id < d.fieldOffsets[f] + d.fieldSizes[f])) badId = i;
  }
  t.equal(badId, -1, `${name}: every id inside its field's rows`);
  t.ok(split.numeric.every(Number.isFinite), `${name}: numeric features finite`);
  t.ok(split.labels.every((y) => y === 0 || y === 1), `${name}: labels 0/1`);
  t.equal(split.labels.length, split.rows, `${name}: labels length`);
  t.equal(split.ids.length, split.rows * F, `${name}: ids length`);
  t.equal(split.numeric.length, split.rows * split.numNumeric, `${name}: numeric length`);
}

/** Success: the data is sane; returns it (or undefined after failing). */
export function expectData(t: Test, o: Outcome, name: string): LoadedData | undefined {
  if ('hang' in o) return void t.fail(`${name}: no result after ${o.ms} ms (hang)`);
  if ('error' in o) return void t.fail(`${name}: unexpected error`, { error: String((o.error as Error)?.stack ?? o.error) });
  checkEncoded(t, o.data, o.data.train, `${name} train`);
  checkEncoded(t, o.data, o.data.eval, `${name} eval`);
  return o.data;
}

/** Failure: a UserError (printed without a stack trace) whose message names `path`; returns the message. */
export function expectUserError(t: Test, o: Outcome, path: string, re: RegExp | null, name: string): string | undefined {
  if ('hang' in o) return void t.fail(`${name}: no result after ${o.ms} ms (hang)`);
  if ('data' in o) return void t.fail(`${name}: loaded ${o.data.train.rows + o.data.eval.rows} rows, expected an error`);
  const e = o.error;
  if (!(e instanceof UserError)) return void t.fail(`${name}: not a UserError`, { error: String((e as Error)?.stack ?? e) });
  t.ok(e.message.includes(path), `${name}: the message names the file`, { message: e.message });
  t.notMatch(e.message, /\n\s+at /, `${name}: no stack trace in the message`);
  if (re) t.match(e.message, re, name);
  return e.message;
}
