/**
 * Per-field vocabularies: key counting on the train split, the min-count cut, encoding into rows of
 * the concatenated embedding table, and the on-disk form stored next to a checkpoint.
 *
 * Local index 0 of every field is its OOV row: keys seen fewer than minCount times in train, and keys
 * never seen there. Kept keys get 1, 2, ... by descending train count, ties by ascending key, so the
 * vocabulary depends on the data only, not on chunking or hash-table order. An empty cell
 * (MISSING_KEY) is a token like any other.
 *
 * With --hash-buckets there is no vocabulary to count: HashedVocabulary maps every key to a bucket.
 *
 * Files (in the checkpoint dir):
 *   vocab.json      { version, format, fieldNames, numericNames, minCount, numeric, fieldSizes, keysFile, source?, layout?, hash? }
 *   vocab-keys.f64  every field's kept keys in local-index order (1..size-1), fields one after another,
 *                   as little-endian float64 (keys are exact integers < 2^53); absent for a hashed vocabulary
 */
import { readFile, writeFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { UserError } from '../util/errors.js';
import { KeyTable, grow } from './keytable.js';
import type { Layout } from './formats.js';
import type { NumericParams } from './numeric.js';

/**
 * Default --min-count. A key seen a few times in train gives its embedding row a few updates: it learns
 * noise (with Adam every update is a full-size step), while sharing the OOV row teaches that row how rare
 * keys behave, which is also what unseen eval keys get. 10, as common Criteo preprocessing does: on the
 * Criteo and Avazu samples it moved the eval AUC peak from epoch 2 to 4-5 (README "Defaults and why").
 */
export const DEFAULT_MIN_COUNT = 10;

export const VOCAB_FILE = 'vocab.json';
export const VOCAB_KEYS_FILE = 'vocab-keys.f64';

/** Counts keys per field and gives each distinct key a provisional id (insertion order). */
export class VocabCounter {
  private readonly tables: KeyTable[];
  private readonly counts: Float64Array[];

  constructor(readonly numFields: number) {
    this.tables = Array.from({ length: numFields }, () => new KeyTable());
    this.counts = Array.from({ length: numFields }, () => new Float64Array(1024));
  }

  /** Counts the cells of `rows` rows of keys ([rows * numFields]); writes their provisional ids into `pids`. */
  countRows(keys: Float64Array, rows: number, pids: Int32Array): void {
    this.insertRows(keys, rows, pids, 1);
  }

  /**
   * Provisional ids for rows that must not be counted but whose keys may still be counted later (eval
   * rows interleaved with train rows): a key first met here is added with count 0.
   */
  registerRows(keys: Float64Array, rows: number, pids: Int32Array): void {
    this.insertRows(keys, rows, pids, 0);
  }

  private insertRows(keys: Float64Array, rows: number, pids: Int32Array, weight: number): void {
    const F = this.numFields;
    for (let f = 0; f < F; f++) {
      const table = this.tables[f];
      let counts = this.counts[f];
      for (let r = 0; r < rows; r++) {
        const id = table.insert(keys[r * F + f]);
        if (id >= counts.length) counts = this.counts[f] = grow(counts, counts.length * 2);
        counts[id] += weight;
        pids[r * F + f] = id;
      }
    }
  }

  /** Provisional ids without counting or inserting (-1 for keys never met), once no more rows are counted. */
  lookupRows(keys: Float64Array, rows: number, pids: Int32Array): void {
    const F = this.numFields;
    for (let f = 0; f < F; f++) {
      const table = this.tables[f];
      for (let r = 0; r < rows; r++) pids[r * F + f] = table.get(keys[r * F + f]);
    }
  }

  /** Takes back the counts of rows [from, to) of `pids` (rows that turned out to be eval rows). */
  uncountRows(pids: Int32Array, from: number, to: number): void {
    const F = this.numFields;
    for (let f = 0; f < F; f++) {
      const counts = this.counts[f];
      for (let r = from; r < to; r++) counts[pids[r * F + f]]--;
    }
  }

  /** The vocabulary of keys counted >= minCount, and per field the map provisional id -> local index (0 = OOV). */
  build(minCount: number): { vocab: Vocabulary; remap: Int32Array[] } {
    const remap: Int32Array[] = [];
    const fieldKeys: Float64Array[] = [];
    for (let f = 0; f < this.numFields; f++) {
      const { keys, size } = this.tables[f];
      const counts = this.counts[f];
      let kept = 0;
      for (let id = 0; id < size; id++) if (counts[id] >= minCount) kept++;
      const order = new Int32Array(kept);
      for (let id = 0, k = 0; id < size; id++) if (counts[id] >= minCount) order[k++] = id;
      order.sort((a, b) => counts[b] - counts[a] || keys[a] - keys[b]);
      const map = new Int32Array(size); // 0 = OOV
      const fk = new Float64Array(kept);
      for (let i = 0; i < kept; i++) {
        map[order[i]] = i + 1;
        fk[i] = keys[order[i]];
      }
      remap.push(map);
      fieldKeys.push(fk);
    }
    return { vocab: new Vocabulary(fieldKeys), remap };
  }
}

/** Keys -> rows of the concatenated embedding table, fixed before the rows are read. */
export interface Encoder {
  readonly numFields: number;
  /** Rows of each field's table (OOV row included). */
  readonly fieldSizes: number[];
  readonly fieldOffsets: number[];
  readonly totalRows: number;
  /** Encodes `rows` rows of keys into `ids` from `idsOffset` (both [rows * numFields]); returns how many cells fell to OOV. */
  encodeRows(keys: Float64Array, rows: number, ids: Int32Array, idsOffset: number): number;
}

/** A fixed vocabulary: key -> row of the concatenated embedding table. */
export class Vocabulary implements Encoder {
  /** Rows of each field's table, OOV row included. */
  readonly fieldSizes: number[];
  readonly fieldOffsets: number[];
  readonly totalRows: number;
  private tables: KeyTable[] | null = null;

  /** `fieldKeys[f][i]` is the key of local index i + 1. */
  constructor(readonly fieldKeys: Float64Array[]) {
    this.fieldSizes = fieldKeys.map((k) => k.length + 1);
    this.fieldOffsets = prefixSums(this.fieldSizes);
    this.totalRows = this.fieldSizes.reduce((a, b) => a + b, 0);
  }

  get numFields(): number {
    return this.fieldKeys.length;
  }

  /**
   * Encodes `rows` rows of keys into `ids` from `idsOffset` (both [rows * numFields]);
   * returns how many cells fell to OOV.
   */
  encodeRows(keys: Float64Array, rows: number, ids: Int32Array, idsOffset: number): number {
    const tables = this.lookupTables();
    const F = this.numFields;
    let oov = 0;
    for (let f = 0; f < F; f++) {
      const table = tables[f];
      const off = this.fieldOffsets[f];
      for (let r = 0; r < rows; r++) {
        // Table ids are local index - 1, so a miss (-1) lands on the OOV row.
        const local = table.get(keys[r * F + f]) + 1;
        if (local === 0) oov++;
        ids[idsOffset + r * F + f] = off + local;
      }
    }
    return oov;
  }

  private lookupTables(): KeyTable[] {
    if (!this.tables) {
      this.tables = this.fieldKeys.map((keys) => {
        const t = new KeyTable(keys.length);
        for (let i = 0; i < keys.length; i++) t.insert(keys[i]);
        return t;
      });
    }
    return this.tables;
  }
}

/** --hash-buckets: K rows per field, or one space of K rows that every field hashes into (shared). */
export interface HashSpec {
  buckets: number;
  shared: boolean;
}

/**
 * Each key's row is a hash of (field, key) modulo the buckets: no pass over the data, nothing stored but
 * the spec, every key gets a trained row (colliding keys share it). In a shared space all fields index
 * one table of K rows, recorded as field 0's size (the others 0).
 */
export class HashedVocabulary implements Encoder {
  readonly fieldSizes: number[];
  readonly fieldOffsets: number[];
  readonly totalRows: number;

  constructor(
    readonly numFields: number,
    readonly hash: HashSpec,
  ) {
    const { buckets, shared } = hash;
    this.fieldSizes = Array.from({ length: numFields }, (_, f) => (shared ? (f === 0 ? buckets : 0) : buckets));
    this.fieldOffsets = prefixSums(this.fieldSizes);
    this.totalRows = shared ? buckets : buckets * numFields;
  }

  encodeRows(keys: Float64Array, rows: number, ids: Int32Array, idsOffset: number): number {
    const F = this.numFields;
    const K = this.hash.buckets;
    for (let f = 0; f < F; f++) {
      const off = this.hash.shared ? 0 : f * K;
      for (let r = 0; r < rows; r++) ids[idsOffset + r * F + f] = off + (bucketHash(keys[r * F + f], f) % K);
    }
    return 0;
  }
}

const TWO_32 = 4294967296;

/** A 32-bit hash of (key, field) (murmur3's finaliser over both halves of the key). */
function bucketHash(key: number, field: number): number {
  const lo = key >>> 0;
  const hi = Math.floor(key / TWO_32) | 0;
  let h = Math.imul(field + 1, 0x9e3779b1) ^ lo;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h ^= Math.imul(hi ^ (h >>> 13), 0xc2b2ae35);
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** What vocab.json records besides the keys: enough to preprocess new data exactly like training data. */
export interface VocabularyMeta {
  /** 'criteo' | 'avazu' | 'csv' | 'libsvm' | 'libfm' | 'synthetic'. */
  format: string;
  fieldNames: string[];
  numericNames: string[];
  minCount: number;
  numeric: NumericParams;
  /** Format-specific data (the synthetic generator's options). */
  source?: unknown;
  /** How the training file's lines were read (absent in vocabularies written before layouts were saved). */
  layout?: Layout;
  /** --hash-buckets: the IDs were hashed (no keys file). */
  hash?: HashSpec;
}

interface VocabFile extends VocabularyMeta {
  version: 1;
  fieldSizes: number[];
  keysFile: string | null;
}

export async function saveVocabulary(dir: string, vocab: Encoder, meta: VocabularyMeta): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  if (!(vocab instanceof Vocabulary)) {
    const file: VocabFile = { version: 1, ...meta, fieldSizes: vocab.fieldSizes, keysFile: null };
    await writeFile(join(dir, VOCAB_FILE), `${JSON.stringify(file, null, 1)}\n`);
    return [VOCAB_FILE];
  }
  const total = vocab.fieldKeys.reduce((n, k) => n + k.length, 0);
  const all = new Float64Array(total);
  let at = 0;
  for (const k of vocab.fieldKeys) {
    all.set(k, at);
    at += k.length;
  }
  const bytes = Buffer.from(all.buffer, all.byteOffset, all.byteLength);
  if (!isLittleEndian()) bytes.swap64();
  const file: VocabFile = { version: 1, ...meta, fieldSizes: vocab.fieldSizes, keysFile: VOCAB_KEYS_FILE };
  await writeFile(join(dir, VOCAB_KEYS_FILE), bytes);
  await writeFile(join(dir, VOCAB_FILE), `${JSON.stringify(file, null, 1)}\n`);
  return [VOCAB_FILE, VOCAB_KEYS_FILE];
}

export async function loadVocabulary(dir: string): Promise<{ vocab: Encoder; meta: VocabularyMeta }> {
  const jsonPath = join(dir, VOCAB_FILE);
  let file: VocabFile;
  try {
    file = JSON.parse(await readFile(jsonPath, 'utf8')) as VocabFile;
  } catch (e) {
    throw new UserError(`cannot read the vocabulary ${jsonPath}: ${(e as Error).message}`);
  }
  if (file.version !== 1 || !Array.isArray(file.fieldSizes) || (typeof file.keysFile !== 'string' && !file.hash)) {
    throw new UserError(`${jsonPath}: not a version-1 vocabulary file`);
  }
  const { format, fieldNames, numericNames, minCount, numeric, source, layout, hash } = file;
  const meta: VocabularyMeta = { format, fieldNames, numericNames, minCount, numeric, source, layout, hash };
  if (hash) return { vocab: new HashedVocabulary(file.fieldSizes.length, hash), meta };
  if (typeof file.keysFile !== 'string') throw new UserError(`${jsonPath}: not a version-1 vocabulary file`);
  const keysPath = join(dir, file.keysFile);
  let bytes: Buffer;
  try {
    bytes = await readFile(keysPath);
  } catch (e) {
    throw new UserError(`cannot read the vocabulary keys ${keysPath}: ${(e as Error).message}`);
  }
  const total = file.fieldSizes.reduce((n, s) => n + s - 1, 0);
  if (bytes.length !== total * 8) {
    throw new UserError(`${keysPath}: ${bytes.length} bytes, expected ${total * 8} for the field sizes in ${jsonPath}`);
  }
  const all = new Float64Array(total);
  const view = Buffer.from(all.buffer);
  bytes.copy(view);
  if (!isLittleEndian()) view.swap64();
  const fieldKeys: Float64Array[] = [];
  let at = 0;
  for (const size of file.fieldSizes) {
    fieldKeys.push(all.subarray(at, at + size - 1));
    at += size - 1;
  }
  return { vocab: new Vocabulary(fieldKeys), meta };
}

export function prefixSums(sizes: number[]): number[] {
  const out: number[] = [];
  let at = 0;
  for (const s of sizes) {
    out.push(at);
    at += s;
  }
  return out;
}

function isLittleEndian(): boolean {
  return new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
}

/** --hash-buckets K (K rows per field) or shared:K (one space of K rows for all fields). */
export function parseHashBuckets(text: string): HashSpec {
  const m = /^(shared:)?(\d+)$/.exec(text.trim());
  const buckets = m ? Number(m[2]) : NaN;
  // Row ids are int32 across all fields: keep a field's table well inside that.
  if (!m || !(buckets >= 1 && buckets <= 1 << 26)) {
    throw new UserError(`--hash-buckets ${text}: expected K (rows per field) or shared:K (one space for all fields), K from 1 to ${1 << 26}`);
  }
  return { buckets, shared: m[1] !== undefined };
}

export function describeHash(h: HashSpec): string {
  return h.shared ? `hashed into one space of ${h.buckets} rows` : `hashed, ${h.buckets} rows per field`;
}
