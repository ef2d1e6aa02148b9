/**
 * bench/soak.ts's ranks: each rank's op loop (run, check, sample RSS) and the parent's side, which spawns the ranks
 * against a rendezvous it serves (as ddp-launch does) and collects their reports.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { createCommunicator, type CommStats, type TransportName } from '../src/comm/index.js';
import { RendezvousServer } from '../topology/rendezvous.js';
import { localRankEnv } from './common.js';
import { runOp } from './soak-check.js';
import { describeOp, plan, received, type PlannedOp } from './soak-plan.js';
import { mb } from './soak-print.js';

/** A collective that takes longer than this is a hang, not load: fail it loudly instead of after 10 minutes. */
const COLLECTIVE_TIMEOUT_MS = 120_000;
/** After one rank fails, the others should fail at once (its farewell or closed socket); kill them after this. */
const STRAGGLER_KILL_MS = 30_000;

/** What a rank reports (one JSON line on its stdout). */
export interface RankReport {
  rank: number;
  status: 'ok' | 'mismatch' | 'error';
  /** The failure, naming op, kind, size, rank and element. */
  message?: string;
  /** Ops completed and checked. */
  ops: number;
  /** Time of the op loop (fill + collective + check), after a barrier. */
  seconds: number;
  /** Time inside collectives (stats), waiting included. */
  commSeconds: number;
  /** Absent if the rank died without a report. */
  stats?: CommStats;
  /** [ops done, RSS, heapUsed, arrayBuffers] in bytes: before the first op, every --sample-every ops, and at the end. */
  rss: [number, number, number, number][];
  /** process.memoryUsage() at the end. */
  memoryEnd?: NodeJS.MemoryUsage;
}

export interface Config {
  ranks: number;
  ops: number;
  maxSize: number;
  seed: number;
  transport: TransportName;
  sampleEvery: number;
  /** Run a full GC before each sample (workers get --expose-gc): live memory rather than what V8 has not collected yet. */
  gc: boolean;
  corruptAt?: number;
}

/** One rank: the whole plan, its report on stdout, then exit (1 on a mismatch or error). */
export async function worker(cfg: Config): Promise<void> {
  const comm = await createCommunicator({
    fingerprint: 'bench/soak',
    serveRendezvous: false,
    transport: cfg.transport,
    collectiveTimeoutMs: COLLECTIVE_TIMEOUT_MS,
  });
  const { rank, size } = comm;
  const rss: RankReport['rss'] = [];
  const gc = (globalThis as { gc?: () => void }).gc;
  if (cfg.gc && !gc) throw new Error('--gc: this rank was not started with --expose-gc');
  const sample = (done: number): void => {
    if (cfg.gc) gc!();
    const m = process.memoryUsage();
    rss.push([done, m.rss, m.heapUsed, m.arrayBuffers]);
  };
  let corruptPending = cfg.corruptAt !== undefined && rank === size - 1;
  const progressEvery = Math.max(1, Math.round(cfg.ops / 10));
  let done = 0;
  let current: PlannedOp | undefined;
  let status: RankReport['status'] = 'ok';
  let message: string | undefined;
  await comm.barrier();
  sample(0);
  const t0 = performance.now();
  try {
    for (const op of plan(cfg.seed, cfg.ops, size, cfg.maxSize)) {
      current = op;
      const corrupt = corruptPending && op.index >= cfg.corruptAt! && received(op, rank, size) > 0;
      if (corrupt) {
        corruptPending = false;
        console.error(`soak: --corrupt-at ${cfg.corruptAt}: rank ${rank} alters its result of op ${op.index} (${describeOp(op)})`);
      }
      const bad = await runOp(comm, op, corrupt);
      if (bad) {
        status = 'mismatch';
        message =
          `MISMATCH at op ${op.index} (${describeOp(op)}) on rank ${rank}: ${bad.where}: expected ${bad.expected}, got ${bad.got}` +
          ` (${bad.wrong} of ${bad.of} wrong)`;
        console.error(`soak: ${message}`);
        break;
      }
      done = op.index + 1;
      if (done % cfg.sampleEvery === 0) sample(done);
      if (rank === 0 && done % progressEvery === 0) {
        const s = (performance.now() - t0) / 1e3;
        console.error(`soak: ${done}/${cfg.ops} ops, ${s.toFixed(1)} s, ${(done / s).toFixed(0)} ops/s, rank 0 RSS ${mb(process.memoryUsage().rss)} MB`);
      }
    }
  } catch (err) {
    status = 'error';
    message = `rank ${rank} failed in op ${done}${current ? ` (${describeOp(current)})` : ''}: ${(err as Error).message}`;
    console.error(`soak: ${message}`);
  }
  const seconds = (performance.now() - t0) / 1e3;
  if (rss[rss.length - 1][0] !== done) sample(done);
  const commSeconds = Object.values(comm.stats.byKind).reduce((a, k) => a + k.seconds, 0);
  const report: RankReport = { rank, status, message, ops: done, seconds, commSeconds, stats: comm.stats, rss, memoryEnd: process.memoryUsage() };
  // Written before close(), so the parent has it even if closing a failed communicator takes a while.
  await new Promise<void>((resolve) => process.stdout.write(`${JSON.stringify(report)}\n`, () => resolve()));
  await comm.close();
  process.exit(status === 'ok' ? 0 : 1);
}

