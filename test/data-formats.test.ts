/**
 * The general data layer: `csv:` and `libsvm:`/`libfm:` files described on the command line (spec.ts),
 * read by parse.ts's builders; decimal numbers and Avazu's hour (tokens.ts); hashed IDs (vocab.ts); and
 * the same rows in two formats giving the same data and the same trained model.
 *
 * Most cases parse in this thread (LineParser, fed the file's bytes) with the layout --data resolves;
 * a few go through loadData (a reader worker each) or the CLI, for gzip and end to end.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { Rng } from '../src/util/rng.js';
import t, { type Test } from 'tap';
import { FORMATS, type Layout } from '../src/data/formats.js';
import { loadData, loadVocabulary, streamWithVocabulary, type DataOptions } from '../src/data/load.js';
import { LineParser } from '../src/data/parse.js';
import { parseDataSpec, resolveLayout, sameFields } from '../src/data/spec.js';
import { parseDecimal, splitHour, tokenKey } from '../src/data/tokens.js';
import { MISSING_KEY, type LoadedData, type RawChunk } from '../src/data/types.js';
import { HashedVocabulary, parseHashBuckets, saveVocabulary, Vocabulary, type VocabularyMeta } from '../src/data/vocab.js';
import type { RunReport } from '../src/train/report.js';
import { UserError } from '../src/util/errors.js';
import { runLauncher } from './helpers/cli.js';

const base: Omit<DataOptions, 'data'> = {
  split: 'sequential:0.25',
  seed: 1,
  minCount: 1,
  numericTransform: 'log1p',
  skipBadLines: false,
};

const bytes = (s: string): Buffer => Buffer.from(s, 'latin1');
const key = (s: string): number => tokenKey(bytes(s), 0, s.length);
const dec = (s: string): number => parseDecimal(bytes(s), 0, s.length);

type FileSource = Parameters<typeof resolveLayout>[0];
const layoutOf = (data: string, flag: '--data' | '--eval-data' = '--data'): Promise<Layout> =>
  resolveLayout(parseDataSpec(data, flag) as FileSource, flag);

/** Parses `text` with `layout` in this thread; rows flattened. */
function parse(layout: Layout, text: string | Buffer, path = 'f', skipBadLines = false) {
  const chunks: RawChunk[] = [];
  const p = new LineParser(layout, path, { chunkRows: 3, skipBadLines }, (c) => chunks.push(c));
  p.push(typeof text === 'string' ? bytes(text) : text);
  p.end();
  return {
    labels: chunks.flatMap((c) => [...c.labels]),
    numeric: chunks.flatMap((c) => [...c.numeric]),
    keys: chunks.flatMap((c) => [...c.keys]),
    lines: chunks.flatMap((c) => [...(c.lines ?? [])]),
    skipped: p.skipped,
  };
}

/** The UserError `fn` throws (or undefined), for exact message checks. */
async function errorOf(fn: () => unknown): Promise<string | undefined> {
  try {
    await fn();
  } catch (e) {
    if (e instanceof UserError) return e.message;
    throw e;
  }
  return undefined;
}

/** Uniform numbers in [0, 1) from the project's seeded generator. */
function rng(seed: number): () => number {
  const g = new Rng(seed);
  return () => g.next();
}

// ---------------------------------------------------------------------------------------------------
// csv

const HEADER = 'id,y,price,ctry,score,dev,note';
const ROWS = ['1,1,2.5,fr,-3,ab12cd34,x', '2,0,,de,1e3,,y', '3,-1,7,,0.5,ffffffff,z', '4,+1,-0.25,fr,,ab12cd34,'];
const WANT = {
  labels: [1, 0, 0, 1],
  numeric: [2.5, -3, NaN, 1000, 7, 0.5, -0.25, NaN],
  keys: [key('fr'), 0xab12cd34, key('de'), MISSING_KEY, MISSING_KEY, 0xffffffff, key('fr'), 0xab12cd34],
};

t.test('csv: columns by header name, by number, by range; the layout as described', async (t) => {
  const dir = t.testdir({ 'h.csv': `${HEADER}\n${ROWS.join('\n')}\n`, 'nh.csv': `\n${ROWS.join('\n')}\n` });
  const h = join(dir, 'h.csv');
  const nh = join(dir, 'nh.csv');
  const named = await layoutOf(`csv:${h},header=true,label=y,num=price,score,cat=ctry,dev`);
  t.same(named, {
    kind: 'delimited',
    name: 'csv',
    delimiter: 44,
    columns: HEADER.split(','),
    header: 'skip',
    labelColumn: 1,
    labels: 'signed',
    numericColumns: [2, 4],
    numbers: 'decimal',
    categoricalColumns: [3, 5],
    timeColumn: -1,
    fieldNames: ['ctry', 'dev'],
    numericNames: ['price', 'score'],
  });
  const rows = parse(named, readFileSync(h));
  t.same(rows, { ...WANT, lines: [2, 3, 4, 5], skipped: 0 }, 'values, missing cells, signed labels; the header is line 1');

  // Numbers with a header, and names and numbers mixed, pick the same columns.
  t.same(await layoutOf(`csv:${h},header=true,label=2,num=3,5,cat=4,6`), named);
  t.same(await layoutOf(`csv:${h},num=price,5,header=true,cat=4,dev,label=y`), named, 'options in any order');
  // Without a header, columns are numbers (named c1, c2, ...); a leading blank line is not the first row.
  const numbered = await layoutOf(`csv:${nh},label=2,num=3,5,cat=4,6`);
  t.match(numbered, { header: 'none', columns: ['c1', 'c2', 'c3', 'c4', 'c5', 'c6', 'c7'], fieldNames: ['c4', 'c6'], numericNames: ['c3', 'c5'] });
  t.same(parse(numbered, readFileSync(nh)), { ...WANT, lines: [2, 3, 4, 5], skipped: 0 }, 'the same values without a header');
  t.notOk(sameFields(numbered, named), 'other names: other fields');
  t.ok(sameFields(await layoutOf(`csv:${h},header=true,label=y,num=price,score,cat=ctry,dev,sep=comma`), named));

  // Ranges take every column from A to B in file order (by name or number).
  const ranged = await layoutOf(`csv:${h},header=true,label=y,num=price,cat=ctry..dev`);
  t.same(ranged.fieldNames, ['ctry', 'score', 'dev']);
  t.same((await layoutOf(`csv:${nh},label=2,cat=4..6,num=3`)).fieldNames, ['c4', 'c5', 'c6']);
  t.same((await layoutOf(`csv:${h},header=true,label=y,cat=4..dev,7`)).fieldNames, ['ctry', 'score', 'dev', 'note']);
  // Unlisted columns (id, note) are not read at all: anything goes there, a quote included.
  const odd = parse(named, `${HEADER}\n"x,1,2.5,fr,-3,ab12cd34,"quoted\n`);
  t.same(odd.labels, [1]);
});

