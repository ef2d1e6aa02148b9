// A trained checkpoint is not a dead end: `ddp-launch eval` and `predict` score data with it (sharded over
// ranks, streamed, in input order), and `--init-from` fine-tunes from it. Real processes, real files.
import t from 'tap';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runLauncher } from './helpers/cli.js';
import { params, runJob } from './helpers/runs.js';
import { loadCheckpoint } from '../src/train/checkpoint.js';
import { Rng } from '../src/util/rng.js';

/** Criteo-format rows whose click depends on two fields, so that a model learns something. */
function criteoRows(n: number, seed: number): string[] {
  const rng = new Rng(seed);
  return Array.from({ length: n }, () => {
    const a = Math.floor(rng.next() * 20);
    const b = Math.floor(rng.next() * 50);
    const click = rng.next() < (a < 8 ? 0.5 : 0.1) + (b % 5 === 0 ? 0.2 : 0) ? 1 : 0;
    const ints = Array.from({ length: 13 }, (_, j) => (j === 2 ? '' : String(Math.floor(rng.next() * 100))));
    const cats = Array.from({ length: 26 }, (_, f) => (f === 0 ? a : f === 1 ? b : Math.floor(rng.next() * 30) + f * 1000).toString(16).padStart(8, '0'));
    return [click, ...ints, ...cats].join('\t');
  });
}

const MODEL = ['--mlp', '16,16', '--embed-dim', '4', '--global-batch', '200', '--log-every', '0'];
const dir = t.testdir();
const trainRows = criteoRows(3000, 1);
const testRows = criteoRows(700, 2);
writeFileSync(join(dir, 'train.tsv'), trainRows.join('\n') + '\n');
writeFileSync(join(dir, 'test.tsv'), testRows.join('\n') + '\n');
writeFileSync(join(dir, 'test-reversed.tsv'), [...testRows].reverse().join('\n') + '\n');
writeFileSync(join(dir, 'test-nolabel.tsv'), testRows.map((l) => l.slice(l.indexOf('\t') + 1)).join('\n') + '\n');
const ck = join(dir, 'ck');
const testData = `criteo:${join(dir, 'test.tsv')}`;

const readCsv = (file: string): number[] => readFileSync(file, 'utf8').trimEnd().split('\n').map(Number);
const readF32 = (file: string): number[] => {
  const b = readFileSync(file);
  return Array.from({ length: b.length / 4 }, (_, i) => b.readFloatLE(i * 4));
};

t.test('train once; eval of the checkpoint equals the run\'s own final evaluation, on 1 and 3 ranks', async (t) => {
  const trained = await runJob(t, dir, 'ck', 2, ['--data', `criteo:${join(dir, 'train.tsv')}`, '--eval-data', testData, ...MODEL, '--steps', '30']);
  t.ok(trained.rep.eval.auc > 0.6, `the model learned something (auc ${trained.rep.eval.auc})`);
  for (const n of [1, 3]) {
    const out = join(dir, `eval-${n}.json`);
    // --batch 70: ten chunks dealt round-robin over the ranks.
    const r = await runLauncher(['eval', '-n', String(n), '--from', ck, '--data', testData, '--batch', '70', '--out', out]);
    t.equal(r.code, 0, `eval -n ${n} exits 0`, { stderr: r.stderr.slice(-2000) });
    const result = JSON.parse(readFileSync(out, 'utf8')) as { auc: number; logloss: number; rows: number; step: number };
    t.equal(result.rows, 700);
    t.equal(result.step, 30);
    t.equal(result.auc, trained.rep.eval.auc, `-n ${n}: the AUC of the training run's final evaluation, exactly`);
    t.ok(Math.abs(result.logloss - trained.rep.eval.logloss) < 1e-9, `-n ${n}: logloss ${result.logloss} vs ${trained.rep.eval.logloss}`);
    t.match(r.stdout, new RegExp(`\\[r0\\] eval: auc ${trained.rep.eval.auc.toFixed(4)} logloss ${trained.rep.eval.logloss.toFixed(4)} on 700 rows`));
  }
});

