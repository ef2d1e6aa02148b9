import type * as TF from '@tensorflow/tfjs';
import type { StepOptions } from '../model/step.js';
import { UserError } from '../util/errors.js';
import { registerWebGpuBackend, type OpenedAdapter, type WebGpuOptions } from './webgpu.js';

/**
 * Tensor backend selection. The native bindings (tfjs-node, tfjs-node-gpu) are optional
 * dependencies that download libtensorflow at install time, so on many machines they are absent
 * or broken; WebGPU (Dawn) needs a Vulkan driver and, under auto, a real GPU. We try them in order of
 * speed and fall back, saying why each was skipped.
 */
export const BACKEND_NAMES = ['node-gpu', 'webgpu', 'node', 'wasm', 'cpu'] as const;
export type BackendName = (typeof BACKEND_NAMES)[number];

/** The npm module each backend needs, and the name it registers with tfjs. */
const BACKENDS: Record<BackendName, { module: string; tfName: string }> = {
  'node-gpu': { module: '@tensorflow/tfjs-node-gpu', tfName: 'tensorflow' },
  webgpu: { module: '@tensorflow/tfjs-backend-webgpu', tfName: 'webgpu' },
  node: { module: '@tensorflow/tfjs-node', tfName: 'tensorflow' },
  wasm: { module: '@tensorflow/tfjs-backend-wasm', tfName: 'wasm' },
  cpu: { module: '@tensorflow/tfjs-backend-cpu', tfName: 'cpu' },
};

export interface BackendChoice {
  name: BackendName;
  /** Why each backend tried before the chosen one was skipped. */
  skipped: { name: BackendName; why: string }[];
  /** webgpu: the adapter (`device, driver, API`), how this rank's GPU was chosen, and any warning about it. */
  adapter?: Pick<OpenedAdapter, 'description' | 'mapping' | 'warning'>;
}

export interface SelectOptions {
  /** `--backend`: force one backend (no fallback), or 'auto'. */
  forced?: string;
  /** Module loader; tests replace it to simulate missing or broken modules. */
  importModule?: (specifier: string) => Promise<unknown>;
  /** tfjs-core functions used to activate a backend; tests replace them. */
  tf?: Pick<typeof TF, 'setBackend' | 'ready'>;
  env?: NodeJS.ProcessEnv;
  /** Opens the WebGPU adapter and registers tfjs's backend on it; tests simulate it. */
  webgpu?: (opts: WebGpuOptions, importModule: (s: string) => Promise<unknown>) => Promise<Pick<OpenedAdapter, 'description' | 'mapping' | 'warning'>>;
}

export function parseBackendFlag(value: string | undefined): BackendName | 'auto' {
  if (value === undefined || value === 'auto') return 'auto';
  if ((BACKEND_NAMES as readonly string[]).includes(value)) return value as BackendName;
  throw new UserError(`--backend ${value}: unknown backend; expected one of auto, ${BACKEND_NAMES.join(', ')}`);
}

/** First line of an error, for one-line skip reasons. */
function reason(err: unknown): string {
  const e = err as { code?: string; message?: string };
  if (e && e.code === 'ERR_MODULE_NOT_FOUND') return 'module not installed';
  return String(e?.message ?? err).split('\n')[0];
}

/**
 * Loads and activates the best available backend (or the forced one) and reports the choice.
 * Forcing a backend that cannot load is an error, never a silent fallback.
 */
export async function selectBackend(opts: SelectOptions = {}): Promise<BackendChoice> {
  const importModule = opts.importModule ?? ((s: string) => import(s));
  const tf = opts.tf ?? (await import('@tensorflow/tfjs'));
  const env = opts.env ?? process.env;
  const forced = parseBackendFlag(opts.forced);
  const candidates = forced === 'auto' ? BACKEND_NAMES : [forced];
  const skipped: BackendChoice['skipped'] = [];
  for (const name of candidates) {
    const { module, tfName } = BACKENDS[name];
    try {
      if (name === 'node-gpu' && gpuHidden(env)) {
        throw new Error(`CUDA_VISIBLE_DEVICES='${env.CUDA_VISIBLE_DEVICES}' gives this rank no GPU`);
      }
      let adapter: BackendChoice['adapter'];
      if (name === 'webgpu') {
        // Forced, a software adapter will do (tests and CI run on lavapipe); auto wants a real GPU.
        adapter = await (opts.webgpu ?? registerWebGpuBackend)({ env, allowSoftware: forced === 'webgpu' }, importModule);
      } else {
        await importModule(module);
      }
      if (!(await tf.setBackend(tfName))) throw new Error(`tfjs could not initialise backend '${tfName}'`);
      await tf.ready();
      return adapter ? { name, skipped, adapter } : { name, skipped };
    } catch (err) {
      if (forced !== 'auto') {
        throw new UserError(`--backend ${name}: cannot load ${module}: ${reason(err)}`);
      }
      skipped.push({ name, why: reason(err) });
    }
  }
  // The cpu backend ships with @tensorflow/tfjs, so this is reached only if the install is broken.
  throw new UserError(`no tensor backend could be loaded: ${skipped.map((s) => `${s.name} (${s.why})`).join('; ')}`);
}

/** The launcher gives a rank no GPU by setting CUDA_VISIBLE_DEVICES empty (or -1, CUDA's own idiom). */
function gpuHidden(env: NodeJS.ProcessEnv): boolean {
  return env.CUDA_VISIBLE_DEVICES === '' || env.CUDA_VISIBLE_DEVICES === '-1';
}

export function describeChoice(choice: BackendChoice): string {
  const why = choice.skipped.map((s) => `${s.name}: ${s.why}`).join('; ');
  const adapter = choice.adapter ? ` (${choice.adapter.description}${choice.adapter.mapping ? `; ${choice.adapter.mapping}` : ''})` : '';
  return `tensor backend: ${choice.name}${adapter}${why ? ` (skipped ${why})` : ''}`;
}

/** The parts of tfjs-backend-webgpu's WebGPUBackend that flush its command queue. */
interface WebGpuBackendQueue {
  ensureCommandEncoderReady(): void;
  endComputePassEncoder(): void;
  submitQueue(): void;
  device: { queue: { onSubmittedWorkDone(): Promise<void> } };
}

/**
 * How a step moves tensors on this backend: on GPUs one packed upload and one readback per step, and on
 * webgpu a wait for the device in between, so that device time and readback are timed apart.
 */
export function stepOptionsFor(name: BackendName, tf: Pick<typeof TF, 'backend'>): StepOptions {
  if (name === 'webgpu') {
    const b = tf.backend() as unknown as WebGpuBackendQueue;
    return {
      transfer: 'packed',
      waitDevice: async () => {
        // What tfjs does before its own reads: close the open compute pass, then submit the commands.
        b.ensureCommandEncoderReady();
        b.endComputePassEncoder();
        b.submitQueue();
        await b.device.queue.onSubmittedWorkDone();
      },
    };
  }
  return { transfer: name === 'node-gpu' ? 'packed' : 'direct' };
}
