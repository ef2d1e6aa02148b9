// --early-stop and --save-best (#16): training stops after PATIENCE evaluations without improvement, on every
// rank at the same step (then ends through the usual end: drain, final check and evaluation), and --save-best
// holds the checkpoint of the best evaluation, which `ddp-launch eval` reproduces. Real processes, real files.
import t from 'tap';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runLauncher } from './helpers/cli.js';
import { loadCheckpoint } from '../src/train/checkpoint.js';
import { parseMetrics, type EvalRecord, type StepRecord } from '../src/train/metrics.js';
import type { RunReport } from '../src/train/report.js';

const DATA = 'synthetic:quick,rows=4000,eval-rows=1000';
// 32 steps per epoch, 300 planned: high learning rates overfit the 4000 rows within a few epochs. Every
// setting that shapes the curve is given, so that changing a default does not change this test.
const TINY = ['--data', DATA, '--mlp', '16,16', '--embed-dim', '4', '--global-batch', '128', '--log-every', '0', '--steps', '300'];
const HOT = ['--scale-rule', 'cowclip', '--base-batch', '1024', '--lr', '0.02', '--lr-embed', '0.05', '--l2', '1e-5', '--warmup-steps', '32'];

const readReport = (file: string) => JSON.parse(readFileSync(file, 'utf8')) as RunReport;

/** The first evaluation of the history that no later one beats strictly: what --early-stop-metric calls the best. */
function bestOf(history: RunReport['history'], metric: 'auc' | 'logloss'): RunReport['history'][number] {
  return history.reduce((b, h) => ((metric === 'auc' ? h.auc > b.auc : h.logloss < b.logloss) ? h : b));
}

t.test('-n 1: stops after PATIENCE evaluations without a better AUC; --save-best holds the best step, which eval reproduces', async (t) => {
  const dir = t.testdir();
  const [best, last, report, metrics] = ['best', 'last', 'r.json', 'm.jsonl'].map((f) => join(dir, f));
  const r = await runLauncher(['-n', '1', ...TINY, ...HOT, '--eval-every', '5', '--early-stop', '2', '--save-best', best, '--save', last, '--report', report, '--metrics', metrics]);
  t.equal(r.code, 0, 'exits 0', { stderr: r.stderr.slice(-2000) });
  const rep = readReport(report);
  const S = rep.steps;
  t.ok(rep.stoppedEarly, 'stopped early');
  t.equal(rep.plannedSteps, 300);
  t.ok(S < 300 && S % 5 === 0, `stopped at step ${S} of 300, at an evaluation`);
  const top = bestOf(rep.history, 'auc');
  t.same(rep.best, { step: top.step, auc: top.auc, logloss: top.logloss, metric: 'auc' }, 'the report\'s best is the history\'s best AUC');
  t.equal(S, rep.best.step + 2 * 5, 'two evaluations after the best, then the stop');
  t.same(rep.history.map((h) => h.step), Array.from({ length: S / 5 }, (_, i) => 5 * (i + 1)), 'one evaluation per 5 steps; the last one is the final evaluation (not repeated)');
  t.equal(rep.eval.auc, rep.history.at(-1)!.auc);
  t.match(r.stdout, `[r0] early stop at step ${S}: no eval AUC improvement for 2 evaluations (best ${rep.best.auc.toFixed(4)} at step ${rep.best.step})\n`);
  t.match(r.stdout, new RegExp(`\\[r0\\] done: ${S} of 300 steps \\(early stop\\) in .*; best eval \\(by auc\\) at step ${rep.best.step}: auc ${rep.best.auc.toFixed(4)} logloss ${rep.best.logloss.toFixed(4)}, saved to ${best};`));
  // Throughput and epochs over the steps run, not the 300 planned (4000 rows: every 32nd batch has 32 rows).
  t.ok(rep.epochs * 4000 <= S * 128 && rep.epochs * 4000 >= S * 128 - 96 * Math.ceil(S / 32), `epochs ${rep.epochs} over ${S} steps`);
  t.ok(Math.abs(rep.samplesPerSec * rep.trainSeconds - rep.epochs * 4000) < 1e-6 * rep.epochs * 4000, 'samples/s: the samples trained, over the training time');

  const records = parseMetrics(readFileSync(metrics, 'utf8'), metrics);
  const evals = records.filter((x): x is EvalRecord => x.type === 'eval');
  t.same(evals.map((e) => e.step), rep.history.map((h) => h.step), 'an eval record per evaluation');
  t.same(
    evals.map((e) => e.best),
    evals.map((e, i) => evals.slice(0, i).every((p) => e.auc > p.auc)),
    'best: true exactly where an evaluation beats every earlier one',
  );
  t.same(evals.map((e) => e.earlyStop ?? false), evals.map((_, i) => i === evals.length - 1), 'earlyStop on the evaluation that stopped training');
  t.equal(records.filter((x): x is StepRecord => x.type === 'step').at(-1)!.step, S, 'the last step record is at the stop');
  t.match(records[0], { type: 'start', steps: 300 });

  t.equal((await loadCheckpoint(best)).manifest.step, rep.best.step, '--save-best: the checkpoint of the best step');
  t.equal((await loadCheckpoint(last)).manifest.step, S, '--save: the checkpoint of the last step');
  const out = join(dir, 'eval.json');
  const e = await runLauncher(['eval', '--from', best, '--data', DATA, '--out', out]);
  t.equal(e.code, 0, 'eval exits 0', { stderr: e.stderr.slice(-2000) });
  const scored = JSON.parse(readFileSync(out, 'utf8')) as { auc: number; logloss: number; step: number };
  t.equal(scored.step, rep.best.step);
  t.ok(Math.abs(scored.auc - rep.best.auc) < 1e-6, `eval --from the best checkpoint: auc ${scored.auc} = the best evaluation's ${rep.best.auc}`);
  t.ok(Math.abs(scored.logloss - rep.best.logloss) < 1e-6, `logloss ${scored.logloss} vs ${rep.best.logloss}`);
  t.notOk(readdirSync(dir).some((f) => f.includes('.tmp-') || f.includes('.old-')), 'no temporary checkpoint folder left');
});

