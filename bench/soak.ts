/**
 * Soak test of the communicator: `--ops` back-to-back collectives of random kinds and sizes across `--ranks`
 * real processes meeting over real sockets on 127.0.0.1 (the rendezvous is hosted in this process, as
 * ddp-launch does), every result checked element by element, and each rank's RSS sampled every
 * `--sample-every` ops (it should stay flat: a leak of one buffer per op would show as steady growth).
 *
 * Every rank draws the same sequence of (kind, size, root) from `--seed` (src/util/rng.ts), so all ranks issue
 * identical collectives. Sizes are log-uniform from 0 to `--max-size` bytes (0 included). Kinds:
 * allreduce sum (20%) and mean (15%), allgatherv (20%; each rank's payload log-uniform up to max-size / ranks,
 * so the gathered total is at most max-size), alltoallv (20%; each part log-uniform up to max-size / ranks, so a
 * rank receives at most max-size), broadcast (15%, random root) and barrier (10%). Buffer contents are a hash of
 * (op index, rank, element): allreduce values are integers in [-128, 127], so sums are exact in float32 and the
 * mean is exactly fround(sum / N); allgatherv, alltoallv (a hash of sender and receiver) and broadcast carry hash
 * bytes, so a chunk that lands at the wrong offset, from the wrong rank or from an earlier op is caught. The first mismatch stops the
 * rank with a message naming op index, kind, size, rank and element; the bench then exits 1.
 *
 *   node dist/bench/soak.js [--ranks 4] [--ops 10000] [--max-size 4M] [--seed 1] [--transport tcp|zmq]
 *                           [--sample-every 100] [--gc]
 *
 * `--gc` runs a full GC before each sample, so RSS tracks live memory rather than garbage V8 has not collected yet.
 * One JSON line, then a markdown table on stdout; progress on stderr. `--corrupt-at K` (for the test) makes
 * rank N-1 alter its result of the first op >= K that has data, to show that the checker fails.
 *
 * The default run (10,000 ops, ~2.3 GB of results per rank) takes about a minute on the shared 2-core VM.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { realpathSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createCommunicator, TRANSPORTS, type CommStats, type Communicator, type TransportName } from '../src/comm/index.js';
import { Rng } from '../src/util/rng.js';
import { RendezvousServer } from '../topology/rendezvous.js';
import { loadavgNow, machineInfo, markdownTable, median, localRankEnv } from './common.js';

const MB = 2 ** 20;
/** A collective that takes longer than this is a hang, not load: fail it loudly instead of after 10 minutes. */
const COLLECTIVE_TIMEOUT_MS = 120_000;
/** After one rank fails, the others should fail at once (its farewell or closed socket); kill them after this. */
const STRAGGLER_KILL_MS = 30_000;

export const SOAK_KINDS = ['allreduce-sum', 'allreduce-mean', 'allgatherv', 'alltoallv', 'broadcast', 'barrier'] as const;
export type SoakKind = (typeof SOAK_KINDS)[number];
/** Cumulative thresholds for the kinds above: 20%, 15%, 20%, 20%, 15%, 10%. */
const KIND_CDF = [0.2, 0.35, 0.55, 0.75, 0.9, 1];

/** One collective of the plan, identical on every rank. */
export interface PlannedOp {
  index: number;
  kind: SoakKind;
  /**
   * Bytes each rank holds as the result: the buffer (allreduce, broadcast), all payloads (allgatherv), or the
   * parts it receives (alltoallv: the mean over ranks, rounded).
   */
  bytes: number;
  /** allgatherv: each rank's payload length; alltoallv: the length of rank s's part for rank d at s * ranks + d. */
  lengths?: number[];
  /** broadcast: the root. */
  root?: number;
}

/** Log-uniform in [0, max] (0 has probability ln 2 / ln(max + 1)). */
function logUniform(rng: Rng, max: number): number {
  return Math.min(max, Math.floor(Math.exp(rng.next() * Math.log(max + 1))) - 1);
}

