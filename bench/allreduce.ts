/**
 * All-reduce bandwidth of the ZeroMQ ring on this host, reported like nccl-tests: algbw = bytes / time,
 * busbw = algbw x 2(n-1)/n. Each size is timed per iteration after a barrier and warm-up; an iteration's time
 * is the slowest rank's, and the median is reported. A memcpy (Float32Array.set) line gives the physical
 * reference; torch.distributed gloo runs on the same sizes when `import torch` works.
 *
 *   node dist/bench/allreduce.js [--ranks 2,4] [--max 64M]
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createCommunicator } from '../src/comm/index.js';
import { RendezvousServer } from '../topology/rendezvous.js';
import { machineInfo, markdownTable, median, splitList } from './common.js';

const WARMUP = 3;
const GB = 1e9;

interface Row {
  ranks: number;
  bytes: number;
  iterations: number;
  medianMs: number;
  algbwGBps: number;
  busbwGBps: number;
  glooBusbwGBps?: number;
  /** ours / gloo busbw */
  ratio?: number;
}

/** More iterations for small sizes, where one is noisy; at least 5. */
const iterationsFor = (bytes: number): number => Math.max(5, Math.min(50, Math.round(2 ** 28 / bytes)));

function row(ranks: number, bytes: number, iterations: number, seconds: number): Row {
  const algbw = bytes / seconds / GB;
  return { ranks, bytes, iterations, medianMs: seconds * 1e3, algbwGBps: algbw, busbwGBps: (algbw * 2 * (ranks - 1)) / ranks };
}

async function worker(sizes: number[]): Promise<void> {
  const comm = await createCommunicator({ fingerprint: 'bench/allreduce', serveRendezvous: false });
  const rows: Row[] = [];
  for (const bytes of sizes) {
    const buf = new Float32Array(bytes / 4).fill(1);
    const iterations = iterationsFor(bytes);
    for (let i = 0; i < WARMUP; i++) await comm.allreduce(buf, 'sum');
    const times = new Float64Array(iterations);
    for (let i = 0; i < iterations; i++) {
      await comm.barrier();
      const t0 = performance.now();
      await comm.allreduce(buf, 'sum');
      times[i] = (performance.now() - t0) / 1e3;
    }
    const all = (await comm.allgatherv(new Uint8Array(times.buffer))).map((b) => new DataView(b.buffer, b.byteOffset, b.byteLength));
    const slowest = Array.from({ length: iterations }, (_, i) => Math.max(...all.map((v) => v.getFloat64(i * 8, true))));
    rows.push(row(comm.size, bytes, iterations, median(slowest)));
  }
  if (comm.rank === 0) console.log(JSON.stringify(rows));
  await comm.close();
}

const children = new Set<ChildProcess>();
process.on('exit', () => children.forEach((c) => c.kill()));

/** Serves the rendezvous from this process (the launcher-hosted mode) and runs `ranks` workers. */
async function runRanks(ranks: number, sizes: number[]): Promise<Row[]> {
  const token = randomBytes(8).toString('hex');
  const server = await RendezvousServer.start({ host: '127.0.0.1', port: 0, worldSize: ranks, token, timeoutMs: 60_000, log: console.error });
  const port = server.endpoint.slice(server.endpoint.lastIndexOf(':') + 1);
  const outputs = await Promise.all(
    Array.from({ length: ranks }, (_, rank) => {
      const child = spawn(process.execPath, [fileURLToPath(import.meta.url), '--worker', '--sizes', sizes.join(',')], {
        env: {
          ...process.env,
          RANK: String(rank),
          WORLD_SIZE: String(ranks),
          LOCAL_RANK: String(rank),
          LOCAL_WORLD_SIZE: String(ranks),
          MASTER_ADDR: '127.0.0.1',
          MASTER_PORT: port,
          DDP_TOKEN: token,
        },
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      children.add(child);
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d));
      return new Promise<string>((resolve, reject) =>
        child.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`rank ${rank} of ${ranks} exited with ${code}`)))),
      );
    }),
  );
  server.close();
  return JSON.parse(outputs[0]) as Row[];
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