t.test('csv: the header is UTF-8; a byte-order mark before it is not part of the first name', async (t) => {
  const dir = t.testdir({
    'bom.csv': Buffer.from(`\ufeff${HEADER}\r\n${ROWS.join('\r\n')}\r\n`, 'utf8'),
    'utf8.csv': Buffer.from('id,y,prix€,pays_é\n1,1,2.5,fr\n', 'utf8'),
  });
  const layout = await layoutOf(`csv:${join(dir, 'bom.csv')},header=true,label=id,cat=ctry`).catch(() => null);
  t.ok(layout, 'the first column is "id"');
  const named = await layoutOf(`csv:${join(dir, 'bom.csv')},header=true,label=y,num=price,score,cat=ctry,dev`);
  t.match(named, { kind: 'delimited', columns: HEADER.split(',') });
  const utf8 = await layoutOf(`csv:${join(dir, 'utf8.csv')},header=true,label=y,num=prix€,cat=pays_é`);
  t.same([utf8.fieldNames, utf8.numericNames], [['pays_é'], ['prix€']], 'names beyond ASCII match the command line (UTF-8)');
  t.same(parse(named, readFileSync(join(dir, 'bom.csv'))), { ...WANT, lines: [2, 3, 4, 5], skipped: 0 });
});

t.test('csv: separators by name or character', async (t) => {
  const seps: [option: string, char: string][] = [
    ['', ','],
    ['comma', ','],
    [',', ','],
    ['tab', '\t'],
    ['\\t', '\t'],
    ['\t', '\t'],
    ['semicolon', ';'],
    [';', ';'],
    ['pipe', '|'],
    ['|', '|'],
    ['space', ' '],
    [' ', ' '],
    [':', ':'],
  ];
  const files: Record<string, string> = {};
  seps.forEach(([, c], i) => (files[`${i}.txt`] = `${HEADER.replaceAll(',', c)}\n${ROWS.map((r) => r.replaceAll(',', c)).join('\n')}\n`));
  const dir = t.testdir(files);
  for (const [i, [option, c]] of seps.entries()) {
    const path = join(dir, `${i}.txt`);
    // sep= first: a value ending the spec would lose a trailing space to trimming.
    const spec = `csv:${path}${option ? `,sep=${option}` : ''},header=true,label=y,num=price,score,cat=ctry,dev`;
    const layout = await layoutOf(spec);
    t.equal(layout.kind === 'delimited' && layout.delimiter, c.charCodeAt(0), `sep=${JSON.stringify(option)}: ${JSON.stringify(c)}`);
    t.same(parse(layout, readFileSync(path)), { ...WANT, lines: [2, 3, 4, 5], skipped: 0 }, `sep=${JSON.stringify(option)}: the same rows`);
  }
  const dirPath = join(dir, '0.txt');
  // One byte: a character beyond ASCII is more than one in UTF-8 (and the header is read as UTF-8).
  for (const bad of ['ab', '"', 'tabs', '§', 'é']) {
    t.equal(
      await errorOf(() => layoutOf(`csv:${dirPath},sep=${bad},cat=1`)),
      `--data csv:${dirPath}: sep=${bad}: expected one ASCII character or tab, comma, semicolon, pipe, space`,
    );
  }
});

t.test('csv: decimal cells equal Number(), bad cells and lines name file, line and column', async (t) => {
  const good = ['0', '-0', '3', '-1.5e3', '2.5E-2', '+7.', '.5', '-.5', '1e5', '-0.25', '123456789.123456789', '1e-7', '-12345678901234567890', '1E+2', '0001.50', '-1e-400', '1e308'];
  const labels = ['0', '1', '-1', '+1'];
  const text = (eol: string) => good.map((v, i) => [labels[i % 4], v, i % 3 ? `k${i}` : ''].join(',')).join(eol) + eol;
  const dir = t.testdir({ 'd.csv': text('\n'), 'crlf.csv': text('\r\n') });
  const path = join(dir, 'd.csv');
  const layout = await layoutOf(`csv:${path},label=1,num=2,cat=3`);
  const rows = parse(layout, readFileSync(path));
  t.ok(rows.numeric.every((v, i) => Object.is(v, Number(good[i]))), 'every value as Number() reads it (-0 included)', { got: rows.numeric });
  t.same(rows.labels, good.map((_, i) => [0, 1, 0, 1][i % 4]), 'labels 0/1 and -1/+1 (-1 is a negative)');
  t.same(rows.keys, good.map((_, i) => (i % 3 ? key(`k${i}`) : MISSING_KEY)), 'an empty cell is the missing key');
  t.same(parse(layout, readFileSync(join(dir, 'crlf.csv'))), rows, 'CRLF reads as LF');

  const bad: [line: string, message: string][] = [
    ...['1.2.3', 'e5', '1e', '--1', 'abc', '1e999', '-1e999', '0x10', ' 1', 'Infinity', 'NaN', '.', '+', '1_000'].map(
      (v): [string, string] => [`1,${v},a`, `column 2 (c2): expected a number or an empty cell, found ${JSON.stringify(v)}`],
    ),
    ...['2', 'yes', '+0', '-0', '', '1.0', ' 1'].map((y): [string, string] => [`${y},1,a`, `column 1 (c1): expected 0/1 or -1/+1, found ${JSON.stringify(y)}`]),
    ['1,2,a,b', 'expected 3 comma-separated columns, found 4'],
    ['1,2', 'expected 3 comma-separated columns, found 2'],
    ['1;2;a', 'column 1 (c1): expected 0/1 or -1/+1, found "1;2;a"'],
  ];
  for (const [line, message] of bad) {
    t.throws(() => parse(layout, `0,1,a\n${line}\n`, path), { name: 'UserError', message: `${path}, line 2: ${message}` }, JSON.stringify(line));
  }
  const skipped = parse(layout, `0,1,a\n1,x,a\n1,2,b\n`, path, true);
  t.same([skipped.lines, skipped.skipped], [[1, 3], 1], 'skipBadLines drops the bad line and counts it');
});