/** The ops of the plan, in order: the same on every rank and in the parent for a given seed. */
export function* plan(seed: number, ops: number, ranks: number, maxSize: number): Generator<PlannedOp> {
  const rng = new Rng(seed, 0x50a4);
  for (let index = 0; index < ops; index++) {
    const u = rng.next();
    const kind = SOAK_KINDS[KIND_CDF.findIndex((c) => u < c)];
    switch (kind) {
      case 'allreduce-sum':
      case 'allreduce-mean':
        yield { index, kind, bytes: logUniform(rng, maxSize) & ~3 };
        break;
      case 'allgatherv': {
        const lengths = Array.from({ length: ranks }, () => logUniform(rng, Math.floor(maxSize / ranks)));
        yield { index, kind, bytes: lengths.reduce((a, b) => a + b, 0), lengths };
        break;
      }
      case 'alltoallv': {
        const lengths = Array.from({ length: ranks * ranks }, () => logUniform(rng, Math.floor(maxSize / ranks)));
        yield { index, kind, bytes: Math.round(lengths.reduce((a, b) => a + b, 0) / ranks), lengths };
        break;
      }
      case 'broadcast':
        yield { index, kind, bytes: logUniform(rng, maxSize), root: rng.int(ranks) };
        break;
      case 'barrier':
        yield { index, kind, bytes: 0 };
        break;
    }
  }
}

/** 32-bit hash of (op, rank): the seed of that rank's contents in that op. */
function contentSeed(op: number, rank: number): number {
  return mix(Math.imul(op + 1, 0x9e3779b1) ^ Math.imul(rank + 1, 0x85ebca77));
}

function mix(x: number): number {
  x = Math.imul(x ^ (x >>> 16), 0x7feb352d);
  x = Math.imul(x ^ (x >>> 15), 0x846ca68b);
  return (x ^ (x >>> 16)) >>> 0;
}

/** The bytes `rank` receives in `op` (what a corruption can alter). */
function received(op: PlannedOp, rank: number, ranks: number): number {
  return op.kind === 'alltoallv' ? op.lengths!.reduce((a, len, i) => a + (i % ranks === rank ? len : 0), 0) : op.bytes;
}

/** Allreduce input of element j: an integer in [-128, 127]. */
const floatAt = (seed: number, j: number): number => (mix((seed + j) | 0) & 255) - 128;
/** Allgatherv / broadcast byte j. */
const byteAt = (seed: number, j: number): number => mix((seed + j) | 0) >>> 24;

function fillFloats(buf: Float32Array, seed: number): void {
  for (let j = 0; j < buf.length; j++) buf[j] = floatAt(seed, j);
}

function fillBytes(buf: Uint8Array, seed: number): void {
  for (let j = 0; j < buf.length; j++) buf[j] = byteAt(seed, j);
}

/** A wrong result: where, what was expected and what came, and how many elements were wrong in all. */
interface Mismatch {
  where: string;
  expected: number | string;
  got: number | string;
  wrong: number;
  of: number;
}

function checkAllreduce(buf: Float32Array, op: number, ranks: number, mean: boolean): Mismatch | null {
  const seeds = Array.from({ length: ranks }, (_, r) => contentSeed(op, r));
  let first: Mismatch | null = null;
  let wrong = 0;
  for (let j = 0; j < buf.length; j++) {
    let sum = 0;
    for (let r = 0; r < ranks; r++) sum += floatAt(seeds[r], j);
    const expected = mean ? Math.fround(sum / ranks) : sum;
    if (buf[j] !== expected) {
      wrong++;
      first ??= { where: `element ${j}`, expected, got: buf[j], wrong: 0, of: buf.length };
    }
  }
  return first && { ...first, wrong };
}

function checkBytes(data: Uint8Array, expectedLength: number, seed: number, what: string): Mismatch | null {
  if (data.length !== expectedLength) {
    return { where: `${what} length`, expected: `${expectedLength} B`, got: `${data.length} B`, wrong: 1, of: 1 };
  }
  let first: Mismatch | null = null;
  let wrong = 0;
  for (let j = 0; j < data.length; j++) {
    const expected = byteAt(seed, j);
    if (data[j] !== expected) {
      wrong++;
      first ??= { where: `byte ${j} of ${what}`, expected, got: data[j], wrong: 0, of: data.length };
    }
  }
  return first && { ...first, wrong };
}

function describeOp(op: PlannedOp): string {
  const parts = [`${op.bytes} B`];
  if (op.kind.startsWith('allreduce')) parts.push(`${op.bytes / 4} float32`);
  if (op.lengths) parts.push(`${op.kind === 'alltoallv' ? 'parts' : 'payloads'} ${op.lengths.join('/')} B`);
  if (op.root !== undefined) parts.push(`root ${op.root}`);
  return `${op.kind}, ${parts.join(', ')}`;
}

