/**
 * The WebGPU tensor backend: Dawn's Node binding (npm `webgpu`, a prebuilt dawn.node per platform inside the
 * package) under @tensorflow/tfjs-backend-webgpu. We open the adapter ourselves, before tfjs does, so that we
 * can (1) say why there is none, cause by cause, (2) refuse software rasterisers unless asked for, and
 * (3) give each rank its own GPU (gpu-map.ts). tfjs then receives that adapter through navigator.gpu.
 */
import { existsSync, readdirSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { adapterEnvFor } from './gpu-map.js';

/** What GPUAdapterInfo tells (Dawn fills these; isFallbackAdapter is true for CPU rasterisers). */
export interface AdapterFacts {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  isFallbackAdapter?: boolean;
}

/** The parts of WebGPU's GPU and GPUAdapter we use; tests simulate them. */
export interface AdapterLike {
  readonly info: AdapterFacts;
}
export interface GpuLike {
  requestAdapter(options?: { powerPreference?: string }): Promise<AdapterLike | null>;
}
export interface DawnModule {
  create(flags: string[]): GpuLike;
  globals: object;
}

export interface WebGpuOptions {
  env: NodeJS.ProcessEnv;
  /** --backend webgpu: a software adapter (lavapipe, SwiftShader) is accepted; under auto it is skipped. */
  allowSoftware: boolean;
  /** Loads dawn.node; tests pass simulated adapters. */
  loadDawn?: () => Promise<DawnModule>;
  /** Whether the Vulkan loader library can be found; tests replace it. */
  hasVulkanLoader?: () => boolean;
  /** Whether a GPU device node exists (checked under auto only); tests replace it. */
  hasGpuDevice?: () => boolean;
  /** nvidia-smi's GPU index -> PCI bus id; tests replace it. */
  queryBusIds?: () => Map<string, string>;
}

export interface OpenedAdapter {
  /** Dawn's instance: it lives only as long as this reference, so whoever uses the adapter keeps it. */
  gpu: GpuLike;
  adapter: AdapterLike;
  /** The backend line's detail, e.g. `nvidia-h200, NVIDIA 580.159.04, Vulkan`. */
  description: string;
  /** How this rank's GPU was chosen, when the launcher gave it one. */
  mapping: string | null;
  /** Set when the GPU could not be isolated from the others. */
  warning: string | null;
}

const SOFTWARE = /llvmpipe|lavapipe|swiftshader|softpipe/i;
const NVIDIA_CONTAINER_ICD = '/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json';

export function isSoftwareAdapter(info: AdapterFacts): boolean {
  return info.architecture === 'software' || info.isFallbackAdapter === true || SOFTWARE.test(`${info.device} ${info.description}`);
}

/** `device, driver, API`: Dawn's description is `<name>: <driver>` on Vulkan. */
export function describeAdapter(info: AdapterFacts, platform: NodeJS.Platform = process.platform): string {
  const colon = info.description.indexOf(': ');
  const driver = colon >= 0 ? info.description.slice(colon + 2) : info.description;
  const api = platform === 'darwin' ? 'Metal' : platform === 'win32' ? 'D3D12' : 'Vulkan';
  return [info.device || info.vendor || 'unknown device', driver, api].filter(Boolean).join(', ');
}

async function loadDawnNode(): Promise<DawnModule> {
  try {
    return (await import('webgpu')) as DawnModule;
  } catch (err) {
    const e = err as { code?: string; message?: string };
    if (e.code === 'ERR_MODULE_NOT_FOUND') throw new Error("npm package 'webgpu' not installed");
    // The package ships dawn.node for linux-x64/arm64, darwin and win32 only.
    const arch = process.platform === 'darwin' ? 'universal' : process.arch;
    if (/dawn\.node/.test(String(e.message))) throw new Error(`npm package 'webgpu' has no prebuilt dawn.node for ${process.platform}-${arch}`);
    throw err;
  }
}

/** libvulkan.so.1 in the dynamic linker's cache or on LD_LIBRARY_PATH (Linux; elsewhere assumed present). */
export function vulkanLoaderPresent(env: NodeJS.ProcessEnv = process.env): boolean {
  if (process.platform !== 'linux') return true;
  for (const dir of (env.LD_LIBRARY_PATH ?? '').split(':').filter(Boolean)) if (existsSync(join(dir, 'libvulkan.so.1'))) return true;
  try {
    return /libvulkan\.so\.1\b/.test(execFileSync('ldconfig', ['-p'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }));
  } catch {
    return ['/usr/lib/x86_64-linux-gnu', '/usr/lib/aarch64-linux-gnu', '/usr/lib64', '/usr/lib'].some((d) => existsSync(join(d, 'libvulkan.so.1')));
  }
}

/** Vulkan driver manifests (ICDs) the loader would read: VK_DRIVER_FILES / VK_ICD_FILENAMES, else the standard folders. */
export function vulkanDrivers(env: NodeJS.ProcessEnv = process.env): string[] {
  const listed = env.VK_DRIVER_FILES ?? env.VK_ICD_FILENAMES;
  if (listed) return listed.split(':').filter((f) => f && existsSync(f));
  const dirs = ['/etc/vulkan/icd.d', '/usr/share/vulkan/icd.d', '/usr/local/share/vulkan/icd.d'];
  const out: string[] = [];
  for (const d of dirs) {
    try {
      for (const f of readdirSync(d)) if (f.endsWith('.json')) out.push(join(d, f));
    } catch {
      // folder absent
    }
  }
  return out;
}

/** A GPU device node: NVIDIA's, a DRM render node (AMD, Intel, ...), or WSL's. Elsewhere than Linux: assumed. */
export function gpuDevicePresent(): boolean {
  if (process.platform !== 'linux') return true;
  const has = (dir: string, re: RegExp): boolean => {
    try {
      return readdirSync(dir).some((f) => re.test(f));
    } catch {
      return false;
    }
  };
  return has('/dev', /^(nvidia\d+|dxg)$/) || has('/dev/dri', /^renderD\d+$/);
}

/** The adapters Dawn can see: asking for a name none has makes dawn.node list them all in its error. */
export async function listAdapters(dawn: DawnModule): Promise<string[]> {
  try {
    await dawn.create(['adapter=\u0001no adapter has this name']).requestAdapter();
  } catch (err) {
    return [...String((err as Error).message).matchAll(/^\s*\* backend: '[^']*', name: '(.*)'\s*$/gm)].map((m) => m[1]);
  }
  return [];
}

/**
 * Opens this rank's adapter. Throws one line naming the cause: no dawn.node for the platform, no Vulkan
 * loader (and the package that has it), no driver, only a software adapter under auto.
 */
export async function openAdapter(opts: WebGpuOptions): Promise<OpenedAdapter> {
  const { env } = opts;
  const dawn = await (opts.loadDawn ?? loadDawnNode)();
  const hasLoader = opts.hasVulkanLoader ?? (() => vulkanLoaderPresent(env));
  if (!hasLoader()) throw new Error('no Vulkan loader (libvulkan.so.1): install the libvulkan1 package');
  // Every hardware Vulkan driver on Linux opens a device node; without one only software adapters exist, so
  // auto skips webgpu before Dawn starts (and prints its adapter warnings) at all.
  if (!opts.allowSoftware && !(opts.hasGpuDevice ?? gpuDevicePresent)()) {
    throw new Error('no GPU device (/dev/nvidia*, /dev/dri/renderD*, /dev/dxg): only software adapters could exist; --backend webgpu uses one anyway');
  }
  const map = adapterEnvFor(env, opts.queryBusIds);
  // Read by the Vulkan loader and Mesa's device-select layer when Dawn creates its instance (at the first
  // requestAdapter, below): env is process.env in a worker.
  if (map) {
    for (const k of map.unset) delete env[k];
    Object.assign(env, map.set);
  }
  Object.assign(globalThis, dawn.globals);
  // The adapters by name, none opened yet: auto skips a software-only list, and a rank checks that its GPU
  // was isolated.
  const names = await listAdapters(dawn);
  const hardware = names.filter((name) => !SOFTWARE.test(name));
  if (!opts.allowSoftware && names.length > 0 && hardware.length === 0) {
    throw new Error(`only a software adapter (${names.join('; ')}); --backend webgpu uses it anyway`);
  }
  const warning =
    map && hardware.length > 1
      ? `${map.note} was not isolated: ${hardware.length} GPUs are visible (${hardware.join('; ')}), so ranks may share one. ` +
        "Mesa's Vulkan device-select layer does the isolation: install mesa-vulkan-drivers"
      : null;
  const gpu = dawn.create([]);
  const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  if (!adapter) {
    const drivers = vulkanDrivers(env);
    // NVIDIA's container toolkit mounts the driver's manifest where the loader does not look.
    const hidden = drivers.length === 0 && existsSync(NVIDIA_CONTAINER_ICD) ? ` (found ${NVIDIA_CONTAINER_ICD}: set VK_DRIVER_FILES=${NVIDIA_CONTAINER_ICD})` : '';
    throw new Error(
      drivers.length === 0
        ? `no Vulkan driver${hidden}: NVIDIA GPUs need the driver with its Vulkan ICD (nvidia_icd.json; set VK_DRIVER_FILES if it lives elsewhere), AMD/Intel need mesa-vulkan-drivers`
        : `no usable adapter from the Vulkan drivers ${drivers.join(', ')} (Dawn needs Vulkan 1.1 and, for Mesa's lavapipe, Mesa >= 25)`,
    );
  }
  const info = adapter.info;
  if (!opts.allowSoftware && isSoftwareAdapter(info)) {
    throw new Error(`only a software adapter (${info.description || info.device}); --backend webgpu uses it anyway`);
  }
  return { gpu, adapter, description: describeAdapter(info), mapping: map?.note ?? null, warning };
}

/**
 * Opens the adapter and registers tfjs's webgpu backend on it (the backend module registers itself at import
 * only if navigator.gpu exists, and asks navigator.gpu for its adapter: we hand it ours).
 */
export async function registerWebGpuBackend(opts: WebGpuOptions, importModule: (s: string) => Promise<unknown>): Promise<OpenedAdapter> {
  const opened = await openAdapter(opts);
  const gpu = { instance: opened.gpu, requestAdapter: async () => opened.adapter };
  const nav = (globalThis as { navigator?: object }).navigator;
  if (nav) Object.defineProperty(nav, 'gpu', { value: gpu, configurable: true });
  else Object.defineProperty(globalThis, 'navigator', { value: { gpu }, configurable: true, writable: true });
  await importModule('@tensorflow/tfjs-backend-webgpu');
  // Small ops on the CPU would move data back and forth, and a GPU test should test the GPU's kernels.
  (await import('@tensorflow/tfjs')).env().set('WEBGPU_CPU_FORWARD', false);
  return opened;
}
