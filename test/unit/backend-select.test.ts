import t from 'tap';
import { selectBackend, parseBackendFlag, describeChoice } from '../../src/backend/select.js';
import { UserError } from '../../src/util/errors.js';

/** A fake tfjs whose setBackend succeeds for the names in `works`. */
function fakeTf(works: string[]) {
  const calls: string[] = [];
  return {
    calls,
    tf: {
      setBackend: async (name: string) => {
        calls.push(name);
        return works.includes(name);
      },
      ready: async () => {},
    },
  };
}
/** This machine's WebGPU, simulated: no GPU driver. */
const noGpu = async (): Promise<never> => {
  throw new Error('no Vulkan driver: NVIDIA GPUs need the driver with its Vulkan ICD');
};
const missing = (present: string[]) => async (spec: string) => {
  if (present.includes(spec)) return {};
  const e = new Error(`Cannot find package '${spec}'`) as Error & { code: string };
  e.code = 'ERR_MODULE_NOT_FOUND';
  throw e;
};

t.test('auto picks the first backend that loads and says why others were skipped', async (t) => {
  const { tf, calls } = fakeTf(['wasm', 'cpu']);
  const choice = await selectBackend({
    tf,
    env: {},
    importModule: missing(['@tensorflow/tfjs-backend-wasm', '@tensorflow/tfjs-backend-cpu']),
    webgpu: noGpu,
  });
  t.equal(choice.name, 'wasm');
  t.same(choice.skipped, [
    { name: 'node-gpu', why: 'module not installed' },
    { name: 'webgpu', why: 'no Vulkan driver: NVIDIA GPUs need the driver with its Vulkan ICD' },
    { name: 'node', why: 'module not installed' },
  ]);
  t.same(calls, ['wasm'], 'setBackend is only called for modules that loaded');
  t.match(describeChoice(choice), /tensor backend: wasm \(skipped node-gpu: module not installed; webgpu: no Vulkan driver.*; node: module not installed\)/);
});

t.test('native modules present: node-gpu wins, unless the rank was given no GPU', async (t) => {
  const all = missing(['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node', '@tensorflow/tfjs-backend-wasm']);
  const a = await selectBackend({ tf: fakeTf(['tensorflow', 'wasm']).tf, env: { CUDA_VISIBLE_DEVICES: '0' }, importModule: all });
  t.equal(a.name, 'node-gpu');
  const b = await selectBackend({ tf: fakeTf(['tensorflow', 'wasm']).tf, env: { CUDA_VISIBLE_DEVICES: '' }, importModule: all, webgpu: noGpu });
  t.equal(b.name, 'node');
  t.match(b.skipped[0].why, /gives this rank no GPU/);
});

t.test('a module that loads but fails to initialise is skipped with its error', async (t) => {
  const choice = await selectBackend({
    tf: fakeTf(['cpu']).tf,
    env: {},
    importModule: async (s) => {
      if (s.includes('tfjs-node')) throw new Error('libtensorflow.so.2: cannot open shared object file\nstack...');
      return {};
    },
    webgpu: noGpu,
  });
  t.equal(choice.name, 'cpu');
  t.same(choice.skipped.map((s) => s.why), [
    'libtensorflow.so.2: cannot open shared object file',
    'no Vulkan driver: NVIDIA GPUs need the driver with its Vulkan ICD',
    'libtensorflow.so.2: cannot open shared object file',
    "tfjs could not initialise backend 'wasm'",
  ]);
});

t.test('a forced backend never falls back', async (t) => {
  const choice = await selectBackend({ forced: 'cpu', tf: fakeTf(['wasm', 'cpu']).tf, env: {}, importModule: missing(['@tensorflow/tfjs-backend-cpu']) });
  t.same(choice, { name: 'cpu', skipped: [] });
  await t.rejects(
    selectBackend({ forced: 'node', tf: fakeTf(['wasm']).tf, env: {}, importModule: missing([]) }),
    new UserError('--backend node: cannot load @tensorflow/tfjs-node: module not installed'),
  );
});

t.test('unknown backend names are a clear error', async (t) => {
  t.throws(() => parseBackendFlag('gpu'), /--backend gpu: unknown backend; expected one of auto, node-gpu, webgpu, node, wasm, cpu/);
  t.equal(parseBackendFlag(undefined), 'auto');
  await t.rejects(selectBackend({ forced: 'tpu' }), /unknown backend/);
});

t.test('the real selection on this machine lands on an installed backend', async (t) => {
  const tfjs = await import('@tensorflow/tfjs');
  const choice = await selectBackend({ forced: 'cpu' });
  t.equal(choice.name, 'cpu');
  t.equal(tfjs.getBackend(), 'cpu');
});
