import * as tf from '@tensorflow/tfjs';
import { CrossFamilyModel, type CrossNet } from './cross-family.js';
import { type Affine, addAffine, applyAffine } from './layers.js';
import type { ModelConfig } from './types.js';

/** One vector cross layer: w_l [width, 1] and b_l, a [width] vector (an Affine's bias slot would be [1]). */
interface CrossLayer {
  w: Affine;
  bias: number;
}

/** x_{l+1} = x0 * (x_l . w_l) + b_l + x_l, crossLayers times. */
const VECTOR_CROSS: CrossNet<CrossLayer[]> = {
  build(p, width, config) {
    const layers: CrossLayer[] = [];
    for (let l = 0; l < config.crossLayers; l++) {
      layers.push({ w: addAffine(p, `cross.${l}`, width, 1, false), bias: p.add(`cross.${l}.b`, [width], 'zeros') });
    }
    return layers;
  },
  apply(params, layers, x0) {
    let x = x0;
    for (const layer of layers) {
      const xw = applyAffine(params, layer.w, x); // [B, 1]
      x = tf.add(tf.add(tf.mul(x0, xw), params[layer.bias]), x);
    }
    return x;
  },
};

/** DCN: vector cross layers in parallel with a DNN, plus the linear part. */
export class DCN extends CrossFamilyModel<CrossLayer[]> {
  constructor(config: ModelConfig) {
    super('dcn', config, VECTOR_CROSS);
  }
}