t.test('csv: quoted cells are refused, not misread', async (t) => {
  const dir = t.testdir({ 'q.csv': 'y,a,b\n1,x,2\n' });
  const path = join(dir, 'q.csv');
  const layout = await layoutOf(`csv:${path},header=true,label=y,cat=a,num=b`);
  t.throws(() => parse(layout, `y,a,b\n1,"ab",2\n`, path), {
    message: `${path}, line 2: column 2 (a): quoted cells are not read (a cell holding the separator); found "\\"ab\\""`,
  });
  // The separator inside quotes: the quote is found before the column count.
  t.throws(() => parse(layout, `y,a,b\n1,"a,b",2\n`, path), { message: `${path}, line 2: column 2 (a): quoted cells are not read (a cell holding the separator); found "\\"a"` });
  t.same(parse(layout, `y,a,b\n1,a"b,2\n`).keys, [key('a"b')], 'a quote inside a cell is a character');
});

t.test('csv and data spec errors: one message each, naming flag, file and option', async (t) => {
  const dir = t.testdir({ 'h.csv': `${HEADER}\n${ROWS[0]}\n`, 'dup.csv': 'a,b,a\n1,2,3\n', 'empty.csv': '', 'blank.csv': '\n\n' });
  const h = join(dir, 'h.csv');
  const w = `--data csv:${h}`;
  const cases: [spec: string, message: string][] = [
    [`csv:${h},header=true,label=y,cat=nope`, `${w}: cat=nope: no column "nope"; the header has id, y, price, ctry, score, dev, note`],
    [`csv:${h},label=2,cat=ctry`, `${w}: cat=ctry: no column "ctry" (without header=true, columns are numbers 1..7)`],
    [`csv:${h},label=2,cat=8`, `${w}: cat=8: no column "8" (without header=true, columns are numbers 1..7)`],
    [`csv:${h},label=2,cat=0`, `${w}: cat=0: no column "0" (without header=true, columns are numbers 1..7)`],
    [`csv:${h},header=true,label=y,num=price..nope`, `${w}: num=price..nope: no column "nope"; the header has id, y, price, ctry, score, dev, note`],
    [`csv:${h},header=true,label=y,cat=y..dev`, `${w}: column y is in both label= and cat=`],
    [`csv:${h},header=true,label=y,cat=ctry..dev,num=score`, `${w}: column score is in both cat= and num=`],
    [`csv:${h},header=true,label=y,cat=dev..ctry`, `${w}: cat=dev..ctry: range dev..ctry runs backwards`],
    [`csv:${h},header=true,label=y,cat=ctry,4`, `${w}: cat=ctry,4: column ctry listed twice`],
    [`csv:${h},header=true,label=y,cat=ctry..dev,score`, `${w}: cat=ctry..dev,score: column score listed twice`],
    [`csv:${h},header=true,label=y,cat=ctry,,dev`, `${w}: cat=ctry,,dev: an empty column name`],
    [`csv:${h},header=true,label=y,price,cat=ctry`, `${w}: label=y,price: expected one column`],
    [`csv:${h},header=yes,cat=1`, `${w}: header=yes: expected true or false`],
    [`csv:${join(dir, 'dup.csv')},header=true,cat=a`, `${join(dir, 'dup.csv')}, line 1: the header names column "a" twice`],
    [`csv:${join(dir, 'empty.csv')},cat=1`, `${join(dir, 'empty.csv')}: no data rows (the file is empty or holds only blank lines)`],
    [`csv:${join(dir, 'blank.csv')},cat=1`, `${join(dir, 'blank.csv')}: no data rows (the file is empty or holds only blank lines)`],
    [`csv:${join(dir, 'missing.csv')},cat=1`, `cannot read ${join(dir, 'missing.csv')}: no such file`],
    // Syntax, before any file is opened.
    [`csv:${h},cat=1,cat=2`, `--data "csv:${h},cat=1,cat=2": cat= given twice`],
    [`csv:${h},cat=1,foo=2`, `--data "csv:${h},cat=1,foo=2": unknown option foo=; csv takes label=, cat=, num=, sep=, header=`],
    [`csv:${h},label=1`, `--data "csv:${h},label=1": csv needs its feature columns: cat=COLS and/or num=COLS (names with header=true, or 1-based numbers; ranges as C1..C26)`],
    [`csv:${h}`, `--data "csv:${h}": csv needs its feature columns: cat=COLS and/or num=COLS (names with header=true, or 1-based numbers; ranges as C1..C26)`],
    ['csv:,cat=1', '--data "csv:,cat=1": missing file path; expected csv:PATH,OPTIONS'],
    [`libsvm:${h},cat=1`, `--data "libsvm:${h},cat=1": unknown option cat=; libsvm takes fields=, num=`],
    [`criteo:${h},sep=;`, `--data "criteo:${h},sep=;": unknown option sep=; criteo takes no options`],
    ['tsv:x', '--data "tsv:x": unknown data kind "tsv"; expected synthetic[:PRESET][,key=value...], criteo:PATH, avazu:PATH, csv:PATH,label=COL,cat=COLS,num=COLS, libsvm:PATH or libfm:PATH'],
  ];
  for (const [spec, message] of cases) t.equal(await errorOf(() => layoutOf(spec)), message, spec);

  // Training needs a label column; checked before any row is read.
  const noLabel = `csv:${h},header=true,cat=ctry,dev`;
  t.equal(await errorOf(() => loadData({ ...base, data: noLabel })), `--data ${noLabel}: training needs labels: name the label column with label=COL`);
  // --eval-data: the same format and the same fields.
  const data = `csv:${h},header=true,label=y,cat=ctry,dev`;
  t.equal(
    await errorOf(() => loadData({ ...base, data, evalData: `csv:${h},header=true,label=y,cat=ctry` })),
    `--eval-data csv:${h},header=true,label=y,cat=ctry: its fields differ from those of the --data file (1 vs 2; 1 fields where the --data file has 2)`,
  );
  t.equal(
    await errorOf(() => loadData({ ...base, data, evalData: `csv:${h},header=true,label=y,cat=dev,ctry` })),
    `--eval-data csv:${h},header=true,label=y,cat=dev,ctry: its fields differ from those of the --data file (2 vs 2; field 1 is dev where the --data file has ctry)`,
  );
  t.equal(
    await errorOf(() => loadData({ ...base, data, evalData: `libsvm:${h}` })),
    `--eval-data libsvm:${h}: its format (libsvm) must match --data's (csv)`,
  );
});

