// bench/merge runs both merge paths on the same v1 rows, checks them bit-identical, and reports both timings.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import t from 'tap';

const BENCH = fileURLToPath(new URL('../dist/bench/merge.js', import.meta.url));

t.test('bench/merge: tiny run', async (t) => {
  const res = spawnSync(process.execPath, [BENCH, '--batches', '64,512', '--repeats', '2'], { encoding: 'utf8', timeout: 120_000 });
  t.equal(res.status, 0, res.stderr);
  const json = JSON.parse(res.stdout.split('\n').find((l) => l.startsWith('{'))!) as { results: { batch: number; rows: number; distinct: number; slotMapMs: number; radixMs: number }[] };
  t.same(json.results.map((r) => [r.batch, r.rows]), [[64, 64 * 26], [512, 512 * 26]], 'batch x 26 fields of rows per batch');
  for (const r of json.results) t.ok(r.distinct > 0 && r.distinct < r.rows && r.slotMapMs > 0 && r.radixMs > 0, `batch ${r.batch}: ${r.distinct} distinct ids, both paths timed`);
  t.match(res.stdout, /\| batch \| rows merged \| distinct ids \| slot map ms \| radix sort ms \| radix \/ slot map \|/);
});
