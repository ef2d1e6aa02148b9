// The webgpu backend's adapter handling with simulated Dawn instances (reasons per cause, software adapters,
// one GPU per rank through the device-select layer's PCI tag), and the layer itself on lavapipe.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { adapterEnvFor, pciTag, queryGpuBusIds } from '../src/backend/gpu-map.js';
import { describeChoice, selectBackend } from '../src/backend/select.js';
import { describeAdapter, isSoftwareAdapter, openAdapter, vulkanDrivers, type AdapterFacts, type DawnModule, type WebGpuOptions } from '../src/backend/webgpu.js';
import { GPU_ENV, needWebGpu } from './helpers/gpu.js';

const H200 = (bus: string): AdapterFacts & { bus: string } => ({
  vendor: 'nvidia', architecture: 'hopper', device: 'nvidia-h200', description: 'NVIDIA H200: NVIDIA 580.159.04', isFallbackAdapter: false, bus,
});
const LLVMPIPE = { vendor: 'mesa', architecture: 'software', device: 'llvmpipe-llvm-15-0-6-256-bits-', description: 'llvmpipe: Mesa 25.0.7 (LLVM 15.0.6) 0.0.1', isFallbackAdapter: true, bus: 'pci-0000_00_00_0' };

/**
 * A Dawn over a Vulkan loader with these devices. With `layer`, it acts as Mesa's device-select layer does when
 * Vulkan starts: DRI_PRIME=pci-...! leaves only the device at that address.
 */
function fakeDawn(env: NodeJS.ProcessEnv, devices: (AdapterFacts & { bus: string })[], layer = true): DawnModule {
  return {
    globals: {},
    create: (flags: string[]) => ({
      requestAdapter: async () => {
        const prime = env.DRI_PRIME;
        const visible = layer && prime?.endsWith('!') ? devices.filter((d) => `${d.bus}!` === prime) : devices;
        const wanted = flags.find((f) => f.startsWith('adapter='))?.slice('adapter='.length);
        if (wanted !== undefined) {
          const hit = visible.find((d) => d.description.includes(wanted));
          if (!hit) throw new Error(`no suitable backends found\nAvailable adapters:\n${visible.map((d) => ` * backend: 'vulkan', name: '${d.description.split(':')[0]}'`).join('\n')}`);
          return { info: hit };
        }
        return visible.length ? { info: visible.find((d) => !isSoftwareAdapter(d)) ?? visible[0] } : null;
      },
    }),
  };
}

const opts = (env: NodeJS.ProcessEnv, dawn: DawnModule, more: Partial<WebGpuOptions> = {}): WebGpuOptions => ({
  env, allowSoftware: false, loadDawn: async () => dawn, hasVulkanLoader: () => true, hasGpuDevice: () => true, queryBusIds: () => new Map(), ...more,
});

t.test('PCI tags, nvidia-smi bus ids, and what a rank is told', async (t) => {
  t.equal(pciTag('00000000:1B:00.0'), 'pci-0000_1b_00_0', 'nvidia-smi form: 16-bit domain, lower-case hex');
  t.equal(pciTag('0001:9a:00.1'), 'pci-0001_9a_00_1');
  t.equal(pciTag('1b:00.0'), 'pci-0000_1b_00_0', 'no domain: 0');
  t.throws(() => pciTag('GPU-1b2c'), /DDP_GPU_PCI_BUS_ID=GPU-1b2c: expected a PCI bus id like 00000000:1B:00.0/);
  const ids = queryGpuBusIds(() => '0, 00000000:1B:00.0\n1, 00000000:9A:00.0\n');
  t.same([...ids], [['0', '00000000:1B:00.0'], ['1', '00000000:9A:00.0']]);
  t.same([...queryGpuBusIds(() => { throw new Error('nvidia-smi: not found'); })], [], 'no nvidia-smi: none');
  const launched = adapterEnvFor({ DDP_GPU_PCI_BUS_ID: '00000000:9A:00.0', CUDA_VISIBLE_DEVICES: '1' });
  t.same(launched?.set, { DRI_PRIME: 'pci-0000_9a_00_0!' }, "the launcher's bus id becomes the layer's tag, '!' exposing that device alone");
  t.ok(launched?.unset.includes('MESA_VK_DEVICE_SELECT') && launched.unset.includes('DISPLAY'), 'what would override or defeat it is removed');
  t.same(adapterEnvFor({ CUDA_VISIBLE_DEVICES: '1' }, () => ids)?.set, { DRI_PRIME: 'pci-0000_9a_00_0!' }, 'under mpirun/srun: from CUDA_VISIBLE_DEVICES and nvidia-smi');
  t.equal(adapterEnvFor({ CUDA_VISIBLE_DEVICES: '' }, () => ids), null, 'no GPU given: no mapping');
  t.equal(adapterEnvFor({ CUDA_VISIBLE_DEVICES: '0,1' }, () => ids), null, 'several GPUs given: not ours to choose');
});