t.test('csv through loadData: gzip, CRLF and a BOM read as the plain file; a separate eval file with other separators', async (t) => {
  const rows = Array.from({ length: 40 }, (_, i) => `${i},${i % 3 ? 0 : i % 2 ? '+1' : '1'},${(i * 0.37).toFixed(2)},${['fr', 'de', 'it'][i % 3]},${-i}e-1,${(i * 7919).toString(16).padStart(8, '0')},n`);
  const dir = t.testdir({
    'plain.csv': `${HEADER}\n${rows.join('\n')}\n`,
    'z.gz': gzipSync(Buffer.from(`\ufeff${HEADER}\r\n${rows.join('\r\n')}`, 'utf8')),
    'train.tsv': `${HEADER.replaceAll(',', '\t')}\n${rows.slice(0, 30).map((r) => r.replaceAll(',', '\t')).join('\n')}\n`,
    'eval.txt': `${HEADER.replaceAll(',', ';')}\n${rows.slice(30).map((r) => r.replaceAll(',', ';')).join('\n')}\n`,
  });
  const cols = ',header=true,label=y,num=price,score,cat=ctry,dev';
  const plain = await loadData({ ...base, data: `csv:${join(dir, 'plain.csv')}${cols}` });
  const zipped = await loadData({ ...base, data: `csv:${join(dir, 'z.gz')}${cols}` });
  t.match(plain.description, /^csv .*plain\.csv: 30 train \/ 10 eval rows \(sequential:0\.25 split, seed 1\), 2 fields, \d+ ids \(min-count 1\), 2 numeric \(log1p\)/);
  for (const s of ['train', 'eval'] as const) {
    t.same(zipped[s], plain[s], `${s}: the same`);
  }
  t.same(zipped.fieldSizes, plain.fieldSizes);
  const sep = await loadData({ ...base, data: `csv:${join(dir, 'train.tsv')},sep=tab${cols}`, evalData: `csv:${join(dir, 'eval.txt')},sep=;${cols}` });
  t.same(sep.train, plain.train, 'a tab-separated train file: the same train rows');
  t.same(sep.eval, plain.eval, 'a semicolon-separated eval file: the same eval rows');
});

// ---------------------------------------------------------------------------------------------------
// libSVM / libFM

t.test('libsvm/libfm by position: fields from the first line, num= numeric, value 0 absent, -1/+1 labels', async (t) => {
  const lines = ['1 3:1 17:1 40:0.5', '-1 5:1 18:0 41:2e1', '+1  3:1 19:1 42:-1.5 ', '0 7:1\t20:1 43:0'];
  const dir = t.testdir({ 'p.txt': `${lines.join('\n')}\n`, 'crlf.txt': `\r\n${lines.join('\r\n')}` });
  const path = join(dir, 'p.txt');
  const layout = await layoutOf(`libsvm:${path},num=3`);
  t.same(layout, { kind: 'sparse', name: 'libsvm', numFields: 3, fieldStarts: null, numericFields: [2], fieldNames: ['f1', 'f2'], numericNames: ['f3'] });
  const want = { labels: [1, 0, 1, 0], numeric: [0.5, 20, -1.5, 0], keys: [3, 17, 5, MISSING_KEY, 3, 19, 7, 20], lines: [1, 2, 3, 4], skipped: 0 };
  t.same(parse(layout, readFileSync(path)), want, 'binary fields: the index is the ID; value 0 is absent (missing)');
  const fm = await layoutOf(`libfm:${join(dir, 'crlf.txt')},num=3`);
  t.same(fm, { ...layout, name: 'libfm' }, 'libfm: the same reader; a leading blank line is skipped when counting fields');
  t.same(parse(fm, readFileSync(join(dir, 'crlf.txt'))), { ...want, lines: [2, 3, 4, 5] }, 'CRLF, no final newline');
  t.same((await layoutOf(`libsvm:${path}`)).fieldNames, ['f1', 'f2', 'f3'], 'without num=, every field is binary');
  t.same((await layoutOf(`libsvm:${path},num=2..3`)).numericNames, ['f2', 'f3'], 'num= takes ranges');

  const binary = await layoutOf(`libsvm:${path}`);
  const bad: [layout: Layout, line: string, message: string][] = [
    [layout, '1 3:1 17:1 40:0.5 50:1', 'pair 4 ("50:1"): the lines have 3 fields, one pair each, by position (give fields=START/START/... when fields are index ranges)'],
    [layout, '1 3:1 17:1', 'expected 3 index:value pairs (one per field, by position), found 2'],
    [layout, '1', 'expected 3 index:value pairs (one per field, by position), found 0'],
    [layout, '1 3:2 17:1 40:1', 'pair 1 ("3:2"): field 1 is binary (value 1), but this value is 2; declare valued fields numeric with num= (e.g. num=1)'],
    [binary, '1 3:1 17:1 40:0.5', 'pair 3 ("40:0.5"): field 3 is binary (value 1), but this value is 0.5; declare valued fields numeric with num= (e.g. num=3)'],
    [layout, '1 3 17:1 40:1', 'pair 1: expected index:value with an integer index >= 0 and a number, found "3"'],
    [layout, '1 -3:1 17:1 40:1', 'pair 1: expected index:value with an integer index >= 0 and a number, found "-3:1"'],
    [layout, '1 3:1 17:x 40:1', 'pair 2: expected index:value with an integer index >= 0 and a number, found "17:x"'],
    [layout, '1 3:1 17: 40:1', 'pair 2: expected index:value with an integer index >= 0 and a number, found "17:"'],
    [layout, '1 3:1 1.5:1 40:1', 'pair 2: expected index:value with an integer index >= 0 and a number, found "1.5:1"'],
    [layout, '1 3:1 17:1 40:1e999', 'pair 3: expected index:value with an integer index >= 0 and a number, found "40:1e999"'],
    [layout, '2 3:1 17:1 40:1', 'expected a label 0/1 or -1/+1 first, found "2"'],
    [layout, ' ', 'expected a label 0/1 or -1/+1 first, found ""'],
    [layout, '3:1 17:1 40:1', 'expected a label 0/1 or -1/+1 first, found "3:1"'],
  ];
  for (const [l, line, message] of bad) {
    t.throws(() => parse(l, `0 3:1 17:1 40:1\n${line}\n`, path), { name: 'UserError', message: `${path}, line 2: ${message}` }, JSON.stringify(line));
  }
});

