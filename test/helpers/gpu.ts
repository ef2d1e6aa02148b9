import { spawnSync } from 'node:child_process';
import type { Test } from 'tap';
import { REPO } from './cli.js';

/** Environment for WebGPU children: XDG_RUNTIME_DIR silences a harmless Mesa warning. */
export const GPU_ENV: NodeJS.ProcessEnv = { XDG_RUNTIME_DIR: process.env.XDG_RUNTIME_DIR ?? '/tmp' };

let cached: string | null | undefined;

/** Why no WebGPU adapter (a software one counts) can be opened here, or null when one can; asked in a child once. */
export function webgpuUnavailable(): string | null {
  if (cached !== undefined) return cached;
  const probe =
    "import { create, globals } from 'webgpu'; Object.assign(globalThis, globals);" +
    "const a = await create([]).requestAdapter(); if (!a) { console.log('no adapter'); process.exit(3); }" +
    "console.log(a.info.description); process.exit(0);";
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', probe], { cwd: REPO, env: { ...process.env, ...GPU_ENV }, encoding: 'utf8', timeout: 60_000 });
  cached = r.status === 0 ? null : `no WebGPU adapter (${(r.stdout + r.stderr).trim().split('\n').pop() || `exit ${r.status}`})`;
  return cached;
}

/**
 * True when WebGPU tests can run. In CI (which installs Mesa 25's lavapipe) a missing adapter fails the
 * test; elsewhere the test is skipped with a visible notice.
 */
export function needWebGpu(t: Test): boolean {
  const why = webgpuUnavailable();
  if (!why) return true;
  if (process.env.CI === 'true') t.fail(`${why}: CI must install mesa-vulkan-drivers and libvulkan1 from bookworm-backports (.ci/run)`);
  else t.test('webgpu', { skip: `NOTICE: ${why}; install Mesa >= 25 (mesa-vulkan-drivers from bookworm-backports) and libvulkan1 to run it` }, () => {});
  return false;
}
