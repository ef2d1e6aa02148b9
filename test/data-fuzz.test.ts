/**
 * The readers against hostile input: every file ends in a UserError that names the file (and the line,
 * where there is one) or, under skipBadLines, in rows with a counted skip: never another exception,
 * a hang, NaN in the encoded numeric features, a label other than 0/1, or a row shifted or altered.
 * The fuzz covers every layout kind: Criteo (tab, integers), Avazu (header, hour split), a described
 * csv (header, decimals, signed labels, an ignored column), libSVM by index ranges and libFM by position.
 *
 * Each loadData call starts a reader worker, which under tap's TypeScript loader costs about a second,
 * so the 200-input fuzz loop runs the worker's parser (LineParser, fed in random-size pieces as the
 * stream delivers them) in one long-lived worker of its own, checked against a reference parser, and
 * a seeded subset of the fuzz inputs, plain and gzip, also goes through loadData end to end.
 * Every parse and load races a timer: a hang fails the test instead of stalling it.
 */
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { gzipSync } from 'node:zlib';
import t, { type Test } from 'tap';
import { writeFileSync } from 'node:fs';
import { FORMATS, type DelimitedLayout, type Layout, type SparseLayout } from '../src/data/formats.js';
import { loadData, type DataOptions } from '../src/data/load.js';
import { parseDataSpec, resolveLayout } from '../src/data/spec.js';
import { tokenKey } from '../src/data/tokens.js';
import { MISSING_KEY, type EncodedData, type LoadedData, type RawChunk } from '../src/data/types.js';
import { UserError } from '../src/util/errors.js';

const FUZZ_ITERATIONS = 360;
const LOAD_ITERATIONS = 12;
/** Far above a normal load (about a second, mostly the worker's start): only a hang gets here. */
const LOAD_TIMEOUT_MS = 20_000;
const PARSE_TIMEOUT_MS = 5_000;
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
function criteoLine(i: number): string {
  const ints = Array.from({ length: 13 }, (_, j) =>
    (i + j) % 7 === 0 ? '' : j === 1 ? String(-(i % 3)) : j === 5 ? String(i * 104729) : String((i * (j + 1)) % 50),
  );
  const cats = Array.from({ length: 26 }, (_, j) =>
    (i + j) % 11 === 0 ? '' : j === 7 ? `t${i % 4}` : ((i * 31 + j * 7) % 97).toString(16).padStart(8, '0'),
  );
  return [String(i % 3 === 0 ? 1 : 0), ...ints, ...cats].join('\t');
}
const criteoText = (n: number, eol = '\n', final = true): string =>
  Array.from({ length: n }, (_, i) => criteoLine(i)).join(eol) + (final ? eol : '');

const AVAZU_HEADER = FORMATS.avazu.columns.join(',');
function avazuLine(i: number): string {
  const cells = [
    String(1000009418151094273n + BigInt(i)), String(i % 4 === 0 ? 1 : 0), String(14102100 + (i % 24)), '1005', String(i % 2),
    '1fbe01fe', 'f3845767', '28905ebd', 'ecad2386', '7801e8d9', '07d7df22', 'a99f214a', (i * 7919).toString(16).padStart(8, '0'),
    '44956a24', '1', '2', String(15706 + (i % 5)), '320', '50', '1722', '0', '35', i % 3 ? '-1' : '100084', '79',
  ];
  return cells.join(',');
}
const avazuText = (n: number, eol = '\n', final = true): string =>
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

type FuzzFormat = 'criteo' | 'avazu' | 'csv' | 'libsvm' | 'libfm';
/** The --data value of each fuzzed format for a file. */
const SPEC: Record<FuzzFormat, (path: string) => string> = {
  criteo: (p) => `criteo:${p}`,
  avazu: (p) => `avazu:${p}`,
  csv: (p) => `csv:${p}${CSV_OPTIONS}`,
  libsvm: (p) => `libsvm:${p}${LIBSVM_OPTIONS}`,
  libfm: (p) => `libfm:${p}${LIBFM_OPTIONS}`,
};
const TEXT: Record<FuzzFormat, (n: number, eol?: string, final?: boolean) => string> = {
  criteo: criteoText,
  avazu: avazuText,
  csv: csvText,
  libsvm: libsvmText,
  libfm: libfmText,
};

const resolve = (data: string): Promise<Layout> => resolveLayout(parseDataSpec(data, '--data') as Parameters<typeof resolveLayout>[0], '--data');

