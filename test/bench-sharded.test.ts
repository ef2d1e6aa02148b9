// bench/sharded (issue 9) in a tiny configuration: the JSON's shape, per-rank bytes equal to the launcher's own
// reports, the model within its tolerance of the measured bytes, the tables; and, as root, the emulated network
// (namespaces, tbf) built, used and removed.
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import type { BenchOutput } from '../bench/sharded-summary.js';
import type { RunReport } from '../src/train/report.js';

const BENCH = fileURLToPath(new URL('../dist/bench/sharded.js', import.meta.url));
const TINY = ['--nprocs', '2', '--batch', '1024', '--steps', '2', '--mlp', '16', '--embed-dim', '4', '--project-nprocs', '64,256'];
/** Measured over model for distinct IDs and sparse bytes (the model: bench/projection.ts). */
const TOLERANCE = 0.05;

/** Without tap's NODE_OPTIONS hook, which would otherwise go into every worker (see test/fixtures/launcher/procs.ts). */
function bench(args: string[], timeoutMs: number) {
  const env = { ...process.env };
  delete env.NODE_OPTIONS;
  const res = spawnSync(process.execPath, [BENCH, ...args], { encoding: 'utf8', timeout: timeoutMs, env });
  const line = res.stdout.split('\n').find((l) => l.startsWith('{'));
  return { res, out: line ? (JSON.parse(line) as BenchOutput) : undefined };
}

t.test('bench/sharded: tiny run, JSON per rank equals the reports, model within tolerance', async (t) => {
  const dir = t.testdir();
  const { res, out } = bench([...TINY, '--strategies', 'allreduce,sharded', '--netem', 'off', '--keep-reports', dir], 120_000);
  t.equal(res.status, 0, res.stderr.slice(-3000));
  if (!out) return t.fail('no JSON line');
  t.equal(out.bench, 'sharded');
  const sharded = out.settings.availableSyncs.includes('sharded');
  t.same(out.settings.strategies, sharded ? ['allreduce', 'sharded'] : ['allreduce'], 'strategies run');
  if (!sharded) {
    t.match(out.settings.skipped, [{ strategy: 'sharded', reason: /not in this build's choices/ }], 'sharded skipped, and said so');
    t.match(res.stderr, /NOTICE: skipping sharded/);
  }
  t.equal(out.runs.length, out.settings.strategies.length, 'one run per strategy (N = 2, one repeat)');
  for (const run of out.runs) {
    const report = JSON.parse(readFileSync(join(dir, `${run.strategy}-n2-r1.json`), 'utf8')) as RunReport;
    t.equal(run.ranks.length, 2, `${run.strategy}: two ranks`);
    for (const k of run.ranks) {
      const b = report.ranks[k.rank].bytes;
      t.equal(k.sparseSent, b.sparsePerStep, `${run.strategy} rank ${k.rank}: sparse bytes per step = the report's (${b.sparsePerStep})`);
      t.equal(k.denseSent, b.densePerStep, `${run.strategy} rank ${k.rank}: dense bytes per step = the report's`);
      t.equal(k.sentAll, b.sent / report.steps, 'all bytes sent per step');
      t.ok(Math.abs(k.sparseReceived - (b.sparsePerStep + (b.received - b.sent) / report.steps)) < 1e-6, 'sparse received derived as documented');
      t.equal(k.uniqueLocal, report.ranks[k.rank].uniqueIdsPerStep.local, 'local distinct IDs');
    }
    t.ok(run.stepMs > 0 && Math.abs(run.stepMs - (report.trainSeconds * 1e3) / report.steps) < 1e-9, 'step ms = train seconds / steps');
  }
  for (const s of out.results) {
    t.equal(s.oversubscribed, false, `${s.strategy}: N = 2 is not oversubscribed on ${s.n} ranks`);
    t.ok(s.commShare >= 0 && s.commShare < 1, 'comm share');
  }
  t.equal(out.model.comparisons.length, out.settings.strategies.length, 'every strategy run has a model');
  for (const c of out.model.comparisons) {
    for (const key of ['uniqueLocal', 'sparseSent', 'sparseReceived', 'denseSent'] as const) {
      const r = c[key].ratio!;
      t.ok(Math.abs(r - 1) <= TOLERANCE, `${c.strategy} ${key}: measured / model = ${r.toFixed(3)} (within ${TOLERANCE * 100}%)`);
    }
  }
  t.same([...new Set(out.projection.results.map((p) => p.n))], [64, 256], 'projected to N = 64 and 256');
  t.same([...new Set(out.projection.results.map((p) => p.strategy))], ['allgather', 'sharded'], 'both strategies projected');
  t.ok(out.projection.results.every((p) => p.stepSec > 0));
  t.ok(out.projection.issueExample.predictedMB > 40, "the issue's example projected");
  t.same(out.netem, { status: 'skipped', reason: '--netem off', shaping: [], results: [] });
  t.match(res.stdout, /\| strategy \| N \| dense MB sent \| sparse MB sent \| sparse MB received \|/, 'measured table');
  t.match(res.stdout, /local unique IDs: measured \/ model/, 'model table');
  t.match(res.stdout, /\| strategy \| N \| local batch \| local unique IDs \| dense MB \| sparse MB received \|/, 'projection table');
  t.match(res.stdout, /Emulated network: skipped \(--netem off\)/);
});

t.test('bench/sharded --netem on: namespaces with tbf links, removed afterwards', async (t) => {
  if (process.getuid?.() !== 0) {
    const { res } = bench([...TINY, '--strategies', 'allreduce', '--netem', 'on'], 60_000);
    t.not(res.status, 0, '--netem on without root fails');
    t.match(res.stderr, /--netem on: not root/);
    return;
  }
  const { res, out } = bench([...TINY, '--strategies', 'allreduce', '--netem', 'on', '--netem-nprocs', '2', '--rate', '500mbit'], 120_000);
  t.equal(res.status, 0, res.stderr.slice(-3000));
  const left = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' });
  t.notMatch(left, new RegExp(`ddpb-${res.pid}-`), 'no namespace of this bench left');
  if (!out) return t.fail('no JSON line');
  if (out.netem.status === 'skipped') {
    // A kernel without sch_tbf and netem: the bench must say so, not pass silently.
    t.match(out.netem.reason, /no traffic shaping: tc qdisc tbf/);
    t.match(res.stdout, /Emulated network: skipped \(no traffic shaping/);
    return;
  }
  t.equal(out.netem.shaping[0].kind, 'tbf', 'links limited by tbf');
  t.same(out.netem.results.map((s) => [s.strategy, s.n]), [['allreduce', 2]]);
  const run = out.runs.find((r) => r.network === 'netns')!;
  for (const k of run.ranks) t.ok(k.wire && k.wire.tx > k.sentAll * out.settings.steps, `rank ${k.rank}'s link carried at least its payloads (${k.wire?.tx} bytes)`);
  t.match(res.stdout, /\| strategy \| link \| N \(namespaces\) \| step ms \|/, 'emulated-network table');
});
