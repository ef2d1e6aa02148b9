/**
 * The tfjs part of a training step: forward pass and gradients of the dense part with respect to the
 * dense parameters and the gathered embedding inputs. Everything runs inside tf.tidy, so no tensor outlives a
 * call.
 *
 * How the step's tensors cross between the host and the tensor backend is its transfer mode:
 * - `direct`: one tensor per parameter and input, gradients read one tensor at a time (dataSync). On the CPU
 *   backends (wasm, cpu) these "transfers" are memory copies, and packing would only add copies.
 * - `packed`: one upload and one readback per call. The dense weights and the batch are laid out in one host
 *   staging buffer that the batch is filled in place (allocBatch), uploaded as one tensor and sliced on the
 *   device; the loss and every gradient are concatenated on the device and read back as one buffer with an
 *   awaited read (webgpu cannot read synchronously in Node). On a GPU each transfer is a buffer mapping
 *   (~2 GB/s round trip through WebGPU, ../shared/GPU.md), so their number and size are what count.
 * The gradients come out the same either way (a test compares the modes bit for bit on cpu).
 */
import * as tf from '@tensorflow/tfjs';
import type { EncodedData } from '../data/types.js';
import { type BatchArrays, type HostBatch, allocBatch, fillBatch } from './batch.js';
import type { EmbeddingTable } from './embedding.js';
import type { CtrModel, DenseInputs } from './types.js';

export interface StepOutput {
  /** Sum of BCE over the batch, not divided by the denominator. */
  lossSum: number;
  /** [numDense], d(lossSum / denominator) / d params. */
  gradDense: Float32Array;
  /**
   * [B * F * (d + 1)], one row per (sample, field): the gradient w.r.t. its gathered field embedding (d values),
   * then w.r.t. its first-order weight (same scaling). Laid out as the per-ID merge and the wire take them
   * (src/sparse/packed.ts), by a concat on the backend, so the host copies nothing to pack them.
   */
  gradRows: Float32Array;
}

export type TransferMode = 'direct' | 'packed';

/** A batch's embedding inputs already on the tensor backend (looked up from tables kept there). */
export interface DeviceInputs {
  /** [B, F * d] field embeddings. */
  emb: tf.Tensor2D;
  /** [B, F] first-order weights. */
  linear: tf.Tensor2D;
}

/** computeOnDevice's result: as StepOutput, with the gradient rows left on the backend. */
export interface DeviceStepOutput {
  lossSum: number;
  gradDense: Float32Array;
  /** [B * F * (d + 1)], StepOutput.gradRows's layout; the caller disposes it. */
  gradRows: tf.Tensor1D;
}

export interface StepOptions {
  transfer: TransferMode;
  /**
   * Waits until the device has run everything queued (webgpu: submit and onSubmittedWorkDone), so that the
   * time until then is counted as device time and the read back that follows as readback only.
   */
  waitDevice?: () => Promise<void>;
}

/** Host <-> backend traffic and where the time of compute()/predict() went, summed over calls. */
export interface TransferStats {
  calls: number;
  uploads: number;
  readbacks: number;
  uploadBytes: number;
  readbackBytes: number;
  /** ms copying weights (and a batch not filled in place) into the staging buffer. */
  packMs: number;
  /** ms building and queueing the tfjs graph (uploads are queued here; direct mode: the whole call). */
  dispatchMs: number;
  /** ms waiting for the device to finish the queued copies and kernels (packed mode with waitDevice). */
  deviceMs: number;
  /** ms reading the results back (packed mode). */
  readbackMs: number;
}

export function emptyTransferStats(): TransferStats {
  return { calls: 0, uploads: 0, readbacks: 0, uploadBytes: 0, readbackBytes: 0, packMs: 0, dispatchMs: 0, deviceMs: 0, readbackMs: 0 };
}

