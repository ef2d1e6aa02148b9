// What a run leaves for its user: --metrics JSON lines that agree with the report, log levels, resumed files.
import t from 'tap';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { parseMetrics, type EvalRecord, type MetricsRecord, type StepRecord } from '../src/train/metrics.js';
import type { RunReport } from '../src/train/report.js';
import { LAUNCHER, runLauncher } from './helpers/cli.js';

const WORKER = fileURLToPath(new URL('../dist/src/worker/worker.js', import.meta.url));
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
  // --warmup-steps: the default scale rule (none, #16) adds no warmup, and the records should show one.
  const r = await runLauncher(['-n', '2', ...TINY, '--steps', '20', '--warmup-steps', '16', '--eval-every', '10', '--metrics-every', '4', '--metrics', join(dir, 'm.jsonl'), '--report', join(dir, 'r.json')]);
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
  for (const b of ['tail', 'torso', 'head'] as const) {
    // CowClip by the ID's batch count: the windows add up to the run.
    const run = report.clipFraction.byBucket[b];
    const rows = st.reduce((n, s) => n + s.clipByBucket[b].rows, 0);
    const clipped = st.reduce((n, s) => n + s.clipByBucket[b].rows * s.clipByBucket[b].fraction, 0);
    t.equal(rows, run.rows, `${b}: ${rows} rows over the windows, as over the run`);
    t.ok(Math.abs(clipped - run.rows * run.fraction) < 1e-6, `${b}: clipped rows add up`);
  }
  t.ok(report.clipFraction.byBucket.tail.rows > 0 && report.clipFraction.byBucket.torso.rows > 0, 'rows in the tail and the torso');
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
  t.match(path.stderr, /--metrics \/dev\/null\/m\.jsonl: cannot write there: \/dev\/null is a file, not a folder/);
});

t.test('every output location is checked before any work: exit 2, one line naming the flag, no stack trace', async (t) => {
  const dir = t.testdir({ 'a-file.tsv': 'x\n', 'a-folder': {} });
  const file = join(dir, 'a-file.tsv');
  const cases: [string[], RegExp][] = [
    [['--report', `${file}/r.json`], /--report .*a-file\.tsv\/r\.json: cannot write there: .*a-file\.tsv is a file, not a folder/],
    [['--report', join(dir, 'a-folder')], /--report .*a-folder: cannot write there: .*a-folder is a folder; expected a file name/],
    [['--html', '/sys/report.html'], /--html \/sys\/report\.html: cannot write there: cannot create files in \/sys/],
    [['--save', `${file}/ck`], /--save .*a-file\.tsv\/ck: cannot write there: .*a-file\.tsv is a file, not a folder/],
    [['--save', file], /--save .*a-file\.tsv: cannot write there: .*a-file\.tsv is a file; expected a folder/],
    [['--metrics', '/proc/forbidden/m.jsonl'], /--metrics \/proc\/forbidden\/m\.jsonl: cannot write there: cannot create \/proc\/forbidden/],
    [['--log-dir', '/proc/forbidden'], /--log-dir \/proc\/forbidden: cannot write there: cannot create \/proc\/forbidden/],
    [['--compare', 'allreduce,dense', '--compare-out', `${file}/out`], /--compare-out .*a-file\.tsv\/out: cannot write there: .*is a file, not a folder/],
  ];
  for (const [flags, message] of cases) {
    const r = await runLauncher(['-n', '1', ...TINY, '--steps', '4', ...flags], { timeoutMs: 30_000 });
    const all = r.stdout + r.stderr;
    t.equal(r.code, 2, `${flags.join(' ')}: exit 2`);
    t.match(r.stderr, message, `${flags.join(' ')}: the flag and the reason`);
    t.equal(r.stderr.trim().split('\n').length, 1, `${flags.join(' ')}: one line`);
    t.notMatch(all, /^\s+at /m, `${flags.join(' ')}: no stack trace`);
    t.notMatch(all, /model deepfm/, `${flags.join(' ')}: no training started`);
  }
  t.same(readdirSync(dir).sort(), ['a-file.tsv', 'a-folder'], 'nothing left behind');
  // A worker started without the launcher (mpirun, srun) checks its own on rank 0.
  const env = { RANK: '0', WORLD_SIZE: '1', LOCAL_RANK: '0', LOCAL_WORLD_SIZE: '1', MASTER_ADDR: '127.0.0.1', MASTER_PORT: '29555' }; // never dialled: the check comes first
  const worker = spawnSync(process.execPath, [WORKER, ...TINY, '--steps', '4', '--report', `${file}/r.json`], { env: { ...process.env, ...env }, encoding: 'utf8', timeout: 30_000 });
  t.equal(worker.status, 2, worker.stderr);
  t.match(worker.stderr, /^error: --report .*a-file\.tsv\/r\.json: cannot write there/);
  t.notMatch(worker.stderr, /^\s+at /m);
});

t.test('a report or checkpoint that cannot be written at the end is kept in a rescue folder, and the run says where', async (t) => {
  const dir = t.testdir({ out: {} });
  const out = join(dir, 'out');
  const child = spawn(process.execPath, [LAUNCHER, '-n', '1', ...TINY, '--steps', '60', '--report', join(out, 'r.json'), '--save', join(out, 'ck')], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  let swapped = false;
  child.stderr.on('data', (d: Buffer) => (stderr += d));
  child.stdout.on('data', (d: Buffer) => {
    stdout += d;
    // Checked at start, gone by the end: the folder becomes a file while the model trains.
    if (!swapped && /model deepfm/.test(stdout)) {
      swapped = true;
      rmSync(out, { recursive: true });
      writeFileSync(out, 'in the way\n');
    }
  });
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  t.ok(swapped, 'the folder was replaced during training');
  t.equal(code, 0, stderr);
  const report = /--report \S+: cannot write it \(.*\); writing it to (\S+) instead/.exec(stdout + stderr);
  const ck = /--save \S+: cannot write the checkpoint there \(.*\); writing it to (\S+) instead/.exec(stdout + stderr);
  t.ok(report && existsSync(report[1]), `report kept at ${report?.[1]}`);
  t.ok(ck && existsSync(join(ck[1], 'manifest.json')), `checkpoint kept at ${ck?.[1]}`);
  t.match(stdout, new RegExp(`checkpoint \\(step 60, \\d+ tensors\\) written to ${ck?.[1]}`));
  t.equal(report && dirname(report[1]), ck && dirname(ck[1]), 'one rescue folder for the run');
  if (report) rmSync(dirname(report[1]), { recursive: true, force: true });
});


t.test('--log-dir: every rank log holds that rank\'s own lines, ending with its own account', async (t) => {
  const dir = t.testdir();
  const logs = join(dir, 'logs');
  const r = await runLauncher(['-n', '2', ...TINY, '--steps', '6', '--log-dir', logs, '--report', join(dir, 'r.json')]);
  t.equal(r.code, 0, r.stderr);
  const report = JSON.parse(readFileSync(join(dir, 'r.json'), 'utf8')) as RunReport;
  const rank1 = readFileSync(join(logs, 'rank-1.log'), 'utf8');
  t.match(rank1, new RegExp(`^done: 6 steps; this rank's ms/step: data [\\d.]+, compute [\\d.]+, merge [\\d.]+, comm [\\d.]+, update [\\d.]+; sent [\\d.]+ MB, received [\\d.]+ MB; parameters ${report.paramChecksums[1]}$`, 'm'));
  t.match(readFileSync(join(logs, 'rank-0.log'), 'utf8'), /^done: 6 steps in /m);
});
