/**
 * All-reduce bandwidth of our ring on this host (over each transport asked for), reported like nccl-tests: algbw = bytes / time,
 * busbw = algbw x 2(n-1)/n. Each size is timed per iteration after a barrier and warm-up; an iteration's time
 * is the slowest rank's, and the median is reported. A memcpy (Float32Array.set) line gives the physical
 * reference. torch.distributed gloo (bench/gloo_allreduce.py, timed the same way) runs on the same sizes and N
 * in the same run when a python with torch is found (`python3`, then `/usr/bin/python3`, or `--python`).
 *
 * The machine may be shared, so ours and gloo alternate `--runs` times per N; each figure is the median over
 * the runs of the per-run medians, with the per-run range and the load average beside it.
 *
 *   node dist/bench/allreduce.js [--ranks 2,4] [--min 4K] [--max 64M] [--runs 3] [--transport tcp,zmq]
 *                                [--python PATH | --no-gloo]
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createCommunicator, TRANSPORTS, type TransportName } from '../src/comm/index.js';
import { RendezvousServer } from '../topology/rendezvous.js';
import { benchScript, findPython, loadavgNow, machineInfo, markdownTable, median, pythonCandidates, splitList, localRankEnv, type Python } from './common.js';

const WARMUP = 3;
const GB = 1e9;

/** One size at one N in one run: the median over iterations of the slowest rank's time. */
interface Sample {
  bytes: number;
  iterations: number;
  seconds: number;
  /** Ours: bytes rank 0 put on the wire per all-reduce, by the communicator's own counter (headers included). */
  wireBytes?: number;
}

interface Run {
  ranks: number;
  run: number;
  impl: TransportName | 'gloo';
  /** 1/5/15-minute load averages just before this run. */
  loadavg: number[];
  samples: Sample[];
}

export interface Row {
  ranks: number;
  bytes: number;
  transport: TransportName;
  /** Median over runs of each run's median time. */
  medianMs: number;
  algbwGBps: number;
  busbwGBps: number;
  /** Lowest and highest busbw of the single runs. */
  busbwRange: [number, number];
  /**
   * Bytes rank 0 sent per all-reduce, counted by the communicator (median over runs): busbw assumes a ring's
   * 2 (n-1)/n x size, and this says whether the traffic was that.
   */
  wireBytesPerOp: number;
  glooMedianMs?: number;
  glooBusbwGBps?: number;
  glooBusbwRange?: [number, number];
  /** ours / gloo busbw (medians). */
  ratio?: number;
}

/** More iterations for small sizes, where one is noisy; at least 5 (gloo_allreduce.py uses the same rule). */
const iterationsFor = (bytes: number): number => Math.max(5, Math.min(50, Math.round(2 ** 28 / bytes)));

const algbw = (bytes: number, seconds: number): number => bytes / seconds / GB;
const busbw = (ranks: number, bytes: number, seconds: number): number => (algbw(bytes, seconds) * 2 * (ranks - 1)) / ranks;

async function worker(sizes: number[], transport: TransportName): Promise<void> {
  const comm = await createCommunicator({ fingerprint: 'bench/allreduce', serveRendezvous: false, transport });
  const samples: Sample[] = [];
  for (const bytes of sizes) {
    const buf = new Float32Array(bytes / 4).fill(1);
    const iterations = iterationsFor(bytes);
    for (let i = 0; i < WARMUP; i++) await comm.allreduce(buf, 'sum');
    const times = new Float64Array(iterations);
    const sentBefore = comm.stats.byKind.allreduce.bytesSent;
    for (let i = 0; i < iterations; i++) {
      await comm.barrier();
      const t0 = performance.now();
      await comm.allreduce(buf, 'sum');
      times[i] = (performance.now() - t0) / 1e3;
    }
    const all = (await comm.allgatherv(new Uint8Array(times.buffer))).map((b) => new DataView(b.buffer, b.byteOffset, b.byteLength));
    const slowest = Array.from({ length: iterations }, (_, i) => Math.max(...all.map((v) => v.getFloat64(i * 8, true))));
    samples.push({ bytes, iterations, seconds: median(slowest), wireBytes: (comm.stats.byKind.allreduce.bytesSent - sentBefore) / iterations });
  }
  if (comm.rank === 0) console.log(JSON.stringify(samples));
  await comm.close();
}

