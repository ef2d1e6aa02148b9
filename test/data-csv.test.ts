/**
 * `csv:` files described on the command line (spec.ts), read by parse.ts's delimited builder: columns by
 * header name, number or range; UTF-8 headers and a BOM; separators; decimal cells and signed labels;
 * quoted cells; spec errors; gzip, CRLF and a separate eval file.
 *
 * Most cases parse in this thread (LineParser, fed the file's bytes) with the layout --data resolves;
 * a few go through loadData (a reader worker each), for gzip and end to end.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import t from 'tap';
import { loadData } from '../src/data/load.js';
import { sameFields } from '../src/data/spec.js';
import { tokenKey } from '../src/data/tokens.js';
import { MISSING_KEY } from '../src/data/types.js';
import { base, bytes, errorOf, layoutOf, parse } from './helpers/data-formats.js';

const key = (s: string): number => tokenKey(bytes(s), 0, s.length);

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
