import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, type WriteStream } from 'node:fs';
import { constants } from 'node:os';
import { join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import type { WorkerFatal } from '../src/util/errors.js';
import { makeDirs } from '../src/util/outputs.js';

/**
 * Starts the local worker processes, relays their output prefixed by rank, and makes the job's fate
 * everyone's fate: the first worker that fails stops all others (SIGTERM, then SIGKILL after a grace
 * period) and the launcher exits non-zero naming it. SIGINT/SIGTERM to the launcher stop all workers the
 * same way (a second signal kills them at once). Workers hold an IPC channel to the launcher and exit when
 * it closes, so even a launcher killed with SIGKILL leaves no orphans. A worker that fails reports its error
 * over that channel instead of printing it (a `WorkerFatal`): the launcher prints the root cause once, with
 * the rank, where N ranks failing alike, and peers losing the failed rank, would print N+1 variants of it.
 */
export interface WorkerSpec {
  rank: number;
  /** A parameter server (`rank` is then its index): named 'server K', output prefixed [sK]. */
  server?: boolean;
  env: NodeJS.ProcessEnv;
}

const nameOf = (spec: WorkerSpec): string => `${spec.server ? 'server' : 'rank'} ${spec.rank}`;

export interface SuperviseOptions {
  script: string;
  args: string[];
  workers: WorkerSpec[];
  logDir?: string;
  /** Time between SIGTERM and SIGKILL when stopping workers (default STOP_GRACE_MS). */
  graceMs?: number;
  stdout?: Writable;
  stderr?: Writable;
  /**
   * Redraw rank 0's progress lines in place as one live line at the bottom, other output scrolling above it
   * (default: when stdout is a terminal). Otherwise every line is kept, as in CI logs and files.
   */
  live?: boolean;
}

/** A worker's progress line (src/train/progress.ts). */
const PROGRESS = /^step \d+\/\d+ /;
const CLEAR_LINE = '\r\x1b[2K';

export interface JobResult {
  code: number;
  /** Set when a worker failed (or the launcher was interrupted): the message printed for the user. */
  failure?: string;
}

const isFatal = (m: unknown): m is { fatal: WorkerFatal } =>
  typeof m === 'object' && m !== null && typeof (m as { fatal?: WorkerFatal }).fatal?.message === 'string';

const TAIL_LINES = 20;
/**
 * How long a consequence (a rank that lost a peer) waits for the peer's own report or exit, which arrive
 * within milliseconds of it, before it is reported as the failure.
 */
const ROOT_CAUSE_WAIT_MS = 1000;
/**
 * Workers have nothing to flush on SIGTERM (checkpoints are renamed into place whole), and one that handles
 * it while busy or stuck may never act on it: a short grace keeps "a failed rank stops the job" within seconds.
 */
export const STOP_GRACE_MS = 2000;

interface Running {
  spec: WorkerSpec;
  child: ChildProcess;
  tail: string[];
  exited: boolean;
  fatal?: WorkerFatal;
  log?: WriteStream;
}

export function supervise(opts: SuperviseOptions): Promise<JobResult> {
  const out = opts.stdout ?? process.stdout;
  const err = opts.stderr ?? process.stderr;
  const graceMs = opts.graceMs ?? STOP_GRACE_MS;
  if (opts.logDir) makeDirs(opts.logDir);
  const live = opts.live ?? (out as { isTTY?: boolean }).isTTY === true;
  /** The live line on screen, if any. */
  let shown = '';

  return new Promise<JobResult>((resolve) => {
    let failure: string | undefined;
    // Exit code 2 means bad user input (flags, files) in a worker: the launcher says so with the same code.
    let failCode = 1;
    let remaining = opts.workers.length;
    let killTimer: NodeJS.Timeout | undefined;
    /** A consequence held back for ROOT_CAUSE_WAIT_MS in case the cause itself reports. */
    let pending: { timer: NodeJS.Timeout; commit: () => void } | undefined;

    const running: Running[] = opts.workers.map((spec) => {
      const child = spawn(process.execPath, [...process.execArgv, opts.script, ...opts.args], {
        env: spec.env,
        stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      });
      const r: Running = { spec, child, tail: [], exited: false };
      if (opts.logDir) r.log = createWriteStream(join(opts.logDir, `${spec.server ? 'server' : 'rank'}-${spec.rank}.log`));
      relay(child.stdout!, out, r, false);
      relay(child.stderr!, err, r, true);
      child.on('message', (m) => {
        if (!isFatal(m)) return;
        r.fatal = m.fatal;
        r.log?.write(`error: ${m.fatal.message}\n`);
      });
      child.on('error', (e) => fail(r, `could not start: ${e.message}`));
      child.on('close', (code, signal) => {
        r.exited = true;
        if (code !== 0) fail(r, signal ? `was killed by signal ${signal}` : `exited with code ${code}`, code);
        if (--remaining === 0) finish();
      });
      return r;
    });

    function fail(r: Running, what: string, code: number | null = null): void {
      if (failure !== undefined) return; // the root cause is the first failure; the rest are our own kills
      const commit = () => {
        pending = undefined;
        if (code === 2) failCode = 2;
        const others = running.some((o) => o !== r && !o.exited) ? '; stopping the other workers' : '';
        // A reported error is the cause (its earlier lines are on screen); otherwise its last words may say.
        const cause = r.fatal ? `: ${r.fatal.message}` : '';
        const tail = !r.fatal && r.tail.length ? `\nlast stderr lines of ${nameOf(r.spec)}:\n${r.tail.map((l) => `  ${l}`).join('\n')}` : '';
        failure = `${nameOf(r.spec)} (pid ${r.child.pid}) ${what}${cause}${others}${tail}`;
        stopAll();
      };
      if (pending) {
        if (r.fatal?.consequence) return; // another consequence: the first one stands in
        clearTimeout(pending.timer);
        return commit();
      }
      if (!r.fatal?.consequence || running.every((o) => o === r || o.exited)) return commit();
      pending = { timer: setTimeout(() => pending?.commit(), ROOT_CAUSE_WAIT_MS), commit };
    }

    function stopAll(): void {
      signalAll('SIGTERM');
      killTimer = setTimeout(() => signalAll('SIGKILL'), graceMs);
      killTimer.unref();
    }

    function signalAll(sig: NodeJS.Signals): void {
      for (const r of running) if (!r.exited) r.child.kill(sig);
    }

    const onSignal = (sig: NodeJS.Signals) => {
      if (killTimer) return signalAll('SIGKILL'); // already stopping: a second Ctrl-C means now
      if (pending) clearTimeout(pending.timer);
      pending = undefined;
      failure = `interrupted by ${sig}; stopping all workers`;
      failCode = 128 + constants.signals[sig]; // the shell convention: 130 for SIGINT, 143 for SIGTERM
      stopAll();
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);

    function finish(): void {
      pending?.commit(); // every worker has exited: the consequence is all there is
      if (killTimer) clearTimeout(killTimer);
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      for (const r of running) r.log?.end();
      if (shown) out.write('\n'); // the last progress line stays on screen
      resolve(failure === undefined ? { code: 0 } : { code: failCode, failure });
    }
  });

  function relay(from: Readable, to: Writable, r: Running, isErr: boolean): void {
    let partial = '';
    from.setEncoding('utf8');
    const emit = (line: string) => {
      const text = `[${r.spec.server ? 's' : 'r'}${r.spec.rank}] ${line}`;
      if (live && !isErr && !r.spec.server && r.spec.rank === 0 && PROGRESS.test(line)) {
        out.write(`${CLEAR_LINE}${text}`);
        shown = text;
      } else if (shown) {
        out.write(CLEAR_LINE);
        to.write(`${text}\n`);
        out.write(shown);
      } else {
        to.write(`${text}\n`);
      }
      r.log?.write(`${line}\n`);
      if (isErr) {
        r.tail.push(line);
        if (r.tail.length > TAIL_LINES) r.tail.shift();
      }
    };
    from.on('data', (chunk: string) => {
      const lines = (partial + chunk).split('\n');
      partial = lines.pop()!;
      for (const l of lines) emit(l);
    });
    from.on('end', () => {
      if (partial) emit(partial);
    });
  }
}
