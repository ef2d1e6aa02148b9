import * as tf from '@tensorflow/tfjs';
import {
  type LinearPart,
  type ParallelHead,
  ParamList,
  addLinearPart,
  addParallelHead,
  applyLinearPart,
  applyParallelHead,
  denseInput,
  inputWidth,
} from './layers.js';
import type { CtrModel, DenseInputs, ModelConfig, ParamSpec } from './types.js';

/** A cross network: its parameters' layout (returned by build) and its forward pass from x0 = [emb, numeric]. */
export interface CrossNet<L> {
  build(p: ParamList, width: number, config: ModelConfig): L;
  apply(params: tf.Tensor[], layers: L, x0: tf.Tensor2D): tf.Tensor2D;
}

/**
 * The DCN family's skeleton: linear part + a cross network on x0 = [emb, numeric], in parallel with a DNN,
 * both concatenated into one final linear layer. Only the cross network differs between DCN and DCN-v2.
 */
export class CrossFamilyModel<L> implements CtrModel {
  readonly params: ParamSpec[];
  readonly numDense: number;
  private readonly linear: LinearPart;
  private readonly layers: L;
  private readonly head: ParallelHead;

  constructor(
    readonly name: string,
    readonly config: ModelConfig,
    private readonly net: CrossNet<L>,
  ) {
    const p = new ParamList();
    this.linear = addLinearPart(p, config);
    this.layers = net.build(p, inputWidth(config), config);
    this.head = addParallelHead(p, config);
    this.params = p.specs;
    this.numDense = p.size;
  }

  logits(params: tf.Tensor[], inputs: DenseInputs): tf.Tensor1D {
    const x0 = denseInput(inputs, this.config);
    const x = this.net.apply(params, this.layers, x0);
    return tf.add(applyLinearPart(params, this.linear, inputs), applyParallelHead(params, this.head, x0, x)) as tf.Tensor1D;
  }
}
