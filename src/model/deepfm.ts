import * as tf from '@tensorflow/tfjs';
import {
  type Affine,
  type LinearPart,
  ParamList,
  addAffine,
  addLinearPart,
  addMlp,
  applyAffine,
  applyLinearPart,
  applyMlp,
  denseInput,
  inputWidth,
} from './layers.js';
import type { CtrModel, DenseInputs, ModelConfig, ParamSpec } from './types.js';

/** DeepFM: linear part + FM second-order interactions of the field embeddings + DNN on [emb, numeric]. */
export class DeepFM implements CtrModel {
  readonly name = 'deepfm';
  readonly params: ParamSpec[];
  readonly numDense: number;
  private readonly linear: LinearPart;
  private readonly dnn: Affine[];
  private readonly out: Affine;

  constructor(readonly config: ModelConfig) {
    const p = new ParamList();
    this.linear = addLinearPart(p, config);
    const { layers, outDim } = addMlp(p, 'dnn', inputWidth(config), config.mlp);
    this.dnn = layers;
    // No bias: the linear part carries the global bias.
    this.out = addAffine(p, 'dnn.out', outDim, 1, false);
    this.params = p.specs;
    this.numDense = p.size;
  }

  logits(params: tf.Tensor[], inputs: DenseInputs): tf.Tensor1D {
    const { numFields, embedDim } = this.config;
    const e = tf.reshape(inputs.emb, [-1, numFields, embedDim]);
    // FM: 0.5 * sum_k [(sum_f e_fk)^2 - sum_f e_fk^2], the pairwise inner products in O(F*d).
    const sumSq = tf.square(tf.sum(e, 1));
    const sqSum = tf.sum(tf.square(e), 1);
    const fm = tf.mul(0.5, tf.sum(tf.sub(sumSq, sqSum), 1));
    const deep = tf.reshape(applyAffine(params, this.out, applyMlp(params, this.dnn, denseInput(inputs, this.config))), [-1]);
    return tf.add(tf.add(applyLinearPart(params, this.linear, inputs), fm), deep) as tf.Tensor1D;
  }
}
