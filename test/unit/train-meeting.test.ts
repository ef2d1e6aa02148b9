import t from 'tap';
import type { Communicator } from '../../src/comm/communicator.js';
import { LocalCommunicator } from '../../src/comm/local.js';
import type { UpdateCounts } from '../../src/sync/types.js';
import { ClipWindow, Meeting } from '../../src/train/meeting.js';

/** Rank `rank` of 3, whose peers meet with the given values (each at an odd byte offset, as a frame may come). */
function fakeComm(rank: number, peers: () => number[][]): { comm: Communicator; sent: Float64Array[] } {
  const sent: Float64Array[] = [];
  const local = new LocalCommunicator();
  const lane = {
    allgatherv: async (mine: Uint8Array) => {
      sent.push(new Float64Array(mine.slice().buffer));
      const others = peers().map((v) => {
        const bytes = new Uint8Array(1 + v.length * 8);
        bytes.set(new Uint8Array(Float64Array.from(v).buffer), 1);
        return bytes.subarray(1);
      });
      return [mine, ...others];
    },
  };
  const comm = Object.assign(Object.create(local) as Communicator, { rank, size: 3, lane: () => lane });
  return { comm, sent };
}

t.test('the loss and the update figures are summed over ranks, each rank adding what changed since the last meeting', async (t) => {
  const counts: UpdateCounts = { rows: 10, clipRows: 10, clipped: 4, buckets: [6, 3, 4, 1, 0, 0] };
  const { comm, sent } = fakeComm(0, () => [
    [1, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0],
    [0.5, 3, 7, 7, 1, 5, 1, 2, 0, 0, 0],
  ]);
  const m = new Meeting(comm, { counts: () => ({ ...counts, buckets: [...counts.buckets] }) }, { applied: { rowsInBatch: 999, rowsClipped: 999, buckets: [] } });
  const first = await m.meet(2.5, 5);
  t.same(first, { loss: { sum: 4, rows: 10 }, counts: { rows: 17, clipRows: 17, clipped: 5, buckets: [11, 4, 6, 1, 0, 0] } });
  counts.rows = counts.clipRows = 25;
  counts.clipped = 6;
  counts.buckets = [15, 4, 10, 2, 0, 0];
  const second = await m.meet(1, 1);
  t.same(sent[1], Float64Array.of(1, 1, 15, 15, 2, 9, 1, 6, 1, 0, 0), 'the second meeting sends the change since the first');
  t.same(second.counts, { rows: 22, clipRows: 22, clipped: 3, buckets: [14, 2, 8, 1, 0, 0] });
});

t.test("without the strategy's counts, rank 0 counts the replica's updater and the others count nothing", async (t) => {
  for (const rank of [0, 1]) {
    const zeros = new Array(11).fill(0);
    const { comm, sent } = fakeComm(rank, () => [zeros, zeros]);
    const applied = { rowsInBatch: 8, rowsClipped: 2, buckets: [5, 1, 3, 1, 0, 0] };
    const met = await new Meeting(comm, {}, { applied }).meet(0, 0);
    t.same(Array.from(sent[0]), rank === 0 ? [0, 0, 8, 8, 2, 5, 1, 3, 1, 0, 0] : zeros, `rank ${rank} sends its share`);
    t.equal(met.counts.clipped, rank === 0 ? 2 : 0);
  }
});

t.test('a rank meeting with the wrong number of values is an error', async (t) => {
  const { comm } = fakeComm(0, () => [[1, 2, 3], new Array(11).fill(0)]);
  await t.rejects(new Meeting(comm, {}, { applied: { rowsInBatch: 0, rowsClipped: 0, buckets: new Array(6).fill(0) } }).meet(0, 0), /met with 24 bytes, expected 88/);
});

t.test('the clip window: clipped / rows, 0 where CowClip saw none', (t) => {
  const w = new ClipWindow();
  t.equal(w.fraction, 0);
  w.add({ rows: 5, clipRows: 4, clipped: 1, buckets: [3, 1, 1, 0, 0, 0] });
  w.add({ rows: 5, clipRows: 4, clipped: 2, buckets: [1, 1, 3, 1, 0, 0] });
  t.equal(w.fraction, 3 / 8);
  t.same(w.byBucket(), { tail: { rows: 4, fraction: 0.5 }, torso: { rows: 4, fraction: 0.25 }, head: { rows: 0, fraction: 0 } });
  w.clear();
  t.equal(w.fraction, 0);
  t.end();
});
