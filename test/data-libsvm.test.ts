/**
 * `libsvm:` and `libfm:` files described on the command line (spec.ts), read by parse.ts's sparse
 * builder: fields by position (from the first line) or by index ranges (fields=), num= numeric fields,
 * value 0 as absent, -1/+1 labels; bad pairs and spec errors; gzip and CRLF.
 *
 * Most cases parse in this thread (LineParser, fed the file's bytes) with the layout --data resolves;
 * one goes through loadData (a reader worker), for gzip and end to end.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import t from 'tap';
import type { Layout } from '../src/data/formats.js';
import { loadData } from '../src/data/load.js';
import { MISSING_KEY } from '../src/data/types.js';
import { base, errorOf, layoutOf, parse } from './helpers/data-formats.js';

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
