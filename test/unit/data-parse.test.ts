import t from 'tap';
import { FORMATS } from '../../src/data/formats.js';
import { ChunkBuilder } from '../../src/data/parse-delimited.js';
import { LineParser } from '../../src/data/parse.js';
import { parseInteger, tokenKey } from '../../src/data/tokens.js';
import { MISSING_KEY, type RawChunk } from '../../src/data/types.js';
import { UserError } from '../../src/util/errors.js';

const bytes = (s: string): Buffer => Buffer.from(s, 'latin1');
const key = (s: string): number => tokenKey(bytes(s), 0, s.length);
const int = (s: string): number => parseInteger(bytes(s), 0, s.length);

/** A Criteo line from 13 integer cells and 26 token cells ('' = missing). */
const criteo = (label: string, ints: string[], cats: string[]): string => [label, ...ints, ...cats].join('\t');
const INTS = ['1', '', '-3', '0', '12', '', '7', '0', '1', '2', '', '3', '4'];
const CATS = Array.from({ length: 26 }, (_, i) => (i === 5 ? '' : (0x68fd1e64 + i).toString(16)));

function parseAll(format: 'criteo' | 'avazu', parts: (string | Buffer)[], skipBadLines = false, chunkRows = 2) {
  const chunks: RawChunk[] = [];
  const p = new LineParser(FORMATS[format], 'f.tsv', { chunkRows, skipBadLines }, (c) => chunks.push(c));
  for (const part of parts) p.push(typeof part === 'string' ? bytes(part) : part);
  p.end();
  return { chunks, parser: p };
}

