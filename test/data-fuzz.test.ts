/**
 * The readers against seeded random mutations of valid files: every input ends in a UserError that
 * names the file (and the line, where there is one) or, under skipBadLines, in rows with a counted skip:
 * never another exception, a hang, NaN in the encoded numeric features, a label other than 0/1, or a row
 * shifted or altered. The fuzz covers every layout kind: Criteo (tab, integers), Avazu (header, hour
 * split), a described csv (header, decimals, signed labels, an ignored column), libSVM by index ranges
 * and libFM by position. Hostile whole files, case by case, are data-hostile.test.ts.
 *
 * Each loadData call starts a reader worker, which under tap's TypeScript loader costs about a second,
 * so the 360-input fuzz loop runs the worker's parser (LineParser, fed in random-size pieces as the
 * stream delivers them) in one long-lived worker of its own, checked against a reference parser, and
 * a seeded subset of the fuzz inputs, plain and gzip, also goes through loadData end to end.
 * Every parse and load races a timer: a hang fails the test instead of stalling it.
 */
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { gzipSync } from 'node:zlib';
import t from 'tap';
import { writeFileSync } from 'node:fs';
import type { Layout } from '../src/data/formats.js';
import type { DataOptions } from '../src/data/load.js';
import type { RawChunk } from '../src/data/types.js';
import { UserError } from '../src/util/errors.js';
import { all, expectData, expectUserError, latin1, load, randomBytes, resolve, rng, SPEC, TEXT, type FuzzFormat } from './helpers/data-fuzz.js';
import { reference, type Expected } from './helpers/data-reference.js';

const FUZZ_ITERATIONS = 360;
const LOAD_ITERATIONS = 12;
const PARSE_TIMEOUT_MS = 5_000;

/** The layouts the parser fuzz reads its inputs with, resolved from clean samples as --data resolves them. */
const sampleDir = t.testdir({});
const LAYOUTS = {} as Record<FuzzFormat, Layout>;
for (const f of Object.keys(TEXT) as FuzzFormat[]) {
  const path = join(sampleDir, `sample.${f}`);
  writeFileSync(path, TEXT[f](24));
  LAYOUTS[f] = await resolve(SPEC[f](path));
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