/** Runs one planned op on this rank and checks its result; `corrupt` alters the result first (for the test). */
async function runOp(comm: Communicator, op: PlannedOp, corrupt: boolean): Promise<Mismatch | null> {
  const { rank, size } = comm;
  switch (op.kind) {
    case 'allreduce-sum':
    case 'allreduce-mean': {
      const buf = new Float32Array(op.bytes / 4);
      fillFloats(buf, contentSeed(op.index, rank));
      const mean = op.kind === 'allreduce-mean';
      await comm.allreduce(buf, mean ? 'mean' : 'sum');
      if (corrupt) buf[buf.length >> 1] += 1;
      return checkAllreduce(buf, op.index, size, mean);
    }
    case 'allgatherv': {
      const lengths = op.lengths!;
      const payload = new Uint8Array(lengths[rank]);
      fillBytes(payload, contentSeed(op.index, rank));
      const got = await comm.allgatherv(payload);
      if (got.length !== size) return { where: 'number of payloads', expected: size, got: got.length, wrong: 1, of: 1 };
      if (corrupt) alterOne(got, rank);
      for (let r = 0; r < size; r++) {
        const bad = checkBytes(got[r], lengths[r], contentSeed(op.index, r), `rank ${r}'s payload`);
        if (bad) return bad;
      }
      return null;
    }
    case 'alltoallv': {
      // Part (s, d) is seeded by its place in the matrix: a part delivered to the wrong rank is caught too.
      const lengths = op.lengths!;
      const parts = Array.from({ length: size }, (_, dst) => {
        const part = new Uint8Array(lengths[rank * size + dst]);
        fillBytes(part, contentSeed(op.index, rank * size + dst));
        return part;
      });
      const got = await comm.alltoallv(parts);
      if (got.length !== size) return { where: 'number of parts', expected: size, got: got.length, wrong: 1, of: 1 };
      if (corrupt) alterOne(got, rank);
      for (let src = 0; src < size; src++) {
        const bad = checkBytes(got[src], lengths[src * size + rank], contentSeed(op.index, src * size + rank), `rank ${src}'s part`);
        if (bad) return bad;
      }
      return null;
    }
    case 'broadcast': {
      const root = op.root!;
      // Non-roots pass a buffer of their own, which must be ignored.
      const buf = rank === root ? new Uint8Array(op.bytes) : new Uint8Array(16).fill(0xee);
      if (rank === root) fillBytes(buf, contentSeed(op.index, root));
      const got = await comm.broadcast(buf, root);
      if (corrupt) got[got.length >> 1] ^= 0x5a;
      return checkBytes(got, op.bytes, contentSeed(op.index, root), `root ${root}'s buffer`);
    }
    case 'barrier':
      await comm.barrier();
      return null;
  }
}

/** Alters one byte of a gathered result: another rank's data where there is some, else this rank's own. */
function alterOne(got: Uint8Array[], rank: number): void {
  const victim = [...got.keys()].find((r) => r !== rank && got[r].length > 0) ?? rank;
  got[victim][got[victim].length >> 1] ^= 0x5a;
}

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

