/**
 * One embedding table and its optimizer state on the GPU, and the lazy embedding update over it: per row of
 * the merged gradient, L2 (g + 2 lambda w), CowClip with the row's count (threshold cnt x max(r ||w||, floor)),
 * then Adam or SGD, in one invocation per row, the host EmbeddingUpdater's formulas in float32.
 *
 * Row r of the state holds its weights, then (Adam) its first and second moments: [w | m | v], dim values each,
 * so the update reads and writes one row in one place, in place (the state is the program's output; WebGPU
 * forbids binding a buffer as both input and output of one dispatch). A lookup reads the weights only.
 * Adam's 1 - beta1 and 1 - beta2 come in computed in float64, as the host has them: 1 - float32(0.999) is
 * 1.3e-5 away from 0.001, which would show in every second moment.
 */
import * as tf from '@tensorflow/tfjs';
import type { GpuSparseGrad } from './merge.js';
import { FlatProgram, run } from './programs.js';

/** What the update does to a row, as the host EmbeddingUpdater's options say it. */
export interface GpuUpdateOptions {
  lr: number;
  /** lambda of the L2 term lambda ||W||^2 (gradient 2 lambda W). */
  lambda: number;
  /** CowClip: null for none (the first-order table, --no-cowclip), else r, the threshold's floor, and auto's gamma (null: clip). */
  clip: { ratio: number; floor: number; gamma: number | null } | null;
  optimizer: 'adam' | 'sgd';
  beta1: number;
  beta2: number;
  epsilon: number;
}

const f = (v: number) => ({ type: 'float32' as const, data: [v] });
const i = (v: number) => ({ type: 'int32' as const, data: [v] });

/**
 * Row `id` of the state and its merged gradient row `j` (-1: absent, a dense update's row outside the batch,
 * whose gradient is L2 alone and whose count is 1): L2, then CowClip's decision and scale. `g(k)` is the
 * row's gradient with L2; `clipped` says whether CowClip scales it (by `scale`).
 */
const clipSnippet = (state: string) => `
    let base = id * uniforms.slots * uniforms.dim;
    let cnt = select(1.0, counts[max(j, 0)], j >= 0);
    var ww = 0.0;
    var gg = 0.0;
    for (var k = 0; k < uniforms.dim; k++) {
      let w = ${state}[base + k];
      let g = select(0.0, grads[max(j, 0) * uniforms.stride + uniforms.col + k], j >= 0) + uniforms.l2 * w;
      ww = ww + w * w;
      gg = gg + g * g;
    }
    let gNorm = sqrt(gg);
    let t = cnt * max(uniforms.ratio * sqrt(ww), uniforms.least);
    var scale = 1.0;
    var clipped = false;
    if (uniforms.clip == 1) {
      // auto normalises the batch's rows; an absent row's L2 gradient is clipped, as the host does.
      if (uniforms.gamma > 0.0 && j >= 0) {
        if (gNorm > 0.0) {
          scale = t / (gNorm + uniforms.gamma);
          clipped = scale < 1.0;
        }
      } else if (gNorm > t) {
        scale = t / gNorm;
        clipped = true;
      }
    }`;

const CLIP_UNIFORMS = 'u : i32, dim : i32, slots : i32, stride : i32, col : i32, l2 : f32, clip : i32, ratio : f32, least : f32, gamma : f32,';

const flagsProgram = (u: number) =>
  new FlatProgram('ddpEmbedClipFlags', ['state', 'ids', 'counts', 'grads'], [u], CLIP_UNIFORMS, u, `if (i >= uniforms.u) { return; }
    let j = i;
    let id = ids[j];
    ${clipSnippet('state')}
    result[j] = select(0, 1, clipped);`);

/**
 * The update, in place: lazy, one invocation per merged row (`rowOf` = ids); dense, one per table row
 * (`rowOf` = the table row's merged row, or -1), so every row gets its L2 and optimizer step.
 */
const updateProgram = (rows: number, slots: number, dim: number, threads: number, dense: boolean) =>
  new FlatProgram(
    dense ? 'ddpEmbedUpdateDense' : 'ddpEmbedUpdateLazy',
    ['rowOf', 'counts', 'grads'],
    [rows * slots * dim],
    `${CLIP_UNIFORMS} n : i32, adam : i32, lr : f32, b1 : f32, b2 : f32, c1 : f32, c2 : f32, eps : f32,`,
    threads,
    `if (i >= uniforms.n) { return; }
    ${dense ? 'let id = i; let j = rowOf[i];' : 'let j = i; let id = rowOf[i];'}
    ${clipSnippet('result')}
    for (var k = 0; k < uniforms.dim; k++) {
      let w = result[base + k];
      let g = (select(0.0, grads[max(j, 0) * uniforms.stride + uniforms.col + k], j >= 0) + uniforms.l2 * w) * scale;
      if (uniforms.adam == 1) {
        let m = uniforms.b1 * result[base + uniforms.dim + k] + uniforms.c1 * g;
        let v = uniforms.b2 * result[base + 2 * uniforms.dim + k] + uniforms.c2 * g * g;
        result[base + uniforms.dim + k] = m;
        result[base + 2 * uniforms.dim + k] = v;
        result[base + k] = w - (uniforms.lr * m) / (sqrt(v) + uniforms.eps);
      } else {
        result[base + k] = w - uniforms.lr * g;
      }
    }`,
  );

/** Table row -> its merged row, written in place over a [rows] tensor of -1. */
const slotsProgram = (rows: number, u: number) =>
  new FlatProgram('ddpEmbedSlots', ['ids'], [rows], 'u : i32,', u, `if (i >= uniforms.u) { return; }
    result[ids[i]] = i;`);

