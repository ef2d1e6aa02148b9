/**
 * The host's share of a GPU step, on v1-shaped synthetic ids (26 fields, Zipf-like draws, ~1M embedding rows of
 * d = 16): the embedding gather of a batch (EmbeddingTable.gather) and the per-ID merge of its gradient rows
 * (mergeRows, batch x 26 rows of d + 1 = 17 values, as the allreduce strategy calls it). Each in its JavaScript
 * and native (native/blas.c) form, and the merge also by its radix-sort path (taken for ids >= 2^24; here the
 * same ids shifted by 2^24, which keeps their order), interleaved; every output is checked bit-identical to the
 * JavaScript one. JSON (one line) and a markdown table on stdout, medians of --repeats.
 *
 *   node dist/bench/host.js [--batches 8192,65536] [--repeats 7]
 */
import { parseArgs } from 'node:util';
import { installCpuKernels, loadNativeBlas } from '../src/backend/blas.js';
import { loadData } from '../src/data/load.js';
import { DEFAULT_SPLIT } from '../src/data/split.js';
import { EmbeddingTable } from '../src/model/embedding.js';
import { mergeRows, type SparseGrad } from '../src/sparse/merge.js';
import { Rng } from '../src/util/rng.js';
import { machineInfo, markdownTable, median, positiveInt, runMain, splitList } from './common.js';

const DIM = 16;

const same = (a: Float32Array, b: Float32Array): boolean => Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { batches: { type: 'string', default: '8192,65536' }, repeats: { type: 'string', default: '7' } } });
  const batches = splitList(values.batches).map((b) => positiveInt('batches', b));
  const repeats = positiveInt('repeats', values.repeats);
  const native = loadNativeBlas();
  const nativeNote = typeof native === 'string' ? native : null;
  if (nativeNote) console.error(`[host] notice: ${nativeNote}; JavaScript only`);
  const largest = Math.max(...batches);
  // vocab-scale as bench/train-throughput's --rows 1M: the v1 vocabularies scaled to ~1M rows.
  const data = await loadData({ data: `synthetic:v1,vocab-scale=8.26691,rows=${largest},eval-rows=100`, split: DEFAULT_SPLIT, seed: 1, minCount: 1, numericTransform: 'log1p', skipBadLines: false });
  const table = EmbeddingTable.normal(data.totalRows, DIM, 0.01, new Rng(1));
  const F = data.train.numCategorical;
  const rng = new Rng(2);
  const results = batches.map((batch) => {
    const ids = data.train.ids.subarray(0, Math.min(batch, data.train.rows) * F);
    const shifted = ids.map((id) => id + 2 ** 24);
    const rows = Float32Array.from({ length: ids.length * (DIM + 1) }, () => rng.normal());
    const out = new Float32Array(ids.length * DIM);
    const ms = { gatherJs: [] as number[], gatherNative: [] as number[], radix: [] as number[], slotsJs: [] as number[], slotsNative: [] as number[] };
    const timed = <T>(into: number[], f: () => T): T => {
      const t = performance.now();
      const r = f();
      into.push(performance.now() - t);
      return r;
    };
    let distinct = 0;
    for (let r = 0; r < repeats; r++) {
      timed(ms.gatherJs, () => table.gather(ids, out));
      const gathered = out.slice();
      const js = timed(ms.slotsJs, () => mergeRows(ids, null, rows, DIM + 1));
      const check = (what: string, g: SparseGrad): void => {
        if (!same(g.rows, js.rows) || !same(g.counts, js.counts)) throw new Error(`batch ${batch}: ${what} differs from the JavaScript slot map`);
      };
      check('the radix path', timed(ms.radix, () => mergeRows(shifted, null, rows, DIM + 1)));
      distinct = js.ids.length;
      if (typeof native === 'string') continue;
      const kernels = installCpuKernels('webgpu');
      try {
        timed(ms.gatherNative, () => table.gather(ids, out));
        if (!same(out, gathered)) throw new Error(`batch ${batch}: the native gather differs`);
        check('the native slot map', timed(ms.slotsNative, () => mergeRows(ids, null, rows, DIM + 1)));
      } finally {
        kernels.restore();
      }
    }
    const med = (xs: number[]): number | null => (xs.length ? median(xs) : null);
    const res = {
      batch,
      rows: ids.length,
      distinct,
      gatherMs: { js: median(ms.gatherJs), native: med(ms.gatherNative) },
      mergeMs: { radix: median(ms.radix), slotsJs: median(ms.slotsJs), slotsNative: med(ms.slotsNative) },
    };
    console.error(`[host] batch ${batch}: gather ${JSON.stringify(res.gatherMs)} ms, merge ${JSON.stringify(res.mergeMs)} ms`);
    return res;
  });
  console.log(JSON.stringify({ bench: 'host', machine: machineInfo(), embeddingRows: data.totalRows, repeats, native: nativeNote ?? 'native/blas.c', results }));
  console.log();
  const f = (x: number | null): string => (x === null ? '-' : x.toFixed(1));
  console.log(
    markdownTable(
      ['batch', 'rows', 'distinct ids', 'gather ms: JS / native', 'merge ms: radix / slot map JS / slot map native'],
      results.map((r) => [r.batch, r.rows.toLocaleString('en'), r.distinct.toLocaleString('en'), `${f(r.gatherMs.js)} / ${f(r.gatherMs.native)}`, `${f(r.mergeMs.radix)} / ${f(r.mergeMs.slotsJs)} / ${f(r.mergeMs.slotsNative)}`]),
    ),
  );
}

runMain(main);
