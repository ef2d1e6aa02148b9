/**
 * The data flags -> encoded train/eval data in memory.
 *
 * Files are read once: each chunk's keys get provisional ids from the vocabulary counter (train rows
 * counted, eval rows not) and rows are kept compactly (Float32 labels, Float32 raw numeric,
 * Int32 provisional ids: ~160 bytes per Criteo row). After the read, the min-count vocabulary is built
 * and the rows are copied into the final arrays with provisional ids remapped to embedding rows and the
 * numeric transform applied, releasing the stored chunks as it goes.
 */
import { UserError } from '../util/errors.js';
import { FORMATS, categoricalNames, isFormatName, numericNames, type FormatName } from './formats.js';
import { applyNumeric, NUMERIC_TRANSFORMS, NumericStats, type NumericParams, type NumericTransformName } from './numeric.js';
import { readFileChunks } from './reader.js';
import { isEvalLine, parseSplit, type SplitSpec } from './split.js';
import { generateSynthetic, parseSyntheticSpec } from './synthetic.js';
import type { EncodedData, LoadedData, RawChunk } from './types.js';
import { loadVocabulary, saveVocabulary, VocabCounter, type Vocabulary, type VocabularyMeta } from './vocab.js';

// The flag defaults, for the CLI.
export { DEFAULT_SPLIT } from './split.js';
export { DEFAULT_MIN_COUNT } from './vocab.js';
export { DEFAULT_SYNTHETIC_PRESET } from './synthetic.js';

export interface DataOptions {
  /** 'synthetic[:spec]' | 'criteo:PATH' | 'avazu:PATH' */
  data: string;
  /** 'criteo:PATH' | 'avazu:PATH': a separate eval file; --split is then not applied. */
  evalData?: string;
  /** 'random:F' (default random:0.1) | 'sequential:F'; ignored for synthetic data, which has its own eval split. */
  split: string;
  /** Seeds the random split. (The synthetic dataset has its own `seed=` so training seeds share one dataset.) */
  seed: number;
  minCount: number;
  numericTransform: NumericTransformName;
  skipBadLines: boolean;
  /**
   * Encode with this vocabulary (a checkpoint's, for --init-from) instead of building one from the train
   * rows: same keys -> same embedding rows, same numeric transform. `from` names it in messages.
   */
  vocabulary?: SavedVocabulary;
  onProgress?: (msg: string) => void;
}

/** A vocabulary saved beside a checkpoint, as loadVocabulary reads it. */
export interface SavedVocabulary {
  vocab: Vocabulary;
  meta: VocabularyMeta;
  from: string;
}

export type DataSource = { kind: 'synthetic'; spec: string } | { kind: FormatName; path: string };

const DATA_SYNTAX = 'synthetic[:PRESET][,key=value...], criteo:PATH or avazu:PATH';

/** Parses a --data / --eval-data value. */
export function parseDataSpec(spec: string, flag: '--data' | '--eval-data'): DataSource {
  const s = spec.trim();
  if (/^synthetic(:|$)/.test(s)) {
    if (flag === '--eval-data') {
      throw new UserError(`--eval-data ${JSON.stringify(spec)}: synthetic data brings its own eval split; expected criteo:PATH or avazu:PATH`);
    }
    return { kind: 'synthetic', spec: s };
  }
  const colon = s.indexOf(':');
  const kind = colon < 0 ? s : s.slice(0, colon);
  const path = colon < 0 ? '' : s.slice(colon + 1);
  if (!isFormatName(kind)) {
    const expected = flag === '--data' ? DATA_SYNTAX : 'criteo:PATH or avazu:PATH';
    throw new UserError(`${flag} ${JSON.stringify(spec)}: unknown data kind ${JSON.stringify(kind)}; expected ${expected}`);
  }
  if (path === '') throw new UserError(`${flag} ${JSON.stringify(spec)}: missing file path; expected ${kind}:PATH`);
  return { kind, path };
}