t.test('one GPU per rank among identical GPUs: each rank opens the one at its PCI address', async (t) => {
  const devices = [H200('pci-0000_1b_00_0'), H200('pci-0000_9a_00_0'), LLVMPIPE];
  for (const [bus, want] of [['00000000:1B:00.0', devices[0]], ['00000000:9A:00.0', devices[1]]] as const) {
    const env: NodeJS.ProcessEnv = { DDP_GPU_PCI_BUS_ID: bus, CUDA_VISIBLE_DEVICES: '0', DISPLAY: ':0', MESA_VK_DEVICE_SELECT: '10de:2335' };
    const opened = await openAdapter(opts(env, fakeDawn(env, devices)));
    t.equal(opened.adapter.info, want, `${bus}: that GPU`);
    t.equal(env.DRI_PRIME, `${want.bus}!`);
    t.equal(env.DISPLAY, undefined, 'DISPLAY unset');
    t.equal(env.MESA_VK_DEVICE_SELECT, undefined, 'MESA_VK_DEVICE_SELECT unset (it would win over DRI_PRIME)');
    t.equal(opened.warning, null, 'isolated: one hardware adapter left');
    t.match(opened.mapping, `at PCI ${bus} (DRI_PRIME=${want.bus}!)`);
    t.equal(opened.description, 'nvidia-h200, NVIDIA 580.159.04, Vulkan');
  }
  const env: NodeJS.ProcessEnv = { DDP_GPU_PCI_BUS_ID: '00000000:9A:00.0' };
  const noLayer = await openAdapter(opts(env, fakeDawn(env, devices, false)));
  t.match(noLayer.warning, /was not isolated: 2 GPUs are visible .*ranks may share one.*install mesa-vulkan-drivers/, 'without the layer: said, not silent');
  const plain: NodeJS.ProcessEnv = {};
  const single = await openAdapter(opts(plain, fakeDawn(plain, devices)));
  t.equal(single.mapping, null, 'no GPU assigned: the best adapter, no mapping');
  t.equal(plain.DRI_PRIME, undefined);
});

t.test('no adapter: one reason per cause', async (t) => {
  const env: NodeJS.ProcessEnv = {};
  await t.rejects(openAdapter(opts(env, fakeDawn(env, []), { hasVulkanLoader: () => false })), /no Vulkan loader \(libvulkan\.so\.1\): install the libvulkan1 package/);
  const none: NodeJS.ProcessEnv = { VK_DRIVER_FILES: '/nonexistent/nvidia_icd.json' };
  t.same(vulkanDrivers(none), [], 'listed driver files that do not exist count as none');
  await t.rejects(openAdapter(opts(none, fakeDawn(none, []))), /no Vulkan driver: NVIDIA GPUs need the driver with its Vulkan ICD .*AMD\/Intel need mesa-vulkan-drivers/);
  const icd = fileURLToPath(import.meta.url); // any existing file stands for a driver manifest
  const some: NodeJS.ProcessEnv = { VK_DRIVER_FILES: icd };
  await t.rejects(openAdapter(opts(some, fakeDawn(some, []))), new RegExp(`no usable adapter from the Vulkan drivers ${icd}`));
  await t.rejects(openAdapter(opts(env, fakeDawn(env, [LLVMPIPE]))), /only a software adapter \(llvmpipe\); --backend webgpu uses it anyway/, 'auto wants a real GPU');
  await t.rejects(
    openAdapter(opts(env, fakeDawn(env, [H200('x')]), { hasGpuDevice: () => false })),
    /no GPU device \(\/dev\/nvidia\*, \/dev\/dri\/renderD\*, \/dev\/dxg\)/,
    'auto on a host without GPU device nodes: skipped before Dawn starts',
  );
  t.equal((await openAdapter(opts(env, fakeDawn(env, [LLVMPIPE]), { allowSoftware: true, hasGpuDevice: () => false }))).adapter.info, LLVMPIPE, 'forced: no device node needed');
  const forced = await openAdapter(opts(env, fakeDawn(env, [LLVMPIPE]), { allowSoftware: true }));
  t.equal(forced.description, 'llvmpipe-llvm-15-0-6-256-bits-, Mesa 25.0.7 (LLVM 15.0.6) 0.0.1, Vulkan', 'forced: lavapipe accepted');
  await t.rejects(openAdapter(opts(env, fakeDawn(env, []), { loadDawn: async () => { throw new Error("npm package 'webgpu' has no prebuilt dawn.node for linux-ppc64"); } })), /no prebuilt dawn\.node for linux-ppc64/);
  t.ok(isSoftwareAdapter({ vendor: 'google', architecture: '', device: 'swiftshader-device', description: 'SwiftShader Device (Subzero)' }), 'SwiftShader is software');
  t.notOk(isSoftwareAdapter(H200('x')), 'an H200 is not');
  t.equal(describeAdapter({ vendor: 'amd', architecture: 'rdna-3', device: '', description: 'AMD Radeon RX 7900: radv Mesa 25.0' }, 'linux'), 'amd, radv Mesa 25.0, Vulkan', 'no device name: the vendor');
});