interface Config {
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

async function worker(cfg: Config): Promise<void> {
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
        console.error(`soak: ${done}/${cfg.ops} ops, ${s.toFixed(1)} s, ${(done / s).toFixed(0)} ops/s, rank 0 RSS ${(process.memoryUsage().rss / MB).toFixed(1)} MB`);
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

/** Per-rank RSS figures: first, median, last, max, at the 10% mark, and growth from there to the end. */
export interface RssSummary {
  first: number;
  median: number;
  last: number;
  max: number;
  samples: number;
  /** The sample nearest to 10% of the ops. */
  at10: number;
  /** last - at10. */
  growth: number;
  growthPct: number;
  /**
   * Median of the samples in the second half of the run minus the median of those from 10% to 50%: steady growth
   * (a leak) shows here, while one-off warm-up (V8 growing its heap and external-memory GC limits) mostly does not.
   */
  lateDrift: number;
  /** heapUsed and arrayBuffers (process.memoryUsage) over the same samples: what JS holds, if RSS moves. */
  heapUsed: { first: number; median: number; last: number; max: number };
  arrayBuffers: { first: number; median: number; last: number; max: number };
}

function summariseRss(samples: RankReport['rss'], ops: number): RssSummary {
  const values = samples.map(([, v]) => v);
  const mid = samples.filter(([op]) => op >= ops / 10 && op <= ops / 2).map(([, v]) => v);
  const late = samples.filter(([op]) => op > ops / 2).map(([, v]) => v);
  const at10 = samples.reduce((best, s) => (Math.abs(s[0] - ops / 10) < Math.abs(best[0] - ops / 10) ? s : best))[1];
  const last = values[values.length - 1];
  return {
    first: values[0],
    median: median(values),
    last,
    max: Math.max(...values),
    samples: values.length,
    at10,
    growth: last - at10,
    growthPct: (100 * (last - at10)) / at10,
    lateDrift: mid.length && late.length ? median(late) - median(mid) : 0,
    heapUsed: spread(samples.map((x) => x[2])),
    arrayBuffers: spread(samples.map((x) => x[3])),
  };
}

function spread(values: number[]): { first: number; median: number; last: number; max: number } {
  return { first: values[0], median: median(values), last: values[values.length - 1], max: Math.max(...values) };
}

const children = new Set<ChildProcess>();
process.on('exit', () => children.forEach((c) => c.kill('SIGKILL')));

/** Spawns the ranks against a rendezvous served here; resolves with each rank's report (or its failure). */
async function runRanks(cfg: Config): Promise<RankReport[]> {
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
        const child = spawn(process.execPath, [...(cfg.gc ? ['--expose-gc'] : []), fileURLToPath(import.meta.url), ...args], {
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

function parseSize(s: string): number {
  const m = /^(\d+)([KMG]?)$/i.exec(s.trim());
  if (!m) throw new Error(`bad size '${s}': expected e.g. 256K, 4M or a byte count`);
  return Number(m[1]) * 1024 ** ' KMG'.indexOf((m[2] || ' ').toUpperCase());
}

function positiveInt(flag: string, s: string, min = 1): number {
  const n = Number(s);
  if (!Number.isInteger(n) || n < min) throw new Error(`--${flag} ${s}: expected an integer >= ${min}`);
  return n;
}

const mb = (bytes: number): string => (bytes / MB).toFixed(1);

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      worker: { type: 'boolean', default: false },
      ranks: { type: 'string', default: '4' },
      ops: { type: 'string', default: '10000' },
      'max-size': { type: 'string', default: '4M' },
      seed: { type: 'string', default: '1' },
      transport: { type: 'string', default: 'tcp' },
      'sample-every': { type: 'string', default: '100' },
      gc: { type: 'boolean', default: false },
      'corrupt-at': { type: 'string' },
    },
  });
  if (!(TRANSPORTS as readonly string[]).includes(values.transport)) {
    throw new Error(`--transport ${values.transport}: expected one of ${TRANSPORTS.join(', ')}`);
  }
  const cfg: Config = {
    ranks: positiveInt('ranks', values.ranks, 2),
    ops: positiveInt('ops', values.ops),
    maxSize: parseSize(values['max-size']),
    seed: positiveInt('seed', values.seed, 0),
    transport: values.transport as TransportName,
    sampleEvery: positiveInt('sample-every', values['sample-every']),
    gc: values.gc,
    corruptAt: values['corrupt-at'] === undefined ? undefined : positiveInt('corrupt-at', values['corrupt-at'], 0),
  };
  if (values.worker) return worker(cfg);

  const machine = machineInfo();
  const kinds = Object.fromEntries(SOAK_KINDS.map((k) => [k, 0])) as Record<SoakKind, number>;
  let payloadBytes = 0;
  for (const op of plan(cfg.seed, cfg.ops, cfg.ranks, cfg.maxSize)) {
    kinds[op.kind]++;
    payloadBytes += op.bytes;
  }
  console.error(
    `soak: ${cfg.ops} ops over ${cfg.ranks} ranks (${cfg.transport}), sizes 0-${cfg.maxSize} B log-uniform, seed ${cfg.seed}; ` +
      `${mb(payloadBytes)} MB of results per rank`,
  );
  const t0 = performance.now();
  const reports = (await runRanks(cfg)).sort((a, b) => a.rank - b.rank);
  const totalSeconds = (performance.now() - t0) / 1e3;

  // Mismatches first: the other ranks' errors are usually their consequence (the failed rank left).
  const failures = reports
    .filter((r) => r.status !== 'ok')
    .sort((a, b) => Number(b.status === 'mismatch') - Number(a.status === 'mismatch'))
    .map((r) => ({ rank: r.rank, status: r.status, message: r.message! }));
  // Each rank's own counters must agree with the plan (plus the barrier before the loop).
  const expectedCalls = {
    allreduce: kinds['allreduce-sum'] + kinds['allreduce-mean'],
    allgatherv: kinds.allgatherv,
    alltoallv: kinds.alltoallv,
    broadcast: kinds.broadcast,
    barrier: kinds.barrier + 1,
  };
  for (const r of reports) {
    if (r.status !== 'ok') continue;
    for (const [kind, n] of Object.entries(expectedCalls)) {
      const calls = r.stats!.byKind[kind as keyof typeof expectedCalls].calls;
      if (calls !== n) failures.push({ rank: r.rank, status: 'error', message: `rank ${r.rank} counted ${calls} ${kind} calls, the plan has ${n}` });
    }
  }
  const ok = failures.length === 0 && reports.every((r) => r.ops === cfg.ops);
  const seconds = Math.max(...reports.map((r) => r.seconds));
  const opsDone = Math.min(...reports.map((r) => r.ops));
  const ranks = reports.map((r) => ({
    rank: r.rank,
    status: r.status,
    ops: r.ops,
    seconds: r.seconds,
    commSeconds: r.commSeconds,
    bytesSent: r.stats?.bytesSent ?? 0,
    bytesReceived: r.stats?.bytesReceived ?? 0,
    rss: r.rss.length ? summariseRss(r.rss, cfg.ops) : undefined,
    rssSamples: r.rss,
    memoryEnd: r.memoryEnd,
  }));
  const wireBytes = ranks.reduce((a, r) => a + r.bytesSent, 0);
  const result = {
    bench: 'soak',
    machine,
    config: { ranks: cfg.ranks, ops: cfg.ops, maxSize: cfg.maxSize, seed: cfg.seed, transport: cfg.transport, sampleEvery: cfg.sampleEvery, gc: cfg.gc, corruptAt: cfg.corruptAt },
    ok,
    ops: opsDone,
    mismatches: failures.filter((f) => f.status === 'mismatch').length,
    failures,
    kinds,
    /** Loop time of the slowest rank. */
    seconds,
    opsPerSec: opsDone / seconds,
    /** Bytes of results per rank (allreduce and broadcast buffers, gathered payloads, alltoallv parts received: their mean), summed over the plan. */
    payloadBytes,
    /** Bytes all ranks put on the wire (payload and headers). */
    wireBytes,
    wireGBps: wireBytes / seconds / 1e9,
    totalSeconds,
    loadavgEnd: loadavgNow(),
    ranks,
  };
  console.log(JSON.stringify(result));

  const header = ['rank', 'ops', 'loop s', 'comm s', 'sent MB', 'RSS first MB', 'median', 'last', 'max', 'at 10%', 'growth 10%->end', 'late drift'];
  const rows = ranks.map((r) => [
    r.rank,
    r.ops,
    r.seconds.toFixed(1),
    r.commSeconds.toFixed(1),
    mb(r.bytesSent),
    ...(r.rss ? [mb(r.rss.first), mb(r.rss.median), mb(r.rss.last), mb(r.rss.max), mb(r.rss.at10), `${mb(r.rss.growth)} (${r.rss.growthPct.toFixed(1)}%)`, mb(r.rss.lateDrift)] : Array(7).fill('-')),
  ]);
  console.log(`\n${markdownTable(header, rows)}`);
  console.log(
    `\n${opsDone}/${cfg.ops} ops (plan: ${SOAK_KINDS.map((k) => `${k} ${kinds[k]}`).join(', ')}) over ${cfg.ranks} ranks (${cfg.transport}) in ` +
      `${seconds.toFixed(1)} s: ${result.opsPerSec.toFixed(0)} ops/s, ${mb(payloadBytes)} MB of results per rank, ${mb(wireBytes)} MB on the wire ` +
      `(${result.wireGBps.toFixed(2)} GB/s); ${result.mismatches} mismatches; load average ${machine.loadavg[0]} -> ${result.loadavgEnd[0]} on ${machine.cores} cores.`,
  );
  console.log(
    `RSS in MB${cfg.gc ? ' after a full GC' : ''}, sampled every ${cfg.sampleEvery} ops; late drift = median RSS over the second half of the run ` +
      `minus the median from 10% to 50%.`,
  );
  if (!ok) {
    for (const f of failures) console.error(`soak FAILED: ${f.message}`);
    if (!failures.length) console.error(`soak FAILED: only ${opsDone} of ${cfg.ops} ops completed`);
    process.exitCode = 1;
  }
}

// Only when run (also as a rank): importing this module for its types or plan() must not start a soak.
if (process.argv[1] && realpathSync(process.argv[1]) === realpathSync(fileURLToPath(import.meta.url))) {
  main().then(
    () => process.exit(process.exitCode ?? 0),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}
