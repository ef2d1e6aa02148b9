/**
 * The embedding tables of a replica kept on the GPU (`--embed-device gpu`): the field and first-order tables and
 * their optimizer state live in GpuTables; per step only the batch's ids go up (the lookup), this rank's rows
 * merged per ID come back as a wire payload (ids, counts, [field | first-order] rows: what an all-gather sends),
 * and the global merged rows go up again to be applied, with the replica's updater options (L2, CowClip with
 * the global counts, Adam or SGD, lazy or dense). The replica's host tables are written back on demand
 * (toHost: before drift checks, evaluations, checkpoints and the end).
 */
import * as tf from '@tensorflow/tfjs';
import type { WebGPUBackend } from '@tensorflow/tfjs-backend-webgpu';
import type { EmbeddingTable } from '../model/embedding.js';
import { Adagrad, RowwiseAdagrad } from '../optim/adagrad.js';
import { Adam } from '../optim/adam.js';
import { normaliseGamma, TALLY_LENGTH, thresholdFloor } from '../optim/cowclip.js';
import { noUpdates, type EmbeddingUpdater, type EmbedUpdateStats } from '../optim/embed-update.js';
import { encodedSize, sparseView, type SparseGrad } from '../sparse/merge.js';
import { mergeRowsGpu } from './merge.js';
import { FlatProgram, run } from './programs.js';
import { GpuTable, type GpuUpdateOptions } from './table.js';

/** Host <-> GPU traffic of the steps, added to the step's own (the report's `transfer`); whole-table copies (start, toHost) are not per-step traffic. */
export interface TransferCounter {
  uploads: number;
  readbacks: number;
  uploadBytes: number;
  readbackBytes: number;
}

/**
 * The payload of encodeSparse as int32 words, built on the GPU: 4 header words (zero here, sparseView writes
 * them), ids, then counts and rows as their float32 bits (moved, never computed on, so every bit survives).
 */
const payloadProgram = (u: number, w: number) =>
  new FlatProgram('ddpEmbedPayload', ['ids', 'counts', 'rows'], [4 + u * (2 + w)], 'u : i32, w : i32,', 4 + u * (2 + w), `
    let n = uniforms.u;
    if (i >= 4 + n * (2 + uniforms.w)) { return; }
    if (i < 4) { result[i] = 0; return; }
    let k = i - 4;
    if (k < n) { result[i] = ids[k]; return; }
    if (k < 2 * n) { result[i] = bitcast<i32>(counts[k - n]); return; }
    result[i] = bitcast<i32>(rows[k - 2 * n]);`);

export class GpuEmbeddings {
  /** What the updates applied here covered, as the host updater counts it (the meeting reads it). */
  readonly applied: EmbedUpdateStats = noUpdates();
  private readonly field: GpuTable;
  private readonly first: GpuTable;
  private readonly update: { field: GpuUpdateOptions; first: GpuUpdateOptions; mode: 'lazy' | 'dense' };

  /**
   * Uploads the replica's tables and optimizer state (its initial values, or a checkpoint's). Throws naming
   * the sizes when a table with its state exceeds what one GPU buffer may hold.
   */
  constructor(
    private readonly tables: { field: EmbeddingTable; first: EmbeddingTable; embed: EmbeddingUpdater },
    private readonly transfer: TransferCounter,
  ) {
    const { field, first, embed } = tables;
    const o = embed.options;
    const limit = gpuBufferLimit();
    const width = field.dim + embed.fieldOpt.state.reduce((n, s) => n + (s.perRow ? 1 : field.dim), 0);
    const bytes = 4 * field.rows * width;
    if (bytes > limit) {
      throw new Error(`the field table with its optimizer state takes ${mb(bytes)} (${field.rows} rows x ${width} values), more than the ${mb(limit)} allowed on this GPU (one buffer's limit, or DDP_GPU_TABLE_LIMIT_MB)`);
    }
    this.field = new GpuTable(field.rows, field.dim, field.weights, embed.fieldOpt.state);
    this.first = new GpuTable(first.rows, 1, first.weights, embed.firstOpt.state);
    const opt = embed.fieldOpt;
    const adam = opt instanceof Adam ? opt : null;
    const epsilon = adam?.epsilon ?? (opt instanceof Adagrad || opt instanceof RowwiseAdagrad ? opt.epsilon : 0);
    const base = { lr: o.lr, lambda: o.lambda, optimizer: opt.name, beta1: adam?.beta1 ?? 0, beta2: adam?.beta2 ?? 0, epsilon };
    this.update = {
      field: { ...base, clip: o.clip ? { ratio: o.ratio, floor: thresholdFloor(o, field.dim), gamma: normaliseGamma(o) } : null },
      first: { ...base, clip: null },
      mode: o.mode,
    };
  }

