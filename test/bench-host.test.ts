// bench/host times the embedding gather and the per-ID merge in each form (JS, native, the merge's radix path),
// checking every output bit-identical to the JavaScript one (the bench fails otherwise).
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { loadNativeBlas } from '../src/backend/blas.js';

const BENCH = fileURLToPath(new URL('../dist/bench/host.js', import.meta.url));

t.test('bench/host: tiny run', async (t) => {
  const res = spawnSync(process.execPath, [BENCH, '--batches', '64,512', '--repeats', '2'], { encoding: 'utf8', timeout: 120_000 });
  t.equal(res.status, 0, res.stderr);
  const json = JSON.parse(res.stdout.split('\n').find((l) => l.startsWith('{'))!) as {
    results: { batch: number; rows: number; distinct: number; gatherMs: { js: number; native: number | null }; mergeMs: { radix: number; slotsJs: number; slotsNative: number | null } }[];
  };
  t.same(json.results.map((r) => [r.batch, r.rows]), [[64, 64 * 26], [512, 512 * 26]], 'batch x 26 fields of rows per batch');
  const hasNative = typeof loadNativeBlas() !== 'string';
  for (const r of json.results) {
    t.ok(r.distinct > 0 && r.distinct < r.rows, `batch ${r.batch}: ${r.distinct} distinct ids`);
    t.ok(r.gatherMs.js > 0 && r.mergeMs.radix > 0 && r.mergeMs.slotsJs > 0, 'the JavaScript forms timed');
    t.equal(r.gatherMs.native !== null && r.mergeMs.slotsNative !== null, hasNative, hasNative ? 'the native forms timed' : 'no native module: no native column');
  }
  t.match(res.stdout, /\| batch \| rows \| distinct ids \| gather ms: JS \/ native \| merge ms: radix \/ slot map JS \/ slot map native \|/);
});
