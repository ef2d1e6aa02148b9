/**
 * Per-ID merging of embedding-row gradients. The same function de-duplicates one worker's batch and
 * merges the payloads all-gathered from N workers, so CowClip always sees global counts and summed rows.
 * Summation order is fixed (by input position within an id), so every rank merging the same input gets
 * bit-identical output.
 */
import { hostKernel, type MergeSlotsKernel } from '../kernels/registry.js';

/** Gradient rows of an embedding table, one per distinct id. */
export interface SparseGrad {
  /** Row dimension (kept explicitly so an empty gradient still knows its shape). */
  dim: number;
  /** [u] distinct row ids, ascending. */
  ids: Int32Array;
  /** [u] occurrences of each id in the (global) batch. */
  counts: Float32Array;
  /** [u * dim] summed gradient rows, row-major, aligned with ids. */
  rows: Float32Array;
}

/** Radix digit width: 3 passes cover 31-bit ids, 2 passes cover tables under 4.2M rows. */
const DIGIT_BITS = 11;
const DIGIT_MASK = (1 << DIGIT_BITS) - 1;

/**
 * Permutation of 0..n-1 sorting ids ascending, ties kept in input order (LSD radix sort is stable),
 * which is what makes the merge's summation order deterministic. O(n) per digit, no comparator calls.
 */
function stableOrder(ids: Int32Array): Int32Array {
  const n = ids.length;
  let max = 0;
  for (let i = 0; i < n; i++) {
    const id = ids[i];
    if (id < 0) throw new RangeError(`merge: negative id ${id} at position ${i}`);
    if (id > max) max = id;
  }
  let order = new Int32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  if (n < 2) return order;
  let next = new Int32Array(n);
  const start = new Int32Array(DIGIT_MASK + 1);
  for (let shift = 0; shift < 32 && max >>> shift !== 0; shift += DIGIT_BITS) {
    start.fill(0);
    for (let i = 0; i < n; i++) start[(ids[order[i]] >>> shift) & DIGIT_MASK]++;
    let sum = 0;
    for (let b = 0; b <= DIGIT_MASK; b++) {
      const c = start[b];
      start[b] = sum;
      sum += c;
    }
    for (let i = 0; i < n; i++) {
      const p = order[i];
      next[start[(ids[p] >>> shift) & DIGIT_MASK]++] = p;
    }
    const t = order;
    order = next;
    next = t;
  }
  return order;
}

/**
 * Ids up to this bound are merged through a slot per possible id (an Int32Array of bound + 1 entries, kept
 * between calls): 64 MB at most. Larger ids (hashed vocabularies) take the radix-sort path.
 */
const SLOT_MAP_MAX_ID = (1 << 24) - 1;
/** slot[id]: the id's output row during a merge, -1 otherwise (reset for exactly the ids used, after each merge). */
let slotOf = new Int32Array(0);

/**
 * Merges n rows addressed by ids[i] (rows[i*dim ..]) into one row per distinct id: rows summed and
 * counts summed (counts null: each occurrence counts 1). Output ids ascending.
 *
 * Each id's rows are summed in input order whichever path runs, so the result is the same to the bit:
 * - slot map (ids < 2^24): one sequential pass adds each row into its id's slot (first-seen order), then
 *   the distinct ids are sorted and their rows permuted. Reading the rows in order is what makes it fast:
 *   at 1.7M rows (batch 65,536 x 26 fields) the sorted path's scattered row reads dominate.
 * - radix sort: a stable order by id, then one pass over the rows in that order.
 */
export function mergeRows(
  ids: Int32Array,
  counts: Float32Array | Int32Array | null,
  rows: Float32Array,
  dim: number,
  output: MergeOutput = 'arrays',
): SparseGrad {
  const n = ids.length;
  if (!Number.isInteger(dim) || dim < 1) throw new RangeError(`merge: bad dim ${dim}`);
  if (rows.length < n * dim) throw new RangeError(`merge: ${rows.length} row values for ${n} ids x ${dim}`);
  if (counts !== null && counts.length < n) throw new RangeError(`merge: ${counts.length} counts for ${n} ids`);
  let max = 0;
  for (let i = 0; i < n; i++) {
    const id = ids[i];
    if (id < 0) throw new RangeError(`merge: negative id ${id} at position ${i}`);
    if (id > max) max = id;
  }
  return max <= SLOT_MAP_MAX_ID ? mergeBySlots(ids, counts, rows, dim, max, output) : mergeSorted(ids, counts, rows, dim, output);
}