const children = new Set<ChildProcess>();
process.on('exit', () => children.forEach((c) => c.kill('SIGKILL')));

/**
 * Spawns the ranks (`node script --worker ...`, script being bench/soak's entry) against a rendezvous served here;
 * resolves with each rank's report (or its failure).
 */
export async function runRanks(cfg: Config, script: string): Promise<RankReport[]> {
  const token = randomBytes(8).toString('hex');
  const server = await RendezvousServer.start({ host: '127.0.0.1', port: 0, worldSize: cfg.ranks, token, timeoutMs: 60_000, log: console.error });
  const port = server.endpoint.slice(server.endpoint.lastIndexOf(':') + 1);
  const args = ['--worker', '--ops', String(cfg.ops), '--max-size', String(cfg.maxSize), '--seed', String(cfg.seed)];
  args.push('--transport', cfg.transport, '--sample-every', String(cfg.sampleEvery));
  if (cfg.gc) args.push('--gc');
  if (cfg.corruptAt !== undefined) args.push('--corrupt-at', String(cfg.corruptAt));
  let killTimer: NodeJS.Timeout | undefined;
  try {
    return await Promise.all(
      Array.from({ length: cfg.ranks }, (_, rank) => {
        const child = spawn(process.execPath, [...(cfg.gc ? ['--expose-gc'] : []), script, ...args], {
          env: localRankEnv(rank, cfg.ranks, port, token),
          stdio: ['ignore', 'pipe', 'inherit'],
        });
        children.add(child);
        let out = '';
        child.stdout.on('data', (d: Buffer) => (out += d));
        return new Promise<RankReport>((resolve) =>
          child.on('close', (code, signal) => {
            children.delete(child);
            const line = out.split('\n').find((l) => l.startsWith('{'));
            const report = line ? (JSON.parse(line) as RankReport) : undefined;
            if (code !== 0 && !killTimer) {
              killTimer = setTimeout(() => {
                for (const c of children) {
                  console.error(`soak: killing a rank still running ${STRAGGLER_KILL_MS / 1e3} s after another failed`);
                  c.kill('SIGKILL');
                }
              }, STRAGGLER_KILL_MS);
            }
            if (report) resolve(report);
            else resolve({ rank, status: 'error', message: `rank ${rank} exited with ${code ?? signal} without a report`, ops: 0, seconds: 0, commSeconds: 0, rss: [] });
          }),
        );
      }),
    );
  } finally {
    clearTimeout(killTimer);
    server.close();
  }
}