const gatherProgram = (n: number, slots: number, dim: number) =>
  new FlatProgram('ddpEmbedGather', ['state', 'ids'], [n * dim], 'count : i32, dim : i32, slots : i32,', n * dim, `if (i >= uniforms.count) { return; }
    let r = i / uniforms.dim;
    result[i] = state[ids[r] * uniforms.slots * uniforms.dim + i - r * uniforms.dim];`);

const copyProgram = (n: number) =>
  new FlatProgram('ddpEmbedCopy', ['state'], [n], 'count : i32,', n, `if (i >= uniforms.count) { return; }
    result[i] = state[i];`);

export class GpuTable {
  /** Values per row per weight: 1 (SGD) or 3 (Adam: weights, m, v). */
  readonly slots: number;
  private state: tf.Tensor1D;

  /** Uploads the table's weights and optimizer state (Adam: m then v; SGD: none), each [rows * dim]. */
  constructor(
    readonly rows: number,
    readonly dim: number,
    weights: Float32Array,
    optimizerState: readonly Float32Array[],
  ) {
    this.slots = 1 + optimizerState.length;
    const arrays = [weights, ...optimizerState];
    for (const a of arrays) if (a.length !== rows * dim) throw new RangeError(`GpuTable: ${a.length} values for ${rows} rows x ${dim}`);
    const host = new Float32Array(rows * this.slots * dim);
    for (let r = 0; r < rows; r++) arrays.forEach((a, s) => host.set(a.subarray(r * dim, (r + 1) * dim), (r * this.slots + s) * dim));
    this.state = tf.keep(tf.tensor1d(host));
  }

  /** The weights of rows `ids` ([n] int32) as a [n * dim] tensor (e.g. a batch's model input). */
  gather(ids: tf.Tensor1D): tf.Tensor1D {
    return run(gatherProgram(ids.size, this.slots, this.dim), [this.state, ids], 'float32', [i(ids.size * this.dim), i(this.dim), i(this.slots)]) as tf.Tensor1D;
  }

  /**
   * One update from the merged rows `grad` (distinct ids), columns [col, col + dim) of its rows, at step t
   * (Adam's bias correction): lazy, the rows of `grad` only; dense, every row (absent rows: gradient L2 alone,
   * clipped with count 1). Returns how many of `grad`'s rows CowClip scaled down (absent rows not counted).
   */
  async update(grad: GpuSparseGrad, col: number, opts: GpuUpdateOptions, t: number, mode: 'lazy' | 'dense' = 'lazy'): Promise<number> {
    const u = grad.ids.size;
    const dense = mode === 'dense';
    if (u === 0 && !dense) return 0;
    if (col < 0 || col + this.dim > grad.dim) throw new RangeError(`GpuTable.update: columns [${col}, ${col + this.dim}) outside rows of ${grad.dim}`);
    const adam = opts.optimizer === 'adam';
    if ((adam ? 3 : 1) !== this.slots) throw new RangeError(`GpuTable.update: ${opts.optimizer} on a table with ${this.slots - 1} state arrays`);
    const lr = adam ? (opts.lr * Math.sqrt(1 - opts.beta2 ** t)) / (1 - opts.beta1 ** t) : opts.lr;
    const clip = opts.clip;
    const common = [i(u), i(this.dim), i(this.slots), i(grad.dim), i(col), f(2 * opts.lambda), i(clip ? 1 : 0), f(clip?.ratio ?? 0), f(clip?.floor ?? 0), f(clip?.gamma ?? 0)];
    let clipped = 0;
    if (clip && u > 0) {
      // Decided on the weights before the update: the same decision the update takes.
      const flags = run(flagsProgram(u), [this.state, grad.ids, grad.counts, grad.rows], 'int32', common);
      const sum = tf.sum(flags);
      clipped = (await sum.data())[0];
      tf.dispose([flags, sum]);
    }
    const threads = dense ? this.rows : u;
    const rowOf = dense ? run(slotsProgram(this.rows, u), [grad.ids], 'int32', [i(u)], tf.fill([this.rows], -1, 'int32')) : grad.ids;
    const optimizer = [i(threads), i(adam ? 1 : 0), f(lr), f(opts.beta1), f(opts.beta2), f(1 - opts.beta1), f(1 - opts.beta2), f(opts.epsilon)];
    run(updateProgram(this.rows, this.slots, this.dim, threads, dense), [rowOf, grad.counts, grad.rows], 'float32', [...common, ...optimizer], this.state);
    if (dense) rowOf.dispose();
    return clipped;
  }

  /**
   * Reads the table back: its weights and optimizer state arrays, [rows * dim] each (checkpoints, evaluation).
   * Through a copy made on the GPU: tfjs keeps what data() read on the host and would answer the next read
   * from there, blind to the updates written in place since.
   */
  async download(): Promise<Float32Array[]> {
    const n = this.rows * this.slots * this.dim;
    const copy = run(copyProgram(n), [this.state], 'float32', [i(n)]);
    const host = (await copy.data()) as Float32Array;
    copy.dispose();
    const out = Array.from({ length: this.slots }, () => new Float32Array(this.rows * this.dim));
    for (let r = 0; r < this.rows; r++) out.forEach((a, s) => a.set(host.subarray((r * this.slots + s) * this.dim, (r * this.slots + s + 1) * this.dim), r * this.dim));
    return out;
  }

  dispose(): void {
    this.state.dispose();
  }
}