/** One line per call on average: transfers, megabytes and the compute split, e.g. for the debug log. */
export function describeTransfer(s: TransferStats): string {
  const n = Math.max(1, s.calls);
  const mb = (b: number): string => (b / n / 1e6).toFixed(2);
  const ms = (x: number): string => (x / n).toFixed(1);
  return (
    `per step ${(s.uploads / n).toFixed(0)} upload(s) ${mb(s.uploadBytes)} MB, ${(s.readbacks / n).toFixed(0)} readback(s) ${mb(s.readbackBytes)} MB; ` +
    `compute ms: pack ${ms(s.packMs)}, dispatch ${ms(s.dispatchMs)}, device ${ms(s.deviceMs)}, readback ${ms(s.readbackMs)}`
  );
}

let defaults: StepOptions = { transfer: 'direct' };

/** Sets the transfer mode new GradientComputers use (the backend selection does, once per process). */
export function setStepDefaults(opts: StepOptions): void {
  defaults = opts;
}

/** Sum over the batch of binary cross-entropy on logits: softplus(z) - y*z is stable for any z. */
function bceSum(logits: tf.Tensor1D, labels: tf.Tensor1D): tf.Scalar {
  return tf.sum(tf.sub(tf.softplus(logits), tf.mul(labels, logits)));
}

const flat = (x: tf.Tensor): tf.Tensor1D => tf.reshape(x, [-1]);

export class GradientComputer {
  readonly transfer: TransferMode;
  readonly stats: TransferStats = emptyTransferStats();
  private readonly waitDevice?: () => Promise<void>;
  /** Direct mode: reused by every compute(); the returned arrays are views valid until the next call. */
  private readonly gradDense: Float32Array;
  private readonly gradRows: Float32Array;
  /**
   * Packed mode: [dense weights | numeric | labels | emb | linear], sections sized for maxBatch. The gathered
   * embeddings come last so that a step whose embeddings are already on the device uploads the prefix only.
   */
  private readonly staging: Float32Array;
  private readonly at: { emb: number; linear: number; numeric: number; labels: number };

  constructor(
    readonly model: CtrModel,
    readonly maxBatch: number,
    opts: StepOptions = defaults,
  ) {
    const { numFields: F, embedDim: d, numNumeric: nn } = model.config;
    this.transfer = opts.transfer;
    this.waitDevice = opts.waitDevice;
    const packed = this.transfer === 'packed';
    this.gradDense = new Float32Array(packed ? 0 : model.numDense);
    this.gradRows = new Float32Array(packed ? 0 : maxBatch * F * (d + 1));
    const numeric = model.numDense;
    const labels = numeric + maxBatch * nn;
    const emb = labels + maxBatch;
    const linear = emb + maxBatch * F * d;
    this.at = { emb, linear, numeric, labels };
    this.staging = new Float32Array(packed ? linear + maxBatch * F : 0);
  }

  /**
   * A batch buffer for this computer. In packed mode its arrays are the staging buffer's sections, so
   * filling the batch is packing it: nothing is copied again before the upload.
   */
  allocBatch(): HostBatch {
    if (this.transfer === 'direct') return allocBatch(this.maxBatch, this.model.config);
    const { numFields: F, embedDim: d, numNumeric: nn } = this.model.config;
    const cap = this.maxBatch;
    const s = this.staging;
    const { emb, linear, numeric, labels } = this.at;
    return {
      capacity: cap,
      size: 0,
      ids: new Int32Array(cap * F),
      emb: s.subarray(emb, emb + cap * F * d),
      linear: s.subarray(linear, linear + cap * F),
      numeric: s.subarray(numeric, numeric + cap * nn),
      labels: s.subarray(labels, labels + cap),
    };
  }