export async function loadData(opts: DataOptions): Promise<LoadedData> {
  checkOptions(opts);
  const src = parseDataSpec(opts.data, '--data');
  if (src.kind === 'synthetic') {
    if (opts.evalData !== undefined) {
      throw new UserError('--eval-data cannot be combined with --data synthetic (it generates its own eval split)');
    }
    const { options } = parseSyntheticSpec(src.spec, '--data');
    opts.onProgress?.(`generating ${src.spec}: ${options.trainRows} train + ${options.evalRows} eval rows`);
    const data = generateSynthetic(options, opts.numericTransform, src.spec);
    if (opts.vocabulary) checkSavedSizes(opts.vocabulary, data.fieldSizes, src.spec); // the generator's ids are its vocabulary
    return data;
  }
  if (opts.vocabulary && opts.vocabulary.meta.format !== src.kind) {
    throw new UserError(`--data ${opts.data}: the vocabulary of ${opts.vocabulary.from} was built from ${opts.vocabulary.meta.format} data`);
  }
  const evalSrc = opts.evalData === undefined ? null : parseDataSpec(opts.evalData, '--eval-data');
  if (evalSrc && evalSrc.kind !== src.kind) {
    throw new UserError(`--eval-data ${opts.evalData}: its format (${evalSrc.kind}) must match --data's (${src.kind})`);
  }
  const split = evalSrc ? null : parseSplit(opts.split);
  return loadFiles(src.kind, src.path, evalSrc?.path ?? null, split, opts);
}

function checkOptions(opts: DataOptions): void {
  if (!(Number.isSafeInteger(opts.minCount) && opts.minCount >= 1)) {
    throw new UserError(`--min-count ${opts.minCount}: expected an integer >= 1`);
  }
  if (!NUMERIC_TRANSFORMS.includes(opts.numericTransform)) {
    throw new UserError(`--numeric-transform ${String(opts.numericTransform)}: expected ${NUMERIC_TRANSFORMS.join(' or ')}`);
  }
}

