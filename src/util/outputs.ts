/**
 * Output locations (--report, --html, --save, --save-best, --metrics, --log-dir, --compare-out) are checked before any work
 * starts: a path under a file, or in a place nobody may write, must fail in the first second with the flag's
 * name, not after hours of training with the model lost. And a write that still fails at the end keeps the
 * result in a rescue folder rather than dropping it.
 */
import { closeSync, mkdirSync, openSync, statSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { UserError } from './errors.js';

/**
 * mkdir -p without Node's recursive mkdir, which spins forever on some paths (`/proc/forbidden/x`: mkdir answers
 * ENOENT for a folder whose parent exists). Throws a plain Error naming what is in the way.
 */
export function makeDirs(dir: string): void {
  const missing: string[] = [];
  let at = resolve(dir);
  for (;;) {
    let isDir: boolean;
    try {
      isDir = statSync(at).isDirectory();
    } catch (err) {
      // ENOTDIR: a file further up, found as the walk goes on.
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT' && code !== 'ENOTDIR') throw err;
      missing.push(at);
      const up = dirname(at);
      if (up === at) throw new Error(`${at} does not exist`);
      at = up;
      continue;
    }
    if (!isDir) throw new Error(`${at} is a file, not a folder`);
    break;
  }
  for (const d of missing.reverse()) {
    try {
      mkdirSync(d);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw new Error(`cannot create ${d} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
    }
  }
}

/** Creates `dir` if needed and proves a file can be created in it (the probe is removed). */
function probeDir(dir: string): void {
  makeDirs(dir);
  const probe = join(dir, `.ddp-write-test-${process.pid}`);
  try {
    closeSync(openSync(probe, 'wx'));
  } catch (err) {
    throw new Error(`cannot create files in ${dir} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  unlinkSync(probe);
}

/**
 * Checks that `flag`'s output can be written: a `file` (its folder is created), a `dir` (created), or a
 * `checkpoint` folder (its parent created). Throws a UserError naming the flag, the path and what is wrong.
 */
export function checkOutput(flag: string, path: string, kind: 'file' | 'dir' | 'checkpoint'): void {
  try {
    let existing: ReturnType<typeof statSync> | undefined;
    try {
      existing = statSync(path);
    } catch {
      // not there yet: fine
    }
    if (kind === 'file' && existing?.isDirectory()) throw new Error(`${path} is a folder; expected a file name`);
    if (kind !== 'file' && existing && !existing.isDirectory()) throw new Error(`${path} is a file; expected a folder`);
    // A checkpoint is written beside its folder and renamed into place: its parent must take new files.
    probeDir(kind === 'dir' ? path : dirname(resolve(path)));
  } catch (err) {
    throw new UserError(`--${flag} ${path}: cannot write there: ${(err as Error).message}`);
  }
}

let rescue: string | undefined;

/** A folder of this process's own under the system's temporary folder, for results whose location failed at the end. */
export function rescueDir(): string {
  if (!rescue) {
    rescue = join(tmpdir(), `ddp-ctr-rescue-${process.pid}-${Date.now()}`);
    makeDirs(rescue);
  }
  return rescue;
}

/** A run's output flags, checked together by the launcher and by a worker started without it. */
export function checkRunOutputs(o: { report?: string; html?: string; save?: string; saveBest?: string }): void {
  if (o.report) checkOutput('report', o.report, 'file');
  if (o.html) checkOutput('html', o.html, 'file');
  if (o.save) checkOutput('save', o.save, 'checkpoint');
  if (o.saveBest) checkOutput('save-best', o.saveBest, 'checkpoint');
}
