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
import { withoutLabel, type Layout } from './formats.js';
import { applyNumeric, NUMERIC_TRANSFORMS, NumericStats, type NumericParams } from './numeric.js';
import { loadStreamed } from './load-stream.js';
import { readFileChunks } from './reader.js';
import { parseDataSpec, resolveLayout, sameFields, type DataSource } from './spec.js';
import { isEvalLine, parseSplit, partition, type SplitSpec } from './split.js';
import { generateSynthetic } from './synthetic.js';
import { parseSyntheticSpec } from './synthetic-spec.js';
import type { DataOptions, SavedVocabulary } from './options.js';
import type { EncodedData, LoadedData, RawChunk } from './types.js';
import { fileData } from './loaded.js';
import { HashedVocabulary, loadVocabulary, VocabCounter, type Encoder, type VocabularyMeta } from './vocab.js';

// The flag defaults, for the CLI.
export type { DataOptions, SavedVocabulary } from './options.js';

export async function loadData(opts: DataOptions): Promise<LoadedData> {
  checkOptions(opts);
  const src = parseDataSpec(opts.data, '--data');
  if (src.kind === 'synthetic') {
    if (opts.evalData !== undefined) {
      throw new UserError('--eval-data cannot be combined with --data synthetic (it generates its own eval split)');
    }
    if (opts.hashBuckets) throw new UserError('--hash-buckets is for files: the synthetic IDs are already rows of fixed tables');
    if (opts.stream) throw new UserError('--stream is for files: the synthetic data is generated in memory');
    const { options } = parseSyntheticSpec(src.spec, '--data');
    opts.onProgress?.(`generating ${src.spec}: ${options.trainRows} train + ${options.evalRows} eval rows`);
    const data = generateSynthetic(options, opts.numericTransform, src.spec);
    if (opts.vocabulary) checkSavedSizes(opts.vocabulary, data.fieldSizes, src.spec); // the generator's ids are its vocabulary
    return data;
  }
  if (opts.vocabulary && opts.hashBuckets) throw new UserError(`--hash-buckets with a checkpoint's vocabulary (${opts.vocabulary.from}): its IDs are used as they were trained; drop --hash-buckets`);
  const layout = await resolveLayout(src, '--data');
  if (layout.kind === 'delimited' && layout.labelColumn < 0) throw new UserError(`--data ${opts.data}: training needs labels: name the label column with label=COL`);
  if (opts.vocabulary) checkSavedLayout(opts.vocabulary, layout, `--data ${opts.data}`);
  let evalFile: { path: string; layout: Layout } | null = null;
  if (opts.evalData !== undefined) {
    const evalSrc = parseDataSpec(opts.evalData, '--eval-data') as DataSource & { path: string };
    if (evalSrc.kind !== src.kind) {
      throw new UserError(`--eval-data ${opts.evalData}: its format (${evalSrc.kind}) must match --data's (${src.kind})`);
    }
    const evalLayout = await resolveLayout(evalSrc, '--eval-data');
    if (!sameFields(evalLayout, layout)) throw new UserError(`--eval-data ${opts.evalData}: ${fieldDifference(evalLayout, layout, 'the --data file')}`);
    evalFile = { path: evalSrc.path, layout: evalLayout };
  }
  const split = evalFile ? null : parseSplit(opts.split);
  if (opts.stream) return loadStreamed(layout, src.path, evalFile, split, { ...opts, stream: opts.stream });
  return loadFiles(layout, src.path, evalFile, split, opts);
}

function checkOptions(opts: DataOptions): void {
  if (!(Number.isSafeInteger(opts.minCount) && opts.minCount >= 1)) {
    throw new UserError(`--min-count ${opts.minCount}: expected an integer >= 1`);
  }
  if (!NUMERIC_TRANSFORMS.includes(opts.numericTransform)) {
    throw new UserError(`--numeric-transform ${String(opts.numericTransform)}: expected ${NUMERIC_TRANSFORMS.join(' or ')}`);
  }
}

/** "its fields (hour_of_day, ...) differ from <other>'s (hour, ...): field 1 is hour_of_day where hour ..." */
function fieldDifference(a: Layout | VocabularyMeta, b: Layout | VocabularyMeta, other: string): string {
  const list = (x: Layout | VocabularyMeta) => [...x.fieldNames, ...x.numericNames.map((n) => `${n} (numeric)`)];
  const la = list(a);
  const lb = list(b);
  const at = la.findIndex((n, i) => n !== lb[i]);
  const detail = at < 0 ? `${la.length} fields where ${other} has ${lb.length}` : `field ${at + 1} is ${at < la.length ? la[at] : 'absent'} where ${other} has ${at < lb.length ? lb[at] : 'none'}`;
  return `its fields differ from those of ${other} (${la.length} vs ${lb.length}; ${detail})`;
}

/** A saved vocabulary must come from data of this format, with the same fields. */
function checkSavedLayout(saved: SavedVocabulary, layout: Layout, what: string): void {
  if (saved.meta.format !== layout.name) throw new UserError(`${what}: the vocabulary of ${saved.from} was built from ${saved.meta.format} data`);
  if (!sameFields(layout, saved.meta)) {
    const hint = layout.name === 'avazu' ? " (Avazu's hour is now read as two fields, hour_of_day and day_of_week: a model trained on the raw hour must be retrained)" : '';
    throw new UserError(`${what}: ${fieldDifference(layout, saved.meta, `the vocabulary of ${saved.from}`)}${hint}`);
  }
}

