/** What the data flags ask of the loaders (load.ts, load-stream.ts). */
import type { NumericTransformName } from './numeric.js';
import type { Encoder, HashSpec, VocabularyMeta } from './vocab.js';

/** Default --stream-window: steps of rows shuffled together. */
export const DEFAULT_STREAM_WINDOW = 64;

export interface DataOptions {
  /** 'synthetic[:spec]' or a file spec (spec.ts) */
  data: string;
  /** A file spec of the same format: a separate eval file; --split is then not applied. */
  evalData?: string;
  /** 'random:F' (default random:0.1) | 'sequential:F'; ignored for synthetic data, which has its own eval split. */
  split: string;
  /** Seeds the random split. (The synthetic dataset has its own `seed=` so training seeds share one dataset.) */
  seed: number;
  minCount: number;
  numericTransform: NumericTransformName;
  skipBadLines: boolean;
  /** --hash-buckets: IDs hashed into buckets instead of a vocabulary counted from the train rows. */
  hashBuckets?: HashSpec;
  /** --stream: rows re-read from the file as training goes (load-stream.ts) instead of held in memory. */
  stream?: { windowSteps: number };
  /**
   * Encode with this vocabulary (a checkpoint's, for --init-from) instead of building one from the train
   * rows: same keys -> same embedding rows, same numeric transform. `from` names it in messages.
   */
  vocabulary?: SavedVocabulary;
  onProgress?: (msg: string) => void;
}

/** A vocabulary saved beside a checkpoint, as loadVocabulary reads it. */
export interface SavedVocabulary {
  vocab: Encoder;
  meta: VocabularyMeta;
  from: string;
}
