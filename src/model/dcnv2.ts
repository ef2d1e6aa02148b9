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

/**
 * DCN-v2 with a mixture of low-rank experts (Wang et al. 2021, eq. for "DCN-Mix"):
 *   E_i(x_l) = x0 * (U_i tanh(C_i tanh(V_i^T x_l)) + b_l),  x_{l+1} = sum_i softmax(G x_l)_i E_i(x_l) + x_l
 * on x0 = [emb, numeric], in parallel with a DNN, concatenated into one final linear layer; plus the
 * linear part. Layer-specific gates (the paper's G_i per layer).
 */
export class DCNv2 implements CtrModel {
  readonly name = 'dcnv2';
  readonly params: ParamSpec[];
  readonly numDense: number;
  private readonly linear: LinearPart;
  private readonly layers: MixLayer[] = [];
  private readonly head: ParallelHead;

  constructor(readonly config: ModelConfig) {
    const p = new ParamList();
    this.linear = addLinearPart(p, config);
    const width = inputWidth(config);
    const r = config.lowRank;
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
      this.layers.push({ experts, gate, bias: p.add(`cross.${l}.b`, [width], 'zeros') });
    }
    this.head = addParallelHead(p, config);
    this.params = p.specs;
    this.numDense = p.size;
  }

  logits(params: tf.Tensor[], inputs: DenseInputs): tf.Tensor1D {
    const x0 = denseInput(inputs, this.config);
    let x = x0;
    for (const layer of this.layers) {
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
    return tf.add(applyLinearPart(params, this.linear, inputs), applyParallelHead(params, this.head, x0, x)) as tf.Tensor1D;
  }
}