async function loadFiles(
  layout: Layout,
  path: string,
  evalFile: { path: string; layout: Layout } | null,
  split: SplitSpec | null,
  opts: DataOptions,
): Promise<LoadedData> {
  const F = layout.fieldNames.length;
  const J = layout.numericNames.length;
  const counter = new VocabCounter(F);
  const saved = opts.vocabulary;
  // IDs known before any row is read (a checkpoint's vocabulary, or hashing), or counted from the train rows.
  const fixed: Encoder | null = saved?.vocab ?? (opts.hashBuckets ? new HashedVocabulary(F, opts.hashBuckets) : null);
  const train = new RowStore(F, J);
  const evalStore = new RowStore(F, J);
  const progress = (file: string) => (rows: number, fraction: number) =>
    opts.onProgress?.(`${file}: ${rows} rows read (${(100 * fraction).toFixed(0)}% of the file)`);
  const read = (file: string, fileLayout: Layout, onChunk: (c: RawChunk) => void) =>
    readFileChunks(file, { layout: fileLayout, skipBadLines: opts.skipBadLines, onProgress: progress(file) }, onChunk);

  // How rows become ids: encoded with the fixed ids, or counted into the vocabulary being built.
  const addTrain = fixed ? (c: RawChunk) => train.addEncoded(c, fixed) : (c: RawChunk) => train.addCounted(c, counter);
  const addEval = fixed ? (c: RawChunk) => evalStore.addEncoded(c, fixed) : (c: RawChunk) => evalStore.addRegistered(c, counter);
  const trainRead = await read(path, layout, (chunk) => {
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
  if (evalFile !== null) {
    const addLookedUp = fixed ? (c: RawChunk) => evalStore.addEncoded(c, fixed) : (c: RawChunk) => evalStore.addLookedUp(c, counter);
    skipped += (await read(evalFile.path, evalFile.layout, addLookedUp)).skipped;
  } else if (split?.kind === 'sequential') {
    trainRows = train.rows - Math.round(train.rows * split.fraction);
    if (!fixed) train.forRange(trainRows, train.rows, (c, from, to) => counter.uncountRows(c.pids, from, to));
    evalSource = train;
    evalFrom = trainRows;
  }
  const evalRows = evalSource.rows - evalFrom;
  if (trainRows === 0 || evalRows === 0) {
    const flag = evalFile === null ? `--split ${opts.split}` : `--eval-data ${opts.evalData}`;
    throw new UserError(`${flag}: no ${trainRows === 0 ? 'train' : 'eval'} rows (${path} has ${trainRead.rows} rows)`);
  }

  const { vocab, remap } = fixed ? { vocab: fixed, remap: null } : counter.build(opts.minCount);
  const stats = new NumericStats(J);
  if (!saved && opts.numericTransform === 'minmax') train.forRange(0, trainRows, (c, from, to) => stats.add(c.numeric, from, to));
  const numeric = saved ? saved.meta.numeric : stats.params(opts.numericTransform);
  const hashed = vocab instanceof HashedVocabulary;
  const trainData = train.finalize(0, trainRows, remap, vocab, numeric, !hashed).data;
  const { data: evalData, oov } = evalSource.finalize(evalFrom, evalFrom + evalRows, remap, vocab, numeric, !hashed);

  const how = evalFile !== null ? `eval file ${evalFile.path}` : `${opts.split} split, seed ${opts.seed}`;
  const note = hashed ? '' : `; eval OOV ${((100 * oov) / (evalRows * F)).toFixed(2)}% of cells`;
  return fileData({ layout, path, train: trainData, eval: evalData, vocab, numeric, skipped, how, note, mode: '' }, opts);
}

/** A saved vocabulary must fit the synthetic data's own sizes. */
function checkSavedSizes(saved: SavedVocabulary, sizes: number[], what: string): void {
  if (saved.meta.format !== 'synthetic') throw new UserError(`--data ${what}: the vocabulary of ${saved.from} was built from ${saved.meta.format} data`);
  if (sizes.join() !== saved.vocab.fieldSizes.join()) {
    throw new UserError(`--data ${what}: its vocabulary sizes differ from those of ${saved.from} (train with the same synthetic spec)`);
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
  const full = await resolveLayout(src, '--data');
  checkSavedLayout(saved, full, `--data ${spec}`);
  const layout = opts.labelled === false ? withoutLabel(full) : full;
  const F = saved.vocab.numFields;
  const J = layout.numericNames.length;
  const summary = await readFileChunks(
    src.path,
    {
      layout,
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

  addEncoded(raw: RawChunk, vocab: Encoder): void {
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
   * released, so ranges must be finalized in increasing order. Also counts OOV cells (with `oovRows`:
   * local index 0 is the OOV row, as in a Vocabulary).
   */
  finalize(
    from: number,
    to: number,
    remap: Int32Array[] | null,
    vocab: Encoder,
    numeric: NumericParams,
    oovRows: boolean,
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
          if (id === off && oovRows) oov++;
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