async function loadFiles(
  format: FormatName,
  path: string,
  evalPath: string | null,
  split: SplitSpec | null,
  opts: DataOptions,
): Promise<LoadedData> {
  const spec = FORMATS[format];
  const F = spec.categoricalColumns.length;
  const J = spec.numericColumns.length;
  const counter = new VocabCounter(F);
  const fixed = opts.vocabulary;
  if (fixed) checkSavedSizes(fixed, null, format);
  const train = new RowStore(F, J);
  const evalStore = new RowStore(F, J);
  const progress = (file: string) => (rows: number, fraction: number) =>
    opts.onProgress?.(`${file}: ${rows} rows read (${(100 * fraction).toFixed(0)}% of the file)`);
  const read = (file: string, onChunk: (c: RawChunk) => void) =>
    readFileChunks(file, { format, skipBadLines: opts.skipBadLines, onProgress: progress(file) }, onChunk);

  // How rows become ids: counted into the vocabulary being built, or encoded with the fixed one.
  const addTrain = (c: RawChunk) => (fixed ? train.addEncoded(c, fixed.vocab) : train.addCounted(c, counter));
  const addEval = (c: RawChunk) => (fixed ? evalStore.addEncoded(c, fixed.vocab) : evalStore.addRegistered(c, counter));
  const trainRead = await read(path, (chunk) => {
    if (split?.kind === 'random') {
      const { a, b } = partition(chunk, F, J, (line) => isEvalLine(opts.seed, line, split.fraction));
      addTrain(a);
      addEval(b);
    } else {
      // Sequential: everything is counted now, and the eval tail's counts are taken back below.
      addTrain(chunk);
    }
  });
  let skipped = trainRead.skipped;
  // Where the eval rows are: the eval store, or (sequential) the tail of the train store.
  let evalSource = evalStore;
  let trainRows = train.rows;
  let evalFrom = 0;
  if (evalPath !== null) {
    skipped += (await read(evalPath, (chunk) => (fixed ? evalStore.addEncoded(chunk, fixed.vocab) : evalStore.addLookedUp(chunk, counter)))).skipped;
  } else if (split?.kind === 'sequential') {
    trainRows = train.rows - Math.round(train.rows * split.fraction);
    if (!fixed) train.forRange(trainRows, train.rows, (c, from, to) => counter.uncountRows(c.pids, from, to));
    evalSource = train;
    evalFrom = trainRows;
  }
  const evalRows = evalSource.rows - evalFrom;
  if (trainRows === 0 || evalRows === 0) {
    const flag = evalPath === null ? `--split ${opts.split}` : `--eval-data ${opts.evalData}`;
    throw new UserError(`${flag}: no ${trainRows === 0 ? 'train' : 'eval'} rows (${path} has ${trainRead.rows} rows)`);
  }

  const { vocab, remap } = fixed ? { vocab: fixed.vocab, remap: null } : counter.build(opts.minCount);
  const stats = new NumericStats(J);
  if (!fixed && opts.numericTransform === 'minmax') train.forRange(0, trainRows, (c, from, to) => stats.add(c.numeric, from, to));
  const numeric = fixed ? fixed.meta.numeric : stats.params(opts.numericTransform);
  const trainData = train.finalize(0, trainRows, remap, vocab, numeric).data;
  const { data: evalData, oov } = evalSource.finalize(evalFrom, evalFrom + evalRows, remap, vocab, numeric);

  const meta: VocabularyMeta = fixed
    ? fixed.meta
    : { format, fieldNames: categoricalNames(spec), numericNames: numericNames(spec), minCount: opts.minCount, numeric };
  const how = evalPath !== null ? `eval file ${evalPath}` : `${opts.split} split, seed ${opts.seed}`;
  const oovPct = ((100 * oov) / (evalRows * F)).toFixed(2);
  return {
    train: trainData,
    eval: evalData,
    fieldSizes: vocab.fieldSizes,
    fieldOffsets: vocab.fieldOffsets,
    totalRows: vocab.totalRows,
    skippedLines: skipped,
    saveVocabulary: (dir) => saveVocabulary(dir, vocab, meta),
    description:
      `${format} ${path}: ${trainRows} train / ${evalRows} eval rows (${how}), ${F} fields, ${vocab.totalRows} ids ` +
      (fixed ? `(the vocabulary of ${fixed.from}), ${J} numeric (${numeric.kind}, as there)` : `(min-count ${opts.minCount}), ${J} numeric (${opts.numericTransform})`) +
      `; eval OOV ${oovPct}% of cells` +
      (skipped > 0 ? `; ${skipped} bad lines skipped` : ''),
  };
}

/** A saved vocabulary must fit the data: `sizes` (synthetic data's own) or the file format's field count. */
function checkSavedSizes(saved: SavedVocabulary, sizes: number[] | null, what: string): void {
  if (sizes && sizes.join() !== saved.vocab.fieldSizes.join()) {
    throw new UserError(`--data ${what}: its vocabulary sizes differ from those of ${saved.from} (train with the same synthetic spec)`);
  }
  const F = saved.vocab.numFields;
  if (!sizes && F !== FORMATS[what as FormatName].categoricalColumns.length) {
    throw new UserError(`${saved.from}: the saved vocabulary has ${F} fields, ${what} data has ${FORMATS[what as FormatName].categoricalColumns.length}`);
  }
}

export { loadVocabulary };

export interface StreamOptions {
  skipBadLines: boolean;
  /** false: the file lacks the label column (formats.ts withoutLabel); labels read as 0. */
  labelled?: boolean;
  /** Rows per chunk (default 16384). */
  chunkRows?: number;
  onProgress?: (msg: string) => void;
}