/**
 * Where a merge writes its result: separate arrays, or the sections of one encodeSparse payload, which
 * encodeSparse then hands over as it is (a rank's merged rows go on the wire without a copy).
 */
export type MergeOutput = 'arrays' | 'payload';

function allocGrad(u: number, dim: number, output: MergeOutput): SparseGrad {
  if (output === 'payload') return sparseView(new Uint8Array(encodedSize(u, dim)), u, dim);
  return { dim, ids: new Int32Array(u), counts: new Float32Array(u), rows: new Float32Array(u * dim) };
}

/** mergeBySlots' first pass (the registry's `mergeSlots` when one is registered: native/blas.c, the same bits). */
const accumulate: MergeSlotsKernel = (ids, counts, rows, dim, slot, seen, sums, sumCounts) => {
  let u = 0;
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i];
    let j = slot[id];
    const src = i * dim;
    if (j < 0) {
      j = u++;
      slot[id] = j;
      seen[j] = id;
      const dst = j * dim;
      for (let c = 0; c < dim; c++) sums[dst + c] = rows[src + c];
      sumCounts[j] = counts === null ? 1 : counts[i];
    } else {
      const dst = j * dim;
      for (let c = 0; c < dim; c++) sums[dst + c] += rows[src + c];
      sumCounts[j] += counts === null ? 1 : counts[i];
    }
  }
  return u;
};

/** mergeBySlots' scratch, kept between calls (grown, never shrunk): first-seen ids, their running sums and counts. */
const scratch = { seen: new Int32Array(0), sums: new Float32Array(0), counts: new Float32Array(0) };

function mergeBySlots(ids: Int32Array, counts: Float32Array | Int32Array | null, rows: Float32Array, dim: number, max: number, output: MergeOutput): SparseGrad {
  const n = ids.length;
  if (slotOf.length <= max) {
    slotOf = new Int32Array(Math.min(SLOT_MAP_MAX_ID + 1, Math.max(max + 1, 2 * slotOf.length)));
    slotOf.fill(-1);
  }
  if (scratch.seen.length < n) {
    scratch.seen = new Int32Array(n);
    scratch.counts = new Float32Array(n);
  }
  if (scratch.sums.length < n * dim) scratch.sums = new Float32Array(n * dim);
  const { seen, sums, counts: sumCounts } = scratch;
  const slot = slotOf;
  const u = (hostKernel('mergeSlots') ?? accumulate)(ids, counts, rows, dim, slot, seen, sums, sumCounts);
  const distinct = seen.subarray(0, u);
  const order = stableOrder(distinct);
  const out = allocGrad(u, dim, output);
  const { ids: outIds, counts: outCounts, rows: outRows } = out;
  for (let k = 0; k < u; k++) {
    const j = order[k];
    outIds[k] = distinct[j];
    outCounts[k] = sumCounts[j];
    outRows.set(sums.subarray(j * dim, (j + 1) * dim), k * dim);
  }
  for (let j = 0; j < u; j++) slot[distinct[j]] = -1;
  return out;
}

function mergeSorted(ids: Int32Array, counts: Float32Array | Int32Array | null, rows: Float32Array, dim: number, output: MergeOutput): SparseGrad {
  const n = ids.length;
  const order = stableOrder(ids);
  let unique = 0;
  for (let k = 0, prev = -1; k < n; k++) {
    const id = ids[order[k]];
    if (id !== prev) {
      unique++;
      prev = id;
    }
  }

  const out = allocGrad(unique, dim, output);
  const { ids: outIds, counts: outCounts, rows: outRows } = out;
  let j = -1;
  for (let k = 0, prev = -1; k < n; k++) {
    const p = order[k];
    const id = ids[p];
    const src = p * dim;
    if (id !== prev) {
      j++;
      prev = id;
      outIds[j] = id;
      const dst = j * dim;
      for (let c = 0; c < dim; c++) outRows[dst + c] = rows[src + c];
    } else {
      const dst = j * dim;
      for (let c = 0; c < dim; c++) outRows[dst + c] += rows[src + c];
    }
    outCounts[j] += counts === null ? 1 : counts[p];
  }
  return out;
}

