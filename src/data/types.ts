/**
 * Shapes shared by every data source. Rows are stored column-wise in flat typed arrays
 * (row-major inside a column group) so a batch is a set of contiguous slices, never an object per row.
 */
/** A block of parsed rows before vocabulary encoding (what a reader yields). */
export interface RawChunk {
  rows: number;
  /** [rows], 0 or 1. */
  labels: Float32Array;
  /** [rows * numNumeric], raw values; NaN marks a missing value (never reaches the model). */
  numeric: Float64Array;
  /** [rows * numCategorical], exact integer token keys (< 2^53); MISSING_KEY marks a missing value. */
  keys: Float64Array;
  /** [rows], 1-based line number of each row in its source file (file readers set it; it keys the random split). */
  lines?: Float64Array;
}

/** Key of an empty categorical cell: missing is a token of its own, like Criteo's "-1". */
export const MISSING_KEY = -1;

/** Rows after encoding: what the trainer consumes. */
export interface EncodedData {
  rows: number;
  numNumeric: number;
  numCategorical: number;
  /** [rows], 0 or 1. */
  labels: Float32Array;
  /** [rows * numNumeric], transformed, always finite. */
  numeric: Float32Array;
  /**
   * [rows * numCategorical], row index into the concatenated embedding table of all fields:
   * fieldOffsets[f] + local index (local index 0 is the field's OOV row).
   */
  ids: Int32Array;
  /** Synthetic data only: [rows], the planted true click probability of each row. */
  trueProb?: Float32Array;
}

/** Everything a training job needs from its data flags. */
export interface LoadedData {
  /** The train rows; under --stream only their shape (rows and widths, empty arrays): `stream` has the rows. */
  train: EncodedData;
  /** The eval rows, likewise. */
  eval: EncodedData;
  /** --stream: where the rows come from. */
  stream?: RowStream;
  /** Rows of each field's table, OOV row included. */
  fieldSizes: number[];
  /** Start row of each field in the concatenated table (prefix sums of fieldSizes). */
  fieldOffsets: number[];
  /** Total embedding rows (sum of fieldSizes). */
  totalRows: number;
  /** Bad input lines skipped under --skip-bad-lines (0 otherwise). */
  skippedLines: number;
  /** Metrics of the true probabilities on the eval split (synthetic data only). */
  oracle?: { auc: number; logloss: number };
  /** Writes the vocabulary next to a checkpoint; returns the file names it wrote (relative to dir). */
  saveVocabulary(dir: string): Promise<string[]>;
  /** One line for logs, e.g. "criteo ../x.tsv.gz: 7200 train / 800 eval rows, 31 542 ids". */
  description: string;
}

/** One step's rows of this rank, and the size of the whole global batch. */
export interface StepRows {
  step: number;
  data: EncodedData;
  globalRows: number;
}

export interface TrainFeed {
  /** Resolves once the rows of the first step have arrived. */
  ready(): Promise<void>;
  /** The rows of the next step (steps in order from the start step). */
  next(): Promise<StepRows>;
  close(): Promise<void>;
}

export interface TrainFeedOptions {
  rank: number;
  size: number;
  globalBatch: number;
  seed: number;
  startStep: number;
  totalSteps: number;
}

/** What a streamed dataset offers the trainer (LoadedData.stream). */
export interface RowStream {
  /** Steps per shuffle window. */
  readonly windowSteps: number;
  /** Rows of one shuffle window held by a rank, at most (for the memory line). */
  windowBytes(globalBatch: number, size: number): number;
  trainFeed(opts: TrainFeedOptions): TrainFeed;
  /** Streams this rank's contiguous share of the eval rows in chunks of at most `chunkRows`. */
  evalShard(rank: number, size: number, chunkRows: number, onChunk: (rows: EncodedData) => Promise<void>): Promise<void>;
}
