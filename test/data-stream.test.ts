// --stream (#16): the window plan's order is the world size's business of nobody (N ranks see what one
// rank sees), a window holding the whole epoch is the in-memory order, and training through the stream
// gives the parameters of the in-memory path bit for bit then; resume, bad lines, sequential splits,
// eval files and gzip go through the same re-reading. Real processes, real files.
import t, { type Test } from 'tap';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { runLauncher } from './helpers/cli.js';
import { BatchPlan } from '../src/train/batches.js';
import { WindowPlan } from '../src/data/stream-plan.js';
import type { RunReport } from '../src/train/report.js';

t.test('window plan: ranks partition each step of one rank; one window per epoch is the BatchPlan order', async (t) => {
  for (const [rows, B, W] of [[1000, 64, 3], [1000, 64, 100], [97, 10, 2], [5, 8, 1]] as const) {
    const one = new WindowPlan(rows, B, W, 7, 0, 1);
    for (const epoch of [0, 1]) {
      for (let w = 0; w < one.windowsPerEpoch; w++) {
        const L1 = one.layout(epoch, w);
        // Row of the window for each slot of rank 0 of 1, per step.
        const inv1 = new Int32Array(L1.rankRows);
        L1.dest.forEach((d, i) => (inv1[d] = i));
        for (const size of [2, 3, 7]) {
          const parts = Array.from({ length: size }, (_, r) => new WindowPlan(rows, B, W, 7, r, size).layout(epoch, w));
          const invs = parts.map((L) => {
            const inv = new Int32Array(L.rankRows);
            L.dest.forEach((d, i) => d >= 0 && (inv[d] = i));
            return inv;
          });
          for (let j = 0; j < L1.steps.length; j++) {
            const s1 = L1.steps[j];
            const joined = parts.flatMap((L, r) => [...invs[r].subarray(L.steps[j].from, L.steps[j].to)]);
            if (joined.join() !== [...inv1.subarray(s1.from, s1.to)].join() || parts.some((L) => L.steps[j].globalRows !== s1.globalRows || L.steps[j].step !== s1.step)) {
              t.fail(`rows ${rows} B ${B} W ${W} epoch ${epoch} window ${w} step ${j}: ${size} ranks differ from one`);
              return;
            }
          }
        }
      }
    }
    t.pass(`rows ${rows}, batch ${B}, window ${W} steps: 2, 3 and 7 ranks split every step of one rank`);
  }
  const rows = 1000;
  const whole = new WindowPlan(rows, 64, 1000, 3, 0, 1);
  const plan = new BatchPlan(rows, 64, 3);
  for (const epoch of [0, 2]) {
    const L = whole.layout(epoch, 0);
    const inv = new Int32Array(L.rankRows);
    L.dest.forEach((d, i) => (inv[d] = i));
    const order = L.steps.flatMap((s) => [...inv.subarray(s.from, s.to)]);
    const expected = L.steps.flatMap((s) => [...plan.globalRows(s.step)]);
    t.same(order, expected, `epoch ${epoch}: the in-memory order`);
  }
});

/** Criteo-format rows: labels, 13 integers, 26 tokens drawn from small vocabularies, some cells empty. */
function criteoRows(n: number, seed: number): string[] {
  let a = seed;
  const r = () => ((a = (Math.imul(a, 1103515245) + 12345) >>> 0) / 4294967296);
  return Array.from({ length: n }, () => {
    const ints = Array.from({ length: 13 }, (_, j) => (r() < 0.1 ? '' : String(Math.floor(r() * (j + 2) * 10))));
    const cats = Array.from({ length: 26 }, (_, j) => (r() < 0.05 ? '' : Math.floor(r() * (3 + j * 4)).toString(16).padStart(8, '0')));
    const y = r() < 0.3 + 0.4 * Number(cats[0] === '00000001') ? 1 : 0;
    return [String(y), ...ints, ...cats].join('\t');
  });
}

const TINY = ['--mlp', '16', '--embed-dim', '4', '--global-batch', '128', '--log-every', '0', '--scale-rule', 'none', '--lr', '0.003', '--lr-embed', '0.003'];

async function run(t: Test, args: string[]): Promise<RunReport> {
  const report = join(t.testdirName, `r${Math.random().toString(36).slice(2)}.json`);
  const r = await runLauncher([...TINY, ...args, '--report', report]);
  t.equal(r.code, 0, `${args.join(' ')}: exits 0`, { stderr: r.stderr.slice(-2000) });
  return JSON.parse(readFileSync(report, 'utf8')) as RunReport;
}

const sums = (rep: RunReport) => rep.ranks.map((r) => r.paramChecksum);

