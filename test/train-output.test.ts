// What a run leaves for its user: --metrics JSON lines that agree with the report, log levels, resumed files.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseMetrics, type EvalRecord, type MetricsRecord, type StepRecord } from '../src/train/metrics.js';
import type { RunReport } from '../src/train/report.js';
import { runLauncher } from './helpers/cli.js';

const TINY = ['--data', 'synthetic:quick,rows=4000,eval-rows=1000', '--mlp', '16,16', '--embed-dim', '4', '--global-batch', '256', '--log-every', '0'];

function read(dir: string): { records: MetricsRecord[]; report: RunReport } {
  const file = join(dir, 'm.jsonl');
  return { records: parseMetrics(readFileSync(file, 'utf8'), file), report: JSON.parse(readFileSync(join(dir, 'r.json'), 'utf8')) as RunReport };
}
const steps = (records: MetricsRecord[]) => records.filter((r): r is StepRecord => r.type === 'step');
const evals = (records: MetricsRecord[]) => records.filter((r): r is EvalRecord => r.type === 'eval');

/** The rows-weighted mean of the windows' losses is the run's training logloss: no step lost or counted twice. */
function windowsMeanLoss(records: StepRecord[]): number {
  const rows = records.reduce((n, r) => n + r.samples, 0);
  return records.reduce((sum, r) => sum + r.loss * r.samples, 0) / rows;
}

t.test('--metrics: start, step and eval records that agree with the report', async (t) => {
  const dir = t.testdir();
  const r = await runLauncher(['-n', '2', ...TINY, '--steps', '20', '--eval-every', '10', '--metrics-every', '4', '--metrics', join(dir, 'm.jsonl'), '--report', join(dir, 'r.json')]);
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, `[r0] metrics written to ${join(dir, 'm.jsonl')}`);
  const { records, report } = read(dir);
  t.match(records[0], { type: 'start', worldSize: 2, model: 'deepfm', sync: 'allreduce', globalBatch: 256, steps: 20, startStep: 0, backend: report.backend });
  const st = steps(records);
  t.same(st.map((s) => s.step), [4, 8, 12, 16, 20], 'a record every 4 steps and at the last');
  for (const s of st) {
    t.ok(s.loss > 0 && s.loss < 1 && s.samplesPerSec > 0 && s.commShare >= 0 && s.commShare < 1, `step ${s.step}: loss ${s.loss}, ${s.samplesPerSec} samples/s, comm ${s.commShare}`);
    t.equal(s.epoch, s.step / (records[0] as { stepsPerEpoch: number }).stepsPerEpoch);
    t.equal(s.denseBytesPerStep, report.ranks[0].bytes.densePerStep, 'the same dense bytes every step');
    t.ok(s.sparseBytesPerStep > 0 && s.bytesSent > 4 * s.denseBytesPerStep && s.bytesReceived > 0);
    t.equal(s.lrEmbed, report.hyper.lrEmbed);
    t.ok(s.lr > 0 && s.lr <= report.hyper.lrDense, 'the dense lr follows warmup up to its target');
    t.ok(Date.parse(s.time) > 0 && s.elapsed > 0);
  }
  t.ok(st[0].lr < st[4].lr, 'warmup raises the dense lr');
  const short = st.filter((s) => s.samples !== 4 * 256);
  t.ok(short.length === 1 && short[0].samples > 3 * 256 && short[0].samples < 4 * 256, 'samples: 4 full batches a window, except where the epoch\'s short last batch falls');
  t.ok(Math.abs(windowsMeanLoss(st) - report.train.logloss) < 1e-6, 'windows cover every step once');
  const ev = evals(records);
  t.same(ev.map((e) => e.step), [10, 20]);
  t.same(ev.map((e) => [e.auc, e.logloss]), report.history.map((h) => [h.auc, h.logloss]), 'the evals of the report');
  t.equal(ev[1].auc, report.eval.auc);
  t.equal(ev[1].rows, 1000);
});

t.test('--metrics under local-sgd: records fall at the next step where replicas meet', async (t) => {
  const dir = t.testdir();
  const r = await runLauncher(['-n', '2', ...TINY, '--steps', '20', '--sync', 'local-sgd', '--sync-every', '3', '--metrics-every', '4', '--metrics', join(dir, 'm.jsonl'), '--report', join(dir, 'r.json')]);
  t.equal(r.code, 0, r.stderr);
  const { records, report } = read(dir);
  const st = steps(records);
  t.same(st.map((s) => s.step), [6, 9, 12, 18, 20]);
  t.ok(Math.abs(windowsMeanLoss(st) - report.train.logloss) < 1e-6);
});

t.test('--resume appends to the metrics file: the records of both runs, in order', async (t) => {
  const dir = t.testdir();
  const common = [...TINY, '--metrics-every', '4', '--metrics', join(dir, 'm.jsonl'), '--save', join(dir, 'ckpt')];
  t.equal((await runLauncher(['-n', '1', ...common, '--steps', '8'])).code, 0);
  const r = await runLauncher(['-n', '1', ...common, '--steps', '16', '--resume', join(dir, 'ckpt'), '--report', join(dir, 'r.json')]);
  t.equal(r.code, 0, r.stderr);
  const { records, report } = read(dir);
  t.same(records.filter((x) => x.type === 'start').map((x) => (x as { startStep: number }).startStep), [0, 8]);
  t.same(steps(records).map((s) => s.step), [4, 8, 12, 16]);
  t.ok(Math.abs(windowsMeanLoss(steps(records).slice(2)) - report.train.logloss) < 1e-6, 'the resumed run counts from its first step');
});

t.test('--quiet, --log-level and bad output paths', async (t) => {
  const quiet = await runLauncher(['-n', '1', ...TINY, '--steps', '4', '--quiet']);
  t.equal(quiet.code, 0, quiet.stderr);
  t.notMatch(quiet.stdout, /\[r0\]/, `--quiet: no worker lines on stdout, got ${quiet.stdout.slice(0, 300)}`);
  const debug = await runLauncher(['-n', '1', ...TINY, '--steps', '4', '--log-every', '0.000001', '--log-level', 'debug']);
  t.equal(debug.code, 0, debug.stderr);
  t.match(debug.stdout, /\[r0\] step 4\/4 .* samples\/s/);
  t.match(debug.stdout, /\[r0\] step 4 time so far \(ms\/step\): data [\d.]+, compute [\d.]+, merge [\d.]+, comm [\d.]+, update [\d.]+/);
  const bad = await runLauncher(['-n', '1', ...TINY, '--steps', '4', '--log-level', 'loud']);
  t.equal(bad.code, 2);
  t.match(bad.stderr, '--log-level loud: expected one of error, warn, info, debug');
  const path = await runLauncher(['-n', '1', ...TINY, '--steps', '4', '--metrics', '/dev/null/m.jsonl']);
  t.equal(path.code, 2);
  t.match(path.stderr, /--metrics \/dev\/null\/m\.jsonl: cannot write there \(/);
});