/**
 * Streams `spec`'s rows encoded with a saved vocabulary (to score new data with a trained model: same
 * keys -> same embedding rows, same numeric transform), chunk by chunk in input order, never holding the
 * file: `onChunk` is awaited before the next chunk is read. A synthetic spec (the one the model was
 * trained on) yields its eval split. Resolves with the number of bad lines skipped.
 */
export async function streamWithVocabulary(
  spec: string,
  saved: SavedVocabulary,
  opts: StreamOptions,
  onChunk: (chunk: EncodedData) => Promise<void>,
): Promise<number> {
  const src = parseDataSpec(spec, '--data');
  if (src.kind !== saved.meta.format) throw new UserError(`--data ${spec}: the vocabulary of ${saved.from} was built from ${saved.meta.format} data`);
  const chunkRows = opts.chunkRows ?? 16384;
  if (src.kind === 'synthetic') {
    const generated = generateSynthetic(parseSyntheticSpec(src.spec).options, saved.meta.numeric.kind, src.spec);
    checkSavedSizes(saved, generated.fieldSizes, src.spec);
    const e = generated.eval;
    for (let from = 0; from < e.rows; from += chunkRows) {
      const to = Math.min(e.rows, from + chunkRows);
      const { numNumeric: J, numCategorical: F } = e;
      await onChunk({ ...e, rows: to - from, labels: e.labels.subarray(from, to), numeric: e.numeric.subarray(from * J, to * J), ids: e.ids.subarray(from * F, to * F), trueProb: undefined });
    }
    return 0;
  }
  checkSavedSizes(saved, null, src.kind);
  const F = saved.vocab.numFields;
  const J = FORMATS[src.kind].numericColumns.length;
  const summary = await readFileChunks(
    src.path,
    {
      format: src.kind,
      labelled: opts.labelled,
      chunkRows,
      skipBadLines: opts.skipBadLines,
      onProgress: (rows, fraction) => opts.onProgress?.(`${src.path}: ${rows} rows read (${(100 * fraction).toFixed(0)}%)`),
    },
    async (raw) => {
      const ids = new Int32Array(raw.rows * F);
      saved.vocab.encodeRows(raw.keys, raw.rows, ids, 0);
      const numeric = new Float32Array(raw.numeric); // raw values rounded to float32 first, as RowStore keeps training rows
      applyNumeric(saved.meta.numeric, numeric, numeric, J);
      await onChunk({ rows: raw.rows, numNumeric: J, numCategorical: F, labels: raw.labels, numeric, ids });
    },
  );
  return summary.skipped;
}

interface StoredChunk {
  labels: Float32Array;
  /** Raw values (NaN = missing); Float32 is exact for integers up to 2^24 and close enough above. */
  numeric: Float32Array;
  /** Provisional ids (or final embedding rows for `addEncoded`). */
  pids: Int32Array;
}

/** Rows in read order, as a list of compact chunks. */
class RowStore {
  rows = 0;
  private chunks: (StoredChunk | null)[] = [];
  /** First row of each chunk, plus `rows` at the end (kept when a chunk is released). */
  private starts: number[] = [0];

  constructor(
    private readonly F: number,
    private readonly J: number,
  ) {}

  addCounted(raw: RawChunk, counter: VocabCounter): void {
    const pids = new Int32Array(raw.rows * this.F);
    counter.countRows(raw.keys, raw.rows, pids);
    this.push(raw, pids);
  }

  addRegistered(raw: RawChunk, counter: VocabCounter): void {
    const pids = new Int32Array(raw.rows * this.F);
    counter.registerRows(raw.keys, raw.rows, pids);
    this.push(raw, pids);
  }

  addLookedUp(raw: RawChunk, counter: VocabCounter): void {
    const pids = new Int32Array(raw.rows * this.F);
    counter.lookupRows(raw.keys, raw.rows, pids);
    this.push(raw, pids);
  }

  addEncoded(raw: RawChunk, vocab: Vocabulary): void {
    const ids = new Int32Array(raw.rows * this.F);
    vocab.encodeRows(raw.keys, raw.rows, ids, 0);
    this.push(raw, ids);
  }