const children = new Set<ChildProcess>();
process.on('exit', () => children.forEach((c) => c.kill()));

/** Serves the rendezvous from this process (the launcher-hosted mode) and runs `ranks` workers. */
async function runOurs(ranks: number, sizes: number[], transport: TransportName): Promise<Sample[]> {
  const token = randomBytes(8).toString('hex');
  const server = await RendezvousServer.start({ host: '127.0.0.1', port: 0, worldSize: ranks, token, timeoutMs: 60_000, log: console.error });
  const port = server.endpoint.slice(server.endpoint.lastIndexOf(':') + 1);
  try {
    const outputs = await Promise.all(
      Array.from({ length: ranks }, (_, rank) => {
        const child = spawn(process.execPath, [fileURLToPath(import.meta.url), '--worker', '--sizes', sizes.join(','), '--transport', transport], {
          env: localRankEnv(rank, ranks, port, token),
          stdio: ['ignore', 'pipe', 'inherit'],
        });
        children.add(child);
        let out = '';
        child.stdout.on('data', (d: Buffer) => (out += d));
        return new Promise<string>((resolve, reject) =>
          child.on('close', (code) => {
            children.delete(child);
            if (code === 0) resolve(out);
            else reject(new Error(`rank ${rank} of ${ranks} exited with ${code}`));
          }),
        );
      }),
    );
    return JSON.parse(outputs[0]) as Sample[];
  } finally {
    server.close();
  }
}

function memcpyGBps(bytes: number): number {
  const src = new Float32Array(bytes / 4).fill(1);
  const dst = new Float32Array(bytes / 4);
  const times: number[] = [];
  for (let i = 0; i < WARMUP + iterationsFor(bytes); i++) {
    const t0 = performance.now();
    dst.set(src);
    if (i >= WARMUP) times.push((performance.now() - t0) / 1e3);
  }
  return bytes / median(times) / GB;
}

function runGloo(python: Python, ranks: number, sizes: number[]): Sample[] | null {
  const res = spawnSync(python.path, [benchScript('gloo_allreduce.py'), JSON.stringify([ranks]), JSON.stringify(sizes), String(WARMUP)], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    timeout: 600_000,
  });
  if (res.status !== 0) {
    console.error(`notice: the gloo reference failed at N=${ranks} (exit ${res.status ?? res.signal}); reporting ours only there`);
    return null;
  }
  const out = JSON.parse(res.stdout.trim().split('\n').pop()!) as { results: Record<string, Sample[]> };
  return out.results[String(ranks)];
}

function parseSize(s: string): number {
  const m = /^(\d+)([KMG]?)$/i.exec(s.trim());
  if (!m) throw new Error(`bad size '${s}': expected e.g. 4K, 64M`);
  return Number(m[1]) * 1024 ** ' KMG'.indexOf((m[2] || ' ').toUpperCase());
}

const human = (bytes: number): string => (bytes >= 2 ** 20 ? `${bytes / 2 ** 20} MB` : `${bytes / 1024} KB`);

