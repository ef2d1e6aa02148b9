import type { EncodedData } from '../data/types.js';
import type { EmbeddingTable } from './embedding.js';
import type { ModelConfig } from './types.js';

/** Host-side inputs of one batch for the dense part, flat and row-major; only the first `size` rows count. */
export interface BatchArrays {
  size: number;
  /** [size * F * d] gathered field embeddings. */
  emb: Float32Array;
  /** [size * F] gathered first-order weights. */
  linear: Float32Array;
  /** [size * numNumeric]. */
  numeric: Float32Array;
  /** [size], 0 or 1. */
  labels: Float32Array;
}

/** A reusable batch buffer: BatchArrays plus the ids it was gathered from (needed to merge gradients). */
export interface HostBatch extends BatchArrays {
  readonly capacity: number;
  /** [size * F] rows of the concatenated embedding table. */
  ids: Int32Array;
}

export function allocBatch(capacity: number, config: ModelConfig): HostBatch {
  const { numFields: F, embedDim: d, numNumeric } = config;
  return {
    capacity,
    size: 0,
    ids: new Int32Array(capacity * F),
    emb: new Float32Array(capacity * F * d),
    linear: new Float32Array(capacity * F),
    numeric: new Float32Array(capacity * numNumeric),
    labels: new Float32Array(capacity),
  };
}

/**
 * Fills `batch` with `count` samples: sample i is order[start + i] (a shuffled or sharded index list),
 * or start + i without an order. Copies ids, numeric features and labels, then gathers both tables.
 */
export function fillBatch(
  batch: HostBatch,
  data: EncodedData,
  start: number,
  count: number,
  field: EmbeddingTable,
  first: EmbeddingTable,
  order?: Int32Array,
): void {
  fillRows(batch, data, start, count, order);
  gatherBatch(batch, field, first);
}

/** The first half of fillBatch: labels, ids and numeric features of the samples, no embedding lookup. */
export function fillRows(batch: HostBatch, data: EncodedData, start: number, count: number, order?: Int32Array): void {
  const F = data.numCategorical;
  const nn = data.numNumeric;
  if (count > batch.capacity) throw new RangeError(`fillBatch: ${count} samples exceed capacity ${batch.capacity}`);
  if (batch.ids.length !== batch.capacity * F || batch.numeric.length !== batch.capacity * nn) {
    throw new RangeError(`fillBatch: batch buffer shaped for another data layout (${F} fields, ${nn} numeric)`);
  }
  const last = order ? order.length : data.rows;
  if (start < 0 || start + count > last) throw new RangeError(`fillBatch: samples [${start}, ${start + count}) outside [0, ${last})`);
  for (let i = 0; i < count; i++) {
    const s = order ? order[start + i] : start + i;
    batch.labels[i] = data.labels[s];
    for (let f = 0; f < F; f++) batch.ids[i * F + f] = data.ids[s * F + f];
    for (let k = 0; k < nn; k++) batch.numeric[i * nn + k] = data.numeric[s * nn + k];
  }
  batch.size = count;
}

/** The second half: the embedding rows of the batch's ids (a parameter server pulls them fresh in between). */
export function gatherBatch(batch: HostBatch, field: EmbeddingTable, first: EmbeddingTable): void {
  const ids = batch.ids.subarray(0, batch.size * (batch.ids.length / batch.capacity));
  field.gather(ids, batch.emb);
  first.gather(ids, batch.linear);
}
