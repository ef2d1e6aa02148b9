/**
 * Building blocks shared by the CTR models: a parameter list laid out in one flat vector, an affine
 * layer with a wasm-friendly gradient, MLPs, the first-order "linear part" and the parallel head of the
 * DCN family, and initialisation of the flat vector.
 */
import * as tf from '@tensorflow/tfjs';
import type { Rng } from '../util/rng.js';
import type { CtrModel, DenseInputs, ModelConfig, ParamSpec } from './types.js';

/** Collects ParamSpecs with consecutive offsets into the flat dense vector. */
export class ParamList {
  readonly specs: ParamSpec[] = [];
  size = 0;

  /** Appends a parameter; returns its index in specs (= its position in the logits() params array). */
  add(name: string, shape: number[], init: ParamSpec['init']): number {
    const size = shape.reduce((a, b) => a * b, 1);
    this.specs.push({ name, shape, offset: this.size, size, init });
    this.size += size;
    return this.specs.length - 1;
  }
}

/** Indices of an affine layer's parameters; bias -1 when the layer has none. */
export interface Affine {
  w: number;
  b: number;
}

export function addAffine(p: ParamList, name: string, inDim: number, outDim: number, bias = true, init: ParamSpec['init'] = 'glorot'): Affine {
  const w = p.add(`${name}.w`, [inDim, outDim], init);
  const b = bias ? p.add(`${name}.b`, [outDim], 'zeros') : -1;
  return { w, b };
}

/**
 * x @ w (+ b), optionally ReLU, with a hand-written gradient. tfjs differentiates matMul into matMuls
 * with transposeA/transposeB, which the wasm backend runs ~10x slower than a plain matMul of an
 * explicitly transposed operand (measured: 164 ms vs 16 ms at [1024x400]x[400x400]); cpu is unaffected
 * either way.
 */
function affineOp(relu: boolean, withBias: boolean): (x: tf.Tensor2D, w: tf.Tensor2D, b?: tf.Tensor1D) => tf.Tensor2D {
  const activation = relu ? 'relu' : 'linear';
  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const x = args[0] as tf.Tensor2D;
    const w = args[1] as tf.Tensor2D;
    const bias = withBias ? (args[2] as tf.Tensor1D) : undefined;
    const save = args[args.length - 1] as tf.GradSaveFunc;
    const y = tf.fused.matMul({ a: x, b: w, bias, activation });
    save([x, w, y]);
    return {
      value: y,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [sx, sw, sy] = saved;
        const dz = relu ? tf.mul(dy, tf.step(sy)) : dy;
        const dx = tf.matMul(dz as tf.Tensor2D, tf.transpose(sw as tf.Tensor2D));
        const dw = tf.matMul(tf.transpose(sx as tf.Tensor2D), dz as tf.Tensor2D);
        if (!withBias) return [dx, dw];
        // ones[1, B] @ dz: a column sum as a matMul is ~10x faster on wasm than tf.sum(dz, 0).
        const db = tf.reshape(tf.matMul(tf.ones([1, dz.shape[0]]), dz as tf.Tensor2D), [-1]);
        return [dx, dw, db];
      },
    };
  });
  return (x, w, b) => (withBias ? op(x, w, b as tf.Tensor1D) : op(x, w)) as tf.Tensor2D;
}

const affineOps = {
  linear: affineOp(false, false),
  linearBias: affineOp(false, true),
  reluBias: affineOp(true, true),
};

/** Applies an affine layer; ReLU requires a bias (every hidden layer has one). */
export function applyAffine(params: tf.Tensor[], layer: Affine, x: tf.Tensor2D, relu = false): tf.Tensor2D {
  const w = params[layer.w] as tf.Tensor2D;
  if (layer.b < 0) {
    if (relu) throw new Error('applyAffine: ReLU layers need a bias');
    return affineOps.linear(x, w);
  }
  const b = params[layer.b] as tf.Tensor1D;
  return (relu ? affineOps.reluBias : affineOps.linearBias)(x, w, b);
}

