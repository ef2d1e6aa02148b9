import * as tf from '@tensorflow/tfjs';
import {
  type Affine,
  type LinearPart,
  type ParallelHead,
  ParamList,
  addAffine,
  addLinearPart,
  addParallelHead,
  applyAffine,
  applyLinearPart,
  applyParallelHead,
  denseInput,
  inputWidth,
} from './layers.js';
import type { CtrModel, DenseInputs, ModelConfig, ParamSpec } from './types.js';

/**
 * DCN: crossLayers vector cross layers x_{l+1} = x0 * (x_l . w_l) + b_l + x_l on x0 = [emb, numeric],
 * in parallel with a DNN, both concatenated into one final linear layer; plus the linear part.
 */
export class DCN implements CtrModel {
  readonly name = 'dcn';
  readonly params: ParamSpec[];
  readonly numDense: number;
  private readonly linear: LinearPart;
  private readonly cross: Affine[] = [];
  /** b_l is a [width] vector, unlike the bias slot of an Affine (which would be [1] here). */
  private readonly crossBias: number[] = [];
  private readonly head: ParallelHead;

  constructor(readonly config: ModelConfig) {
    const p = new ParamList();
    this.linear = addLinearPart(p, config);
    const width = inputWidth(config);
    for (let l = 0; l < config.crossLayers; l++) {
      this.cross.push(addAffine(p, `cross.${l}`, width, 1, false));
      this.crossBias.push(p.add(`cross.${l}.b`, [width], 'zeros'));
    }
    this.head = addParallelHead(p, config);
    this.params = p.specs;
    this.numDense = p.size;
  }

  logits(params: tf.Tensor[], inputs: DenseInputs): tf.Tensor1D {
    const x0 = denseInput(inputs, this.config);
    let x = x0;
    this.cross.forEach((layer, l) => {
      const xw = applyAffine(params, layer, x); // [B, 1]
      x = tf.add(tf.add(tf.mul(x0, xw), params[this.crossBias[l]]), x);
    });
    return tf.add(applyLinearPart(params, this.linear, inputs), applyParallelHead(params, this.head, x0, x)) as tf.Tensor1D;
  }
}