/** The layouts the parser fuzz reads its inputs with, resolved from clean samples as --data resolves them. */
const sampleDir = t.testdir({});
const LAYOUTS = {} as Record<FuzzFormat, Layout>;
for (const f of Object.keys(TEXT) as FuzzFormat[]) {
  const path = join(sampleDir, `sample.${f}`);
  writeFileSync(path, TEXT[f](24));
  LAYOUTS[f] = await resolve(SPEC[f](path));
}

const latin1 = (s: string): Buffer => Buffer.from(s, 'latin1');

/** mulberry32: a small seeded generator, so every run fuzzes the same inputs. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = Math.imul(a ^ (a >>> 15), 1 | a);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

function randomBytes(n: number, seed: number): Buffer {
  const r = rng(seed);
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = Math.floor(r() * 256);
  return b;
}

// ---------------------------------------------------------------------------------------------------
// Loading with a deadline, and what every outcome must satisfy

type Outcome = { data: LoadedData; ms: number } | { error: unknown; ms: number } | { hang: true; ms: number };

/** loadData raced against LOAD_TIMEOUT_MS; never rejects. */
async function load(data: string, skipBadLines: boolean, opts: Partial<DataOptions> = {}): Promise<Outcome> {
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
async function all<T>(thunks: (() => Promise<T>)[]): Promise<T[]> {
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
function expectData(t: Test, o: Outcome, name: string): LoadedData | undefined {
  if ('hang' in o) return void t.fail(`${name}: no result after ${o.ms} ms (hang)`);
  if ('error' in o) return void t.fail(`${name}: unexpected error`, { error: String((o.error as Error)?.stack ?? o.error) });
  checkEncoded(t, o.data, o.data.train, `${name} train`);
  checkEncoded(t, o.data, o.data.eval, `${name} eval`);
  return o.data;
}

/** Failure: a UserError (printed without a stack trace) whose message names `path`; returns the message. */
function expectUserError(t: Test, o: Outcome, path: string, re: RegExp | null, name: string): string | undefined {
  if ('hang' in o) return void t.fail(`${name}: no result after ${o.ms} ms (hang)`);
  if ('data' in o) return void t.fail(`${name}: loaded ${o.data.train.rows + o.data.eval.rows} rows, expected an error`);
  const e = o.error;
  if (!(e instanceof UserError)) return void t.fail(`${name}: not a UserError`, { error: String((e as Error)?.stack ?? e) });
  t.ok(e.message.includes(path), `${name}: the message names the file`, { message: e.message });
  t.notMatch(e.message, /\n\s+at /, `${name}: no stack trace in the message`);
  if (re) t.match(e.message, re, name);
  return e.message;
}

const sameData = (t: Test, a: LoadedData | undefined, b: LoadedData | undefined, name: string): void => {
  if (!a || !b) return;
  for (const s of ['train', 'eval'] as const) {
    t.same(a[s].labels, b[s].labels, `${name}: ${s} labels`);
    t.same(a[s].numeric, b[s].numeric, `${name}: ${s} numeric`);
    t.same(a[s].ids, b[s].ids, `${name}: ${s} ids`);
  }
};

// ---------------------------------------------------------------------------------------------------
// The named cases, end to end through loadData

/**
 * `clean` with bad lines put between its rows: under skipBadLines the load must give exactly the clean
 * file's data, with every bad line counted.
 */
function withBadLines(clean: string, bad: [afterRow: number, line: string][], tail: Buffer): Buffer {
  const lines = clean.split('\n');
  const header = clean.startsWith(AVAZU_HEADER) ? 1 : 0;
  for (const [after, line] of [...bad].sort((a, b) => b[0] - a[0])) lines.splice(header + after, 0, line);
  return Buffer.concat([latin1(lines.join('\n')), tail]);
}

t.test('criteo: hostile files end in a clear UserError or a counted skip', async (t) => {
  const n = 40;
  const lf = criteoText(n);
  const lines = lf.split('\n');
  const header = FORMATS.criteo.columns.join('\t');
  const fields = lines.slice();
  fields[4] = fields[4].slice(0, fields[4].lastIndexOf('\t')); // line 5: a field short
  fields[8] = `${fields[8]}\textra`; // line 9: one too many
  const nul = lines.slice();
  nul[2] = nul[2].replace(/^(\d)\t(\d*)\t/, '$1\t$2\0\t'); // line 3: NUL after I1's digits
  const huge = Buffer.alloc(50 << 20, 0x78); // 50 MB, no newline
  const random = randomBytes(64 << 10, 7);
  const bad = withBadLines(
    lf,
    [
      [0, header], // a header, which Criteo files do not have
      [4, fields[4]],
      [8, fields[8]],
      [12, nul[2]],
      [13, '\0'.repeat(500)],
      [20, '\r'], // blank: not a bad line
      [30, criteoLine(30).replace('\t', '\t\r\t')],
      [40, 'x'.repeat(300_000)],
    ],
    random, // junk after the last row (and no final newline)
  );
  const dir = t.testdir({
    'empty.tsv': '',
    'empty.tsv.gz': gzipSync(''),
    'header.tsv': `${header}\n`,
    'lf.tsv': lf,
    'crlf.tsv.gz': gzipSync(criteoText(n, '\r\n', false)),
    'cr-only.tsv': criteoText(n, '\r'),
    'fields.tsv': fields.join('\n'),
    'nul.tsv': latin1(nul.join('\n')),
    'bad-lines.tsv': bad,
    'zeros.bin': Buffer.alloc(64 << 10),
    'random.bin': random,
    'huge.tsv': Buffer.concat([latin1(criteoText(10)), huge]),
    'huge.gz': gzipSync(huge),
    'cut.tsv.gz': gzipSync(criteoText(3000)).subarray(0, 20_000),
    'cut-header.tsv.gz': gzipSync(lf).subarray(0, 6),
    'flipped.tsv.gz': ((): Buffer => {
      const z = gzipSync(criteoText(3000));
      z[z.length >> 1] ^= 0x55;
      return z;
    })(),
  });
  const p = (f: string): string => join(dir, f);
  const cases: [file: string, skip: boolean][] = [
    ['empty.tsv', false], // 0
    ['empty.tsv', true],
    ['empty.tsv.gz', true],
    ['header.tsv', false],
    ['lf.tsv', false],
    ['crlf.tsv.gz', false], // 5
    ['cr-only.tsv', true],
    ['fields.tsv', false],
    ['nul.tsv', false],
    ['bad-lines.tsv', true],
    ['zeros.bin', false], // 10
    ['random.bin', false],
    ['huge.tsv', true],
    ['huge.gz', false],
    ['cut.tsv.gz', true],
    ['cut-header.tsv.gz', false], // 15
    ['flipped.tsv.gz', true],
  ];
  const o = await all(cases.map(([f, skip]) => () => load(`criteo:${p(f)}`, skip)));
  const label = (i: number): string => `${cases[i][0]}${cases[i][1] ? ' (skip)' : ''}`;
  const err = (i: number, re: RegExp): string | undefined => expectUserError(t, o[i], p(cases[i][0]), re, label(i));
  const data = (i: number): LoadedData | undefined => expectData(t, o[i], label(i));

  err(0, /empty\.tsv: no data rows \(the file is empty\)$/);
  err(1, /empty\.tsv: no data rows \(the file is empty\)$/);
  err(2, /empty\.tsv\.gz: no data rows \(the file is empty\)$/);
  // Criteo files have no header: one is a bad first line, like any other.
  err(3, /header\.tsv, line 1: column 1 \(label\): expected 0 or 1, found "label"$/);

  // CRLF, gzip, no final newline: the same rows as LF.
  const plain = data(4);
  t.equal((plain?.train.rows ?? 0) + (plain?.eval.rows ?? 0), n, 'every row loaded');
  sameData(t, plain, data(5), 'crlf.tsv.gz vs lf.tsv');
  // CR alone ends no line: the file is one line, and the message says why it has so many columns.
  err(6, /cr-only\.tsv: all 1 data lines are bad \(first: .*cr-only\.tsv, line 1: expected 40 tab-separated columns, found 1561; the line holds 39 carriage returns \(CR line endings\?\)\)$/);

  err(7, /fields\.tsv, line 5: expected 40 tab-separated columns, found 39$/);
  err(8, /nul\.tsv, line 3: column 2 \(I1\): expected an integer or an empty cell, found "\d*\\u0000"$/);
  // Header, short, long, NUL, CR-inside and 300 kB lines, and trailing random bytes, all skipped:
  // what is left is exactly lf.tsv.
  const skipped = data(9);
  const want = reference(FORMATS.criteo, bad, true);
  t.ok(want.ok && want.skipped > 100, 'the reference skips the bad lines and the junk lines');
  t.equal(skipped?.skippedLines, want.ok ? want.skipped : NaN, `bad-lines.tsv: ${skipped?.skippedLines} lines skipped`);
  t.match(skipped?.description, /; \d+ bad lines skipped$/, 'the description counts them');
  sameData(t, plain, skipped, 'bad-lines.tsv (skip) vs lf.tsv');

  err(10, /zeros\.bin, line 1: column 1 \(label\): expected 0 or 1, found "(\\u0000){24}\.\.\."$/);
  err(11, /random\.bin, line 1: /);

  // A line that never ends stops the read at 1 MiB (not at 50 MB), skipBadLines or not.
  err(12, /huge\.tsv, line 11: longer than 1048576 bytes; is this a criteo text file\?$/);
  err(13, /huge\.gz, line 1: longer than 1048576 bytes; is this a criteo text file\?$/);

  // A broken gzip stream is never skipped.
  err(14, /cut\.tsv\.gz: truncated or corrupt gzip data after line \d+ \(unexpected end of file\)$/);
  err(15, /cut-header\.tsv\.gz: truncated or corrupt gzip data before the first line \(unexpected end of file\)$/);
  err(16, /flipped\.tsv\.gz(: truncated or corrupt gzip data after line \d+ \(.+\)|, line \d+: .+)$/);
});

t.test('avazu: hostile files end in a clear UserError or a counted skip', async (t) => {
  const n = 40;
  const lf = avazuText(n);
  const lines = lf.split('\n');
  const fields = lines.slice();
  fields[5] = fields[5].slice(0, fields[5].lastIndexOf(',')); // line 6: a field short
  const bad = withBadLines(
    lf,
    [
      [2, '\0'.repeat(300)],
      [5, fields[5]],
      [9, `${lines[9]},extra`],
      [10, lines[10].replace(/^(\d+),\d,/, '$1,\0,')], // NUL for the click
      [40, 'ÿþ'],
    ],
    Buffer.alloc(0),
  );
  const dir = t.testdir({
    'empty.csv': '',
    'header.csv': `${AVAZU_HEADER}\n`,
    'lf.csv': lf,
    'crlf.csv.gz': gzipSync(Buffer.from(`\ufeff${avazuText(n, '\r\n', false)}`, 'utf8')),
    'fields.csv': fields.join('\n'),
    'bad-lines.csv': bad,
    'random.bin': randomBytes(64 << 10, 11),
    'huge.csv': Buffer.concat([latin1(avazuText(3)), Buffer.alloc(50 << 20, 0x2c)]),
    'cut.csv.gz': gzipSync(avazuText(3000)).subarray(0, 20_000),
  });
  const p = (f: string): string => join(dir, f);
  const cases: [file: string, skip: boolean][] = [
    ['empty.csv', false], // 0
    ['header.csv', true],
    ['lf.csv', false],
    ['crlf.csv.gz', false],
    ['fields.csv', false],
    ['bad-lines.csv', true], // 5
    ['random.bin', true],
    ['huge.csv', true],
    ['cut.csv.gz', true],
  ];
  const o = await all(cases.map(([f, skip]) => () => load(`avazu:${p(f)}`, skip)));
  const label = (i: number): string => `${cases[i][0]}${cases[i][1] ? ' (skip)' : ''}`;
  const err = (i: number, re: RegExp): string | undefined => expectUserError(t, o[i], p(cases[i][0]), re, label(i));
  const data = (i: number): LoadedData | undefined => expectData(t, o[i], label(i));

  err(0, /empty\.csv: no data rows \(the file is empty\)$/);
  err(1, /header\.csv: no data rows \(only a header\)$/);
  const plain = data(2);
  t.equal((plain?.train.rows ?? 0) + (plain?.eval.rows ?? 0), n, 'every row loaded');
  sameData(t, plain, data(3), 'crlf.csv.gz (BOM, CRLF, no final newline) vs lf.csv');
  err(4, /fields\.csv, line 6: expected 24 comma-separated columns, found 23$/);
  const skipped = data(5);
  t.equal(skipped?.skippedLines, 5, 'NUL, short, long, NUL-label and binary lines skipped');
  sameData(t, plain, skipped, 'bad-lines.csv (skip) vs lf.csv');
  // A wrong header is never skipped: the file is not Avazu's train.csv.
  err(6, /random\.bin, line 1: expected the avazu header "id,click,hour,.*" \(24 columns\); /);
  err(7, /huge\.csv, line 5: longer than 1048576 bytes; is this an avazu text file\?$/);
  err(8, /cut\.csv\.gz: truncated or corrupt gzip data after line \d+ \(unexpected end of file\)$/);
});

// ---------------------------------------------------------------------------------------------------
// Fuzzing

/**
 * What the reference parser expects of a file: the rules of parse.ts written the slow obvious way, on
 * strings (fuzz inputs stay far below the 1 MiB line limit, which it does not model).
 */
type Expected =
  | { ok: true; lines: number[]; labels: number[]; numeric: number[]; keys: number[]; skipped: number }
  | { ok: false; line: number | null; why: RegExp };

function reference(layout: Layout, bytes: Buffer, skipBadLines: boolean): Expected {
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

/** One mutated copy of a valid sample: byte flips, inserts, deletes, cuts, stray CR/NUL/LF/delimiters. */
function mutate(sample: Buffer, r: () => number, delimiter: number): Buffer {
  let b = Buffer.from(sample);
  const at = (): number => Math.floor(r() * (b.length + 1));
  const insert = (bytes: Buffer): void => {
    const i = at();
    b = Buffer.concat([b.subarray(0, i), bytes, b.subarray(i)]);
  };
  const edits = 1 + Math.floor(r() * 4);
  for (let e = 0; e < edits; e++) {
    const kind = Math.floor(r() * 10);
    if (kind === 0 && b.length > 0) b[Math.min(b.length - 1, at())] = Math.floor(r() * 256);
    else if (kind === 1) insert(Buffer.from([Math.floor(r() * 256)]));
    else if (kind === 2) {
      const i = at();
      b = Buffer.concat([b.subarray(0, i), b.subarray(i + 1 + Math.floor(r() * 40))]);
    } else if (kind === 3) b = b.subarray(0, at());
    else if (kind === 4) insert(Buffer.from([13]));
    else if (kind === 5) insert(Buffer.from([0]));
    else if (kind === 6) insert(Buffer.from([10]));
    else if (kind === 7) insert(Buffer.from([delimiter]));
    else if (kind === 8) insert(Buffer.from('99999999999999999999'));
    else insert(randomBytes(1 + Math.floor(r() * 64), Math.floor(r() * 1e9)));
  }
  return Buffer.from(b);
}

/** A fuzz input: which sample, mutated how, and read in what pieces. */
interface FuzzCase {
  i: number;
  format: FuzzFormat;
  bytes: Buffer;
  /** Offsets where the bytes are split into the buffers pushed to the parser. */
  cuts: number[];
}

function fuzzCases(seed: number, count: number): FuzzCase[] {
  const r = rng(seed);
  // Every other sample has CRLF line endings (and then no final newline).
  const samples = (f: FuzzFormat): Buffer[] => [latin1(TEXT[f](24)), latin1(TEXT[f](24, '\r\n', false))];
  const order: FuzzFormat[] = ['criteo', 'avazu', 'csv', 'criteo', 'libsvm', 'libfm'];
  return Array.from({ length: count }, (_, i) => {
    const format = order[i % order.length];
    const layout = LAYOUTS[format];
    // Stray delimiters: the column separator, or in sparse lines a blank or a colon.
    const delimiter = layout.kind === 'delimited' ? layout.delimiter : r() < 0.5 ? 32 : 58;
    const bytes = mutate(samples(format)[(i >> 1) % 2], r, delimiter);
    const cuts = Array.from({ length: Math.floor(r() * 6) }, () => Math.floor(r() * (bytes.length + 1))).sort((a, b) => a - b);
    return { i, format, bytes, cuts };
  });
}

/**
 * The reader worker's LineParser in a worker of its own (a JavaScript module importing the TypeScript
 * ones through the inherited loader), so a parse that never returns is detected and terminated.
 */
const PARSE_WORKER = `
import { parentPort, workerData } from 'node:worker_threads';
const { LineParser } = await import(workerData.parse);
parentPort.on('message', ({ layout, path, bytes, cuts, skipBadLines }) => {
  const chunks = [];
  const parser = new LineParser(layout, path, { chunkRows: 5, skipBadLines }, (c) => chunks.push(c));
  try {
    let from = 0;
    for (const to of [...cuts, bytes.length]) {
      if (to > from) parser.push(Buffer.from(bytes.subarray(from, to)));
      from = to;
    }
    parser.end();
    parentPort.postMessage({ chunks, lineNo: parser.lineNo, rows: parser.rows, skipped: parser.skipped });
  } catch (e) {
    parentPort.postMessage({ error: { name: e?.name, message: String(e?.message), stack: String(e?.stack) } });
  }
});
parentPort.postMessage('ready');
`;

type ParseResult =
  | { chunks: RawChunk[]; lineNo: number; rows: number; skipped: number }
  | { error: { name: string; message: string; stack: string } }
  | { hang: true };

class ParseWorker {
  private worker = new Worker(new URL(`data:text/javascript,${encodeURIComponent(PARSE_WORKER)}`), {
    workerData: {
      parse: new URL('../src/data/parse.ts', import.meta.url).href,
    },
  });
  readonly ready = new Promise<void>((resolve, reject) => {
    this.worker.once('message', () => resolve());
    this.worker.once('error', reject);
  });

  parse(c: FuzzCase, path: string, skipBadLines: boolean): Promise<ParseResult> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.worker.off('message', done);
        resolve({ hang: true });
      }, PARSE_TIMEOUT_MS);
      const done = (m: ParseResult): void => {
        clearTimeout(timer);
        resolve(m);
      };
      this.worker.once('message', done);
      this.worker.postMessage({ layout: LAYOUTS[c.format], path, bytes: c.bytes, cuts: c.cuts, skipBadLines });
    });
  }

  close(): Promise<number> {
    return this.worker.terminate();
  }
}

