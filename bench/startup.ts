/**
 * Start-up of `ddp-launch -n N`: how long until every rank takes its first training step, data loading left
 * out (each rank reports seconds from its process start to its first step, and the part spent loading data).
 * A tiny job (one step of a small model on a small synthetic set) so the figure is start-up alone: Node and
 * module loading, rendezvous, backend and native kernels, model building. Medians over interleaved repeats.
 *
 *   node dist/bench/startup.js [--nprocs 1,2,8] [--repeats 3]
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { RunReport } from '../src/train/report.js';
import { loadavgNow, machineInfo, markdownTable, median, splitList } from './common.js';

const LAUNCHER = fileURLToPath(new URL('../launcher/cli.js', import.meta.url));
const JOB = ['--data', 'synthetic:quick,rows=2000,eval-rows=200', '--mlp', '16', '--embed-dim', '4', '--steps', '1', '--log-every', '0', '--gpus', 'none'];

interface Sample {
  nprocs: number;
  /** Launcher start to its exit. */
  wallSeconds: number;
  /** Slowest rank: process start to first step, minus its data loading. */
  toFirstStep: number;
  data: number;
}

async function once(nprocs: number, dir: string): Promise<Sample> {
  const report = join(dir, `n${nprocs}.json`);
  const t0 = performance.now();
  const code = await new Promise<number | null>((resolve) =>
    spawn(process.execPath, [LAUNCHER, '-n', String(nprocs), ...JOB, '--report', report], { stdio: ['ignore', 'ignore', 'inherit'] }).on('close', resolve),
  );
  if (code !== 0) throw new Error(`ddp-launch -n ${nprocs} exited with ${code}`);
  const wallSeconds = (performance.now() - t0) / 1000;
  const rep = JSON.parse(readFileSync(report, 'utf8')) as RunReport;
  const slowest = rep.ranks.reduce((a, r) => (r.startup.toFirstStep - r.startup.data > a.startup.toFirstStep - a.startup.data ? r : a));
  return { nprocs, wallSeconds, toFirstStep: slowest.startup.toFirstStep - slowest.startup.data, data: slowest.startup.data };
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { nprocs: { type: 'string', default: '1,2,8' }, repeats: { type: 'string', default: '3' } } });
  const nprocs = splitList(values.nprocs).map(Number);
  const dir = mkdtempSync(join(tmpdir(), 'ddp-startup-'));
  const samples: Sample[] = [];
  try {
    for (let r = 1; r <= Number(values.repeats); r++) {
      for (const n of nprocs) {
        const s = await once(n, dir);
        samples.push(s);
        console.error(`repeat ${r} -n ${n}: first step after ${s.toFirstStep.toFixed(2)} s (+${s.data.toFixed(2)} s data), launcher ${s.wallSeconds.toFixed(2)} s; load ${loadavgNow()[0]}`);
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const rows = nprocs.map((n) => {
    const mine = samples.filter((s) => s.nprocs === n);
    return { nprocs: n, toFirstStep: median(mine.map((s) => s.toFirstStep)), data: median(mine.map((s) => s.data)), wallSeconds: median(mine.map((s) => s.wallSeconds)) };
  });
  console.log(JSON.stringify({ machine: machineInfo(), loadavgEnd: loadavgNow(), rows, samples }));
  console.log(
    `\n${markdownTable(
      ['-n', 'to first step, s (no data)', 'data loading, s', 'whole 1-step job, s'],
      rows.map((r) => [r.nprocs, r.toFirstStep.toFixed(2), r.data.toFixed(2), r.wallSeconds.toFixed(2)]),
    )}`,
  );
  console.log(`\nmedians of ${values.repeats} interleaved repeats; -n above ${machineInfo().cores} is oversubscribed on this machine.`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
