/**
 * One embedding table and its optimizer state on the GPU, and the lazy embedding update over it: per row of
 * the merged gradient, L2 (g + 2 lambda w), CowClip with the row's count (threshold cnt x max(r ||w||, floor)),
 * then Adam or SGD, in one invocation per row, the host EmbeddingUpdater's formulas in float32.
 *
 * Row r of the state holds its weights, then its optimizer state: [w | m | v] (Adam), [w | acc] (Adagrad), dim
 * values each, or [w | acc] with one accumulator (row-wise Adagrad), so the update reads and writes one row in one place, in place (the state is the program's output; WebGPU
 * forbids binding a buffer as both input and output of one dispatch). A lookup reads the weights only.
 * Adam's 1 - beta1 and 1 - beta2 come in computed in float64, as the host has them: 1 - float32(0.999) is
 * 1.3e-5 away from 0.001, which would show in every second moment.
 */
import * as tf from '@tensorflow/tfjs';
import type { GpuSparseGrad } from './merge.js';
import { TALLY_LENGTH } from '../optim/cowclip.js';
import type { EmbedOptimizerName } from '../optim/optimizer.js';
import { FlatProgram, run } from './programs.js';

/** The update's optimizer, as the kernel's `opt` uniform says it. */
const OPT_CODE: Record<EmbedOptimizerName, number> = { sgd: 0, adam: 1, adagrad: 2, 'rowwise-adagrad': 3 };

/** What the update does to a row, as the host EmbeddingUpdater's options say it. */
export interface GpuUpdateOptions {
  lr: number;
  /** lambda of the L2 term lambda ||W||^2 (gradient 2 lambda W). */
  lambda: number;
  /** CowClip: null for none (the first-order table, --no-cowclip), else r, the threshold's floor, and auto's gamma (null: clip). */
  clip: { ratio: number; floor: number; gamma: number | null } | null;
  optimizer: EmbedOptimizerName;
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
    let base = id * uniforms.width;
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

const CLIP_UNIFORMS = 'u : i32, dim : i32, width : i32, stride : i32, col : i32, l2 : f32, clip : i32, ratio : f32, least : f32, gamma : f32,';

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
const updateProgram = (size: number, threads: number, dense: boolean) =>
  new FlatProgram(
    dense ? 'ddpEmbedUpdateDense' : 'ddpEmbedUpdateLazy',
    ['rowOf', 'counts', 'grads'],
    [size],
    `${CLIP_UNIFORMS} n : i32, opt : i32, lr : f32, b1 : f32, b2 : f32, c1 : f32, c2 : f32, eps : f32,`,
    threads,
    `if (i >= uniforms.n) { return; }
    ${dense ? 'let id = i; let j = rowOf[i];' : 'let j = i; let id = rowOf[i];'}
    ${clipSnippet('result')}
    let d = uniforms.dim;
    // Row-wise Adagrad: the row's accumulator takes the mean square of the row's final gradient first.
    var rowStep = 0.0;
    if (uniforms.opt == 3) {
      var sq = 0.0;
      for (var k = 0; k < d; k++) {
        let g = (select(0.0, grads[max(j, 0) * uniforms.stride + uniforms.col + k], j >= 0) + uniforms.l2 * result[base + k]) * scale;
        sq = sq + g * g;
      }
      let acc = result[base + d] + sq / f32(d);
      result[base + d] = acc;
      rowStep = uniforms.lr / (sqrt(acc) + uniforms.eps);
    }
    for (var k = 0; k < d; k++) {
      let w = result[base + k];
      let g = (select(0.0, grads[max(j, 0) * uniforms.stride + uniforms.col + k], j >= 0) + uniforms.l2 * w) * scale;
      if (uniforms.opt == 1) {
        let m = uniforms.b1 * result[base + d + k] + uniforms.c1 * g;
        let v = uniforms.b2 * result[base + 2 * d + k] + uniforms.c2 * g * g;
        result[base + d + k] = m;
        result[base + 2 * d + k] = v;
        result[base + k] = w - (uniforms.lr * m) / (sqrt(v) + uniforms.eps);
      } else if (uniforms.opt == 2) {
        let acc = result[base + d + k] + g * g;
        result[base + d + k] = acc;
        result[base + k] = w - (uniforms.lr * g) / (sqrt(acc) + uniforms.eps);
      } else if (uniforms.opt == 3) {
        result[base + k] = w - rowStep * g;
      } else {
        result[base + k] = w - uniforms.lr * g;
      }
    }`,
  );

/** Table row -> its merged row, written in place over a [rows] tensor of -1. */
const slotsProgram = (rows: number, u: number) =>
  new FlatProgram('ddpEmbedSlots', ['ids'], [rows], 'u : i32,', u, `if (i >= uniforms.u) { return; }
    result[ids[i]] = i;`);

const gatherProgram = (n: number, dim: number) =>
  new FlatProgram('ddpEmbedGather', ['state', 'ids'], [n * dim], 'count : i32, dim : i32, width : i32,', n * dim, `if (i >= uniforms.count) { return; }
    let r = i / uniforms.dim;
    result[i] = state[ids[r] * uniforms.width + i - r * uniforms.dim];`);

const copyProgram = (n: number) =>
  new FlatProgram('ddpEmbedCopy', ['state'], [n], 'count : i32,', n, `if (i >= uniforms.count) { return; }
    result[i] = state[i];`);

/** A state array of a table: one value per weight, or per row (row-wise Adagrad). */
export interface TableState {
  data: Float32Array;
  perRow?: boolean;
}

export class GpuTable {
  /** Values per row: the weights, then each state array's (dim, or 1 per row). */
  readonly width: number;
  private readonly widths: number[];
  private state: tf.Tensor1D;