t.test('predict: one probability per row, in input order, the same sharded or not, CSV or float32, with or without labels', async (t) => {
  const run = async (n: number, data: string, out: string, extra: string[] = []) => {
    const r = await runLauncher(['predict', '-n', String(n), '--from', ck, '--data', `criteo:${join(dir, data)}`, '--out', join(dir, out), '--batch', '64', ...extra]);
    t.equal(r.code, 0, `predict -n ${n} ${data} -> ${out} exits 0`, { stderr: r.stderr.slice(-2000) });
  };
  await run(3, 'test.tsv', 'p3.csv');
  await run(1, 'test.tsv', 'p1.f32');
  await run(2, 'test-reversed.tsv', 'rev.csv');
  await run(2, 'test-nolabel.tsv', 'nolabel.bin', ['--no-labels']);
  const sharded = readCsv(join(dir, 'p3.csv'));
  const single = readF32(join(dir, 'p1.f32'));
  t.equal(sharded.length, 700, 'one line per input row');
  t.equal(single.length, 700, 'one float32 per input row (.f32: binary)');
  t.same(sharded.map((p) => Math.fround(p)), single, '3 ranks (CSV, 9 digits) = 1 rank (float32), bit for bit');
  // A row's bits may move by an ulp with its position in a batch (the GEMM's edge kernels), not more.
  const reversed = readCsv(join(dir, 'rev.csv')).reverse();
  const worst = Math.max(...reversed.map((p, i) => Math.abs(p - sharded[i]) / sharded[i]));
  t.ok(reversed.length === 700 && worst < 1e-6, `reversed input, reversed output: input order is kept (worst relative difference ${worst.toExponential(1)})`);
  t.same(readF32(join(dir, 'nolabel.bin')), single, 'rows without the label column score the same');
  t.ok(single.every((p) => p > 0 && p < 1), 'probabilities');
  t.notOk(readdirSync(dir).some((f) => f.includes('.tmp-')), 'no temporary file left');
});

t.test('predict and eval: bad input fails up front or cleanly, exit 2, one line, no partial output', async (t) => {
  const cases: [string[], RegExp][] = [
    [['predict', '--from', ck, '--data', testData], /ddp-launch predict needs --out FILE/],
    [['eval', '--data', testData], /ddp-launch eval needs --from DIR/],
    [['eval', '--from', ck, '--data', testData, '--format', 'csv'], /--format is for predict/],
    [['predict', '--from', ck, '--data', testData, '--out', join(dir, 'test.tsv', 'p.csv')], /--out .*test\.tsv\/p\.csv: cannot write there: .*test\.tsv is a file/],
    [['eval', '--from', join(dir, 'nothing'), '--data', testData], /nothing\/manifest\.json: cannot read checkpoint manifest/],
    [['predict', '--from', ck, '--data', `criteo:${join(dir, 'test-nolabel.tsv')}`, '--out', join(dir, 'never.csv')], /test-nolabel\.tsv, line 1: .*add --no-labels/],
    [['eval', '-n', '2', '--from', ck, '--data', `avazu:${join(dir, 'test.tsv')}`], /the vocabulary of .*ck was built from criteo data/],
  ];
  for (const [args, message] of cases) {
    const r = await runLauncher(args);
    t.equal(r.code, 2, `${args.join(' ')}: exit 2`);
    t.match(r.stderr, message, 'names the flag and the reason');
    t.notMatch(r.stderr, /^\s+at /m, 'no stack trace');
  }
  t.notOk(existsSync(join(dir, 'never.csv')), 'a failed predict leaves no output');
  t.notOk(readdirSync(dir).some((f) => f.includes('.tmp-')), 'nor a temporary file');
});

t.test('--init-from: the checkpoint\'s weights and vocabulary, this run\'s flags, a fresh optimizer', async (t) => {
  const base = ['--data', testData, ...MODEL, '--init-from', ck];
  // Learning rates 0: the weights must come out exactly as they went in.
  const frozen = await runJob(t, dir, 'frozen', 2, [...base, '--lr', '0', '--lr-embed', '0', '--l2', '0', '--steps', '3']);
  const { tensors, manifest } = await loadCheckpoint(ck);
  t.same(params(frozen.ckpt.tensors), params(tensors), 'every parameter is the checkpoint\'s');
  t.same(frozen.ckpt.manifest.fieldSizes, manifest.fieldSizes, 'data encoded with the checkpoint\'s vocabulary (not one built from test.tsv)');
  t.equal(frozen.ckpt.manifest.step, 3, 'steps count from 0: a new run');
  t.not(frozen.ckpt.tensors.get('optimizer/dense/m')?.[0], tensors.get('optimizer/dense/m')?.[0], 'optimizer state is fresh');
  // Other hyperparameters are allowed, the architecture is not.
  const tuned = await runJob(t, dir, 'tuned', 1, [...base, '--lr', '3e-4', '--cowclip-ratio', '0.5', '--steps', '3']);
  t.not(tuned.rep.paramChecksums[0], frozen.rep.paramChecksums[0], 'with a learning rate it trains on');
  const r = await runLauncher(['-n', '1', ...base, '--mlp', '8', '--steps', '1']);
  t.equal(r.code, 2);
  t.match(r.stderr, /--init-from .*ck: the checkpoint's model differs: mlp \[16,16\] \(this run: \[8\]\) \(fine-tuning keeps the architecture/);
});