t.test('libsvm by index ranges (fields=): pairs in any order, fields absent or repeated', async (t) => {
  const lines = ['1 150:1 5:1 200:3.5', '0 7:1', '-1 250:-1 120:0 9:1', '+1 99:1 100:1 299:1e-2'];
  const dir = t.testdir({ 'r.txt': `${lines.join('\n')}\n`, 'none.txt': '1\n', 'empty.txt': '' });
  const path = join(dir, 'r.txt');
  const layout = await layoutOf(`libsvm:${path},fields=0/100/200,num=3`);
  t.same(layout, { kind: 'sparse', name: 'libsvm', numFields: 3, fieldStarts: [0, 100, 200], numericFields: [2], fieldNames: ['f1', 'f2'], numericNames: ['f3'] });
  t.same(parse(layout, readFileSync(path)), {
    labels: [1, 0, 0, 1],
    numeric: [3.5, NaN, -1, 0.01],
    keys: [5, 150, 7, MISSING_KEY, 9, MISSING_KEY, 99, 100],
    lines: [1, 2, 3, 4],
    skipped: 0,
  });
  const shifted = await layoutOf(`libsvm:${path},fields=10/100`);
  const bad: [layout: Layout, line: string, message: string][] = [
    [layout, '1 5:1 7:1', 'pair 2 ("7:1"): a second feature of field 1; each field holds one feature per line'],
    [layout, '1 5:0 7:1', 'pair 2 ("7:1"): a second feature of field 1; each field holds one feature per line'],
    [layout, '1 200:1 5:1 201:2', 'pair 3 ("201:2"): a second feature of field 3; each field holds one feature per line'],
    [layout, '1 105:3', 'pair 1 ("105:3"): field 2 is binary (value 1), but this value is 3; declare valued fields numeric with num= (e.g. num=2)'],
    [shifted, '1 5:1', "pair 1: index 5 is below the first field's start 10"],
  ];
  for (const [l, line, message] of bad) {
    t.throws(() => parse(l, `0 150:1\n${line}\n`, path), { name: 'UserError', message: `${path}, line 2: ${message}` }, JSON.stringify(line));
  }
  const dir2 = dir;
  const r = path;
  const w = `--data libsvm:${r}`;
  const specErrors: [spec: string, message: string][] = [
    [`libsvm:${r},fields=5/3`, `${w}: fields=5/3: expected the ascending first feature index of each field, separated by /, e.g. fields=0/1000/5000`],
    [`libsvm:${r},fields=0/x`, `${w}: fields=0/x: expected the ascending first feature index of each field, separated by /, e.g. fields=0/1000/5000`],
    [`libsvm:${r},fields=`, `${w}: fields=: expected the ascending first feature index of each field, separated by /, e.g. fields=0/1000/5000`],
    [`libsvm:${r},fields=0/-5`, `${w}: fields=0/-5: expected the ascending first feature index of each field, separated by /, e.g. fields=0/1000/5000`],
    [`libsvm:${r},num=4`, `${w}: num=4: expected field numbers 1..3 or ranges A..B, found "4"`],
    [`libsvm:${r},num=0`, `${w}: num=0: expected field numbers 1..3 or ranges A..B, found "0"`],
    [`libsvm:${r},num=3..1`, `${w}: num=3..1: expected field numbers 1..3 or ranges A..B, found "3..1"`],
    [`libsvm:${r},num=f1`, `${w}: num=f1: expected field numbers 1..3 or ranges A..B, found "f1"`],
    [`libsvm:${r},num=1..3`, `${w}: num=1..3 makes every field numeric; at least one binary (categorical) field is needed`],
    [`libfm:${join(dir2, 'none.txt')}`, `${join(dir2, 'none.txt')}: the first line has a label and no index:value pairs; fields are read by position from it`],
    [`libfm:${join(dir2, 'empty.txt')}`, `${join(dir2, 'empty.txt')}: no data rows (the file is empty or holds only blank lines)`],
  ];
  for (const [spec, message] of specErrors) t.equal(await errorOf(() => layoutOf(spec)), message, spec);
});

t.test('libsvm through loadData: gzip and CRLF read as the plain file', async (t) => {
  const lines = Array.from({ length: 40 }, (_, i) => `${i % 3 ? -1 : +1} ${i % 7}:1 ${100 + (i % 11)}:${i % 5 ? 1 : 0} 200:${i / 8}`);
  const dir = t.testdir({ 'a.txt': `${lines.join('\n')}\n`, 'b.gz': gzipSync(lines.join('\r\n')) });
  const plain = await loadData({ ...base, data: `libsvm:${join(dir, 'a.txt')},num=3` });
  const zipped = await loadData({ ...base, data: `libfm:${join(dir, 'b.gz')},num=3` });
  t.match(plain.description, /^libsvm .*a\.txt: 30 train \/ 10 eval rows .*, 2 fields, \d+ ids \(min-count 1\), 1 numeric \(log1p\)/);
  t.same(zipped.train, plain.train);
  t.same(zipped.eval, plain.eval);
  t.same(zipped.fieldSizes, [8, 13], 'field 1: 7 IDs + OOV; field 2: 11 IDs + missing (value 0) + OOV');
  t.same(plain.train.labels.slice(0, 4), Float32Array.from([1, 0, 0, 1]));
});

// ---------------------------------------------------------------------------------------------------
// Numbers and hours

