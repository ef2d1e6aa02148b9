import t from 'tap';
import { decodeSparse, mergeRows } from '../src/sparse/merge.js';
import { ownedRows, ownerOf, splitByOwner, uniqueByOwner } from '../src/sparse/owners.js';
import { runJob, worstRelativeDiff, type Job } from './helpers/runs.js';

t.test('splitting by owner: distinct ids in order of appearance, merged rows into payloads after a lead', (t) => {
  const owners = 3;
  const ids = Int32Array.of(7, 3, 7, 12, 3, 5, 40, 12);
  const seen = new Uint8Array(64);
  const asked = uniqueByOwner(ids, owners, seen);
  const firstSeen = [7, 3, 12, 5, 40];
  asked.forEach((a, k) => t.same([...a], firstSeen.filter((id) => ownerOf(id, owners) === k), `owner ${k}: its distinct ids, in order of appearance`));
  t.ok(asked.filter((a) => a.length > 0).length > 1, 'the ids spread over owners');
  t.ok(seen.every((m) => m === 0), 'marks left clear');

  const merged = mergeRows(ids, null, Float32Array.from({ length: ids.length * 2 }, (_, i) => i), 2);
  const parts = splitByOwner(merged, owners, [4, 0, 8]);
  const decoded = parts.map((p, k) => decodeSparse(p.subarray([4, 0, 8][k])));
  t.same(decoded.flatMap((g) => [...g.ids]).sort((a, b) => a - b), [...merged.ids], 'every merged row in exactly one part');
  for (const [k, g] of decoded.entries()) {
    t.ok([...g.ids].every((id, i) => ownerOf(id, owners) === k && (i === 0 || id > g.ids[i - 1])), `part ${k}: its owner's ids, ascending`);
    for (const [i, id] of g.ids.entries()) {
      const j = merged.ids.indexOf(id);
      t.same([g.counts[i], ...g.rows.subarray(2 * i, 2 * i + 2)], [merged.counts[j], ...merged.rows.subarray(2 * j, 2 * j + 2)], `row ${id} intact`);
    }
  }
  const all = ownedRows(64, owners);
  t.same(all.flatMap((a) => [...a]).sort((a, b) => a - b), [...Array(64).keys()], 'owned rows partition the table');
  t.ok(all.every((a, k) => a.every((id, i) => ownerOf(id, owners) === k && (i === 0 || id > a[i - 1]))), 'ascending, by owner');
  t.end();
});

/**
 * `--sync sharded` (each rank owns the embedding rows whose id hashes to it, rows travel by all-to-all) trains
 * the `allreduce` model: real multi-process jobs at N = 2 and 4, both embedding-update modes, Adam, CowClip
 * firing on many rows (ratio 0.01), 24 steps of global batch 250 (uneven over 4 ranks), 12K embedding rows
 * (vocab-scale=0.1, ~10% touched per batch). Drift checks every 5 steps and evaluations every 8 exercise the
 * mid-run refresh (pending rows applied, every owner's rows and optimizer state all-gathered).
 */
const BASE = [
  '--data', 'synthetic:quick,rows=8000,eval-rows=500,vocab-scale=0.1',
  '--mlp', '16,16', '--embed-dim', '4', '--global-batch', '250', '--steps', '24',
  '--cowclip-ratio', '0.01', '--check-every', '5', '--eval-every', '8', '--log-every', '0',
];

const sparsePerStep = (j: Job): number[] => j.rep.ranks.map((r) => r.bytes.sparsePerStep);

for (const mode of ['lazy', 'dense']) {
  t.test(`--embed-update ${mode}: sharded trains the allreduce model at N = 2 and 4`, async (t) => {
    const dir = t.testdir();
    for (const n of [2, 4]) {
      const args = [...BASE, '--embed-update', mode];
      const ref = await runJob(t, dir, `allreduce-${n}`, n, [...args, '--sync', 'allreduce']);
      const sharded = await runJob(t, dir, `sharded-${n}`, n, [...args, '--sync', 'sharded']);
      t.equal(sharded.rep.sync, 'sharded');
      const clip = ref.rep.clipFraction;
      // Owners count what they apply, summed where the ranks meet; the last step's update is counted at the end.
      t.ok(clip.mean > 0.1, `N = ${n}: CowClip fires on ${(clip.mean * 100).toFixed(1)}% of rows`);
      t.same(sharded.rep.clipFraction, clip, `N = ${n}: the owners' clip figures are allreduce's, last step included`);
      t.same(sharded.rep.ranks.map((r) => r.uniqueIdsPerStep.global), ref.rep.ranks.map((r) => r.uniqueIdsPerStep.global), 'global distinct ids per step as allreduce');
      const d = worstRelativeDiff(ref.ckpt.tensors, sharded.ckpt.tensors);
      const same = sharded.rep.paramChecksums[0] === ref.rep.paramChecksums[0] ? ', parameters bit-identical' : '';
      t.ok(d.rel <= 1e-5, `N = ${n}: worst relative difference to allreduce ${d.rel.toExponential(2)} (${d.name || 'none'}), optimizer state included${same}`);
      t.equal(sharded.rep.paramChecksums.length, n);
      t.equal(new Set(sharded.rep.paramChecksums).size, 1, `N = ${n}: replicas identical at the end`);
      t.ok(Math.abs(sharded.rep.train.logloss - ref.rep.train.logloss) <= 1e-5 * ref.rep.train.logloss, `training loss ${sharded.rep.train.logloss} vs ${ref.rep.train.logloss}`);
      t.same(sharded.rep.history.map((h) => h.step), [8, 16, 24]);
      sharded.rep.history.forEach((h, i) => t.ok(Math.abs(h.auc - ref.rep.history[i].auc) <= 1e-5, `eval AUC at step ${h.step}: ${h.auc} vs ${ref.rep.history[i].auc}`));
      if (n === 4) {
        // Rows go to their owner only, instead of to every rank: about (2d + 5) / (N (d + 3)) of the all-gather's bytes.
        const [mine, theirs] = [sparsePerStep(sharded), sparsePerStep(ref)];
        const ratio = Math.max(...mine.map((b, r) => b / theirs[r]));
        t.ok(ratio < 0.6, `N = 4: sparse bytes per step per rank ${mine.map(Math.round).join(', ')} vs allreduce ${theirs.map(Math.round).join(', ')} (at most ${ratio.toFixed(2)}x)`);
      }
    }
  });
}