  /**
   * Loss and gradients of sum(BCE) / denominator for one batch. denominator is the GLOBAL batch size,
   * so gradients summed over ranks equal the gradient of the global mean loss. The returned arrays are
   * valid until the next call.
   */
  async compute(dense: Float32Array, batch: BatchArrays, denominator: number): Promise<StepOutput> {
    const B = this.checkBatch(dense, batch);
    if (!(denominator > 0)) throw new RangeError(`compute: denominator must be > 0, got ${denominator}`);
    const { model } = this;
    const numParams = model.params.length;
    const lossOf =
      (inputs: DenseInputs, labels: tf.Tensor1D) =>
      (...xs: tf.Tensor[]): tf.Scalar =>
        bceSum(model.logits(xs.slice(0, numParams), { emb: xs[numParams] as tf.Tensor2D, linear: xs[numParams + 1] as tf.Tensor2D, numeric: inputs.numeric }), labels);
    // dy = 1/denominator scales every gradient while the value stays the unscaled sum.
    const dy = (): tf.Scalar => tf.scalar(1 / denominator);
    const { numFields: F, embedDim: d } = model.config;
    // [B, F * d] and [B, F] gradients side by side as one [B * F, d + 1] block: the packed rows.
    const rowsOf = (gEmb: tf.Tensor, gLinear: tf.Tensor): tf.Tensor => tf.concat([tf.reshape(gEmb, [B * F, d]), tf.reshape(gLinear, [B * F, 1])], 1);
    if (this.transfer === 'direct') {
      const t0 = performance.now();
      let lossSum = 0;
      tf.tidy(() => {
        const inputs = this.directInputs(batch, B);
        const labels = tf.tensor1d(batch.labels.subarray(0, B));
        const { value, grads } = tf.valueAndGrads(lossOf(inputs, labels))([...this.paramTensors(dense), inputs.emb, inputs.linear], dy());
        lossSum = value.dataSync()[0];
        model.params.forEach((spec, i) => this.gradDense.set(grads[i].dataSync(), spec.offset));
        this.gradRows.set(rowsOf(grads[numParams], grads[numParams + 1]).dataSync());
      });
      this.countDirect(B, 1 + numParams + 1, 4 * (1 + model.numDense + this.rowWidth(B, false)), performance.now() - t0);
      return { lossSum, gradDense: this.gradDense, gradRows: this.gradRows.subarray(0, B * F * (d + 1)) };
    }
    const host = await this.runPacked(dense, batch, B, (params, inputs, labels) => {
      const { value, grads } = tf.valueAndGrads(lossOf(inputs, labels))([...params, inputs.emb, inputs.linear], dy());
      // Parameters in ParamSpec order flatten to the flat dense vector's layout: [loss | dense | rows].
      return tf.concat([flat(value), ...grads.slice(0, numParams).map(flat), flat(rowsOf(grads[numParams], grads[numParams + 1]))]);
    });
    const nd = model.numDense;
    return { lossSum: host[0], gradDense: host.subarray(1, 1 + nd), gradRows: host.subarray(1 + nd, 1 + nd + B * F * (d + 1)) };
  }

  /**
   * compute() for a batch whose embedding inputs are already tensors on the backend (looked up there, packed
   * mode only): only the weights, numeric features and labels are uploaded, and the gradient rows stay on the
   * backend, as one [B * F * (d + 1)] tensor in gradRows' layout that the caller owns (and disposes).
   */
  async computeOnDevice(dense: Float32Array, batch: BatchArrays, denominator: number, device: DeviceInputs): Promise<DeviceStepOutput> {
    if (this.transfer !== 'packed') throw new Error('computeOnDevice: embeddings on the device need the packed transfer mode (the webgpu backend)');
    const B = this.checkBatch(dense, batch);
    if (!(denominator > 0)) throw new RangeError(`compute: denominator must be > 0, got ${denominator}`);
    const { model } = this;
    const { numFields: F, embedDim: d } = model.config;
    if (device.emb.shape[0] !== B || device.emb.shape[1] !== F * d || device.linear.shape[0] !== B || device.linear.shape[1] !== F) {
      throw new RangeError(`computeOnDevice: embedding inputs [${device.emb.shape}] and [${device.linear.shape}] for a batch of ${B} x ${F} fields x ${d}`);
    }
    const numParams = model.params.length;
    let rows: tf.Tensor1D | null = null;
    const host = await this.runPacked(
      dense,
      batch,
      B,
      (params, inputs, labels) => {
        const loss = (...xs: tf.Tensor[]): tf.Scalar => bceSum(model.logits(xs.slice(0, numParams), { emb: xs[numParams] as tf.Tensor2D, linear: xs[numParams + 1] as tf.Tensor2D, numeric: inputs.numeric }), labels);
        const { value, grads } = tf.valueAndGrads(loss)([...params, inputs.emb, inputs.linear], tf.scalar(1 / denominator));
        rows = tf.keep(flat(tf.concat([tf.reshape(grads[numParams], [B * F, d]), tf.reshape(grads[numParams + 1], [B * F, 1])], 1)));
        return tf.concat([flat(value), ...grads.slice(0, numParams).map(flat)]);
      },
      device,
    );
    return { lossSum: host[0], gradDense: host.subarray(1, 1 + model.numDense), gradRows: rows! };
  }

