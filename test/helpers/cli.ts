import { spawn } from 'node:child_process';
import type { Test } from 'tap';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The compiled launcher: `npm test` builds dist/ first (pretest), as `npm ci` does for users. */
export const LAUNCHER = fileURLToPath(new URL('../../dist/launcher/cli.js', import.meta.url));
export const REPO = fileURLToPath(new URL('../..', import.meta.url));
export const SHARED_DATA = fileURLToPath(new URL('../../../shared/data', import.meta.url));

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs `ddp-launch ARGS` to completion (killed after timeoutMs) and collects its output. */
export function runLauncher(args: string[], opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<RunResult> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [LAUNCHER, ...args], {
      cwd: REPO,
      env: { ...process.env, ...opts.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d));
    child.stderr.on('data', (d: Buffer) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 120_000);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/**
 * Path of a real data sample in ../shared/data, or undefined after failing the test (in CI, where
 * shared/ must sit beside the checkout) or skipping it with a visible notice (elsewhere).
 */
export function realSample(t: Test, relPath: string): string | undefined {
  const path = join(SHARED_DATA, relPath);
  if (existsSync(path)) return path;
  if (process.env.CI === 'true') t.fail(`${path} is missing: CI must have ../shared beside the checkout`);
  else t.test(`real sample ${relPath}`, { skip: `NOTICE: ${path} not found (shared/ must sit beside the repository)` }, () => {});
  return undefined;
}