t.test('selection: webgpu after node-gpu and before node; auto skips a software adapter, saying so', async (t) => {
  const importModule = async (s: string): Promise<unknown> => {
    if (s.includes('tfjs-node')) throw Object.assign(new Error(`Cannot find package '${s}'`), { code: 'ERR_MODULE_NOT_FOUND' });
    return {};
  };
  const tf = { setBackend: async () => true, ready: async () => {} };
  const software = await selectBackend({ tf, env: {}, importModule, webgpu: async () => { throw new Error('only a software adapter (llvmpipe: Mesa 25.0.7); --backend webgpu uses it anyway'); } });
  t.equal(software.name, 'wasm');
  t.same(software.skipped.map((s) => s.name), ['node-gpu', 'webgpu', 'node']);
  t.match(describeChoice(software), /skipped node-gpu: module not installed; webgpu: only a software adapter \(llvmpipe/);
  let allowed: boolean | undefined;
  const gpu = await selectBackend({
    tf, env: {}, importModule,
    webgpu: async (o) => {
      allowed = o.allowSoftware;
      return { description: 'nvidia-h200, NVIDIA 580.159.04, Vulkan', mapping: 'GPU 3 at PCI 00000000:9A:00.0 (DRI_PRIME=pci-0000_9a_00_0!)', warning: null };
    },
  });
  t.equal(gpu.name, 'webgpu');
  t.equal(allowed, false, 'auto: software adapters refused');
  t.equal(describeChoice(gpu), 'tensor backend: webgpu (nvidia-h200, NVIDIA 580.159.04, Vulkan; GPU 3 at PCI 00000000:9A:00.0 (DRI_PRIME=pci-0000_9a_00_0!)) (skipped node-gpu: module not installed)');
  await selectBackend({ tf, env: {}, forced: 'webgpu', importModule, webgpu: async (o) => ((allowed = o.allowSoftware), { description: 'lavapipe', mapping: null, warning: null }) });
  t.equal(allowed, true, '--backend webgpu: a software adapter will do');
  await t.rejects(
    selectBackend({ tf, env: {}, forced: 'webgpu', importModule, webgpu: async () => { throw new Error('no Vulkan loader (libvulkan.so.1): install the libvulkan1 package'); } }),
    { name: 'UserError', message: /--backend webgpu: cannot load @tensorflow\/tfjs-backend-webgpu: no Vulkan loader .*libvulkan1/ },
    'forced and impossible: an error, never a fallback',
  );
});

t.test("Mesa's device-select layer on lavapipe: DRI_PRIME=pci-...! leaves one of two identical devices", async (t) => {
  if (!needWebGpu(t)) return;
  const lvp = vulkanDrivers({}).find((f) => /lvp_icd/.test(f));
  if (!lvp) {
    t.comment('NOTICE: no lavapipe manifest here; the layer check needs it');
    return;
  }
  // The same driver under two manifests (the loader drops a path listed twice): two identical devices, as
  // 8 x H200 are. lavapipe's PCI address reads 0000:00:00.0.
  const twin = join(t.testdir(), 'lvp_twin.json');
  copyFileSync(lvp, twin);
  const probe = (bus: string | null): string[] => {
    const script =
      `import { listAdapters, openAdapter } from '${new URL('../dist/src/backend/webgpu.js', import.meta.url).href}';` +
      `const dawn = await import('webgpu');` +
      `const opened = await openAdapter({ env: process.env, allowSoftware: true });` +
      `console.log(JSON.stringify({ adapters: await listAdapters(dawn), warning: opened.warning }));`;
    const env = { ...process.env, ...GPU_ENV, VK_DRIVER_FILES: `${lvp}:${twin}`, CUDA_VISIBLE_DEVICES: '', DDP_GPU_PCI_BUS_ID: bus ?? '' };
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { env, encoding: 'utf8', timeout: 60_000 });
    t.equal(r.status, 0, r.stderr);
    return (JSON.parse(r.stdout.trim().split('\n').pop()!) as { adapters: string[] }).adapters;
  };
  t.equal(probe(null).length, 2, 'without a GPU assigned: both devices visible');
  t.equal(probe('00000000:00:00.0').length, 1, 'with its PCI bus id: one device');
});