  /** Logits, or probabilities, of one batch (labels unused) into out[0 .. batch.size). */
  async predict(dense: Float32Array, batch: BatchArrays, out: Float32Array, probabilities = true): Promise<void> {
    const B = this.checkBatch(dense, batch);
    if (out.length < B) throw new RangeError(`predict: out holds ${out.length} < ${B} values`);
    const head = (logits: tf.Tensor1D): tf.Tensor1D => (probabilities ? tf.sigmoid(logits) : logits);
    if (this.transfer === 'direct') {
      const t0 = performance.now();
      tf.tidy(() => out.set(head(this.model.logits(this.paramTensors(dense), this.directInputs(batch, B))).dataSync()));
      this.countDirect(B, 1, 4 * B, performance.now() - t0);
      return;
    }
    out.set(await this.runPacked(dense, batch, B, (params, inputs) => head(this.model.logits(params, inputs))));
  }

  /** Predictions for every row of data, gathered and evaluated in chunks of maxBatch; out [data.rows]. */
  async predictData(
    dense: Float32Array,
    field: EmbeddingTable,
    first: EmbeddingTable,
    data: EncodedData,
    out: Float32Array,
    probabilities = true,
  ): Promise<void> {
    if (out.length < data.rows) throw new RangeError(`predictData: out holds ${out.length} < ${data.rows} values`);
    const batch = this.allocBatch();
    for (let start = 0; start < data.rows; start += this.maxBatch) {
      const count = Math.min(this.maxBatch, data.rows - start);
      fillBatch(batch, data, start, count, field, first);
      await this.predict(dense, batch, out.subarray(start, start + count), probabilities);
    }
  }

  /**
   * Packed mode: stage, upload once, run `graph` on slices of the upload, read its one output back.
   * The staging buffer is uploaded whole (a short batch's unused rows ride along: only an epoch's last batch).
   */
  private async runPacked(
    dense: Float32Array,
    batch: BatchArrays,
    B: number,
    graph: (params: tf.Tensor[], inputs: DenseInputs, labels: tf.Tensor1D) => tf.Tensor,
    device?: DeviceInputs,
  ): Promise<Float32Array> {
    const t0 = performance.now();
    this.stage(dense, batch, B, !device);
    const t1 = performance.now();
    const { numFields: F, embedDim: d, numNumeric: nn } = this.model.config;
    const upload = device ? this.staging.subarray(0, this.at.emb) : this.staging;
    const out = tf.tidy(() => {
      const all = tf.tensor1d(upload);
      const part = (offset: number, size: number, shape: number[]): tf.Tensor => tf.reshape(tf.slice(all, [offset], [size]), shape);
      const params = this.model.params.map((s) => part(s.offset, s.size, s.shape));
      const inputs: DenseInputs = {
        emb: device?.emb ?? (part(this.at.emb, B * F * d, [B, F * d]) as tf.Tensor2D),
        linear: device?.linear ?? (part(this.at.linear, B * F, [B, F]) as tf.Tensor2D),
        numeric: part(this.at.numeric, B * nn, [B, nn]) as tf.Tensor2D,
      };
      return graph(params, inputs, part(this.at.labels, B, [B]) as tf.Tensor1D);
    });
    const t2 = performance.now();
    try {
      await this.waitDevice?.();
      const t3 = performance.now();
      const host = (await out.data()) as Float32Array;
      const s = this.stats;
      s.calls++;
      s.uploads++;
      s.readbacks++;
      s.uploadBytes += upload.byteLength;
      s.readbackBytes += host.byteLength;
      s.packMs += t1 - t0;
      s.dispatchMs += t2 - t1;
      s.deviceMs += t3 - t2;
      s.readbackMs += performance.now() - t3;
      return host;
    } finally {
      out.dispose();
    }
  }