  /** Uploads the table's weights and optimizer state arrays. */
  constructor(
    readonly rows: number,
    readonly dim: number,
    weights: Float32Array,
    optimizerState: readonly TableState[],
  ) {
    const arrays = [{ data: weights }, ...optimizerState];
    this.widths = arrays.map((a) => ((a as TableState).perRow ? 1 : dim));
    this.width = this.widths.reduce((a, b) => a + b, 0);
    arrays.forEach((a, s) => {
      if (a.data.length !== rows * this.widths[s]) throw new RangeError(`GpuTable: ${a.data.length} values for ${rows} rows x ${this.widths[s]}`);
    });
    const host = new Float32Array(rows * this.width);
    for (let r = 0, at = 0; r < rows; r++) {
      arrays.forEach((a, s) => {
        const w = this.widths[s];
        host.set(a.data.subarray(r * w, (r + 1) * w), at);
        at += w;
      });
    }
    this.state = tf.keep(tf.tensor1d(host));
  }

  /** The weights of rows `ids` ([n] int32) as a [n * dim] tensor (e.g. a batch's model input). */
  gather(ids: tf.Tensor1D): tf.Tensor1D {
    return run(gatherProgram(ids.size, this.dim), [this.state, ids], 'float32', [i(ids.size * this.dim), i(this.dim), i(this.width)]) as tf.Tensor1D;
  }

  /**
   * One update from the merged rows `grad` (distinct ids), columns [col, col + dim) of its rows, at step t
   * (Adam's bias correction): lazy, the rows of `grad` only; dense, every row (absent rows: gradient L2 alone,
   * clipped with count 1). Returns CowClip's tally of `grad`'s rows (absent rows not counted): per bucket of the
   * ID's count, the rows it looked at and the rows it scaled down (src/optim/cowclip.ts), or null without CowClip.
   */
  async update(grad: GpuSparseGrad, col: number, opts: GpuUpdateOptions, t: number, mode: 'lazy' | 'dense' = 'lazy'): Promise<number[] | null> {
    const u = grad.ids.size;
    const dense = mode === 'dense';
    const clip = opts.clip;
    if (u === 0 && !dense) return clip ? new Array<number>(TALLY_LENGTH).fill(0) : null;
    if (col < 0 || col + this.dim > grad.dim) throw new RangeError(`GpuTable.update: columns [${col}, ${col + this.dim}) outside rows of ${grad.dim}`);
    const adam = opts.optimizer === 'adam';
    const expected = { sgd: this.dim, adam: 3 * this.dim, adagrad: 2 * this.dim, 'rowwise-adagrad': this.dim + 1 }[opts.optimizer];
    if (expected !== this.width) throw new RangeError(`GpuTable.update: ${opts.optimizer} on a table of rows of ${this.width} values (dim ${this.dim})`);
    const lr = adam ? (opts.lr * Math.sqrt(1 - opts.beta2 ** t)) / (1 - opts.beta1 ** t) : opts.lr;
    const common = [i(u), i(this.dim), i(this.width), i(grad.dim), i(col), f(2 * opts.lambda), i(clip ? 1 : 0), f(clip?.ratio ?? 0), f(clip?.floor ?? 0), f(clip?.gamma ?? 0)];
    let tally: number[] | null = null;
    if (clip && u > 0) {
      // Decided on the weights before the update: the same decision the update takes; tallied by bucket there.
      const sums = tf.tidy(() => {
        const flags = tf.cast(run(flagsProgram(u), [this.state, grad.ids, grad.counts, grad.rows], 'int32', common), 'float32');
        const tail = tf.cast(tf.less(grad.counts, 2), 'float32');
        const head = tf.cast(tf.greaterEqual(grad.counts, 32), 'float32');
        const torso = tf.sub(tf.sub(1, tail), head);
        return tf.stack([tail, torso, head].flatMap((b) => [tf.sum(b), tf.sum(tf.mul(b, flags))]));
      });
      tally = Array.from(await sums.data());
      sums.dispose();
    } else if (clip) {
      tally = new Array<number>(TALLY_LENGTH).fill(0);
    }
    const threads = dense ? this.rows : u;
    const rowOf = dense ? run(slotsProgram(this.rows, u), [grad.ids], 'int32', [i(u)], tf.fill([this.rows], -1, 'int32')) : grad.ids;
    const optimizer = [i(threads), i(OPT_CODE[opts.optimizer]), f(lr), f(opts.beta1), f(opts.beta2), f(1 - opts.beta1), f(1 - opts.beta2), f(opts.epsilon)];
    run(updateProgram(this.rows * this.width, threads, dense), [rowOf, grad.counts, grad.rows], 'float32', [...common, ...optimizer], this.state);
    if (dense) rowOf.dispose();
    return tally;
  }

  /**
   * Reads the table back: its weights and optimizer state arrays, as the constructor took them (checkpoints, evaluation).
   * Through a copy made on the GPU: tfjs keeps what data() read on the host and would answer the next read
   * from there, blind to the updates written in place since.
   */
  async download(): Promise<Float32Array[]> {
    const n = this.rows * this.width;
    const copy = run(copyProgram(n), [this.state], 'float32', [i(n)]);
    const host = (await copy.data()) as Float32Array;
    copy.dispose();
    const out = this.widths.map((w) => new Float32Array(this.rows * w));
    for (let r = 0, at = 0; r < this.rows; r++) {
      out.forEach((a, s) => {
        const w = this.widths[s];
        a.set(host.subarray(at, at + w), r * w);
        at += w;
      });
    }
    return out;
  }

  dispose(): void {
    this.state.dispose();
  }
}