/**
 * Merges several SparseGrads of one table (e.g. every rank's payload, in rank order) into one, as
 * mergeRows of their concatenation would, to the bit: an id's rows are summed in the order of the parts
 * (the first copied, the next added). Each part's ids are ascending, so this is a k-way merge: one pass that
 * reads every row once and writes the output in id order, where concatenating, merging and sorting copied
 * each row three times.
 */
export function mergeSparse(grads: readonly SparseGrad[], dim: number): SparseGrad {
  for (const g of grads) if (g.dim !== dim) throw new RangeError(`mergeSparse: payload of dim ${g.dim}, expected ${dim}`);
  const heap = new PartHeap(grads);
  let unique = 0;
  for (let prev = -1; heap.size > 0; ) {
    const p = heap.top();
    const id = grads[p].ids[heap.at[p]];
    if (id !== prev) unique++;
    prev = id;
    heap.advance();
  }
  const out: SparseGrad = { dim, ids: new Int32Array(unique), counts: new Float32Array(unique), rows: new Float32Array(unique * dim) };
  heap.reset();
  for (let j = -1, prev = -1; heap.size > 0; heap.advance()) {
    const p = heap.top();
    const g = grads[p];
    const i = heap.at[p];
    const id = g.ids[i];
    const src = i * dim;
    if (id !== prev) {
      j++;
      prev = id;
      out.ids[j] = id;
      out.counts[j] = g.counts[i];
      const dst = j * dim;
      for (let c = 0; c < dim; c++) out.rows[dst + c] = g.rows[src + c];
    } else {
      out.counts[j] += g.counts[i];
      const dst = j * dim;
      for (let c = 0; c < dim; c++) out.rows[dst + c] += g.rows[src + c];
    }
  }
  return out;
}

/**
 * The parts of a k-way merge ordered by (current id, part index): a binary min-heap of part indices, so equal
 * ids come out in part order. Checks that each part's ids ascend strictly, as a SparseGrad's must.
 */
class PartHeap {
  /** Each part's current position. */
  readonly at: Int32Array;
  private readonly heap: Int32Array;
  size = 0;

  constructor(private readonly parts: readonly SparseGrad[]) {
    this.at = new Int32Array(parts.length);
    this.heap = new Int32Array(parts.length);
    this.reset();
  }

  reset(): void {
    this.at.fill(0);
    this.size = 0;
    for (let p = 0; p < this.parts.length; p++) if (this.parts[p].ids.length > 0) this.push(p);
  }

  top(): number {
    return this.heap[0];
  }

  /** Moves the top part to its next id (dropping it when done). */
  advance(): void {
    const p = this.heap[0];
    const ids = this.parts[p].ids;
    const i = ++this.at[p];
    if (i < ids.length) {
      if (!(ids[i] > ids[i - 1])) throw new RangeError(`mergeSparse: part ${p}: ids not ascending at position ${i} (${ids[i - 1]}, ${ids[i]})`);
    } else if (--this.size > 0) {
      this.heap[0] = this.heap[this.size];
    }
    if (this.size > 0) this.down(0);
  }

  private less(a: number, b: number): boolean {
    const x = this.parts[a].ids[this.at[a]];
    const y = this.parts[b].ids[this.at[b]];
    return x < y || (x === y && a < b);
  }

  private push(p: number): void {
    let k = this.size++;
    this.heap[k] = p;
    while (k > 0) {
      const up = (k - 1) >> 1;
      if (!this.less(this.heap[k], this.heap[up])) break;
      [this.heap[k], this.heap[up]] = [this.heap[up], this.heap[k]];
      k = up;
    }
  }

  private down(k: number): void {
    const { heap } = this;
    for (;;) {
      const l = 2 * k + 1;
      if (l >= this.size) return;
      const r = l + 1;
      const m = r < this.size && this.less(heap[r], heap[l]) ? r : l;
      if (!this.less(heap[m], heap[k])) return;
      [heap[m], heap[k]] = [heap[k], heap[m]];
      k = m;
    }
  }
}

/** 'SPG1' read as a little-endian uint32; a payload from a machine of the other endianness fails this. */
const MAGIC = 0x31475053;
/** magic, unique ids, dim, reserved: 16 bytes keep every section 4-byte (and the header 16-byte) aligned. */
const HEADER_BYTES = 16;