  /** The batch's embedding inputs, looked up on the GPU: [B, F * d] and [B, F], and the uploaded ids (the caller disposes all three). */
  lookup(ids: Int32Array, batch: number, fields: number): { ids: tf.Tensor1D; emb: tf.Tensor2D; linear: tf.Tensor2D } {
    const idsT = tf.tensor1d(ids, 'int32');
    this.count(ids.byteLength, 'up');
    const d = this.field.dim;
    return tf.tidy(() => ({
      ids: tf.keep(idsT),
      emb: tf.keep(tf.reshape(this.field.gather(idsT), [batch, fields * d])) as tf.Tensor2D,
      linear: tf.keep(tf.reshape(this.first.gather(idsT), [batch, fields])) as tf.Tensor2D,
    }));
  }

  /** This rank's gradient rows merged per ID on the GPU, read back as a wire payload (one read back). */
  async mergeLocal(ids: tf.Tensor1D, rows: tf.Tensor1D): Promise<SparseGrad> {
    const w = this.field.dim + 1;
    const merged = await mergeRowsGpu(ids, rows, w);
    this.count(4, 'down'); // the merge reads back its number of distinct ids
    const u = merged.ids.size;
    try {
      const words = u === 0 ? new Int32Array(4) : ((await run(payloadProgram(u, w), [merged.ids, merged.counts, merged.rows], 'int32', [{ type: 'int32', data: [u] }, { type: 'int32', data: [w] }]).data()) as Int32Array);
      this.count(words.byteLength, 'down');
      return sparseView(new Uint8Array(words.buffer, words.byteOffset, encodedSize(u, w)), u, w);
    } finally {
      tf.dispose([merged.ids, merged.counts, merged.rows]);
    }
  }

  /** Applies the global merged rows at step t (uploads ids, counts and both tables' rows). */
  async apply(field: SparseGrad, linear: SparseGrad, t: number): Promise<void> {
    const u = field.ids.length;
    const ids = tf.tensor1d(field.ids, 'int32');
    const counts = tf.tensor1d(field.counts);
    const fieldRows = tf.tensor1d(field.rows);
    const firstRows = tf.tensor1d(linear.rows);
    this.count(4 * (2 * u + field.rows.length + linear.rows.length), 'up');
    try {
      const { mode } = this.update;
      const tally = await this.field.update({ ids, counts, rows: fieldRows, dim: this.field.dim }, 0, this.update.field, t, mode);
      if (this.update.field.clip && u > 0) this.count(4 * TALLY_LENGTH, 'down'); // CowClip's tally
      await this.first.update({ ids, counts, rows: firstRows, dim: 1 }, 0, this.update.first, t, mode);
      this.applied.rowsInBatch += u;
      tally?.forEach((v, k) => {
        this.applied.buckets[k] += v;
        if (k % 2 === 1) this.applied.rowsClipped += v;
      });
    } finally {
      tf.dispose([ids, counts, fieldRows, firstRows]);
    }
  }

  /** Writes the tables and their optimizer state back into the replica's host arrays. */
  async toHost(): Promise<void> {
    const { field, first, embed } = this.tables;
    for (const [gpu, table, opt] of [[this.field, field, embed.fieldOpt], [this.first, first, embed.firstOpt]] as const) {
      const [w, ...state] = await gpu.download();
      table.weights.set(w);
      state.forEach((s, k) => opt.state[k].data.set(s));
    }
  }

  dispose(): void {
    this.field.dispose();
    this.first.dispose();
  }

  private count(bytes: number, way: 'up' | 'down'): void {
    if (way === 'up') {
      this.transfer.uploads++;
      this.transfer.uploadBytes += bytes;
    } else {
      this.transfer.readbacks++;
      this.transfer.readbackBytes += bytes;
    }
  }
}

/**
 * The largest table (with its state) allowed on the GPU: what one storage buffer may hold on this device, or
 * less with DDP_GPU_TABLE_LIMIT_MB (to leave the GPU's memory to activations).
 */
function gpuBufferLimit(env: NodeJS.ProcessEnv = process.env): number {
  const { limits } = (tf.backend() as WebGPUBackend).device;
  const device = Math.min(limits.maxStorageBufferBindingSize, limits.maxBufferSize);
  const cap = env.DDP_GPU_TABLE_LIMIT_MB;
  if (cap === undefined || cap === '') return device;
  if (!(Number(cap) > 0)) throw new Error(`DDP_GPU_TABLE_LIMIT_MB=${cap}: expected a size in MiB > 0`);
  return Math.min(device, Number(cap) * 2 ** 20);
}

const mb = (bytes: number): string => (bytes < 2 ** 20 ? `${(bytes / 1024).toFixed(1)} KiB` : `${(bytes / 2 ** 20).toFixed(1)} MiB`);
