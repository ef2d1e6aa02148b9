/**
 * --stream against the in-memory path (#16). Writes a Criteo-format file of --file-gb gigabytes (random rows
 * from skewed vocabularies), then:
 *  1. memory: one streamed pass over the whole file (`ddp-launch -n N --stream --hash-buckets K --epochs 1`),
 *     peak RSS of every rank (from the report) against --bound-mb;
 *  2. throughput: the first --compare-rows rows of the same data, trained --steps steps streamed and in memory,
 *     alternating, --repeats times each; median training samples/s (the report's, evaluation excluded) and
 *     their ratio.
 * JSON (one line) and markdown tables on stdout; progress on stderr.
 *
 *   node dist/bench/stream.js [--file-gb 8] [--bound-mb 1024] [-n 2] [--hash-buckets 65536]
 *                             [--compare-rows 2000000] [--steps 150] [--repeats 3] [--dir DIR] [--keep]
 *                             [--train-args='--global-batch 8192 --mlp 64 --embed-dim 8']
 */
import { createWriteStream, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { machineInfo, markdownTable, median, positiveInt, runMain } from './common.js';
import { readReport, startLauncher } from './launch.js';

/** Writes `rows` Criteo rows (or as many as reach `bytes`); resolves with the rows written. */
async function writeCriteo(path: string, limit: { rows?: number; bytes?: number }, seed: number): Promise<{ rows: number; bytes: number }> {
  let a = seed >>> 0;
  const rand = () => ((a = (Math.imul(a, 1664525) + 1013904223) >>> 0) / 4294967296);
  // Per field, a vocabulary of 10^2..10^5 hex tokens drawn with a skew (rand^3: a few IDs are most rows).
  const vocab = Array.from({ length: 26 }, (_, f) => Math.round(10 ** (2 + (f % 4))));
  const out = createWriteStream(path, { highWaterMark: 1 << 22 });
  let rows = 0;
  let bytes = 0;
  const maxRows = limit.rows ?? Infinity;
  const maxBytes = limit.bytes ?? Infinity;
  let lastNote = Date.now();
  while (rows < maxRows && bytes < maxBytes) {
    let block = '';
    for (let i = 0; i < 4096 && rows < maxRows; i++, rows++) {
      let line = '';
      let signal = 0;
      for (let j = 0; j < 13; j++) line += `\t${rand() < 0.15 ? '' : Math.floor(rand() ** 2 * 10 ** (1 + (j % 4)))}`;
      for (let f = 0; f < 26; f++) {
        const id = Math.floor(rand() ** 3 * vocab[f]);
        if (f < 4) signal += (id % 7) / 7 - 0.4;
        line += `\t${rand() < 0.03 ? '' : (id * 2654435761 + f).toString(16).slice(-8).padStart(8, '0')}`;
      }
      block += `${rand() < 1 / (1 + Math.exp(1.2 - signal)) ? 1 : 0}${line}\n`;
    }
    bytes += Buffer.byteLength(block);
    if (!out.write(block)) await new Promise<void>((r) => out.once('drain', () => r()));
    if (Date.now() - lastNote > 5000) {
      lastNote = Date.now();
      console.error(`[stream] writing ${path}: ${(bytes / 1e9).toFixed(2)} GB, ${rows} rows`);
    }
  }
  await new Promise<void>((resolve, reject) => out.end((e?: Error | null) => (e ? reject(e) : resolve())));
  return { rows, bytes };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      'file-gb': { type: 'string', default: '8' },
      'bound-mb': { type: 'string', default: '1024' },
      n: { type: 'string', short: 'n', default: '2' },
      'hash-buckets': { type: 'string', default: '65536' },
      'compare-rows': { type: 'string', default: '2000000' },
      steps: { type: 'string', default: '150' },
      repeats: { type: 'string', default: '3' },
      dir: { type: 'string' },
      keep: { type: 'boolean', default: false },
      'train-args': { type: 'string', default: '--global-batch 8192 --mlp 64 --embed-dim 8' },
    },
  });
  const fileGb = Number(values['file-gb']);
  if (!(fileGb > 0)) throw new Error(`--file-gb ${values['file-gb']}: expected a positive number`);
  const boundMb = positiveInt('bound-mb', values['bound-mb']);
  const n = positiveInt('n', values.n);
  const repeats = positiveInt('repeats', values.repeats);
  const steps = positiveInt('steps', values.steps);
  const compareRows = positiveInt('compare-rows', values['compare-rows']);
  const trainArgs = values['train-args'].split(/\s+/).filter(Boolean);
  const dir = values.dir ?? mkdtempSync(join(tmpdir(), 'ddp-stream-'));
  mkdirSync(dir, { recursive: true });
  const big = join(dir, 'big.tsv');
  const small = join(dir, 'compare.tsv');
  const common = ['-n', String(n), '--hash-buckets', values['hash-buckets'], '--log-every', '0', ...trainArgs];
  try {
    const t0 = performance.now();
    const written = await writeCriteo(big, { bytes: fileGb * 1e9 }, 1);
    console.error(`[stream] ${big}: ${(written.bytes / 1e9).toFixed(2)} GB, ${written.rows} rows in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
    await writeCriteo(small, { rows: compareRows }, 1); // the same generator: the first rows of the big file

    // 1. Memory: the whole big file, streamed once.
    const memReport = join(dir, 'memory.json');
    const wall = await startLauncher([...common, '--data', `criteo:${big}`, '--stream', '--epochs', '1', '--report', memReport], { timeoutS: 6 * 3600, what: 'streamed pass' }).done;
    const mem = readReport(memReport);
    const peaks = mem.ranks.map((r) => r.peakRssBytes);
    console.error(`[stream] streamed pass: ${wall.toFixed(0)} s, peak RSS per rank ${peaks.map((p) => (p / 1e6).toFixed(0)).join(', ')} MB`);

    // 2. Throughput, streamed and in memory, alternating.
    const rate: Record<'stream' | 'memory', number[]> = { stream: [], memory: [] };
    const rss: Record<'stream' | 'memory', number[]> = { stream: [], memory: [] };
    for (let r = 0; r < repeats; r++) {
      for (const mode of ['stream', 'memory'] as const) {
        const report = join(dir, `${mode}-${r}.json`);
        await startLauncher([...common, '--data', `criteo:${small}`, '--steps', String(steps), ...(mode === 'stream' ? ['--stream'] : []), '--report', report], { timeoutS: 3600, what: `${mode} run` }).done;
        const rep = readReport(report);
        rate[mode].push(rep.samplesPerSec);
        rss[mode].push(Math.max(...rep.ranks.map((x) => x.peakRssBytes)));
        console.error(`[stream] ${mode} #${r + 1}: ${rep.samplesPerSec.toFixed(0)} samples/s`);
      }
    }
    const result = {
      bench: 'stream',
      machine: machineInfo(),
      ranks: n,
      file: { gb: written.bytes / 1e9, rows: written.rows, boundMb },
      streamedPass: { wallSeconds: wall, samplesPerSec: mem.samplesPerSec, peakRssMb: peaks.map((p) => p / 1e6), underBound: peaks.every((p) => p <= boundMb * 1e6) },
      throughput: {
        rows: compareRows,
        steps,
        repeats,
        samplesPerSec: { stream: median(rate.stream), memory: median(rate.memory) },
        ratio: median(rate.stream) / median(rate.memory),
        peakRssMb: { stream: median(rss.stream) / 1e6, memory: median(rss.memory) / 1e6 },
        runs: rate,
      },
      trainArgs: common,
    };
    console.log(JSON.stringify(result));
    console.log(`\n### One streamed pass over ${result.file.gb.toFixed(2)} GB (${written.rows.toLocaleString('en')} rows), -n ${n}\n`);
    console.log(markdownTable(['rank', 'peak RSS (MB)', `bound (MB)`, 'under'], peaks.map((p, i) => [i, (p / 1e6).toFixed(0), boundMb, p <= boundMb * 1e6 ? 'yes' : 'NO'])));
    console.log(`\n### Training throughput on ${compareRows.toLocaleString('en')} rows, ${steps} steps, median of ${repeats}\n`);
    console.log(
      markdownTable(
        ['path', 'samples/s', 'peak RSS (MB)'],
        (['stream', 'memory'] as const).map((m) => [m, result.throughput.samplesPerSec[m].toFixed(0), (result.throughput.peakRssMb[m]).toFixed(0)]),
      ),
    );
    console.log(`\nstream / memory: ${result.throughput.ratio.toFixed(3)}`);
  } finally {
    if (!values.keep) rmSync(dir, { recursive: true, force: true });
  }
}

runMain(main);
