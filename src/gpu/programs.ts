/**
 * WGSL compute programs for the embedding rows on the GPU, run by tfjs-backend-webgpu's own program runner
 * (runWebGPUProgram) rather than raw pipelines of ours: their inputs and outputs are tfjs tensors, so they queue
 * in tfjs's command encoder in order with the model's kernels, tfjs caches their pipelines by shaderKey, and
 * tf.tidy frees what they make. A program writes one output tensor (`result`); inputs are read-only arrays
 * named by `variableNames`, indexed directly.
 */
import * as tf from '@tensorflow/tfjs';
import type { WebGPUBackend, WebGPUProgram } from '@tensorflow/tfjs-backend-webgpu';

const WORKGROUP: [number, number, number] = [64, 1, 1];
/** WebGPU guarantees 65,535 workgroups per dimension: larger dispatches spread over y. */
const MAX_GROUPS = 65_535;

type Uniform = { type: 'int32' | 'uint32' | 'float32'; data: number[] };

/** A flat program: one invocation per index in [0, threads), over x then y workgroups. */
class FlatProgram implements WebGPUProgram {
  readonly dispatchLayout = { x: [0] };
  readonly dispatch: [number, number, number];
  readonly workgroupSize = WORKGROUP;
  readonly size = false;

  constructor(
    readonly shaderKey: string,
    readonly variableNames: string[],
    readonly outputShape: number[],
    readonly uniforms: string,
    threads: number,
    private readonly body: string,
  ) {
    const groups = Math.max(1, Math.ceil(threads / WORKGROUP[0]));
    this.dispatch = groups <= MAX_GROUPS ? [groups, 1, 1] : [MAX_GROUPS, Math.ceil(groups / MAX_GROUPS), 1];
  }

  getUserCode(): string {
    // tfjs's preamble declares the invocation ids and `uniforms`; index spans x, then y.
    return `
      fn main(index : i32) {
        let i = index;
        ${this.body}
      }`;
  }
}

function backend(): WebGPUBackend {
  const b = tf.backend() as WebGPUBackend;
  if (typeof b.runWebGPUProgram !== 'function') throw new Error(`GPU embedding programs need the webgpu backend, not ${tf.getBackend()}`);
  return b;
}

/** Runs a program into a new tensor of its output shape (or into `into`, in place). */
export function run(program: FlatProgram, inputs: tf.Tensor[], dtype: 'float32' | 'int32', uniforms: Uniform[], into?: tf.Tensor): tf.Tensor {
  const info = backend().runWebGPUProgram(program, inputs, dtype, uniforms, into);
  return into ?? tf.engine().makeTensorFromTensorInfo(info);
}

export { FlatProgram };
