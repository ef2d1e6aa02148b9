// Issue #16: the training defaults (measured by bench/defaults.ts, README "Defaults and why") and the one line
// rank 0 prints when --scale-rule changes a value for the global batch.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseTrainConfig, TRAIN_FLAGS } from '../src/config/train-config.js';
import type { FlagSpec } from '../src/config/flags.js';
import { describeScaling, resolveHyper } from '../src/optim/schedule.js';
import { REPO, runLauncher } from './helpers/cli.js';

/** The defaults chosen in #16; README's flag table and "Defaults and why" give the same values. */
const CHOSEN = { lr: 1e-3, lrEmbed: 3e-3, l2: 1e-5, minCount: 10, scaleRule: 'none', baseBatch: 1024, globalBatch: 1024 };

t.test('the defaults are the flag table\'s, and README says the same', (t) => {
  const cfg = parseTrainConfig([]);
  t.match(cfg, CHOSEN, 'a run without flags gets the chosen values');
  t.equal(cfg.warmupSteps, undefined, 'warmup: the rule decides');
  const byName = new Map<string, FlagSpec['default']>((TRAIN_FLAGS as readonly FlagSpec[]).map((f) => [f.name, f.default]));
  t.same(
    ['lr', 'lr-embed', 'l2', 'min-count', 'scale-rule', 'base-batch'].map((n) => byName.get(n)),
    [CHOSEN.lr, CHOSEN.lrEmbed, CHOSEN.l2, CHOSEN.minCount, CHOSEN.scaleRule, CHOSEN.baseBatch],
  );
  const readme = readFileSync(join(REPO, 'README.md'), 'utf8');
  t.match(readme, '| `--lr`, `--lr-embed`, `--l2` | 1e-3, 3e-3, 1e-5 |', 'README flag table: learning rates and L2');
  t.match(readme, '| `--scale-rule` | none |', 'README flag table: scale rule');
  t.match(readme, '`--min-count` times (default 10;', 'README data section: min-count');
  t.end();
});

const at = (globalBatch: number, more: Partial<Parameters<typeof resolveHyper>[0]> = {}) => ({
  rule: 'cowclip',
  globalBatch,
  baseBatch: 1024,
  lr: 1e-3,
  lrEmbed: 3e-3,
  l2: 1e-5,
  stepsPerEpoch: Math.ceil(100_000 / globalBatch),
  ...more,
});

t.test('describeScaling: one line naming each value the rule changed, with both values', (t) => {
  t.equal(
    describeScaling(at(256)),
    'scale-rule cowclip: global batch 256 = 0.25 x base batch 1024: lr 1.0e-3 -> 5.0e-4, l2 1.0e-5 -> 2.5e-6 (--scale-rule none keeps the flags as given)',
    'below the base batch: no warmup added',
  );
  t.equal(
    describeScaling(at(4096)),
    'scale-rule cowclip: global batch 4096 = 4 x base batch 1024: lr 1.0e-3 -> 2.0e-3, l2 1.0e-5 -> 4.0e-5, warmup 0 -> 25 steps (--scale-rule none keeps the flags as given)',
    'above it: one epoch of warmup',
  );
  t.equal(
    describeScaling(at(2048, { rule: 'sqrt' })),
    'scale-rule sqrt: global batch 2048 = 2 x base batch 1024: lr 1.0e-3 -> 1.41e-3, lr-embed 3.0e-3 -> 4.24e-3 (--scale-rule none keeps the flags as given)',
  );
  t.match(describeScaling(at(3000, { rule: 'linear', baseBatch: 1000, warmupSteps: 5 })), /^scale-rule linear: global batch 3000 = 3 x base batch 1000: lr 1\.0e-3 -> 3\.0e-3, lr-embed 3\.0e-3 -> 9\.0e-3 \(/, 'a given warmup is kept, so not listed');
  t.match(describeScaling(at(1000)), /= 0\.977 x base batch 1024/, 'k to three digits');
  t.end();
});

t.test('describeScaling: nothing to say when nothing changed', (t) => {
  for (const rule of ['none', 'linear', 'sqrt', 'cowclip']) {
    t.equal(describeScaling(at(1024, { rule })), null, `${rule} at the base batch`);
    t.same(resolveHyper(at(1024, { rule })), { lrDense: 1e-3, lrEmbed: 3e-3, l2: 1e-5, warmupSteps: 0 }, `${rule} at the base batch keeps every value`);
  }
  t.equal(describeScaling(at(256, { rule: 'none' })), null, 'none at any batch');
  t.equal(describeScaling(at(8192, { rule: 'none' })), null);
  t.equal(describeScaling(at(4096, { rule: 'linear', lr: 0, lrEmbed: 0 })), null, 'zero stays zero');
  t.end();
});

const TINY = ['--data', 'synthetic:quick,rows=3000,eval-rows=500', '--mlp', '16', '--embed-dim', '4', '--steps', '2', '--log-every', '0', '--gpus', 'none'];

t.test('a run prints the line once, from rank 0, beside its start line; none when the batch is the base one', async (t) => {
  const scaled = await runLauncher(['-n', '2', ...TINY, '--global-batch', '256', '--scale-rule', 'cowclip', '--lr', '2e-3']);
  t.equal(scaled.code, 0, scaled.stderr);
  const lines = scaled.stdout.split('\n').filter((l) => l.includes('scale-rule'));
  t.same(lines, ['[r0] scale-rule cowclip: global batch 256 = 0.25 x base batch 1024: lr 2.0e-3 -> 1.0e-3, l2 1.0e-5 -> 2.5e-6 (--scale-rule none keeps the flags as given)']);
  t.match(scaled.stdout, /\[r0\] model deepfm: .*lr dense 1\.00e-3 \(warmup 0\)/, 'the start line shows the scaled value');

  const base = await runLauncher(['-n', '1', ...TINY, '--global-batch', '256', '--base-batch', '256', '--scale-rule', 'cowclip']);
  t.equal(base.code, 0, base.stderr);
  t.notMatch(base.stdout, 'scale-rule', 'global batch = base batch: no line');
  const plain = await runLauncher(['-n', '1', ...TINY, '--global-batch', '256']);
  t.equal(plain.code, 0, plain.stderr);
  t.notMatch(plain.stdout, 'scale-rule', 'the default rule changes nothing');
  t.match(plain.stdout, /lr dense 1\.00e-3 \(warmup 0\), lr embed 3\.00e-3, L2 1\.00e-5/, 'the flags as given');
});