/** Compares a parse with the reference; returns a description of the first difference, or null. */
function compare(res: ParseResult, want: Expected, path: string): string | null {
  if ('hang' in res) return `no result after ${PARSE_TIMEOUT_MS} ms (hang)`;
  if ('error' in res) {
    const { name, message, stack } = res.error;
    if (name !== 'UserError') return `${name} instead of a UserError: ${stack}`;
    if (!message.startsWith(path)) return `the message does not start with the file: ${message}`;
    if (want.ok) return `error where the reference parses ${want.lines.length} rows: ${message}`;
    if (want.line !== null && !message.includes(`line ${want.line}:`)) return `expected line ${want.line}: ${message}`;
    if (!want.why.test(message)) return `expected ${want.why}: ${message}`;
    return null;
  }
  if (!want.ok) return `parsed ${res.rows} rows where the reference fails (line ${want.line}, ${want.why})`;
  const flat = (k: 'labels' | 'numeric' | 'keys' | 'lines'): number[] => res.chunks.flatMap((c) => Array.from(c[k] ?? []));
  const same = (a: number[], b: number[]): boolean => a.length === b.length && a.every((x, i) => Object.is(x, b[i]));
  if (res.rows !== want.lines.length || res.skipped !== want.skipped) {
    return `${res.rows} rows, ${res.skipped} skipped; the reference: ${want.lines.length} rows, ${want.skipped} skipped`;
  }
  if (!same(flat('lines'), want.lines)) return 'other line numbers than the reference';
  if (!same(flat('labels'), want.labels)) return 'other labels than the reference';
  if (!same(flat('numeric'), want.numeric)) return 'other numeric values than the reference';
  if (!same(flat('keys'), want.keys)) return 'other keys than the reference';
  return null;
}