/** ReLU MLP layers; returns the layers and the output width (inDim when there are no hidden layers). */
export function addMlp(p: ParamList, name: string, inDim: number, hidden: readonly number[]): { layers: Affine[]; outDim: number } {
  const layers: Affine[] = [];
  let width = inDim;
  hidden.forEach((h, i) => {
    layers.push(addAffine(p, `${name}.${i}`, width, h));
    width = h;
  });
  return { layers, outDim: width };
}

export function applyMlp(params: tf.Tensor[], layers: readonly Affine[], x: tf.Tensor2D): tf.Tensor2D {
  let h = x;
  for (const layer of layers) h = applyAffine(params, layer, h, true);
  return h;
}

/** Width of x0 = [flattened field embeddings, numeric features], the input of DNNs and cross networks. */
export function inputWidth(config: ModelConfig): number {
  return config.numFields * config.embedDim + config.numNumeric;
}

/** x0 = [emb, numeric] ([B, F*d + numNumeric]); Avazu-like data without numeric features gives emb alone. */
export function denseInput(inputs: DenseInputs, config: ModelConfig): tf.Tensor2D {
  return config.numNumeric > 0 ? tf.concat([inputs.emb, inputs.numeric], 1) : inputs.emb;
}

/** First-order part: sum of the first-order weights of the sample's IDs + linear on numeric + global bias. */
export interface LinearPart {
  numeric: Affine | null;
  bias: number;
}

export function addLinearPart(p: ParamList, config: ModelConfig): LinearPart {
  // Zeros like the first-order table: raw log1p features reach ~10, and Glorot weights on them would start
  // the model at logits of +-7 (predictions of 0 or 1) before any training.
  const numeric = config.numNumeric > 0 ? addAffine(p, 'linear.numeric', config.numNumeric, 1, false, 'zeros') : null;
  return { numeric, bias: p.add('linear.bias', [1], 'zeros') };
}

/** [B] logits of the linear part. */
export function applyLinearPart(params: tf.Tensor[], part: LinearPart, inputs: DenseInputs): tf.Tensor1D {
  let z: tf.Tensor = tf.sum(inputs.linear, 1);
  if (part.numeric !== null) z = tf.add(z, tf.reshape(applyAffine(params, part.numeric, inputs.numeric), [-1]));
  return tf.add(z, params[part.bias]) as tf.Tensor1D;
}

/** DNN in parallel with a cross network (DCN, DCN-v2): both outputs concatenated into one logit. */
export interface ParallelHead {
  dnn: Affine[];
  out: Affine;
}

export function addParallelHead(p: ParamList, config: ModelConfig): ParallelHead {
  const width = inputWidth(config);
  const { layers, outDim } = addMlp(p, 'dnn', width, config.mlp);
  return { dnn: layers, out: addAffine(p, 'head', width + outDim, 1, false) };
}

/** [B] logits of Dense(1)([crossOut, DNN(x0)]). */
export function applyParallelHead(params: tf.Tensor[], head: ParallelHead, x0: tf.Tensor2D, crossOut: tf.Tensor2D): tf.Tensor1D {
  const deep = applyMlp(params, head.dnn, x0);
  return tf.reshape(applyAffine(params, head.out, tf.concat([crossOut, deep], 1)), [-1]);
}

/**
 * A fresh flat dense vector: Glorot-uniform for weight matrices (fans from the last two dims; a vector
 * [n] counts as [n, 1]), zeros or ones otherwise.
 */
export function initDense(model: CtrModel, rng: Rng): Float32Array {
  const out = new Float32Array(model.numDense);
  for (const spec of model.params) {
    const view = out.subarray(spec.offset, spec.offset + spec.size);
    if (spec.init === 'ones') view.fill(1);
    if (spec.init !== 'glorot') continue;
    const s = spec.shape;
    const fanIn = s.length >= 2 ? s[s.length - 2] : s[0];
    const fanOut = s.length >= 2 ? s[s.length - 1] : 1;
    const limit = Math.sqrt(6 / (fanIn + fanOut));
    for (let i = 0; i < view.length; i++) view[i] = limit * (2 * rng.next() - 1);
  }
  return out;
}
