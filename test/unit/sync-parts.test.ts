// The schedules strategies are composed of: when replicas meet, and work handed over one step late.
import t from 'tap';
import { MeetEvery, OneStepLate } from '../../src/sync/parts.js';

t.test('MeetEvery: every K steps and after the last', (t) => {
  const at = (every: number, total: number) => Array.from({ length: total }, (_, i) => i + 1).filter((s) => new MeetEvery(every).meets(s, s === total));
  t.same(at(1, 5), [1, 2, 3, 4, 5], 'every step');
  t.same(at(4, 10), [4, 8, 10], 'every 4 steps, and the last');
  t.same(at(Infinity, 6), [6], 'only after the last step');
  t.end();
});

t.test('OneStepLate: what is held comes out once, with its step, a step later', async (t) => {
  const late = new OneStepLate<string>();
  t.equal(late.take(), null, 'nothing before the first step');
  late.hold(Promise.resolve('rows of step 1'), 1);
  const held = late.take()!;
  t.same([await held.work, held.step], ['rows of step 1', 1]);
  t.equal(late.take(), null, 'taken once');
  late.hold(Promise.reject(new Error('lost peer')), 2); // must not become an unhandled rejection
  await t.rejects(late.take()!.work, /lost peer/, 'a failure reaches the step that takes it');
  t.end();
});
