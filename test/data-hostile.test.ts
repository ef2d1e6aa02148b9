/**
 * The readers against hostile whole files, Criteo (tab, integers) and Avazu (header, hour split): empty,
 * header-only, CRLF/CR-only, BOM, short/long/NUL/binary lines, a 50 MB line without a newline, random
 * bytes, cut and corrupt gzip. Every file ends in a UserError that names the file (and the line, where
 * there is one) or, under skipBadLines, in rows with a counted skip: never another exception, a hang,
 * NaN in the encoded numeric features, a label other than 0/1, or a row shifted or altered.
 *
 * Each case goes through loadData end to end (a reader worker each, a few at a time), raced against a
 * timer: a hang fails the test instead of stalling it. The seeded mutation fuzz is data-fuzz.test.ts.
 */
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import t, { type Test } from 'tap';
import { FORMATS } from '../src/data/formats.js';
import type { LoadedData } from '../src/data/types.js';
import { all, AVAZU_HEADER, avazuText, criteoLine, criteoText, expectData, expectUserError, latin1, load, randomBytes } from './helpers/data-fuzz.js';
import { reference } from './helpers/data-reference.js';

const sameData = (t: Test, a: LoadedData | undefined, b: LoadedData | undefined, name: string): void => {
  if (!a || !b) return;
  for (const s of ['train', 'eval'] as const) {
    t.same(a[s].labels, b[s].labels, `${name}: ${s} labels`);
    t.same(a[s].numeric, b[s].numeric, `${name}: ${s} numeric`);
    t.same(a[s].ids, b[s].ids, `${name}: ${s} ids`);
  }
};

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
