/**
 * The per-ID merge of one batch's embedding-gradient rows (mergeRows, src/model/merge.ts) on v1-shaped
 * synthetic ids (26 fields, Zipf-like draws), as the allreduce strategy calls it: batch x 26 rows of d + 1 = 17
 * values. Both of its paths run on the same rows, interleaved: the slot map (ids below 2^24, the default) and
 * the radix sort (taken for larger ids; here the same ids shifted by 2^24, which keeps their order), and the
 * outputs are checked bit-identical. JSON (one line) and a markdown table on stdout, medians of --repeats.
 *
 *   node dist/bench/merge.js [--batches 8192,65536] [--repeats 7]
 */
import { parseArgs } from 'node:util';
import { DEFAULT_SPLIT, loadData } from '../src/data/load.js';
import { mergeRows } from '../src/model/merge.js';
import { machineInfo, markdownTable, median, positiveInt, runMain, splitList } from './common.js';

const WIDTH = 17;

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { batches: { type: 'string', default: '8192,65536' }, repeats: { type: 'string', default: '7' } } });
  const batches = splitList(values.batches).map((b) => positiveInt('batches', b));
  const repeats = positiveInt('repeats', values.repeats);
  const largest = Math.max(...batches);
  const data = await loadData({ data: `synthetic:v1,rows=${largest},eval-rows=100`, split: DEFAULT_SPLIT, seed: 1, minCount: 1, numericTransform: 'log1p', skipBadLines: false });
  const F = data.train.numCategorical;
  let seed = 1;
  const results = batches.map((batch) => {
    const ids = data.train.ids.subarray(0, batch * F);
    const shifted = ids.map((id) => id + 2 ** 24);
    const rows = Float32Array.from({ length: ids.length * WIDTH }, () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32 - 0.5);
    const slots: number[] = [];
    const radix: number[] = [];
    let distinct = 0;
    for (let r = 0; r < repeats; r++) {
      let t = performance.now();
      const a = mergeRows(ids, null, rows, WIDTH);
      slots.push(performance.now() - t);
      t = performance.now();
      const b = mergeRows(shifted, null, rows, WIDTH);
      radix.push(performance.now() - t);
      if (!Buffer.from(a.rows.buffer).equals(Buffer.from(b.rows.buffer))) throw new Error(`batch ${batch}: the two paths differ`);
      distinct = a.ids.length;
    }
    console.error(`[merge] batch ${batch}: slot map ${median(slots).toFixed(1)} ms, radix ${median(radix).toFixed(1)} ms`);
    return { batch, rows: ids.length, distinct, slotMapMs: median(slots), radixMs: median(radix), speedup: median(radix) / median(slots) };
  });
  console.log(JSON.stringify({ bench: 'merge', machine: machineInfo(), repeats, results }));
  console.log();
  console.log(
    markdownTable(
      ['batch', 'rows merged', 'distinct ids', 'slot map ms', 'radix sort ms', 'radix / slot map'],
      results.map((r) => [r.batch, r.rows.toLocaleString('en'), r.distinct.toLocaleString('en'), r.slotMapMs.toFixed(1), r.radixMs.toFixed(1), r.speedup.toFixed(2)]),
    ),
  );
}

runMain(main);