  /** Calls `fn(chunk, from, to)` for the chunk-local row ranges covering rows [from, to). */
  forRange(from: number, to: number, fn: (c: StoredChunk, from: number, to: number) => void): void {
    for (let i = 0; i < this.chunks.length && this.starts[i] < to; i++) {
      const start = this.starts[i];
      const end = this.starts[i + 1];
      if (end <= from) continue;
      const c = this.chunks[i];
      if (!c) throw new Error('RowStore: rows read after their chunk was released');
      fn(c, Math.max(from, start) - start, Math.min(to, end) - start);
    }
  }

  /**
   * Copies rows [from, to) into final arrays: ids remapped (provisional id -> fieldOffset + local index;
   * `remap` null when ids are final already), numeric transformed. Chunks that end by `to` are then
   * released, so ranges must be finalized in increasing order. Also counts OOV cells.
   */
  finalize(
    from: number,
    to: number,
    remap: Int32Array[] | null,
    vocab: Vocabulary,
    numeric: NumericParams,
  ): { data: EncodedData; oov: number } {
    const { F, J } = this;
    const rows = to - from;
    const labels = new Float32Array(rows);
    const num = new Float32Array(rows * J);
    const ids = new Int32Array(rows * F);
    const offsets = vocab.fieldOffsets;
    let at = 0;
    let oov = 0;
    this.forRange(from, to, (c, a, b) => {
      labels.set(c.labels.subarray(a, b), at);
      applyNumeric(numeric, c.numeric, num, J, a * J, at * J, (b - a) * J);
      const pids = c.pids;
      for (let f = 0; f < F; f++) {
        const off = offsets[f];
        const map = remap ? remap[f] : null;
        for (let r = a; r < b; r++) {
          const pid = pids[r * F + f];
          const id = map ? off + (pid < 0 ? 0 : map[pid]) : pid;
          if (id === off) oov++;
          ids[(at + r - a) * F + f] = id;
        }
      }
      at += b - a;
    });
    for (let i = 0; i < this.chunks.length && this.starts[i + 1] <= to; i++) this.chunks[i] = null;
    return { data: { rows, numNumeric: J, numCategorical: F, labels, numeric: num, ids }, oov };
  }

  private push(raw: RawChunk, pids: Int32Array): void {
    this.chunks.push({ labels: raw.labels, numeric: new Float32Array(raw.numeric), pids });
    this.rows += raw.rows;
    this.starts.push(this.rows);
  }
}

/** Splits a chunk's rows into (a: predicate false, b: predicate true) by line number, preserving order. */
function partition(
  chunk: RawChunk,
  F: number,
  J: number,
  inB: (line: number) => boolean,
): { a: RawChunk; b: RawChunk } {
  const lines = chunk.lines;
  if (!lines) throw new Error('partition: chunk without line numbers');
  const mask = new Uint8Array(chunk.rows);
  let nb = 0;
  for (let r = 0; r < chunk.rows; r++) if ((mask[r] = inB(lines[r]) ? 1 : 0)) nb++;
  const make = (n: number): RawChunk => ({
    rows: 0,
    labels: new Float32Array(n),
    numeric: new Float64Array(n * J),
    keys: new Float64Array(n * F),
    lines: new Float64Array(n),
  });
  const a = make(chunk.rows - nb);
  const b = make(nb);
  for (let r = 0; r < chunk.rows; r++) {
    const out = mask[r] ? b : a;
    const i = out.rows++;
    out.labels[i] = chunk.labels[r];
    (out.lines as Float64Array)[i] = lines[r];
    for (let j = 0; j < J; j++) out.numeric[i * J + j] = chunk.numeric[r * J + j];
    for (let f = 0; f < F; f++) out.keys[i * F + f] = chunk.keys[r * F + f];
  }
  return { a, b };
}