t.test(`fuzz: ${FUZZ_ITERATIONS} mutated files through the parser, checked against a reference parser`, async (t) => {
  const cases = fuzzCases(20240611, FUZZ_ITERATIONS);
  const worker = new ParseWorker();
  t.teardown(() => worker.close());
  await worker.ready;
  const tally = Object.fromEntries(Object.keys(TEXT).map((f) => [f, { rows: 0, errors: 0, skipped: 0 }])) as Record<FuzzFormat, { rows: number; errors: number; skipped: number }>;
  let failures = 0;
  for (const c of cases) {
    for (const skip of [false, true]) {
      const path = `/fuzz/${c.i}.${c.format}`;
      const res = await worker.parse(c, path, skip);
      const diff = compare(res, reference(LAYOUTS[c.format], c.bytes, skip), path);
      if (diff !== null) {
        failures++;
        t.fail(`input ${c.i} (${c.format}, skipBadLines ${skip}): ${diff}`, {
          bytes: c.bytes.toString('latin1').slice(0, 400),
          cuts: c.cuts,
        });
        if ('hang' in res || failures >= 10) return;
      } else if ('error' in res) tally[c.format].errors++;
      else if (!('hang' in res)) {
        tally[c.format].rows += res.rows;
        tally[c.format].skipped += res.skipped;
      }
    }
  }
  t.equal(failures, 0, `${FUZZ_ITERATIONS} inputs x 2 modes agree with the reference`);
  // The mutations reach every outcome in every format, or the fuzz proves less than it claims.
  for (const [f, n] of Object.entries(tally)) {
    t.comment(`${f}: ${n.errors} UserErrors, ${n.rows} rows parsed, ${n.skipped} lines skipped`);
    t.ok(n.errors >= 10 && n.skipped >= 10 && n.rows >= 300, `${f}: errors, skips and rows all occur`);
  }
});

