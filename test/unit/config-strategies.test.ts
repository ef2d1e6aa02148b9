// The strategy table (src/config/strategies.ts) that config, the launcher, compare and the trainer ask instead of
// comparing names: each trait has the effect it promises.
import t from 'tap';
import { meetEvery, stalenessOf, STRATEGIES, SYNC_HELP, SYNC_NAMES, traitsOf } from '../../src/config/strategies.js';
import { parseTrainConfig } from '../../src/config/train-config.js';

t.test('when replicas meet', (t) => {
  const cfg = { syncEvery: 8, checkEvery: 50 };
  t.same(Object.fromEntries(SYNC_NAMES.map((n) => [n, meetEvery(n, cfg)])), { allreduce: 1, dense: 1, 'local-clip': 1, 'local-sgd': 8, hybrid: 1, sharded: 1, ps: 1, 'async-ps': 50 });
  t.equal(meetEvery('async-ps', { syncEvery: 8, checkEvery: 0 }), Infinity, 'async-ps without drift checks meets only at the end');
  t.end();
});

t.test('staleness applies where the strategy takes --staleness', (t) => {
  t.equal(stalenessOf('async-ps', 3), 3);
  t.equal(stalenessOf('ps', 3), 0);
  t.equal(stalenessOf('allreduce', 3), 0);
  t.end();
});

t.test('servers, help and refusals follow the table', (t) => {
  t.same(SYNC_NAMES.filter((n) => traitsOf(n).servers), ['ps', 'async-ps']);
  for (const n of SYNC_NAMES) t.match(SYNC_HELP, `${n} (${STRATEGIES[n].help})`, `--help describes ${n}`);
  for (const n of SYNC_NAMES) {
    const refuses = traitsOf(n).refuses;
    const tryWith = (extra: string[]) => () => parseTrainConfig(['--sync', n, ...extra]);
    if (refuses?.checkpoint) t.throws(tryWith(['--save', '/tmp/x', '--save-every', '5']), { message: refuses.checkpoint }, `${n} refuses --save-every`);
    else t.doesNotThrow(tryWith(['--save', '/tmp/x', '--save-every', '5']), `${n} takes --save-every`);
    if (refuses?.skipNonfinite) t.throws(tryWith(['--skip-nonfinite']), { message: refuses.skipNonfinite }, `${n} refuses --skip-nonfinite`);
    else t.doesNotThrow(tryWith(['--skip-nonfinite']), `${n} takes --skip-nonfinite`);
    if (refuses?.startFrom) t.throws(tryWith(['--init-from', '/tmp/ckpt']), { message: `--init-from ${refuses.startFrom}` }, `${n} refuses --init-from`);
    else t.doesNotThrow(tryWith(['--init-from', '/tmp/ckpt']), `${n} takes --init-from`);
  }
  t.end();
});