t.test('parseDecimal equals Number() on random decimal strings, and refuses what is not one', async (t) => {
  const r = rng(4242);
  const digits = (n: number): string => Array.from({ length: n }, () => Math.floor(r() * 10)).join('');
  let compared = 0;
  let short = 0;
  const wrong: string[] = [];
  for (let k = 0; k < 5000; k++) {
    const sign = ['', '', '-', '+'][Math.floor(r() * 4)];
    // Mostly short mantissas (the exact fast path), some long ones (the Number() fallback).
    const intDigits = r() < 0.8 ? Math.floor(r() * 8) : Math.floor(r() * 25);
    const fracDigits = r() < 0.5 ? 0 : r() < 0.8 ? Math.floor(r() * 8) : Math.floor(r() * 25);
    let s = sign + digits(intDigits);
    if (fracDigits > 0 || r() < 0.1) s += `.${digits(fracDigits)}`;
    if (!/[0-9]/.test(s)) s += digits(1 + Math.floor(r() * 3));
    if (r() < 0.4) s += `${r() < 0.5 ? 'e' : 'E'}${['', '-', '+'][Math.floor(r() * 3)]}${Math.floor(r() * (r() < 0.8 ? 25 : 400))}`;
    const want = Number(s);
    const got = dec(s);
    compared++;
    if ((s.replace(/^[+-]?0*/, '').replace(/[eE].*/, '').replace('.', '').replace(/^0+/, '').length) <= 15) short++;
    if (!Object.is(got, Number.isFinite(want) ? want : NaN)) wrong.push(`${s}: ${got} vs Number ${want}`);
  }
  t.same(wrong, [], `${compared} strings (${short} with <= 15 significant digits): exactly Number()'s double, -0 included`);
  // Long negative mantissas and overflow take the fallback, with the sign applied once.
  const cases: [string, number][] = [
    ['-12345678901234567', -12345678901234568],
    ['-0.1234567890123456789', -0.12345678901234568],
    ['-1e-400', -0],
    ['-0', -0],
    ['+1e2', 100],
    ['1.7976931348623157e308', Number.MAX_VALUE],
    ['-1.7976931348623157e308', -Number.MAX_VALUE],
    ['4.9e-324', 5e-324],
  ];
  for (const [s, v] of cases) t.ok(Object.is(dec(s), v), `${s} -> ${v}`);
  for (const s of ['', '+', '-', '.', '-.', 'e1', '.e1', '1e', '1e+', '1.2.3', '1e1.5', '--1', '+-1', '0x1f', ' 1', '1 ', 'Infinity', '-Infinity', 'NaN', '1e999', '-1e999', '1d']) {
    t.ok(Number.isNaN(dec(s)), `${JSON.stringify(s)} is not a number`);
  }
  // Inside a larger buffer: only [start, end) is read.
  const buf = bytes('x-2.5e1y');
  t.equal(parseDecimal(buf, 1, 7), -25);
});

t.test("splitHour: Avazu's YYMMDDHH as hour of day and day of week (Monday 0)", async (t) => {
  const out = new Float64Array(2);
  const split = (v: number): number[] | null => (splitHour(v, out) ? [out[0], out[1]] : null);
  t.same(split(14102100), [0, 1], '2014-10-21 00h: a Tuesday');
  t.same(split(14103023), [23, 3], '2014-10-30 23h: a Thursday');
  t.same(split(14102623), [23, 6], '2014-10-26: a Sunday');
  t.same(split(14102712), [12, 0], '2014-10-27: a Monday');
  t.same(split(10101), [1, 5], '2000-01-01 01h: a Saturday');
  t.same(split(16022905), [5, 0], '2016-02-29 (leap year): a Monday');
  t.same(split(99123123), [23, 3], '2099-12-31: a Thursday');
  for (const v of [14102124, 14102199, 14132100, 14002100, 14100000, 14103200, 14113100, 15022900, 0, 100, -14102100, 100000000, 14102100.5, NaN, Infinity]) {
    t.equal(split(v), null, `${v} is not a valid hour`);
  }
  // Every day of 2000-2099 at some hour, against Date.
  let wrong = 0;
  let days = 0;
  for (let d = new Date(Date.UTC(2000, 0, 1)); d.getUTCFullYear() < 2100; d = new Date(d.getTime() + 86_400_000)) {
    const hh = days % 24;
    const v = (d.getUTCFullYear() - 2000) * 1e6 + (d.getUTCMonth() + 1) * 1e4 + d.getUTCDate() * 100 + hh;
    const got = split(v);
    if (!got || got[0] !== hh || got[1] !== (d.getUTCDay() + 6) % 7) wrong++;
    const next = new Date(d.getTime() + 86_400_000);
    if (next.getUTCDate() === 1 && split(v - hh + 100) !== null) wrong++; // the day after the last of the month
    days++;
  }
  t.equal(wrong, 0, `${days} days agree with Date`);
});

// ---------------------------------------------------------------------------------------------------
// Hashed IDs

t.test('HashedVocabulary: each field in its own K rows, or one shared space; deterministic; missing hashed', async (t) => {
  const F = 3;
  const K = 50;
  const r = rng(9);
  const rows = 2000;
  const keys = Float64Array.from({ length: rows * F }, (_, i) => (i % 97 === 0 ? MISSING_KEY : i % 5 === 0 ? Math.floor(r() * 2 ** 52) : Math.floor(r() * 300)));
  const v = new HashedVocabulary(F, { buckets: K, shared: false });
  t.same([v.fieldSizes, v.fieldOffsets, v.totalRows], [[K, K, K], [0, K, 2 * K], F * K]);
  const ids = new Int32Array(rows * F + 2);
  t.equal(v.encodeRows(keys, rows, ids, 2), 0, 'no cell is OOV');
  t.ok(ids.subarray(2).every((id, i) => id >= (i % F) * K && id < (i % F + 1) * K), "every id in its field's rows");
  const again = new Int32Array(rows * F);
  new HashedVocabulary(F, { buckets: K, shared: false }).encodeRows(keys, rows, again, 0);
  t.same(again, ids.subarray(2), 'deterministic (another instance, the same ids)');
  for (let f = 0; f < F; f++) {
    const used = new Set(Array.from({ length: rows }, (_, r) => ids[2 + r * F + f]));
    t.ok(used.size > 0.9 * K, `field ${f + 1}: ${used.size} of ${K} buckets used`);
  }
  // The missing key is a key like any other: the same bucket wherever it appears in a field.
  const missing = new Int32Array(F * 2);
  v.encodeRows(Float64Array.from([MISSING_KEY, MISSING_KEY, MISSING_KEY, 7, 7, 7]), 2, missing, 0);
  t.ok(missing.every((id, i) => id >= (i % F) * K && id < (i % F + 1) * K), 'missing -> a bucket in range');
  const again2 = new Int32Array(F);
  v.encodeRows(Float64Array.from([MISSING_KEY, MISSING_KEY, MISSING_KEY]), 1, again2, 0);
  t.same(again2, missing.subarray(0, F));
  // A key's bucket depends on its field.
  const sameKey = new Int32Array(F * 200);
  v.encodeRows(Float64Array.from({ length: F * 200 }, (_, i) => Math.floor(i / F)), 200, sameKey, 0);
  const differ = Array.from({ length: 200 }, (_, r) => sameKey[r * F] - 0 !== sameKey[r * F + 1] - K).filter(Boolean).length;
  t.ok(differ > 150, `fields hash a key differently (${differ} of 200)`);

  const shared = new HashedVocabulary(F, { buckets: K, shared: true });
  t.same([shared.fieldSizes, shared.fieldOffsets, shared.totalRows], [[K, 0, 0], [0, K, K], K]);
  const sids = new Int32Array(rows * F);
  shared.encodeRows(keys, rows, sids, 0);
  t.ok(sids.every((id) => id >= 0 && id < K), 'shared: every id in [0, K)');
  t.ok(sids.every((id, i) => id === ids[2 + i] - (i % F) * K), 'shared: the same bucket as per field, in one space');

  t.same(parseHashBuckets('1000'), { buckets: 1000, shared: false });
  t.same(parseHashBuckets(' shared:64 '), { buckets: 64, shared: true });
  for (const bad of ['0', 'x', 'shared:', 'shared:0', '1e3', '-5', String(2 ** 26 + 1), 'per:5']) {
    t.throws(() => parseHashBuckets(bad), { name: 'UserError', message: `--hash-buckets ${bad}: expected K (rows per field) or shared:K (one space for all fields), K from 1 to ${2 ** 26}` });
  }
});

