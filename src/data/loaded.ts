/** What both file loaders (load.ts in memory, load-stream.ts streamed) build their LoadedData from. */
import type { Layout } from './formats.js';
import type { NumericParams } from './numeric.js';
import type { DataOptions } from './options.js';
import type { EncodedData, LoadedData, RowStream } from './types.js';
import { describeHash, HashedVocabulary, saveVocabulary, type Encoder, type VocabularyMeta } from './vocab.js';

export interface FileData {
  layout: Layout;
  path: string;
  train: EncodedData;
  eval: EncodedData;
  stream?: RowStream;
  vocab: Encoder;
  numeric: NumericParams;
  skipped: number;
  /** How the eval rows were chosen, e.g. "random:0.1 split, seed 42". */
  how: string;
  /** Said after the counts in the description, e.g. "; eval OOV 1.20% of cells". */
  note: string;
  /** Said after the format and path, e.g. ", streamed (windows of 64 steps)". */
  mode: string;
}

export function fileData(d: FileData, opts: DataOptions): LoadedData {
  const { layout, vocab, numeric, train, skipped } = d;
  const saved = opts.vocabulary;
  const F = layout.fieldNames.length;
  const J = layout.numericNames.length;
  const meta: VocabularyMeta = saved
    ? saved.meta
    : {
        format: layout.name,
        fieldNames: [...layout.fieldNames],
        numericNames: [...layout.numericNames],
        minCount: opts.minCount,
        numeric,
        layout,
        ...(opts.hashBuckets ? { hash: opts.hashBuckets } : {}),
      };
  const ids = saved
    ? `(the vocabulary of ${saved.from}), ${J} numeric (${numeric.kind}, as there)`
    : `(${vocab instanceof HashedVocabulary ? describeHash(vocab.hash) : `min-count ${opts.minCount}`}), ${J} numeric (${opts.numericTransform})`;
  return {
    train,
    eval: d.eval,
    ...(d.stream ? { stream: d.stream } : {}),
    fieldSizes: vocab.fieldSizes,
    fieldOffsets: vocab.fieldOffsets,
    totalRows: vocab.totalRows,
    skippedLines: skipped,
    saveVocabulary: (dir) => saveVocabulary(dir, vocab, meta),
    description:
      `${layout.name} ${d.path}${d.mode}: ${train.rows} train / ${d.eval.rows} eval rows (${d.how}), ${F} fields, ${vocab.totalRows} ids ${ids}` +
      d.note +
      (skipped > 0 ? `; ${skipped} bad lines skipped` : ''),
  };
}