/** Bytes encodeSparse produces for u rows of dimension dim. */
export function encodedSize(unique: number, dim: number): number {
  return HEADER_BYTES + 4 * unique * (2 + dim);
}

/**
 * One contiguous payload: header, ids (int32), counts (float32), rows (float32), in platform byte order. A
 * SparseGrad that already lives in a payload (mergeRows' 'payload' output, decodeSparse) is that payload,
 * returned without a copy: the caller must not change it while the bytes are in flight.
 */
export function encodeSparse(g: SparseGrad): Uint8Array {
  const u = g.ids.length;
  if (g.counts.length !== u || g.rows.length !== u * g.dim) {
    throw new RangeError(`encodeSparse: ${u} ids, ${g.counts.length} counts, ${g.rows.length} row values`);
  }
  const own = payloadOf(g);
  if (own) return own;
  const out = new Uint8Array(encodedSize(u, g.dim));
  const v = sparseView(out, u, g.dim);
  v.ids.set(g.ids);
  v.counts.set(g.counts);
  v.rows.set(g.rows);
  return out;
}

/**
 * An encodeSparse payload of u rows built in place: writes the header into `bytes` (encodedSize(u, dim) of
 * them, 4-byte aligned) and returns views of its ids, counts and rows for the caller to fill, so rows can be
 * scattered into several payloads without an intermediate copy.
 */
export function sparseView(bytes: Uint8Array, u: number, dim: number): SparseGrad {
  if (bytes.byteOffset % 4 !== 0 || bytes.byteLength !== encodedSize(u, dim)) {
    throw new RangeError(`sparseView: ${bytes.byteLength} bytes at offset ${bytes.byteOffset} for ${u} rows of dim ${dim}`);
  }
  const header = new Uint32Array(bytes.buffer, bytes.byteOffset, 4);
  header[0] = MAGIC;
  header[1] = u;
  header[2] = dim;
  return viewsOf(bytes, u, dim);
}

/** The payload `g`'s arrays are the sections of, if they are: its header just before the ids, the sections contiguous. */
function payloadOf(g: SparseGrad): Uint8Array | null {
  const { ids, counts, rows } = g;
  const u = ids.length;
  const start = ids.byteOffset - HEADER_BYTES;
  if (start < 0 || counts.buffer !== ids.buffer || rows.buffer !== ids.buffer) return null;
  if (counts.byteOffset !== ids.byteOffset + 4 * u || rows.byteOffset !== ids.byteOffset + 8 * u) return null;
  const header = new Uint32Array(ids.buffer, start, 3);
  return header[0] === MAGIC && header[1] === u && header[2] === g.dim ? new Uint8Array(ids.buffer, start, encodedSize(u, g.dim)) : null;
}

function viewsOf(bytes: Uint8Array, u: number, dim: number): SparseGrad {
  const base = bytes.byteOffset + HEADER_BYTES;
  return {
    dim,
    ids: new Int32Array(bytes.buffer, base, u),
    counts: new Float32Array(bytes.buffer, base + 4 * u, u),
    rows: new Float32Array(bytes.buffer, base + 8 * u, u * dim),
  };
}

/**
 * Inverse of encodeSparse. The result views the input's memory when it is 4-byte aligned (no copy),
 * so the caller must not reuse the input buffer while the SparseGrad is alive.
 */
export function decodeSparse(bytes: Uint8Array): SparseGrad {
  const aligned = bytes.byteOffset % 4 === 0 ? bytes : bytes.slice();
  if (aligned.byteLength < HEADER_BYTES) throw new Error(`decodeSparse: ${aligned.byteLength}-byte payload is too short`);
  const header = new Uint32Array(aligned.buffer, aligned.byteOffset, 4);
  if (header[0] !== MAGIC) throw new Error(`decodeSparse: bad magic 0x${header[0].toString(16)}`);
  const u = header[1];
  const dim = header[2];
  if (dim < 1 || aligned.byteLength !== encodedSize(u, dim)) {
    throw new Error(`decodeSparse: ${aligned.byteLength} bytes do not hold ${u} rows of dim ${dim}`);
  }
  return viewsOf(aligned, u, dim);
}