/** torch.distributed gloo on the same sizes, timed the same way; null with a notice when torch is missing. */
const GLOO = `
import json, socket, statistics, sys, time
import torch, torch.distributed as dist, torch.multiprocessing as mp

def run(rank, n, port, sizes, warmup, q):
    dist.init_process_group('gloo', init_method=f'tcp://127.0.0.1:{port}', rank=rank, world_size=n)
    rows = []
    for nbytes in sizes:
        t = torch.ones(nbytes // 4)
        iters = max(5, min(50, round(2 ** 28 / nbytes)))
        for _ in range(warmup):
            dist.all_reduce(t)
        times = []
        for _ in range(iters):
            dist.barrier()
            t0 = time.perf_counter()
            dist.all_reduce(t)
            times.append(time.perf_counter() - t0)
        slowest = torch.tensor(times, dtype=torch.float64)
        dist.all_reduce(slowest, op=dist.ReduceOp.MAX)
        rows.append({'bytes': nbytes, 'seconds': statistics.median(slowest.tolist())})
    if rank == 0:
        q.put(rows)
    dist.destroy_process_group()

if __name__ == '__main__':
    ranks, sizes, warmup = json.loads(sys.argv[1]), json.loads(sys.argv[2]), int(sys.argv[3])
    out = {}
    for n in ranks:
        s = socket.socket(); s.bind(('127.0.0.1', 0)); port = s.getsockname()[1]; s.close()
        q = mp.get_context('spawn').SimpleQueue()
        mp.spawn(run, args=(n, port, sizes, warmup, q), nprocs=n)
        out[n] = q.get()
    print(json.dumps(out))
`;

function gloo(ranks: number[], sizes: number[]): Map<string, number> | null {
  if (spawnSync('python3', ['-c', 'import torch'], { stdio: 'ignore' }).status !== 0) {
    console.error('notice: python3 cannot import torch here; skipping the torch.distributed gloo reference');
    return null;
  }
  // A file, not `python3 -c`: spawned children must re-import the module that defines run().
  const script = join(mkdtempSync(join(tmpdir(), 'gloo-')), 'gloo_allreduce.py');
  writeFileSync(script, GLOO);
  const res = spawnSync('python3', [script, JSON.stringify(ranks), JSON.stringify(sizes), String(WARMUP)], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  if (res.status !== 0) {
    console.error(`notice: the gloo reference failed (exit ${res.status}); reporting ours only`);
    return null;
  }
  const out = JSON.parse(res.stdout.trim().split('\n').pop()!) as Record<string, { bytes: number; seconds: number }[]>;
  const busbw = new Map<string, number>();
  for (const [n, rows] of Object.entries(out)) for (const r of rows) busbw.set(`${n}/${r.bytes}`, row(Number(n), r.bytes, 0, r.seconds).busbwGBps);
  return busbw;
}

function parseSize(s: string): number {
  const m = /^(\d+)([KMG]?)$/i.exec(s.trim());
  if (!m) throw new Error(`bad size '${s}': expected e.g. 4K, 64M`);
  return Number(m[1]) * 1024 ** ' KMG'.indexOf((m[2] || ' ').toUpperCase());
}

const human = (bytes: number): string => (bytes >= 2 ** 20 ? `${bytes / 2 ** 20} MB` : `${bytes / 1024} KB`);

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      worker: { type: 'boolean', default: false },
      sizes: { type: 'string' },
      ranks: { type: 'string', default: '2,4' },
      max: { type: 'string', default: '64M' },
    },
  });
  if (values.worker) return worker(splitList(values.sizes!).map(Number));
  const machine = machineInfo();
  const sizes: number[] = [];
  for (let s = 4096; s <= parseSize(values.max); s *= 4) sizes.push(s);
  const ranks = splitList(values.ranks).map(Number);
  const rows: Row[] = [];
  for (const n of ranks) rows.push(...(await runRanks(n, sizes)));
  const memcpy = sizes.map((bytes) => ({ bytes, GBps: memcpyGBps(bytes) }));
  const reference = gloo(ranks, sizes);
  for (const r of rows) {
    const g = reference?.get(`${r.ranks}/${r.bytes}`);
    if (g !== undefined) Object.assign(r, { glooBusbwGBps: g, ratio: r.busbwGBps / g });
  }
  console.log(JSON.stringify({ machine, allreduce: rows, memcpy, gloo: reference ? 'measured' : 'skipped (no torch)' }));
  const f = (x: number | undefined, d = 2): string => (x === undefined ? '-' : x.toFixed(d));
  const header = ['ranks', 'size', 'median ms', 'algbw GB/s', 'busbw GB/s', 'gloo busbw GB/s', 'ours/gloo'];
  console.log(`\n${markdownTable(header, rows.map((r) => [r.ranks, human(r.bytes), f(r.medianMs, 3), f(r.algbwGBps), f(r.busbwGBps), f(r.glooBusbwGBps), f(r.ratio)]))}`);
  console.log(`\nmemcpy (Float32Array.set, one process) GB/s: ${memcpy.map((m) => `${human(m.bytes)} ${m.GBps.toFixed(1)}`).join(', ')}`);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
