/**
 * Embedding rows by owner, shared by the parameter servers and `--sync sharded` (every rank owns the rows whose
 * id hashes to it): which rows an owner holds, splitting a rank's ids and merged rows by owner (two passes over
 * typed arrays: count, then fill), and the row layout of the values an owner sends back.
 */
import { encodedSize, sparseView, type SparseGrad } from './merge.js';

/**
 * The owner of embedding row `id`: a multiplicative hash, so consecutive ids (one field's vocabulary)
 * spread over the owners instead of landing on one.
 */
export function ownerOf(id: number, owners: number): number {
  return (Math.imul(id, 0x9e3779b1) >>> 0) % owners;
}

/** Every owner's rows, ascending: entry k lists the ids of [0, totalRows) that ownerOf gives owner k. */
export function ownedRows(totalRows: number, owners: number): Int32Array[] {
  const owner = new Int32Array(totalRows);
  const sizes = new Int32Array(owners);
  for (let id = 0; id < totalRows; id++) sizes[(owner[id] = ownerOf(id, owners))]++;
  const out = Array.from(sizes, (n) => new Int32Array(n));
  const filled = new Int32Array(owners);
  for (let id = 0; id < totalRows; id++) out[owner[id]][filled[owner[id]]++] = id;
  return out;
}

/**
 * The distinct ids of `ids` by owner, each list in order of first appearance. `seen` holds one mark per table
 * row, all clear; it is left clear.
 */
export function uniqueByOwner(ids: Int32Array, owners: number, seen: Uint8Array): Int32Array[] {
  const ownerAt = new Int32Array(ids.length); // the id's owner at its first appearance, -1 at a repeat
  const sizes = new Int32Array(owners);
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i];
    if (seen[id]) {
      ownerAt[i] = -1;
      continue;
    }
    seen[id] = 1;
    sizes[(ownerAt[i] = ownerOf(id, owners))]++;
  }
  const out = Array.from(sizes, (n) => new Int32Array(n));
  const filled = new Int32Array(owners);
  for (let i = 0; i < ids.length; i++) {
    const o = ownerAt[i];
    if (o < 0) continue;
    out[o][filled[o]++] = ids[i];
    seen[ids[i]] = 0;
  }
  return out;
}

/**
 * Merged rows split by owner straight into encodeSparse payloads, one per owner (ids stay ascending, as the
 * owner's merge expects). Payload k starts with lead[k] bytes (a multiple of 4; default none) for the caller's
 * own header. Fresh memory each: it may be sent without a copy.
 */
export function splitByOwner(g: SparseGrad, owners: number, lead?: ArrayLike<number>): Uint8Array[] {
  const { ids, counts, rows, dim: w } = g;
  const owner = new Int32Array(ids.length);
  const sizes = new Int32Array(owners);
  for (let j = 0; j < ids.length; j++) sizes[(owner[j] = ownerOf(ids[j], owners))]++;
  const frames = Array.from(sizes, (n, k) => new Uint8Array((lead?.[k] ?? 0) + encodedSize(n, w)));
  const parts = frames.map((f, k) => sparseView(f.subarray(lead?.[k] ?? 0), sizes[k], w));
  const filled = new Int32Array(owners);
  for (let j = 0; j < ids.length; j++) {
    const part = parts[owner[j]];
    const i = filled[owner[j]]++;
    part.ids[i] = ids[j];
    part.counts[i] = counts[j];
    for (let c = 0; c < w; c++) part.rows[i * w + c] = rows[j * w + c];
  }
  return frames;
}

/** Per id: d values of each `field` array, then one value of each `first` array (the layout unpackRows reads). */
export function packRows(ids: Int32Array, field: Float32Array[], first: Float32Array[], d: number): Buffer {
  const width = field.length * d + first.length;
  const out = new Float32Array(ids.length * width);
  for (let j = 0, at = 0; j < ids.length; j++) {
    const id = ids[j];
    for (const a of field) for (let k = 0; k < d; k++) out[at++] = a[id * d + k];
    for (const a of first) out[at++] = a[id];
  }
  return Buffer.from(out.buffer);
}

/** Rows from[j] of the `src` arrays into rows to[j] of the `dst` arrays (laid out as packRows's). */
export function copyRows(src: RowArrays, from: Int32Array, dst: RowArrays, to: Int32Array, d: number): void {
  src.field.forEach((s, i) => {
    const out = dst.field[i];
    for (let j = 0; j < from.length; j++) for (let k = 0, a = from[j] * d, b = to[j] * d; k < d; k++) out[b + k] = s[a + k];
  });
  src.first.forEach((s, i) => {
    const out = dst.first[i];
    for (let j = 0; j < from.length; j++) out[to[j]] = s[from[j]];
  });
}

/** A table's arrays of d values per row (weights, optimizer state) and of its first-order twin. */
export interface RowArrays {
  field: Float32Array[];
  first: Float32Array[];
}

/** Inverse of packRows (without its lead): writes the rows of `ids` into the arrays. */
export function unpackRows(ids: Int32Array, rows: Float32Array, field: Float32Array[], first: Float32Array[], d: number): void {
  const width = field.length * d + first.length;
  if (rows.length !== ids.length * width) throw new Error(`received ${rows.length} values for ${ids.length} rows of ${width}`);
  for (let j = 0, at = 0; j < ids.length; j++) {
    const id = ids[j];
    for (const a of field) for (let k = 0; k < d; k++) a[id * d + k] = rows[at++];
    for (const a of first) a[id] = rows[at++];
  }
}
