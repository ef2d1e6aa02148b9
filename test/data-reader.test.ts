import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import t from 'tap';
import { FORMATS } from '../src/data/formats.js';
import { LineParser } from '../src/data/parse.js';
import { readFileChunks, readFirstLine, type ReadOptions } from '../src/data/reader.js';
import { MISSING_KEY, type RawChunk } from '../src/data/types.js';
import { UserError } from '../src/util/errors.js';

/** Criteo line i: label i % 2, I1 = i (I2 negative), C1 = i as 8 hex digits, C26 missing on odd lines. */
function criteoLine(i: number): string {
  const ints = Array.from({ length: 13 }, (_, j) => (j === 0 ? String(i) : j === 1 ? '-2' : j === 4 ? '' : '5'));
  const cats = Array.from({ length: 26 }, (_, j) => (j === 25 && i % 2 ? '' : (i * 31 + j).toString(16).padStart(8, '0')));
  return [String(i % 2), ...ints, ...cats].join('\t');
}
const criteoText = (n: number, eol = '\n', final = true): string =>
  Array.from({ length: n }, (_, i) => criteoLine(i)).join(eol) + (final ? eol : '');

async function readAll(path: string, opts: Partial<ReadOptions> = {}) {
  const chunks: RawChunk[] = [];
  const summary = await readFileChunks(path, { layout: FORMATS.criteo, skipBadLines: false, ...opts }, (c) => void chunks.push(c));
  return { chunks, summary };
}

/** Rows of all chunks as comparable plain arrays. */
function flatten(chunks: RawChunk[]) {
  return {
    labels: chunks.flatMap((c) => [...c.labels]),
    numeric: chunks.flatMap((c) => [...c.numeric]),
    keys: chunks.flatMap((c) => [...c.keys]),
    lines: chunks.flatMap((c) => [...(c.lines ?? [])]),
  };
}

t.test('gzip (detected by magic bytes, not name), two members, CRLF, no final newline, many chunks', async (t) => {
  // Enough 64-row chunks to exercise the worker's flow control (at most a few chunks in flight).
  const n = 3000;
  const crlf = criteoText(n, '\r\n', false);
  const dir = t.testdir({ 'zipped.txt': Buffer.concat([gzipSync(crlf.slice(0, 5000)), gzipSync(crlf.slice(5000))]) });
  const { chunks, summary } = await readAll(join(dir, 'zipped.txt'), { chunkRows: 64 });
  t.same(summary, { lines: n, rows: n, skipped: 0, firstSkipped: '', skippedLines: new Float64Array(0) });
  t.equal(chunks.length, Math.ceil(n / 64));
  t.ok(chunks.slice(0, -1).every((c) => c.rows === 64 && c.labels.length === 64), 'full chunks of chunkRows');
  t.equal(chunks[chunks.length - 1].rows, n % 64, 'then the rest');
  const flat = flatten(chunks);
  t.same(flat.lines, Array.from({ length: n }, (_, i) => i + 1), 'all rows, in file order');
  t.equal(flat.labels[7], 1);
  t.equal(flat.numeric[7 * 13], 7);
  t.equal(flat.numeric[7 * 13 + 1], -2);
  t.ok(Number.isNaN(flat.numeric[7 * 13 + 4]), 'empty integer cell is NaN (missing)');
  t.equal(flat.keys[7 * 26], 7 * 31);
  t.equal(flat.keys[7 * 26 + 25], MISSING_KEY);
  // Same rows as parsing the plain text in this thread.
  const local: RawChunk[] = [];
  const parser = new LineParser(FORMATS.criteo, 'x', { chunkRows: 64, skipBadLines: false }, (c) => local.push(c));
  parser.push(Buffer.from(criteoText(n)));
  parser.end();
  t.same(flatten(local), flat);
});

t.test('bad input: the worker error arrives as the same UserError', async (t) => {
  const good = criteoText(5);
  const dir = t.testdir({
    'badint.tsv.gz': gzipSync(`${good}${criteoLine(5).replace('\t-2\t', '\tminus2\t')}\n`),
    'empty.tsv': '',
    'truncated.tsv.gz': gzipSync(criteoText(2000)).subarray(0, 20_000),
    sub: {},
  });
  const cases: [string, RegExp][] = [
    ['badint.tsv.gz', /badint\.tsv\.gz, line 6: column 3 \(I2\): expected an integer or an empty cell, found "minus2"$/],
    ['empty.tsv', /empty\.tsv: no data rows \(the file is empty\)$/],
    ['missing.tsv', /cannot read .*missing\.tsv: no such file$/],
    ['sub', /cannot read .*sub: is a directory$/],
  ];
  for (const [file, re] of cases) {
    const err = await readAll(join(dir, file)).catch((e: unknown) => e);
    t.ok(err instanceof UserError, `${file}: UserError`);
    t.match((err as Error).message, re, file);
  }
  // skipBadLines (counted in data-load and data-parse tests) does not excuse a broken file.
  await t.rejects(
    readAll(join(dir, 'truncated.tsv.gz'), { skipBadLines: true }),
    { name: 'UserError', message: /truncated\.tsv\.gz: truncated or corrupt gzip data after line \d+ \(unexpected end of file\)$/ },
  );
});

t.test('an exception in the consumer rejects and stops the worker', async (t) => {
  const dir = t.testdir({});
  const path = join(dir, 'x.tsv');
  writeFileSync(path, criteoText(2000));
  await t.rejects(
    readFileChunks(path, { layout: FORMATS.criteo, skipBadLines: false, chunkRows: 10 }, () => {
      throw new Error('consumer failed');
    }),
    /consumer failed/,
  );
});

t.test('readFirstLine: plain or gzip, CR stripped, blank lines skipped on request', async (t) => {
  const dir = t.testdir({
    'a.csv': 'x,y\r\n1,2\r\n',
    'b.csv.gz': gzipSync('\n  \r\nlabel 1:1\n'),
    'c.txt': 'no newline',
    'empty.txt': '',
    'blank.txt': '\n\n',
  });
  const p = (f: string): string => join(dir, f);
  t.equal(await readFirstLine(p('a.csv')), 'x,y');
  t.equal(await readFirstLine(p('b.csv.gz')), '');
  t.equal(await readFirstLine(p('b.csv.gz'), true), 'label 1:1');
  t.equal(await readFirstLine(p('c.txt')), 'no newline');
  t.equal(await readFirstLine(p('empty.txt')), null);
  t.equal(await readFirstLine(p('blank.txt'), true), null);
  await t.rejects(readFirstLine(p('missing.txt')), { name: 'UserError', message: /cannot read .*missing\.txt: no such file$/ });
});
