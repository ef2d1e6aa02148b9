// Desynchronised ranks, missing ranks and early closes fail with errors naming the ranks, on every rank, never hang.
import t from 'tap';
import { TRANSPORTS } from '../src/comm/transport.js';
import { runGroup } from './fixtures/comm/spawn.js';

for (const transport of TRANSPORTS) {

  t.test(`${transport}: a rank calling another collective: every rank names both calls`, async (t) => {
    for (const [n, odd] of [[2, 1], [4, 2]]) {
      const ranks = await runGroup(t, { n, scenario: 'desync', env: () => ({ DESYNC_RANK: String(odd), TEST_TRANSPORT: transport }), killAfterMs: 30_000 });
      for (const { rank, result } of ranks) {
        t.equal(result.name, 'CollectiveError', `n=${n} rank ${rank} failed`);
        // Ranks are named in ascending order, so the odd one may come first or second.
        t.match(result.message, /^collective #1 mismatch: rank \d called \S+ but rank \d called \S+$/);
        t.match(result.message, `rank ${odd} called allgatherv`);
        t.match(result.message, /rank \d called allreduce\(len=1000,sum\)/);
      }
    }
  });

  t.test(`${transport}: a rank calling allgatherv while the others call alltoallv: every rank names both calls`, async (t) => {
    const ranks = await runGroup(t, { n: 3, scenario: 'desync-alltoallv', env: () => ({ DESYNC_RANK: '2', TEST_TRANSPORT: transport }), killAfterMs: 30_000 });
    for (const { rank, result } of ranks) {
      t.equal(result.name, 'CollectiveError', `rank ${rank} failed`);
      t.match(result.message, /^collective #1 mismatch: rank \d called \S+ but rank \d called \S+$/);
      t.match(result.message, 'rank 2 called allgatherv');
      t.match(result.message, /rank [01] called alltoallv/);
    }
  });

  t.test(`${transport}: collective timeout names the rank that did not arrive`, async (t) => {
    const ranks = await runGroup(t, {
      n: 3,
      scenario: 'timeout',
      env: () => ({ IDLE_RANK: '2', IDLE_MS: '3000', TEST_COLLECTIVE_TIMEOUT_MS: '1000', TEST_TRANSPORT: transport }),
      killAfterMs: 30_000,
    });
    for (const { rank, result } of ranks) {
      t.equal(result.name, 'CollectiveError', `rank ${rank} failed`);
      t.match(result.message, /^collective #1 allreduce\(len=10,sum\) timed out after 1000 ms on rank [01]; ranks that did not arrive: 2 \(has not started any collective\)$/);
    }
  });

  t.test(`${transport}: a rank that closes early: the others fail at once instead of waiting`, async (t) => {
    const ranks = await runGroup(t, { n: 2, scenario: 'uneven', env: () => ({ TEST_COLLECTIVE_TIMEOUT_MS: '20000', TEST_TRANSPORT: transport }), killAfterMs: 15_000 });
    t.ok(ranks[0].result.ok, 'rank 0 finished its steps');
    t.match(ranks[1].result.message, /^rank 0 closed its communicator after collective #1, but rank 1 waits for it in collective #2 allreduce\(len=100,sum\)/);
  });
}

t.test('lanes: a desync or an early close on lane 1 names the lane', async (t) => {
  const desync = await runGroup(t, { n: 3, scenario: 'lane-desync', env: () => ({ DESYNC_RANK: '2' }), killAfterMs: 30_000 });
  for (const { rank, result } of desync) {
    t.equal(result.name, 'CollectiveError', `rank ${rank} failed`);
    t.match(result.message, /^collective #2 mismatch: rank \d called \S+ on lane 1 but rank \d called \S+ on lane 1$/);
    t.match(result.message, 'rank 2 called allgatherv on lane 1');
  }
  const uneven = await runGroup(t, { n: 2, scenario: 'lane-uneven', env: () => ({ TEST_COLLECTIVE_TIMEOUT_MS: '20000' }), killAfterMs: 15_000 });
  t.ok(uneven[0].result.ok, 'rank 0 finished');
  t.match(uneven[1].result.message, /^rank 0 closed its communicator after collective #0 of lane 1, but rank 1 waits for it in collective #1 allreduce\(len=10,sum\) on lane 1/);
});

t.test('tcp: a rank killed mid-job: the others fail at once naming it, not at the collective timeout', async (t) => {
  const ranks = await runGroup(t, { n: 3, scenario: 'die', env: () => ({ DIE_RANK: '2', TEST_COLLECTIVE_TIMEOUT_MS: '60000' }), killAfterMs: 30_000 });
  t.equal(ranks[2].code, null, 'rank 2 was killed');
  for (const { rank, result } of ranks.slice(0, 2)) {
    t.equal(result.name, 'CollectiveError', `rank ${rank} failed`);
    // Noticed reading (the close) or writing (EPIPE, when a send to it comes first): either way it is named.
    t.match(result.message, /the connection (from|to) rank 2 (closed without a farewell|was lost \(.*\)): that rank died or was killed/);
  }
});

t.test('a stalled collective warns, naming the late rank, and still completes when it arrives', async (t) => {
  const ranks = await runGroup(t, {
    n: 3,
    scenario: 'timeout',
    env: () => ({ IDLE_RANK: '2', IDLE_MS: '3000', TEST_COLLECTIVE_TIMEOUT_MS: '30000', TEST_STALL_MS: '500' }),
    killAfterMs: 30_000,
  });
  for (const { rank, result } of ranks) t.ok(result.ok, `rank ${rank} finished: ${result.message ?? 'ok'}`);
  for (const rank of [0, 1]) {
    t.match(ranks[rank].stderr, new RegExp(`warning: collective #1 allreduce\\(len=10,sum\\) on rank ${rank} has waited 0\\.5 s; ranks that did not arrive: 2 \\(has not started any collective\\); failing after 30 s`));
  }
});