t.test('-n 2: every rank stops at the same step and the job ends cleanly, whatever the strategy', async (t) => {
  const cases: { sync: string; extra: string[]; metric: 'auc' | 'logloss' }[] = [
    { sync: 'allreduce', extra: ['--eval-every', '5', '--early-stop-metric', 'logloss'], metric: 'logloss' },
    // Evaluations (and so the stop) fall at averaging points: steps 6, 9, 12, 18, ... for --eval-every 4, H = 3.
    { sync: 'local-sgd', extra: ['--sync-every', '3', '--eval-every', '4'], metric: 'auc' },
    // An embedding update is still owed at the stop: drained, then the final evaluation scores the model with it.
    { sync: 'hybrid', extra: ['--eval-every', '5'], metric: 'auc' },
  ];
  const dir = t.testdir();
  for (const c of cases) {
    const [best, report, logs] = ['best', 'r.json', 'logs'].map((f) => join(dir, c.sync, f));
    const r = await runLauncher(['-n', '2', ...TINY, ...HOT, '--sync', c.sync, ...c.extra, '--early-stop', '2', '--save-best', best, '--report', report, '--log-dir', logs]);
    t.equal(r.code, 0, `${c.sync}: exits 0`, { stderr: r.stderr.slice(-2000) });
    const rep = readReport(report);
    const S = rep.steps;
    t.ok(rep.stoppedEarly && S < 300, `${c.sync}: stopped at step ${S}`);
    t.equal(new Set(rep.paramChecksums).size, 1, `${c.sync}: identical replicas at the end`);
    t.match(readFileSync(join(logs, 'rank-1.log'), 'utf8'), new RegExp(`^done: ${S} steps;`, 'm'), `${c.sync}: rank 1 ran the same ${S} steps`);
    // The evaluations training watched: under hybrid, all but the final one (which may still be the best).
    const periodic = c.sync === 'hybrid' ? rep.history.slice(0, -1) : rep.history;
    const top = bestOf(rep.history, c.metric);
    t.same(rep.best, { step: top.step, auc: top.auc, logloss: top.logloss, metric: c.metric }, `${c.sync}: best ${c.metric} of the history`);
    const watched = bestOf(periodic, c.metric);
    t.equal(periodic.filter((h) => h.step > watched.step).length, 2, `${c.sync}: two evaluations after the best, then the stop`);
    const name = c.metric === 'auc' ? 'AUC' : 'logloss';
    t.match(r.stdout, `[r0] early stop at step ${S}: no eval ${name} improvement for 2 evaluations (best ${watched[c.metric].toFixed(4)} at step ${watched.step})`);
    t.equal((await loadCheckpoint(best)).manifest.step, rep.best.step, `${c.sync}: --save-best holds step ${rep.best.step}`);
    if (c.sync === 'local-sgd') t.ok(rep.history.every((h) => h.step % 3 === 0), 'local-sgd: evaluations at averaging points only');
    if (c.sync === 'hybrid') t.same(rep.history.slice(-2).map((h) => h.step), [S, S], 'hybrid: the evaluation that stopped, then the final one after the owed update');
  }
});

t.test('flag errors name the flags', async (t) => {
  const dir = t.testdir();
  const config = join(dir, 'c.json');
  writeFileSync(config, JSON.stringify({ 'early-stop': 3 }));
  const cases: [string[], RegExp][] = [
    [['--early-stop', '3'], /--early-stop 3 needs --eval-every K > 0/],
    [['--config', config], /--early-stop 3 needs --eval-every K > 0/],
    [['--eval-every', '5', '--early-stop', '2', '--early-stop-metric', 'f1'], /--early-stop-metric f1: expected one of auc, logloss/],
    [['--early-stop', '-1', '--eval-every', '5'], /--early-stop -1: must be >= 0/],
    [['--eval-every', '5', '--save-best', join(dir, 'ck'), '--save', join(dir, 'ck/')], /--save-best and --save both name/],
    [['--save-best', join(config, 'ck')], /--save-best .*c\.json\/ck: cannot write there/],
  ];
  for (const [args, want] of cases) {
    const r = await runLauncher(['-n', '1', ...TINY, ...args]);
    t.equal(r.code, 2, `${args.join(' ')}: exit 2`);
    t.match(r.stderr, want, args.join(' '));
  }
});