t.test(`fuzz: ${LOAD_ITERATIONS} mutated files, plain and gzip, through loadData`, async (t) => {
  const cases = fuzzCases(777, LOAD_ITERATIONS);
  const r = rng(99);
  const files: Record<string, Buffer> = {};
  const runs = cases.map((c) => {
    // Half plain, a quarter gzip, a quarter gzip with the compressed bytes mutated (no reference then).
    const kind = c.i % 4 === 0 ? 'corrupt-gzip' : c.i % 2 ? 'plain' : 'gzip';
    const bytes = kind === 'plain' ? c.bytes : kind === 'gzip' ? gzipSync(c.bytes) : mutate(gzipSync(c.bytes), r, 0);
    const name = `${c.i}-${kind}.${c.format}`;
    files[name] = bytes;
    return { c, name, kind, skip: c.i % 3 !== 1, transform: ((c.i >> 1) % 2 ? 'minmax' : 'log1p') as DataOptions['numericTransform'] };
  });
  const dir = t.testdir(files);
  const outcomes = await all(
    runs.map((run) => () => load(SPEC[run.c.format](join(dir, run.name)), run.skip, { numericTransform: run.transform })),
  );
  // The layout as --data resolves it from the mutated file itself (a csv header or a libFM first line
  // may be mutated too), or the UserError that resolving it gives.
  const layouts = await Promise.all(runs.map((run) => resolve(SPEC[run.c.format](join(dir, run.name))).catch((e: unknown) => e as Error)));
  for (const [k, run] of runs.entries()) {
    const o = outcomes[k];
    const path = join(dir, run.name);
    const name = `${run.name} (skip ${run.skip}, ${run.transform})`;
    const layout = layouts[k];
    if (layout instanceof Error) {
      t.ok(layout instanceof UserError, `${name}: resolving the layout fails with a UserError`);
      expectUserError(t, o, path, new RegExp(`^${layout.message.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`), name);
      continue;
    }
    const want = run.kind === 'corrupt-gzip' ? null : reference(layout, run.c.bytes, run.skip);
    if (want === null) {
      if ('data' in o) expectData(t, o, name);
      else expectUserError(t, o, path, null, name);
    } else if (want.ok && want.lines.length >= 2) {
      const d = expectData(t, o, name);
      if (!d) continue;
      t.equal(d.train.rows + d.eval.rows, want.lines.length, `${name}: the reference's rows`);
      t.equal(d.skippedLines, want.skipped, `${name}: the reference's skip count`);
      // The sequential split keeps file order: train rows, then eval rows.
      t.same([...d.train.labels, ...d.eval.labels], want.labels, `${name}: the reference's labels`);
      if (run.transform === 'log1p') {
        const log1p = (x: number): number => Math.fround(x !== x ? 0 : x >= 0 ? Math.log1p(x) : -Math.log1p(-x));
        const expected = want.numeric.map((x) => log1p(Math.fround(x)));
        t.same([...d.train.numeric, ...d.eval.numeric], expected, `${name}: the reference's numeric features`);
      }
    } else if (want.ok) {
      // With the 25% sequential split, a single row leaves the eval side empty.
      expectUserError(t, o, path, /no (train|eval) rows/, name);
    } else {
      const msg = expectUserError(t, o, path, want.why, name);
      if (msg && want.line !== null) t.match(msg, `line ${want.line}:`, `${name}: the reference's line`);
    }
  }
});
