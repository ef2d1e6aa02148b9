import t from 'tap';
import { LocalCommunicator } from '../../src/comm/local.js';
import { HybridSync } from '../../src/sync/hybrid.js';
import type { LocalGrads } from '../../src/sync/types.js';

/** Packed (sample, field) rows of dimension 2 and their first-order grads: ids [3, 3] at step 1, [5] at step 2. */
const grads = (step: number): LocalGrads =>
  step === 1
    ? { step, dense: Float32Array.of(1), ids: Int32Array.of(3, 3), rows: Float32Array.of(1, 2, 0.5, 10, 20, 0.25) }
    : { step, dense: Float32Array.of(2), ids: Int32Array.of(5), rows: Float32Array.of(7, 8, 9) };

t.test('hybrid hands out each step\'s merged embedding gradients one step late, and the last at drain()', async (t) => {
  const sync = new HybridSync(new LocalCommunicator(), 2);
  const g1 = await sync.exchange(grads(1));
  t.same(Array.from(g1.dense!), [1], 'dense: this step');
  t.equal(g1.embed, null, 'step 1: no embedding update');
  t.equal(g1.localUnique, 1);
  const g2 = await sync.exchange(grads(2));
  t.same(Array.from(g2.dense!), [2]);
  t.equal(g2.embed!.step, 1, 'step 2 applies step 1\'s gradients');
  t.same(Array.from(g2.embed!.field.ids), [3]);
  t.same(Array.from(g2.embed!.field.counts), [2]);
  t.same(Array.from(g2.embed!.field.rows), [11, 22]);
  t.same(Array.from(g2.embed!.linear.rows), [0.75]);
  const last = await sync.drain();
  t.equal(last!.step, 2);
  t.same(Array.from(last!.field.ids), [5]);
  t.same(Array.from(last!.linear.rows), [9]);
  t.equal(await sync.drain(), null, 'nothing owed twice');
});
