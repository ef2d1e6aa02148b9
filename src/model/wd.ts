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

/** Wide & Deep: the wide (linear) part + a DNN on [emb, numeric]. */
export class WideDeep implements CtrModel {
  readonly name: string = 'wd';
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
    const deep = tf.reshape(applyAffine(params, this.out, applyMlp(params, this.dnn, denseInput(inputs, this.config))), [-1]);
    return tf.add(applyLinearPart(params, this.linear, inputs), deep) as tf.Tensor1D;
  }
}