t.test('tokenKey: exact hex, exact short tokens, hashed long tokens', async (t) => {
  t.equal(key('68fd1e64'), 0x68fd1e64);
  t.equal(key('ffffffff'), 0xffffffff);
  t.equal(key('00000000'), 0);
  t.equal(key(''), MISSING_KEY);
  t.not(key('68FD1E64'), key('68fd1e64'), 'upper case is another token');
  t.ok(key('68FD1E64') >= 2 ** 33, 'non-hex 8 chars are hashed outside the hex range');
  t.not(key('1005'), key('1006'));
  t.not(key('0'), key('00'), 'length is part of a short key');
  t.not(key('12345'), 0x12345, 'decimal is not read as hex');
  const long = ['a long token', 'a long tokeN', 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx', '123456789'];
  const keys = long.map(key);
  t.equal(new Set(keys).size, long.length);
  for (const k of [...keys, key('1005'), key('abcdef')]) {
    t.ok(Number.isSafeInteger(k) && k >= 0 && k < 2 ** 53, `key ${k} is an exact integer < 2^53`);
  }
  // Many distinct long tokens: no collision (the chance is ~n^2 / 2^52).
  const seen = new Set<number>();
  for (let i = 0; i < 100_000; i++) seen.add(key(`token-${i}-x`));
  t.equal(seen.size, 100_000);
});

t.test('parseInteger', async (t) => {
  t.equal(int('0'), 0);
  t.equal(int('-3'), -3);
  t.equal(int('+7'), 7);
  t.equal(int('0012'), 12);
  t.equal(int('9007199254740991'), 9007199254740991);
  for (const bad of ['', '-', '1.5', 'abc', '1e3', ' 1', '12a', '99999999999999999']) {
    t.ok(Number.isNaN(int(bad)), JSON.stringify(bad));
  }
});

t.test('criteo lines: missing cells, negative ints, CRLF, no final newline, split across buffers', async (t) => {
  const line1 = criteo('1', INTS, CATS);
  const line2 = criteo('0', Array(13).fill(''), Array(26).fill(''));
  const text = `${line1}\r\n${line2}\n${line1}`;
  // Feed it in awkward pieces: every line boundary lands inside a buffer.
  const { chunks, parser } = parseAll('criteo', [text.slice(0, 7), text.slice(7, 200), text.slice(200)]);
  t.equal(parser.rows, 3);
  t.equal(parser.lineNo, 3);
  t.same(chunks.map((c) => c.rows), [2, 1]);
  const [a, b] = chunks;
  t.same([...a.labels], [1, 0]);
  t.same([...a.numeric.subarray(0, 13)], INTS.map((s) => (s === '' ? NaN : Number(s))));
  t.ok(a.numeric.subarray(13).every(Number.isNaN), 'all-missing row');
  t.equal(a.keys[0], 0x68fd1e64);
  t.equal(a.keys[5], MISSING_KEY);
  t.equal(a.keys[25], 0x68fd1e64 + 25, 'last cell parsed even before CR');
  t.ok(a.keys.subarray(26).every((k) => k === MISSING_KEY));
  t.same([...(a.lines as Float64Array)], [1, 2]);
  t.same([...(b.lines as Float64Array)], [3]);
  t.equal(b.keys[25], 0x68fd1e64 + 25, 'last line without newline');
});

t.test('bad lines name the file, line and the expected vs found value', async (t) => {
  const good = criteo('0', INTS, CATS);
  const cases: [string, RegExp][] = [
    [criteo('2', INTS, CATS), /^f\.tsv, line 2: column 1 \(label\): expected 0 or 1, found "2"$/],
    [criteo('', INTS, CATS), /line 2: column 1 \(label\): expected 0 or 1, found ""/],
    [criteo('0', ['1', 'abc', ...INTS.slice(2)], CATS), /line 2: column 3 \(I2\): expected an integer or an empty cell, found "abc"/],
    [criteo('0', ['1.5', ...INTS.slice(1)], CATS), /column 2 \(I1\): .* found "1\.5"/],
    [criteo('0', INTS, CATS.slice(1)), /line 2: expected 40 tab-separated columns, found 39/],
    [`${criteo('0', INTS, CATS)}\textra`, /line 2: expected 40 tab-separated columns, found 41/],
    ['hello', /line 2: column 1 \(label\): expected 0 or 1, found "hello"/],
  ];
  for (const [bad, re] of cases) {
    t.throws(() => parseAll('criteo', [`${good}\n${bad}\n${good}\n`]), re, JSON.stringify(bad.slice(0, 30)));
    try {
      parseAll('criteo', [`${good}\n${bad}\n`]);
    } catch (e) {
      t.ok(e instanceof UserError, 'a UserError');
    }
  }
  const longCell = criteo('0', ['x'.repeat(100), ...INTS.slice(1)], CATS);
  t.throws(() => parseAll('criteo', [`${longCell}\n`]), /found "x{24}\.\.\."/, 'long values are cut');
});

t.test('skipBadLines counts and drops bad lines; all-bad and empty input stay fatal', async (t) => {
  const good = criteo('1', INTS, CATS);
  const text = [good, criteo('7', INTS, CATS), good, 'junk', good].join('\n');
  const { chunks, parser } = parseAll('criteo', [text], true, 16);
  t.equal(parser.rows, 3);
  t.equal(parser.skipped, 2);
  t.match(parser.firstSkipped, /^f\.tsv, line 2: column 1 \(label\)/);
  t.same([...(chunks[0].lines as Float64Array)], [1, 3, 5]);
  t.throws(() => parseAll('criteo', ['junk\njunk\n'], true), /all 2 data lines are bad \(first: f\.tsv, line 1/);
  t.throws(() => parseAll('criteo', ['']), /f\.tsv: no data rows \(the file is empty\)/);
  t.throws(() => parseAll('criteo', ['\n\r\n']), /no data rows \(only blank lines\)/);
  const blank = parseAll('criteo', [`${good}\n\n${good}\n`]);
  t.equal(blank.parser.rows, 2, 'blank lines are ignored');
  t.same([...(blank.chunks[0].lines as Float64Array)], [1, 3], 'but counted for line numbers');
});

t.test('avazu: header checked, id dropped, hour split into hour of day and day of week, the rest categorical', async (t) => {
  const header = FORMATS.avazu.columns.join(',');
  const row = '1000009418151094273,1,14102100,1005,0,1fbe01fe,f3845767,28905ebd,ecad2386,7801e8d9,07d7df22,a99f214a,ddd2926e,44956a24,1,2,15706,320,50,1722,0,35,-1,79';
  const { chunks } = parseAll('avazu', [Buffer.from(`\ufeff${header}\r\n${row}\r\n`, 'utf8')]);
  const c = chunks[0];
  t.equal(c.rows, 1);
  t.equal(c.labels[0], 1);
  t.equal(c.numeric.length, 0);
  t.equal(c.keys.length, 23);
  t.same(FORMATS.avazu.fieldNames.slice(0, 3), ['hour_of_day', 'day_of_week', 'C1']);
  t.equal(c.keys[0], 0, 'hour_of_day of 14102100: 0');
  t.equal(c.keys[1], 1, 'day_of_week of 2014-10-21: Tuesday (Monday = 0)');
  t.equal(c.keys[2], key('1005'));
  t.equal(c.keys[4], 0x1fbe01fe);
  t.equal(c.keys[21], key('-1'));
  t.same([...(c.lines as Float64Array)], [2], 'the header is line 1');
  t.throws(() => parseAll('avazu', [`${header}\n${row.replace('14102100', '14102124')}\n`]), /line 2: column 3 \(hour\): expected an hour YYMMDDHH such as 14102100, found "14102124"$/);
  t.throws(() => parseAll('avazu', [`${header}\n${row.replace('14102100', '')}\n`]), /line 2: column 3 \(hour\): expected an hour YYMMDDHH .*found ""$/);

  const renamed = header.replace('hour', 'hours');
  t.throws(
    () => parseAll('avazu', [`${renamed}\n${row}\n`]),
    /line 1: expected the avazu header "id,click,hour,.*,C21" \(24 columns\); column 3 is "hours" where "hour" was expected/,
  );
  t.throws(() => parseAll('avazu', [`${row}\n`]), /line 1: expected the avazu header .*column 1 is "1000009418151094273" where "id" was expected/);
  t.throws(() => parseAll('avazu', [`id,click\n${row}\n`]), /found 2 columns/);
  t.throws(() => parseAll('avazu', [`${row.replace(/,/g, ';')}\n`]), /column 1 is "1000009418151094273;1;14\.\.\." where "id"/, 'long cells are cut');
  t.throws(() => parseAll('avazu', [`${header}\n`]), /no data rows \(only a header\)/);
  t.throws(() => parseAll('avazu', [`${header}\n${row},x\n`]), /line 2: expected 24 comma-separated columns, found 25/);
});

t.test('a line without newline longer than 1 MiB stops the read', async (t) => {
  const p = new LineParser(FORMATS.criteo, 'big.bin', { chunkRows: 4, skipBadLines: true }, () => {});
  const junk = Buffer.alloc(600_000, 0x41);
  p.push(junk);
  t.throws(() => p.push(junk), /big\.bin, line 1: longer than 1048576 bytes; is this a criteo text file\?/);
});

t.test('ChunkBuilder hands off full chunks without copying and trims the last one', async (t) => {
  const b = new ChunkBuilder(FORMATS.criteo, 2);
  const line = bytes(criteo('1', INTS, CATS));
  t.equal(b.addLine(line, 0, line.length, 1), null);
  t.equal(b.addLine(line, 0, line.length, 2), null);
  t.ok(b.full);
  const full = b.take();
  t.equal(full.labels.length, 2);
  t.equal(b.rows, 0);
  t.equal(b.addLine(line, 0, line.length, 3), null);
  const part = b.take();
  t.equal(part.rows, 1);
  t.equal(part.keys.length, 26);
  t.equal(part.numeric.length, 13);
  t.not(part.labels.buffer, full.labels.buffer);
});