/** Median time over runs, busbw at that time and the range of the runs' busbw. */
function summarise(ranks: number, bytes: number, runs: Run[]): { seconds: number; busbw: number; range: [number, number] } | undefined {
  const secs = runs.flatMap((r) => r.samples.filter((s) => s.bytes === bytes).map((s) => s.seconds));
  if (!secs.length) return undefined;
  const seconds = median(secs);
  const bws = secs.map((s) => busbw(ranks, bytes, s));
  return { seconds, busbw: busbw(ranks, bytes, seconds), range: [Math.min(...bws), Math.max(...bws)] };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      worker: { type: 'boolean', default: false },
      sizes: { type: 'string' },
      ranks: { type: 'string', default: '2,4' },
      min: { type: 'string', default: '4K' },
      max: { type: 'string', default: '64M' },
      runs: { type: 'string', default: '3' },
      python: { type: 'string' },
      transport: { type: 'string', default: TRANSPORTS.join(',') },
      'no-gloo': { type: 'boolean', default: false },
    },
  });
  const transports = splitList(values.transport).map((t) => {
    if (!(TRANSPORTS as readonly string[]).includes(t)) throw new Error(`--transport ${t}: expected one of ${TRANSPORTS.join(', ')}`);
    return t as TransportName;
  });
  if (values.worker) return worker(splitList(values.sizes!).map(Number), transports[0]);
  const machine = machineInfo();
  const sizes: number[] = [];
  for (let s = parseSize(values.min); s <= parseSize(values.max); s *= 4) sizes.push(s);
  const ranks = splitList(values.ranks).map(Number);
  const nRuns = Math.max(1, Number(values.runs));
  const python = values['no-gloo']
    ? null
    : findPython(pythonCandidates(values.python), {
        probe: 'import torch, torch.distributed as d; assert d.is_available() and d.is_gloo_available(); print(torch.__version__)',
        what: 'run torch.distributed gloo',
      });
  if (!values['no-gloo'] && !python) console.error('notice: no python with torch; skipping the torch.distributed gloo reference (bench/setup-peers.sh installs Debian\'s python3-torch)');

  const runs: Run[] = [];
  for (const n of ranks) {
    for (let run = 1; run <= nRuns; run++) {
      // Alternating, so a burst of load from other jobs on the machine hits both sides alike.
      const impls: Run['impl'][] = [...transports, 'gloo'];
      const order = run % 2 ? impls : impls.reverse();
      for (const impl of order) {
        if (impl === 'gloo' && !python) continue;
        const loadavg = loadavgNow();
        const samples = impl === 'gloo' ? runGloo(python!, n, sizes) : await runOurs(n, sizes, impl);
        if (samples) runs.push({ ranks: n, run, impl, loadavg, samples });
        console.error(`N=${n} run ${run} ${impl}: load ${loadavg.join(' ')}`);
      }
    }
  }

  const rows: Row[] = [];
  for (const n of ranks) {
    for (const bytes of sizes) {
      for (const transport of transports) {
        const oursRuns = runs.filter((r) => r.ranks === n && r.impl === transport);
        const ours = summarise(n, bytes, oursRuns)!;
        const row: Row = {
          ranks: n,
          bytes,
          transport,
          medianMs: ours.seconds * 1e3,
          algbwGBps: algbw(bytes, ours.seconds),
          busbwGBps: ours.busbw,
          busbwRange: ours.range,
          wireBytesPerOp: median(oursRuns.flatMap((r) => r.samples.filter((s) => s.bytes === bytes).map((s) => s.wireBytes!))),
        };
        const g = summarise(n, bytes, runs.filter((r) => r.ranks === n && r.impl === 'gloo'));
        if (g) Object.assign(row, { glooMedianMs: g.seconds * 1e3, glooBusbwGBps: g.busbw, glooBusbwRange: g.range, ratio: ours.busbw / g.busbw });
        rows.push(row);
      }
    }
  }
  const memcpy = sizes.map((bytes) => ({ bytes, GBps: memcpyGBps(bytes) }));
  const loads = runs.map((r) => r.loadavg[0]);
  const gloo = python ? { python: python.path, torch: python.torch } : 'skipped (no python with torch)';
  console.log(JSON.stringify({ machine, runsPerN: nRuns, loadavgEnd: loadavgNow(), gloo, allreduce: rows, memcpy, runs }));

  const f = (x: number | undefined, d = 2): string => (x === undefined ? '-' : x.toFixed(d));
  const range = (r: [number, number] | undefined): string => (r ? `${f(r[0])}-${f(r[1])}` : '-');
  const header = ['N', 'size', 'transport', 'ours ms', 'ours busbw GB/s', 'runs', 'gloo ms', 'gloo busbw GB/s', 'runs', 'ours/gloo'];
  const table = rows.map((r) => [
    r.ranks,
    human(r.bytes),
    r.transport,
    f(r.medianMs, 3),
    f(r.busbwGBps),
    range(r.busbwRange),
    f(r.glooMedianMs, 3),
    f(r.glooBusbwGBps),
    range(r.glooBusbwRange),
    f(r.ratio),
  ]);
  console.log(`\n${markdownTable(header, table)}`);
  console.log(
    `\n${nRuns} run(s) per N, ours (each transport) and gloo alternating; figures are medians over runs of per-run medians (slowest rank per ` +
      `iteration). 1-min load average during the runs: ${f(Math.min(...loads))}-${f(Math.max(...loads))} on ${machine.cores} cores.`,
  );
  console.log(`memcpy (Float32Array.set, one process) GB/s: ${memcpy.map((m) => `${human(m.bytes)} ${m.GBps.toFixed(1)}`).join(', ')}`);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
