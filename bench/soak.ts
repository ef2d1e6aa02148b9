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
 *
 * This file parses the flags and orders the parts: the plan is bench/soak-plan.ts, running and checking one op
 * bench/soak-check.ts, the ranks and their spawning bench/soak-runs.ts, the JSON bench/soak-summary.ts, the table
 * bench/soak-print.ts.
 */
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { TRANSPORTS, type TransportName } from '../src/comm/index.js';
import { isMain, machineInfo } from './common.js';
import { planTotals } from './soak-plan.js';
import { mb, printSoak } from './soak-print.js';
import { runRanks, worker, type Config } from './soak-runs.js';
import { summarise } from './soak-summary.js';

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
  // The ranks are this script again, with --worker.
  if (values.worker) return worker(cfg);

  const machine = machineInfo();
  const planned = planTotals(cfg.seed, cfg.ops, cfg.ranks, cfg.maxSize);
  console.error(
    `soak: ${cfg.ops} ops over ${cfg.ranks} ranks (${cfg.transport}), sizes 0-${cfg.maxSize} B log-uniform, seed ${cfg.seed}; ` +
      `${mb(planned.payloadBytes)} MB of results per rank`,
  );
  const t0 = performance.now();
  const reports = (await runRanks(cfg, fileURLToPath(import.meta.url))).sort((a, b) => a.rank - b.rank);
  const totalSeconds = (performance.now() - t0) / 1e3;

  const result = summarise(cfg, planned, reports, machine, totalSeconds);
  console.log(JSON.stringify(result));
  printSoak(result);
  if (!result.ok) process.exitCode = 1;
}

// Only when run (also as a rank): importing this module must not start a soak.
if (isMain(import.meta.url)) {
  main().then(
    () => process.exit(process.exitCode ?? 0),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}
