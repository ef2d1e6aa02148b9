import t from 'tap';
import { denseLrAt, resolveHyper } from '../../src/optim/schedule.js';
import { UserError } from '../../src/util/errors.js';

const base = { globalBatch: 4096, lr: 8e-4, lrEmbed: 1e-4, l2: 1e-5, stepsPerEpoch: 100 };

t.test('scaling rules at k = 4', (t) => {
  t.same(resolveHyper({ ...base, rule: 'none' }), { lrDense: 8e-4, lrEmbed: 1e-4, l2: 1e-5, warmupSteps: 0 });
  t.same(resolveHyper({ ...base, rule: 'linear' }), { lrDense: 3.2e-3, lrEmbed: 4e-4, l2: 1e-5, warmupSteps: 0 });
  t.same(resolveHyper({ ...base, rule: 'sqrt' }), { lrDense: 1.6e-3, lrEmbed: 2e-4, l2: 1e-5, warmupSteps: 0 });
  t.same(resolveHyper({ ...base, rule: 'cowclip' }), { lrDense: 1.6e-3, lrEmbed: 1e-4, l2: 4e-5, warmupSteps: 100 });
  t.equal(resolveHyper({ ...base, rule: 'cowclip', warmupSteps: 7 }).warmupSteps, 7, 'explicit warmup wins');
  t.equal(resolveHyper({ ...base, rule: 'linear', baseBatch: 2048 }).lrEmbed, 2e-4, 'custom base batch');
  t.end();
});

t.test('unknown rule and bad values are user errors', (t) => {
  t.throws(() => resolveHyper({ ...base, rule: 'lamb' }), new UserError('unknown scaling rule "lamb"; valid rules: none, linear, sqrt, cowclip'));
  t.throws(() => resolveHyper({ ...base, rule: 'none', globalBatch: 0 }), UserError);
  t.throws(() => resolveHyper({ ...base, rule: 'none', warmupSteps: -1 }), UserError);
  t.end();
});

t.test('linear warmup from lr/warmup to lr, then constant', (t) => {
  const h = resolveHyper({ ...base, rule: 'cowclip', warmupSteps: 4 });
  t.same([0, 1, 2, 3, 4, 50].map((s) => denseLrAt(h, s) / h.lrDense), [0.25, 0.5, 0.75, 1, 1, 1]);
  t.equal(denseLrAt(resolveHyper({ ...base, rule: 'none' }), 0), 8e-4, 'no warmup');
  t.end();
});