t.test('a hashed vocabulary saves as vocab.json alone and loads as the same encoder', async (t) => {
  const dir = t.testdir();
  const layout = FORMATS.criteo;
  for (const shared of [false, true]) {
    const v = new HashedVocabulary(26, { buckets: 100, shared });
    const meta: VocabularyMeta = {
      format: 'criteo',
      fieldNames: [...layout.fieldNames],
      numericNames: [...layout.numericNames],
      minCount: 1,
      numeric: { kind: 'log1p' },
      layout,
      hash: { buckets: 100, shared },
    };
    const at = join(dir, shared ? 'shared' : 'per-field');
    t.same(await saveVocabulary(at, v, meta), ['vocab.json'], 'no keys file');
    const back = await loadVocabulary(at);
    t.ok(back.vocab instanceof HashedVocabulary);
    t.same(back.vocab.fieldSizes, v.fieldSizes);
    t.same(back.vocab.fieldOffsets, v.fieldOffsets);
    t.same(back.meta.hash, { buckets: 100, shared });
    t.same(back.meta.layout, layout, 'the layout is saved');
    const keys = Float64Array.from({ length: 26 * 10 }, (_, i) => i * 7919);
    const a = new Int32Array(260);
    const b = new Int32Array(260);
    v.encodeRows(keys, 10, a, 0);
    back.vocab.encodeRows(keys, 10, b, 0);
    t.same(b, a, 'encodes as the saved one');
  }
});

t.test('--hash-buckets through loadData: hashed train and eval; a checkpoint vocabulary scores the same', async (t) => {
  const rows = Array.from({ length: 60 }, (_, i) => `${i % 4 ? 0 : 1},${i % 9},${['a', 'b', 'c', ''][i % 4]},t${i}`);
  const dir = t.testdir({ 'train.csv': `${rows.slice(0, 40).join('\n')}\n`, 'eval.csv': `${rows.slice(40).join('\n')}\n` });
  const cols = ',label=1,num=2,cat=3..4';
  const evalData = `csv:${join(dir, 'eval.csv')}${cols}`;
  const d = await loadData({ ...base, data: `csv:${join(dir, 'train.csv')}${cols}`, evalData, hashBuckets: { buckets: 16, shared: false } });
  t.match(d.description, /: 40 train \/ 20 eval rows \(eval file .*eval\.csv\), 2 fields, 32 ids \(hashed, 16 rows per field\), 1 numeric \(log1p\)$/);
  t.same(d.fieldSizes, [16, 16]);
  t.ok([...d.train.ids, ...d.eval.ids].every((id, i) => id >= (i % 2) * 16 && id < (i % 2 + 1) * 16), "ids in their field's buckets");
  t.same(await d.saveVocabulary(join(dir, 'ck')), ['vocab.json']);
  const saved = { ...(await loadVocabulary(join(dir, 'ck'))), from: join(dir, 'ck') };
  t.same(saved.meta.hash, { buckets: 16, shared: false });
  const ids: number[] = [];
  await streamWithVocabulary(evalData, saved, { skipBadLines: false }, async (c) => void ids.push(...c.ids));
  t.same(ids, [...d.eval.ids], 'streamed with the saved vocabulary: the same ids');
  // The fields must match the vocabulary's.
  const other = `csv:${join(dir, 'eval.csv')},label=1,num=2,cat=4..3`;
  t.equal(
    await errorOf(() => streamWithVocabulary(`csv:${join(dir, 'eval.csv')},label=1,num=2,cat=4`, saved, { skipBadLines: false }, async () => {})),
    `--data csv:${join(dir, 'eval.csv')},label=1,num=2,cat=4: its fields differ from those of the vocabulary of ${join(dir, 'ck')} (2 vs 3; field 1 is c4 where the vocabulary of ${join(dir, 'ck')} has c3)`,
  );
  t.match(await errorOf(() => layoutOf(other)), /range 4\.\.3 runs backwards/);
  t.equal(
    await errorOf(() => loadData({ ...base, data: 'synthetic', hashBuckets: { buckets: 16, shared: false } })),
    '--hash-buckets is for files: the synthetic IDs are already rows of fixed tables',
  );
});

t.test("avazu: a vocabulary saved before the hour split (22 fields) is refused with the reason", async (t) => {
  const dir = t.testdir({ 'train.csv': `${FORMATS.avazu.columns.join(',')}\n` });
  const oldFields = ['hour', ...FORMATS.avazu.fieldNames.slice(2)];
  t.equal(oldFields.length, 22);
  t.equal(FORMATS.avazu.fieldNames.length, 23);
  const ck = join(dir, 'ck');
  await saveVocabulary(ck, new Vocabulary(oldFields.map(() => new Float64Array(0))), {
    format: 'avazu',
    fieldNames: oldFields,
    numericNames: [],
    minCount: 1,
    numeric: { kind: 'log1p' },
  });
  const saved = { ...(await loadVocabulary(ck)), from: ck };
  const data = `avazu:${join(dir, 'train.csv')}`;
  t.equal(
    await errorOf(() => streamWithVocabulary(data, saved, { skipBadLines: false }, async () => {})),
    `--data ${data}: its fields differ from those of the vocabulary of ${ck} (23 vs 22; field 1 is hour_of_day where the vocabulary of ${ck} has hour)` +
      " (Avazu's hour is now read as two fields, hour_of_day and day_of_week: a model trained on the raw hour must be retrained)",
  );
});

