// Collectives between real processes over real sockets on 127.0.0.1: results, bit-identity and stats.
import t from 'tap';
import { LocalCommunicator } from '../src/comm/local.js';
import { TRANSPORTS } from '../src/comm/transport.js';
import { runGroup } from './fixtures/comm/spawn.js';

t.test('LocalCommunicator: identity collectives, zero bytes', async (t) => {
  const comm = new LocalCommunicator();
  const buf = Float32Array.of(1, 2.5);
  await comm.allreduce(buf, 'mean');
  t.same([...buf], [1, 2.5]);
  const payload = Uint8Array.of(7);
  t.equal((await comm.allgatherv(payload))[0], payload);
  t.equal(await comm.broadcast(payload, 0), payload);
  t.same(await comm.alltoallv([payload]), [payload]);
  await comm.barrier();
  await t.rejects(comm.broadcast(payload, 1), RangeError);
  await t.rejects(comm.alltoallv([payload, payload]), RangeError);
  await t.rejects(comm.allreduce(buf, 'avg' as 'sum'), TypeError);
  t.equal(comm.stats.bytesSent + comm.stats.bytesReceived, 0);
  t.equal(comm.stats.byKind.allreduce.calls, 1);
  t.equal(comm.stats.byKind.alltoallv.calls, 1);
});

const cases = [[1, 'tcp'], ...[2, 3, 4].flatMap((n) => TRANSPORTS.map((tr) => [n, tr] as const))] as const;
for (const [n, transport] of cases) {
  t.test(`${n} rank(s) over ${transport}: allreduce of every length, allgatherv, broadcast, barrier`, async (t) => {
    const ranks = await runGroup(t, { n, scenario: 'collectives', env: () => ({ TEST_TRANSPORT: transport }) });
    for (const { rank, result } of ranks) t.ok(result.ok, `rank ${rank}: ${result.message ?? 'ok'}`);
    if (!ranks.every((r) => r.result.ok)) return;

    // Nobody leaves the barrier before the last rank arrived.
    const times = ranks.map((r) => r.result.barrier as { arrived: number; left: number });
    const lastArrival = Math.max(...times.map((x) => x.arrived));
    for (const [rank, x] of times.entries()) t.ok(x.left >= lastArrival, `rank ${rank} left the barrier after the last arrival`);

    const stats = ranks.map((r) => r.result.stats as { bytesSent: number; byKind: Record<string, { calls: number; bytesSent: number; bytesReceived: number }> });
    for (const s of stats) {
      t.equal(s.byKind.allreduce.calls, 12);
      if (n === 1) t.equal(s.bytesSent, 0, 'one rank moves no bytes');
      else t.ok(s.byKind.allreduce.bytesSent > 2 * 12e6 * (n - 1) / n && s.byKind.allgatherv.bytesReceived > 0, 'bytes counted per kind');
    }
    const sent = stats.reduce((a, s) => a + s.byKind.allreduce.bytesSent, 0);
    const received = stats.reduce((a, s) => a + s.byKind.allreduce.bytesReceived, 0);
    t.equal(sent, received, 'every allreduce byte sent was received');
  });
}

for (const [n, transport] of cases.filter(([n]) => n > 1)) {
  t.test(`${n} ranks over ${transport}: alltoallv of uneven, empty and > 1 MiB parts, bit-exact, bytes counted`, async (t) => {
    const ranks = await runGroup(t, { n, scenario: 'alltoallv', env: () => ({ TEST_TRANSPORT: transport }) });
    for (const { rank, result } of ranks) t.ok(result.ok, `rank ${rank}: ${result.message ?? 'ok'}`);
    if (!ranks.every((r) => r.result.ok)) return;
    const kinds = ranks.map((r) => (r.result.stats as { byKind: Record<string, { calls: number; bytesSent: number; bytesReceived: number }> }).byKind);
    for (const [rank, byKind] of kinds.entries()) {
      const { calls, bytesSent } = byKind.alltoallv;
      const payload = ranks[rank].result.payloadSent as number;
      t.equal(calls, 5, `rank ${rank}: 5 alltoallv calls counted`);
      // One frame per part: the payload plus a header of a few dozen bytes, never the parts of other peers.
      const headers = bytesSent - payload;
      t.ok(payload > 0 && headers > 0 && headers < 5 * (n - 1) * 100, `rank ${rank}: ${bytesSent} bytes sent for ${payload} payload bytes`);
      t.equal(byKind.allgatherv.calls + byKind.allreduce.calls, 0, 'counted under its own kind');
    }
    const total = (k: 'bytesSent' | 'bytesReceived') => kinds.reduce((a, b) => a + b.alltoallv[k], 0);
    t.equal(total('bytesSent'), total('bytesReceived'), 'every byte sent was received');
  });
}

for (const transport of TRANSPORTS) {
  t.test(`over ${transport}: lanes run concurrently, each in its own order, with correct results`, async (t) => {
    const ranks = await runGroup(t, { n: 3, scenario: 'lanes', env: () => ({ TEST_TRANSPORT: transport }), killAfterMs: 60_000 });
    for (const { rank, result } of ranks) t.ok(result.ok && result.allreduceCalls === 4, `rank ${rank}: ${result.message ?? 'ok'}`);
  });

  t.test(`over ${transport}: chunks that arrive before the receiver starts are kept and used`, async (t) => {
    const ranks = await runGroup(t, { n: 3, scenario: 'late', env: () => ({ TEST_TRANSPORT: transport }) });
    for (const { rank, result } of ranks) t.ok(result.ok && result.allreduceCalls === 9, `rank ${rank}: ${result.message ?? 'ok'}`);
  });
}