  /** Copies the weights, and the batch unless it was filled in place, into the staging buffer (the embeddings only if `embeddings`). */
  private stage(dense: Float32Array, batch: BatchArrays, B: number, embeddings: boolean): void {
    const { numFields: F, embedDim: d, numNumeric: nn } = this.model.config;
    const s = this.staging;
    s.set(dense, 0);
    const put = (src: Float32Array, at: number, n: number): void => {
      if (src.buffer !== s.buffer || src.byteOffset !== at * 4) s.set(src.subarray(0, n), at);
    };
    if (embeddings) {
      put(batch.emb, this.at.emb, B * F * d);
      put(batch.linear, this.at.linear, B * F);
    }
    put(batch.numeric, this.at.numeric, B * nn);
    put(batch.labels, this.at.labels, B);
  }

  /** Values per batch of B rows: embeddings and first-order weights, plus numeric features and labels if `inputs`. */
  private rowWidth(B: number, inputs: boolean): number {
    const { numFields: F, embedDim: d, numNumeric: nn } = this.model.config;
    return B * (F * d + F + (inputs ? nn + 1 : 0));
  }

  private countDirect(B: number, readbacks: number, readbackBytes: number, ms: number): void {
    const s = this.stats;
    s.calls++;
    s.uploads += this.model.params.length + 4;
    s.uploadBytes += 4 * (this.model.numDense + this.rowWidth(B, true));
    s.readbacks += readbacks;
    s.readbackBytes += readbackBytes;
    s.dispatchMs += ms;
  }

  private checkBatch(dense: Float32Array, batch: BatchArrays): number {
    const B = batch.size;
    const { numFields: F, embedDim: d, numNumeric: nn } = this.model.config;
    if (dense.length !== this.model.numDense) throw new RangeError(`dense vector has ${dense.length} values, model needs ${this.model.numDense}`);
    if (!Number.isInteger(B) || B < 1 || B > this.maxBatch) throw new RangeError(`batch size ${B} outside [1, ${this.maxBatch}]`);
    if (batch.emb.length < B * F * d || batch.linear.length < B * F || batch.numeric.length < B * nn || batch.labels.length < B) {
      throw new RangeError(`batch arrays too short for ${B} samples of ${F} fields x ${d}, ${nn} numeric`);
    }
    return B;
  }

  /** One tensor per ParamSpec over views of the flat vector (tfjs copies or wraps them; never mutates). */
  private paramTensors(dense: Float32Array): tf.Tensor[] {
    return this.model.params.map((s) => tf.tensor(dense.subarray(s.offset, s.offset + s.size), s.shape));
  }

  private directInputs(batch: BatchArrays, B: number): DenseInputs {
    const { numFields: F, embedDim: d, numNumeric: nn } = this.model.config;
    return {
      emb: tf.tensor2d(batch.emb.subarray(0, B * F * d), [B, F * d]),
      linear: tf.tensor2d(batch.linear.subarray(0, B * F), [B, F]),
      numeric: tf.tensor2d(batch.numeric.subarray(0, B * nn), [B, nn]),
    };
  }
}
