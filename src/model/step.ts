/**
 * The tfjs part of a training step: forward pass and gradients of the dense part with respect to the
 * dense parameters and the gathered embedding inputs, copied out into preallocated Float32Arrays.
 * Everything runs inside tf.tidy, so no tensor outlives a call.
 */
import * as tf from '@tensorflow/tfjs';
import type { EncodedData } from '../data/types.js';
import { type BatchArrays, allocBatch, fillBatch } from './batch.js';
import type { EmbeddingTable } from './embedding.js';
import type { CtrModel, DenseInputs } from './types.js';

export interface StepOutput {
  /** Sum of BCE over the batch, not divided by the denominator. */
  lossSum: number;
  /** [numDense], d(lossSum / denominator) / d params. */
  gradDense: Float32Array;
  /** [B * F * d], gradient w.r.t. the gathered field embeddings (same scaling), one row per (sample, field). */
  gradEmb: Float32Array;
  /** [B * F], gradient w.r.t. the gathered first-order weights (same scaling). */
  gradLinear: Float32Array;
}

/** Sum over the batch of binary cross-entropy on logits: softplus(z) - y*z is stable for any z. */
function bceSum(logits: tf.Tensor1D, labels: tf.Tensor1D): tf.Scalar {
  return tf.sum(tf.sub(tf.softplus(logits), tf.mul(labels, logits)));
}

export class GradientComputer {
  /** Reused by every compute(): the returned arrays are views valid until the next call. */
  private readonly gradDense: Float32Array;
  private readonly gradEmb: Float32Array;
  private readonly gradLinear: Float32Array;

  constructor(
    readonly model: CtrModel,
    readonly maxBatch: number,
  ) {
    const { numFields, embedDim } = model.config;
    this.gradDense = new Float32Array(model.numDense);
    this.gradEmb = new Float32Array(maxBatch * numFields * embedDim);
    this.gradLinear = new Float32Array(maxBatch * numFields);
  }

  /**
   * Loss and gradients of sum(BCE) / denominator for one batch. denominator is the GLOBAL batch size,
   * so gradients summed over ranks equal the gradient of the global mean loss.
   */
  compute(dense: Float32Array, batch: BatchArrays, denominator: number): StepOutput {
    const B = this.checkBatch(dense, batch);
    if (!(denominator > 0)) throw new RangeError(`compute: denominator must be > 0, got ${denominator}`);
    const { model } = this;
    const { numFields: F, embedDim: d } = model.config;
    const numParams = model.params.length;
    let lossSum = 0;
    tf.tidy(() => {
      const inputs = this.inputs(batch, B);
      const labels = tf.tensor1d(batch.labels.subarray(0, B));
      const loss = (...xs: tf.Tensor[]): tf.Scalar =>
        bceSum(
          model.logits(xs.slice(0, numParams), { emb: xs[numParams] as tf.Tensor2D, linear: xs[numParams + 1] as tf.Tensor2D, numeric: inputs.numeric }),
          labels,
        );
      // dy = 1/denominator scales every gradient while the value stays the unscaled sum.
      const { value, grads } = tf.valueAndGrads(loss)([...this.paramTensors(dense), inputs.emb, inputs.linear], tf.scalar(1 / denominator));
      lossSum = value.dataSync()[0];
      model.params.forEach((spec, i) => this.gradDense.set(grads[i].dataSync(), spec.offset));
      this.gradEmb.set(grads[numParams].dataSync());
      this.gradLinear.set(grads[numParams + 1].dataSync());
    });
    return {
      lossSum,
      gradDense: this.gradDense,
      gradEmb: this.gradEmb.subarray(0, B * F * d),
      gradLinear: this.gradLinear.subarray(0, B * F),
    };
  }

  /** Logits, or probabilities, of one batch (labels unused) into out[0 .. batch.size). */
  predict(dense: Float32Array, batch: BatchArrays, out: Float32Array, probabilities = true): void {
    const B = this.checkBatch(dense, batch);
    if (out.length < B) throw new RangeError(`predict: out holds ${out.length} < ${B} values`);
    tf.tidy(() => {
      const logits = this.model.logits(this.paramTensors(dense), this.inputs(batch, B));
      out.set((probabilities ? tf.sigmoid(logits) : logits).dataSync());
    });
  }

  /** Predictions for every row of data, gathered and evaluated in chunks of maxBatch; out [data.rows]. */
  predictData(
    dense: Float32Array,
    field: EmbeddingTable,
    first: EmbeddingTable,
    data: EncodedData,
    out: Float32Array,
    probabilities = true,
  ): void {
    if (out.length < data.rows) throw new RangeError(`predictData: out holds ${out.length} < ${data.rows} values`);
    const batch = allocBatch(this.maxBatch, this.model.config);
    for (let start = 0; start < data.rows; start += this.maxBatch) {
      const count = Math.min(this.maxBatch, data.rows - start);
      fillBatch(batch, data, start, count, field, first);
      this.predict(dense, batch, out.subarray(start, start + count), probabilities);
    }
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

  private inputs(batch: BatchArrays, B: number): DenseInputs {
    const { numFields: F, embedDim: d, numNumeric: nn } = this.model.config;
    return {
      emb: tf.tensor2d(batch.emb.subarray(0, B * F * d), [B, F * d]),
      linear: tf.tensor2d(batch.linear.subarray(0, B * F), [B, F]),
      numeric: tf.tensor2d(batch.numeric.subarray(0, B * nn), [B, nn]),
    };
  }
}
