import * as tf from '@tensorflow/tfjs';
import { CrossFamilyModel, type CrossNet } from './cross-family.js';
import { type Affine, addAffine, applyAffine } from './layers.js';
import type { ModelConfig } from './types.js';
/** One low-rank expert of one cross layer: x -> U tanh(C tanh(V^T x)). */
interface Expert {
  v: Affine; // [width, rank]
  c: Affine; // [rank, rank]
  u: Affine; // [rank, width]
}

interface MixLayer {
  experts: Expert[];
  /** Gating G(x_l): [width, experts], no bias; softmax over experts. */
  gate: Affine;
  /** b_l [width], shared by the layer's experts. */
  bias: number;
}

/** The mixture-of-low-rank-experts cross layers, crossLayers times. */
const MIXED_CROSS: CrossNet<MixLayer[]> = {
  build(p, width, config) {
    const r = config.lowRank;
    const layers: MixLayer[] = [];
    for (let l = 0; l < config.crossLayers; l++) {
      const experts: Expert[] = [];
      for (let e = 0; e < config.experts; e++) {
        const name = `cross.${l}.expert.${e}`;
        experts.push({
          v: addAffine(p, `${name}.V`, width, r, false),
          c: addAffine(p, `${name}.C`, r, r, false),
          u: addAffine(p, `${name}.U`, r, width, false),
        });
      }
      const gate = addAffine(p, `cross.${l}.gate`, width, config.experts, false);
      layers.push({ experts, gate, bias: p.add(`cross.${l}.b`, [width], 'zeros') });
    }
    return layers;
  },
  apply(params, layers, x0) {
    let x = x0;
    for (const layer of layers) {
      const gates = tf.split(tf.softmax(applyAffine(params, layer.gate, x)), layer.experts.length, 1); // each [B, 1]
      const bias = params[layer.bias];
      const terms = layer.experts.map((ex, i) => {
        const low = tf.tanh(applyAffine(params, ex.c, tf.tanh(applyAffine(params, ex.v, x))));
        const expertOut = tf.mul(x0, tf.add(applyAffine(params, ex.u, low), bias));
        return tf.mul(gates[i], expertOut) as tf.Tensor2D;
      });
      terms.push(x); // the residual
      x = tf.addN(terms);
    }
    return x;
  },
};

/**
 * DCN-v2 with a mixture of low-rank experts (Wang et al. 2021, eq. for "DCN-Mix"):
 *   E_i(x_l) = x0 * (U_i tanh(C_i tanh(V_i^T x_l)) + b_l),  x_{l+1} = sum_i softmax(G x_l)_i E_i(x_l) + x_l
 * on x0 = [emb, numeric], in parallel with a DNN, concatenated into one final linear layer; plus the
 * linear part. Layer-specific gates (the paper's G_i per layer).
 */
export class DCNv2 extends CrossFamilyModel<MixLayer[]> {
  constructor(config: ModelConfig) {
    super('dcnv2', config, MIXED_CROSS);
  }
}
