import * as tf from '@tensorflow/tfjs';
import type { DenseInputs } from './types.js';
import { WideDeep } from './wd.js';

/**
 * DeepFM: Wide & Deep (linear part + DNN on [emb, numeric]) plus the FM second-order interactions of the
 * field embeddings, which add no parameters of their own.
 */
export class DeepFM extends WideDeep {
  override readonly name: string = 'deepfm';

  override logits(params: tf.Tensor[], inputs: DenseInputs): tf.Tensor1D {
    const { numFields, embedDim } = this.config;
    const e = tf.reshape(inputs.emb, [-1, numFields, embedDim]);
    // FM: 0.5 * sum_k [(sum_f e_fk)^2 - sum_f e_fk^2], the pairwise inner products in O(F*d).
    const sumSq = tf.square(tf.sum(e, 1));
    const sqSum = tf.sum(tf.square(e), 1);
    const fm = tf.mul(0.5, tf.sum(tf.sub(sumSq, sqSum), 1));
    return tf.add(super.logits(params, inputs), fm) as tf.Tensor1D;
  }
}
