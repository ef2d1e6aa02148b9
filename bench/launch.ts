/** Benches that run the real launcher (`dist/launcher/cli.js`): start it, time it, read its report. */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createModel } from '../src/model/registry.js';
import type { RunReport } from '../src/train/report.js';
import { positiveInt, splitList } from './common.js';

export const LAUNCHER = fileURLToPath(new URL('../launcher/cli.js', import.meta.url));
export const REPO = fileURLToPath(new URL('../..', import.meta.url));

/** A running `ddp-launch`; `done` resolves to its wall seconds, or rejects with the tail of its output. */
export interface LauncherProcess {
  pid: number;
  done: Promise<number>;
  /** SIGINT (the launcher stops its workers), SIGKILL 10 s later if it is still there. */
  stop(): void;
}

export interface LauncherOptions {
  timeoutS: number;
  /** Command in front of `node cli.js`, e.g. `ip netns exec NS`. */
  prefix?: readonly string[];
  env?: NodeJS.ProcessEnv;
  /** How errors name this run, e.g. `ddp-launch -n 4`. */
  what?: string;
}

/** Launchers still running, so that a bench interrupted between runs can stop them (see stopAllLaunchers). */
const running = new Set<LauncherProcess>();

/** Asks every launcher still running to stop (its workers follow it). */
export function stopAllLaunchers(): void {
  for (const p of running) p.stop();
}

export function startLauncher(args: readonly string[], opts: LauncherOptions): LauncherProcess {
  const t0 = performance.now();
  const [cmd, ...pre] = [...(opts.prefix ?? []), process.execPath];
  const child = spawn(cmd, [...pre, LAUNCHER, ...args], { cwd: REPO, env: opts.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const keep = (d: Buffer) => {
    out += d;
    if (out.length > 200_000) out = out.slice(-100_000);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  let killTimer: NodeJS.Timeout | undefined;
  const stop = () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGINT');
    killTimer ??= setTimeout(() => child.kill('SIGKILL'), 10_000).unref();
  };
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    stop();
  }, opts.timeoutS * 1000);
  const done = new Promise<number>((resolve, reject) =>
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      running.delete(proc);
      if (code === 0) return resolve((performance.now() - t0) / 1000);
      const tail = out.trim().split('\n').slice(-15).join('\n');
      const what = opts.what ?? 'ddp-launch';
      reject(new Error(`${what} ${timedOut ? `timed out after ${opts.timeoutS} s` : `exited with ${code ?? signal}`}:\n${tail}`));
    }),
  );
  const proc = { pid: child.pid ?? -1, done, stop };
  running.add(proc);
  return proc;
}

export const readReport = (path: string): RunReport => JSON.parse(readFileSync(path, 'utf8')) as RunReport;

/** Dense parameter count of the model a run trained, from the report's config and data description. */
export function denseParams(r: RunReport): number | null {
  const m = r.data.match(/(\d+) fields \(\d+ ids\), (\d+) numeric/);
  if (!m) return null;
  const c = r.config;
  return createModel(c.model, {
    numFields: Number(m[1]),
    numNumeric: Number(m[2]),
    embedDim: c.embedDim,
    mlp: c.mlp,
    crossLayers: c.crossLayers,
    lowRank: c.lowRank,
    experts: c.experts,
  }).numDense;
}

/**
 * The parseArgs options of a bench that runs one training job per N through the launcher (DeepFM-like models on
 * synthetic v1 data), with that bench's defaults.
 */
export function jobOptions(defaults: { nprocs: string; steps: string; repeats: string }) {
  return {
    nprocs: { type: 'string', default: defaults.nprocs },
    batch: { type: 'string', default: '8192' },
    steps: { type: 'string', default: defaults.steps },
    repeats: { type: 'string', default: defaults.repeats },
    model: { type: 'string', default: 'deepfm' },
    mlp: { type: 'string' },
    'embed-dim': { type: 'string' },
    'timeout-per-run': { type: 'string', default: '900' },
  } as const;
}

export interface Job {
  nprocs: number[];
  batch: number;
  steps: number;
  repeats: number;
  timeoutS: number;
  dataSpec: string;
  /** Training flags for `ddp-launch` (everything but -n, --sync and --report). */
  trainFlags: string[];
}

/** The job jobOptions describes: N ascending, each dividing the batch (uneven shards would skew per-rank figures). */
export function jobFrom(values: { nprocs: string; batch: string; steps: string; repeats: string; model: string; mlp?: string; 'embed-dim'?: string; 'timeout-per-run': string }): Job {
  const nprocs = [...new Set(splitList(values.nprocs).map((s) => positiveInt('nprocs', s)))].sort((a, b) => a - b);
  const batch = positiveInt('batch', values.batch);
  const steps = positiveInt('steps', values.steps);
  for (const n of nprocs) if (batch % n) throw new Error(`--batch ${batch} is not divisible by N=${n}: uneven shards would skew the per-rank figures`);
  // Exactly `steps` full global batches: one epoch, no short last batch, no wrap-around.
  const dataSpec = `synthetic:v1,rows=${batch * steps},eval-rows=1000`;
  const trainFlags = ['--data', dataSpec, '--model', values.model, '--global-batch', String(batch), '--steps', String(steps), '--log-every', '0'];
  if (values.mlp) trainFlags.push('--mlp', values.mlp);
  if (values['embed-dim']) trainFlags.push('--embed-dim', values['embed-dim']);
  return { nprocs, batch, steps, repeats: positiveInt('repeats', values.repeats), timeoutS: positiveInt('timeout-per-run', values['timeout-per-run']), dataSpec, trainFlags };
}
