/**
 * --stream: data that need not fit in memory. A first pass reads the file(s) once, keeping no rows:
 * it counts the vocabulary (unless IDs are hashed or come from a checkpoint), the train and eval rows,
 * the numeric ranges (minmax) and the bad lines skipped. Training and evaluation then re-read the file
 * through stream-worker.ts, each rank parsing only its own rows. A sequential split with a vocabulary to
 * count needs the row count first, so it reads the file twice.
 *
 * Memory per rank: the vocabulary being counted (about 40 bytes per distinct key; none when hashing),
 * the embedding tables, and about four shuffle windows of this rank's rows (4 x (1 + F + J) bytes each).
 */
import { UserError } from '../util/errors.js';
import type { Layout } from './formats.js';
import { NumericStats } from './numeric.js';
import { inspect, readFileChunks } from './reader.js';
import { isEvalLine, partition, type SplitSpec } from './split.js';
import { openTrainFeed, streamEval } from './stream.js';
import type { EncoderSpec, RowSplit, StreamRequest } from './stream-worker.js';
import type { EncodedData, LoadedData, RawChunk, RowStream } from './types.js';
import { fileData } from './loaded.js';
import { HashedVocabulary, VocabCounter, Vocabulary, type Encoder } from './vocab.js';
import type { DataOptions } from './options.js';


export interface StreamOptions {
  /** Steps per shuffle window (--stream-window). */
  windowSteps: number;
}

export async function loadStreamed(
  layout: Layout,
  path: string,
  evalFile: { path: string; layout: Layout } | null,
  split: SplitSpec | null,
  opts: DataOptions & { stream: StreamOptions },
): Promise<LoadedData> {
  const F = layout.fieldNames.length;
  const J = layout.numericNames.length;
  const saved = opts.vocabulary;
  const fixed: Encoder | null = saved?.vocab ?? (opts.hashBuckets ? new HashedVocabulary(F, opts.hashBuckets) : null);
  const counter = fixed ? null : new VocabCounter(F);
  const stats = !saved && opts.numericTransform === 'minmax' ? new NumericStats(J) : null;
  const progress = (file: string, pass: string) => (rows: number, fraction: number) =>
    opts.onProgress?.(`${file}: ${pass}: ${rows} rows read (${(100 * fraction).toFixed(0)}% of the file)`);
  const read = (file: string, fileLayout: Layout, pass: string, onChunk: (c: RawChunk) => void) =>
    readFileChunks(file, { layout: fileLayout, skipBadLines: opts.skipBadLines, onProgress: progress(file, pass) }, onChunk);
  let pids = new Int32Array(0);
  const addTrain = (c: RawChunk, from = 0, to = c.rows): void => {
    if (counter) {
      if (pids.length < c.rows * F) pids = new Int32Array(c.rows * F);
      counter.countRows(c.keys.subarray(from * F, to * F), to - from, pids);
    }
    stats?.add(c.numeric, from, to);
  };

  let trainRows = 0;
  let evalRows = 0;
  let rowSplit: RowSplit;
  const first = await read(path, layout, 'first pass', (chunk) => {
    if (split?.kind === 'random') {
      const { a, b } = partition(chunk, F, J, (line) => isEvalLine(opts.seed, line, split.fraction));
      addTrain(a);
      trainRows += a.rows;
      evalRows += b.rows;
    } else if (!split) {
      addTrain(chunk);
      trainRows += chunk.rows;
    }
  });
  const trainBad = first.skippedLines;
  let evalBad = trainBad;
  if (split?.kind === 'random') rowSplit = { kind: 'random', seed: opts.seed, fraction: split.fraction };
  else if (split?.kind === 'sequential') {
    evalRows = Math.round(first.rows * split.fraction);
    trainRows = first.rows - evalRows;
    rowSplit = { kind: 'sequential', trainRows };
    if (counter || stats) {
      let seen = 0;
      await read(path, layout, 'counting the train rows', (chunk) => {
        const to = Math.min(chunk.rows, trainRows - seen);
        if (to > 0) addTrain(chunk, 0, to);
        seen += chunk.rows;
      });
    }
  } else {
    rowSplit = { kind: 'all' };
  }
  if (evalFile) {
    const e = await read(evalFile.path, evalFile.layout, 'first pass', () => {});
    evalRows = e.rows;
    evalBad = e.skippedLines;
  }
  if (trainRows === 0 || evalRows === 0) {
    const flag = evalFile === null ? `--split ${opts.split}` : `--eval-data ${opts.evalData}`;
    throw new UserError(`${flag}: no ${trainRows === 0 ? 'train' : 'eval'} rows (${path} has ${first.rows} rows)`);
  }

  const vocab: Encoder = fixed ?? (counter as VocabCounter).build(opts.minCount).vocab;
  const numeric = saved ? saved.meta.numeric : (stats ?? new NumericStats(J)).params(opts.numericTransform);
  const encoder: EncoderSpec =
    vocab instanceof Vocabulary ? { kind: 'keys', fieldKeys: vocab.fieldKeys } : { kind: 'hash', numFields: F, hash: (vocab as HashedVocabulary).hash };
  const [trainGzip, evalGzip] = await Promise.all([inspect(path), evalFile ? inspect(evalFile.path) : null]);
  const request = (file: string, gzip: boolean, fileLayout: Layout, badLines: Float64Array, how: RowSplit, job: StreamRequest['job']): StreamRequest =>
    ({ path: file, gzip, layout: fileLayout, badLines, split: how, encoder, numeric, job });
  const windowSteps = opts.stream.windowSteps;
  const stream: RowStream = {
    windowSteps,
    windowBytes: (globalBatch, size) => Math.ceil(Math.min(windowSteps * globalBatch, trainRows) / size) * 4 * (1 + F + J),
    trainFeed: (o) =>
      openTrainFeed(
        request(path, trainGzip.gzip, layout, trainBad, rowSplit, { kind: 'train', trainRows, windowSteps, ...o }),
        J,
        F,
      ),
    evalShard: (rank, size, chunkRows, onChunk) => {
      const from = Math.floor((rank * evalRows) / size);
      const to = Math.floor(((rank + 1) * evalRows) / size);
      const req = evalFile
        ? request(evalFile.path, (evalGzip as { gzip: boolean }).gzip, evalFile.layout, evalBad, { kind: 'all' }, { kind: 'eval', from, to, chunkRows })
        : request(path, trainGzip.gzip, layout, trainBad, rowSplit, { kind: 'eval', from, to, chunkRows });
      return from === to ? Promise.resolve() : streamEval(req, J, F, onChunk);
    },
  };

  const shape = (rows: number): EncodedData => ({ rows, numNumeric: J, numCategorical: F, labels: new Float32Array(0), numeric: new Float32Array(0), ids: new Int32Array(0) });
  const how = evalFile !== null ? `eval file ${evalFile.path}` : `${opts.split} split, seed ${opts.seed}`;
  const skipped = first.skipped + (evalFile ? evalBad.length : 0);
  const mode = `, streamed (windows of ${windowSteps} steps)`;
  return fileData({ layout, path, train: shape(trainRows), eval: shape(evalRows), stream, vocab, numeric, skipped, how, note: '', mode }, opts);
}