t.test('training through the stream', async (t) => {
  const dir = t.testdir();
  const rows = criteoRows(3000, 11);
  const plain = join(dir, 'train.tsv');
  writeFileSync(plain, rows.join('\n') + '\n');
  // A gzip copy with CRLF endings, blank lines and two bad lines (skipped under --skip-bad-lines).
  const bad = [...rows.slice(0, 100), 'not a row', '', ...rows.slice(100, 2000), '1\t2', ...rows.slice(2000)];
  const gz = join(dir, 'train-bad.tsv.gz');
  writeFileSync(gz, gzipSync(bad.join('\r\n')));
  const data = ['--data', `criteo:${plain}`, '--steps', '40'];

  // 3000 rows at 128: 24 steps per epoch; 40 steps cross into epoch 2.
  const mem1 = await run(t, ['-n', '1', ...data]);
  const str1 = await run(t, ['-n', '1', ...data, '--stream', '--stream-window', '24']);
  t.same(sums(str1), sums(mem1), '-n 1: one window per epoch: the in-memory parameters, bit for bit');
  t.equal(str1.eval.auc, mem1.eval.auc, '-n 1: the same evaluation');
  const mem2 = await run(t, ['-n', '2', ...data]);
  const str2 = await run(t, ['-n', '2', ...data, '--stream', '--stream-window', '1000']);
  t.same(sums(str2), sums(mem2), '-n 2: likewise');
  t.equal(new Set(sums(str2)).size, 1, '-n 2: replicas identical');

  const small1 = await run(t, ['-n', '1', ...data, '--stream', '--stream-window', '5', '--eval-every', '10']);
  const small2 = await run(t, ['-n', '2', ...data, '--stream', '--stream-window', '5', '--eval-every', '10']);
  t.not(sums(small1)[0], sums(mem1)[0], 'windows of 5 steps: another order than one window');
  t.equal(new Set(sums(small2)).size, 1, 'small windows, -n 2: replicas identical');
  t.ok(Math.abs(small2.eval.auc - small1.eval.auc) < 2e-3 && Math.abs(small2.eval.logloss - small1.eval.logloss) < 2e-3, `-n 2 trains the model of -n 1 (auc ${small2.eval.auc} vs ${small1.eval.auc})`);
  t.same(small2.history.map((h) => h.step), [10, 20, 30, 40], 'streamed evaluations every 10 steps');
  t.equal(small2.eval.rows, mem2.eval.rows, 'the streamed eval set is the split\'s');

  const ck = join(dir, 'ck');
  await run(t, ['-n', '2', ...data.slice(0, 2), '--steps', '17', '--stream', '--stream-window', '5', '--eval-every', '10', '--save', ck]);
  const resumed = await run(t, ['-n', '2', ...data, '--stream', '--stream-window', '5', '--eval-every', '10', '--resume', ck]);
  t.same(sums(resumed), sums(small2), '--resume in the middle of a window: the uninterrupted run\'s parameters');

  const gzArgs = ['--data', `criteo:${gz}`, '--steps', '40', '--skip-bad-lines'];
  const memBad = await run(t, ['-n', '2', ...gzArgs]);
  const strBad = await run(t, ['-n', '2', ...gzArgs, '--stream', '--stream-window', '1000']);
  t.same(sums(strBad), sums(memBad), 'gzip, CRLF, blank and bad lines: the same rows as in memory');

  const seq = ['--data', `criteo:${plain}`, '--steps', '30', '--split', 'sequential:0.2'];
  t.same(sums(await run(t, ['-n', '2', ...seq, '--stream', '--stream-window', '1000'])), sums(await run(t, ['-n', '2', ...seq])), 'sequential split: the same');

  const evalFile = join(dir, 'eval.tsv');
  writeFileSync(evalFile, criteoRows(500, 99).join('\n'));
  const withEval = ['--data', `criteo:${plain}`, '--eval-data', `criteo:${evalFile}`, '--steps', '30'];
  const memE = await run(t, ['-n', '2', ...withEval]);
  const strE = await run(t, ['-n', '2', ...withEval, '--stream', '--stream-window', '1000']);
  t.same(sums(strE), sums(memE), '--eval-data: the same parameters');
  t.equal(strE.eval.auc, memE.eval.auc, '--eval-data: the same evaluation of its 500 rows');
  t.equal(strE.eval.rows, 500);

  const hashed = ['--data', `criteo:${plain}`, '--steps', '30', '--hash-buckets', '64'];
  t.same(sums(await run(t, ['-n', '2', ...hashed, '--stream', '--stream-window', '1000'])), sums(await run(t, ['-n', '2', ...hashed])), '--hash-buckets: the same');
  t.ok(str2.ranks.every((r) => r.peakRssBytes > 50e6), 'each rank reports its peak RSS');
});

t.test('--stream errors', async (t) => {
  const r = await runLauncher(['-n', '1', '--data', 'synthetic:quick', '--stream']);
  t.equal(r.code, 2);
  t.match(r.stderr, /--stream is for files: the synthetic data is generated in memory/);
});
