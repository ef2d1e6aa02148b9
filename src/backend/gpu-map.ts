/**
 * One GPU per rank under WebGPU. CUDA_VISIBLE_DEVICES means nothing to Vulkan, and Dawn can only pick an
 * adapter by a substring of its name (`create(['adapter=NAME'])`), so among identical GPUs (8 x H200) every
 * rank would land on the first. What works is to hide the other GPUs below Dawn: Mesa's Vulkan device-select
 * layer (an implicit layer in mesa-vulkan-drivers; it applies to every driver, NVIDIA's included) reads
 * `DRI_PRIME=pci-DDDD_BB_DD_F!` and exposes only the device at that PCI address. The launcher learns each
 * GPU's PCI bus id from nvidia-smi and passes it to its rank; the worker sets DRI_PRIME before Dawn creates
 * its Vulkan instance (at the first requestAdapter), then checks that exactly one hardware adapter is left.
 *
 * Why not the alternatives (read in the sources, tried on lavapipe): the Vulkan loader's VK_LOADER_DEVICE_SELECT
 * and *_ID_FILTER select by vendor:device id, the same for identical GPUs; MESA_VK_DEVICE_SELECT takes only
 * vendor:device (and the last of identical matches wins); DRI_PRIME=N depends on enumeration order; Dawn's
 * GPUAdapterInfo carries no PCI address or UUID to choose by afterwards.
 */
import { execFileSync } from 'node:child_process';

/** The launcher's per-rank variable: the PCI bus id of the rank's GPU as nvidia-smi prints it. */
export const GPU_BUS_ENV = 'DDP_GPU_PCI_BUS_ID';

/** `index, pci.bus_id` per GPU, from `nvidia-smi --query-gpu=index,pci.bus_id --format=csv,noheader`. */
export function queryGpuBusIds(run: () => string = nvidiaSmiBusIds): Map<string, string> {
  const out = new Map<string, string>();
  let text: string;
  try {
    text = run();
  } catch {
    return out; // no driver or no nvidia-smi
  }
  for (const line of text.split('\n')) {
    const m = /^\s*(\d+)\s*,\s*(\S+)\s*$/.exec(line);
    if (m) out.set(m[1], m[2]);
  }
  return out;
}

function nvidiaSmiBusIds(): string {
  return execFileSync('nvidia-smi', ['--query-gpu=index,pci.bus_id', '--format=csv,noheader'], { encoding: 'utf8', timeout: 5000, stdio: ['ignore', 'pipe', 'ignore'] });
}

/**
 * nvidia-smi's `00000000:1B:00.0` (domain:bus:device.function, hex) as the device-select layer's tag
 * `pci-0000_1b_00_0`: the low 16 bits of the domain, lower-case hex, function in decimal.
 */
export function pciTag(busId: string): string {
  const m = /^(?:([0-9a-fA-F]{1,8}):)?([0-9a-fA-F]{1,2}):([0-9a-fA-F]{1,2})\.([0-7])$/.exec(busId.trim());
  if (!m) throw new Error(`${GPU_BUS_ENV}=${busId}: expected a PCI bus id like 00000000:1B:00.0`);
  const hex = (s: string, width: number): string => (parseInt(s, 16) & 0xffff).toString(16).padStart(width, '0');
  return `pci-${hex(m[1] ?? '0', 4)}_${hex(m[2], 2)}_${hex(m[3], 2)}_${m[4]}`;
}

export interface AdapterMapping {
  /** Variables to set before Dawn starts Vulkan. */
  set: Record<string, string>;
  /** Variables to remove: they would override DRI_PRIME, switch the layer off, or (DISPLAY on a headless NVIDIA host) hide GPUs. */
  unset: string[];
  /** For the log: which GPU and how. */
  note: string;
}

/**
 * The mapping for this rank: from the launcher's DDP_GPU_PCI_BUS_ID, or, when started by mpirun/srun with one GPU in
 * CUDA_VISIBLE_DEVICES, from nvidia-smi. Null when the rank was given no GPU (or nothing tells which).
 */
export function adapterEnvFor(env: NodeJS.ProcessEnv, query: () => Map<string, string> = queryGpuBusIds): AdapterMapping | null {
  let busId = env[GPU_BUS_ENV];
  const cuda = env.CUDA_VISIBLE_DEVICES;
  if (!busId && cuda && /^\d+$/.test(cuda)) busId = query().get(cuda);
  if (!busId) return null;
  const tag = pciTag(busId);
  return {
    set: { DRI_PRIME: `${tag}!` },
    unset: ['MESA_VK_DEVICE_SELECT', 'MESA_VK_DEVICE_SELECT_FORCE_DEFAULT_DEVICE', 'NODEVICE_SELECT', 'DISPLAY', 'WAYLAND_DISPLAY'],
    note: `GPU ${cuda ?? '?'} at PCI ${busId} (DRI_PRIME=${tag}!)`,
  };
}