// ---------------------------------------------------------------------------------------------------
// The same rows in two formats

/** Criteo rows whose click depends on two fields: negative, empty and large integers, missing tokens. */
function criteoRows(n: number, seed: number): string[][] {
  const r = rng(seed);
  return Array.from({ length: n }, () => {
    const a = Math.floor(r() * 20);
    const b = Math.floor(r() * 50);
    const click = r() < (a < 8 ? 0.5 : 0.1) + (b % 5 === 0 ? 0.2 : 0) ? 1 : 0;
    const ints = Array.from({ length: 13 }, (_, j) => (j === 2 ? '' : j === 1 ? String(-Math.floor(r() * 3)) : String(Math.floor(r() * 100 * (j + 1)))));
    const cats = Array.from({ length: 26 }, (_, f) => (f === 5 && r() < 0.3 ? '' : (f === 0 ? a : f === 1 ? b : Math.floor(r() * 30) + f * 1000).toString(16).padStart(8, '0')));
    return [String(click), ...ints, ...cats];
  });
}

const criteoFiles = (rows: string[][]) => ({
  'rows.tsv': rows.map((c) => c.join('\t')).join('\n') + '\n',
  'rows.csv': [FORMATS.criteo.columns.join(','), ...rows.map((c) => c.join(','))].join('\n') + '\n',
});
const CSV_COLS = ',header=true,label=label,num=I1..I13,cat=C1..C26';

function sameLoaded(t: Test, a: LoadedData, b: LoadedData, name: string): void {
  for (const s of ['train', 'eval'] as const) {
    t.same(a[s].labels, b[s].labels, `${name}: ${s} labels`);
    t.same(a[s].numeric, b[s].numeric, `${name}: ${s} numeric`);
    t.same(a[s].ids, b[s].ids, `${name}: ${s} ids`);
  }
  t.same(a.fieldSizes, b.fieldSizes, `${name}: field sizes`);
}

t.test('a Criteo TSV and the same rows as a CSV with a header give identical data', async (t) => {
  const dir = t.testdir(criteoFiles(criteoRows(400, 3)));
  const tsv = `criteo:${join(dir, 'rows.tsv')}`;
  const csv = `csv:${join(dir, 'rows.csv')}${CSV_COLS}`;
  const criteoLayout = await layoutOf(tsv);
  const csvLayout = await layoutOf(csv);
  t.ok(sameFields(criteoLayout, csvLayout), 'the same field and numeric names');
  for (const opts of [{ minCount: 1 }, { minCount: 2, numericTransform: 'minmax' as const }]) {
    const a = await loadData({ ...base, ...opts, data: tsv });
    const b = await loadData({ ...base, ...opts, data: csv });
    t.equal(a.train.rows, 300);
    t.equal(a.eval.rows, 100);
    sameLoaded(t, a, b, `min-count ${opts.minCount}`);
    t.equal(b.description.replace(/^csv .*?rows\.csv/, ''), a.description.replace(/^criteo .*?rows\.tsv/, ''), 'the same description but for the file');
  }
});

// ---------------------------------------------------------------------------------------------------
// End to end: the CLI

t.test('CLI: criteo and csv train the same model; libfm and --hash-buckets train', async (t) => {
  const lib = criteoRows(600, 5).map((c) => `${c[0] === '1' ? '+1' : '-1'} ${parseInt(c[14], 16)}:1 ${100 + parseInt(c[15], 16)}:1 200:${Number(c[1]) / 10}`);
  const dir = t.testdir({ ...criteoFiles(criteoRows(500, 4)), 'rows.libfm': lib.join('\n') + '\n' });
  const train = async (name: string, data: string, extra: string[] = []) => {
    const report = join(dir, `${name}.json`);
    const r = await runLauncher(['-n', '1', '--data', data, '--split', 'sequential:0.2', '--steps', '20', '--mlp', '16', '--embed-dim', '4', '--log-every', '0', '--report', report, ...extra]);
    t.equal(r.code, 0, `${name} exits 0`, { stderr: r.stderr.slice(-2000) });
    const rep = r.code === 0 ? (JSON.parse(readFileSync(report, 'utf8')) as RunReport) : undefined;
    return { r, rep };
  };
  const tsv = await train('tsv', `criteo:${join(dir, 'rows.tsv')}`);
  const csv = await train('csv', `csv:${join(dir, 'rows.csv')}${CSV_COLS}`);
  t.match(tsv.rep?.paramChecksums[0], /^[0-9a-f]{16}$/);
  t.equal(csv.rep?.paramChecksums[0], tsv.rep?.paramChecksums[0], 'the same paramChecksum');
  t.equal(csv.rep?.eval.auc, tsv.rep?.eval.auc, 'the same eval AUC');
  t.match(csv.r.stdout, /\[r0\] data: csv .*rows\.csv: 400 train \/ 100 eval rows/);

  const fm = await train('libfm', `libfm:${join(dir, 'rows.libfm')},num=3`);
  t.match(fm.r.stdout, /\[r0\] data: libfm .*rows\.libfm: 480 train \/ 120 eval rows .*, 2 fields, .*1 numeric/);
  t.equal(fm.rep?.steps, 20);
  t.ok(fm.rep && fm.rep.eval.auc > 0.5 && fm.rep.eval.auc < 1, `libfm: eval AUC ${fm.rep?.eval.auc}`);

  const hashed = await train('hashed', `criteo:${join(dir, 'rows.tsv')}`, ['--hash-buckets', '1000']);
  t.match(hashed.r.stdout, /\[r0\] data: criteo .*rows\.tsv: 400 train \/ 100 eval rows .*26 fields, 26000 ids \(hashed, 1000 rows per field\)/);
  t.equal(hashed.rep?.steps, 20);
  t.not(hashed.rep?.paramChecksums[0], tsv.rep?.paramChecksums[0], 'other IDs, another model');
});
