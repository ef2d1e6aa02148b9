// Rendezvous between real processes: refusals name both values, timeouts name the missing ranks.
import { createServer } from 'node:net';
import t from 'tap';
import { contrast, ringOrder } from '../topology/rendezvous.js';
import { freePort, runGroup } from './fixtures/comm/spawn.js';

const SHORT = { TEST_RENDEZVOUS_TIMEOUT_MS: '2000' };

t.test('a rank with another job token is refused; the master reports it and times out waiting', async (t) => {
  const ranks = await runGroup(t, { n: 2, scenario: 'rendezvous', env: (r) => ({ ...SHORT, ...(r === 1 ? { DDP_TOKEN: 'other-job' } : {}) }) });
  const refusal = "rendezvous refused rank 1 (127.0.0.1): its job token 'other-job' differs from the master's 'test-token' (DDP_TOKEN)";
  t.equal(ranks[1].result.name, 'UserError');
  t.equal(ranks[1].result.message, refusal);
  t.match(ranks[0].stderr, `master: ${refusal}`);
  t.match(ranks[0].result.message, /timed out after 2 s: rank\(s\) 1 never registered \(1 of 2 did\); rendezvous refused rank 1/);
});

t.test('a rank with another training config aborts the rendezvous on every rank', async (t) => {
  const ranks = await runGroup(t, { n: 3, scenario: 'rendezvous', env: (r) => ({ ...SHORT, ...(r === 2 ? { TEST_FINGERPRINT: '{"lr":0.002}' } : {}) }) });
  for (const { rank, result } of ranks) {
    t.equal(result.name, 'UserError', `rank ${rank}`);
    t.equal(result.message, "rendezvous refused rank 2 (127.0.0.1): its training config differs from rank 0's: rank 2 has lr=0.002, rank 0 has lr=0.001");
  }
});

t.test('ranks that never register are named at the deadline', async (t) => {
  const ranks = await runGroup(t, { n: 3, ranks: [0, 1], scenario: 'rendezvous', env: () => SHORT });
  for (const { rank, result } of ranks) {
    t.equal(result.name, 'UserError', `rank ${rank}`);
    t.match(result.message, /^rendezvous at tcp:\/\/127\.0\.0\.1:\d+ timed out after 2 s: rank\(s\) 2 never registered \(2 of 3 did\)$/);
  }
});

t.test('a configured bind address and port are used, and a taken port is a UserError', async (t) => {
  const port = await freePort();
  const ok = await runGroup(t, { n: 2, scenario: 'rendezvous', env: (r): Record<string, string> => (r === 1 ? { TEST_BIND: 'localhost', TEST_PORT: String(port) } : {}) });
  for (const { rank, result } of ok) t.ok(result.ok, `rank ${rank}: ${result.message ?? 'ok'}`);

  const taken = createServer();
  await new Promise<void>((resolve) => taken.listen(port, '127.0.0.1', resolve));
  t.teardown(() => taken.close());
  const ranks = await runGroup(t, { n: 2, scenario: 'rendezvous', env: (r) => ({ ...SHORT, ...(r === 1 ? { TEST_PORT: String(port) } : {}) }) });
  t.equal(ranks[1].result.name, 'UserError');
  // zeromq says 'Address', Node 'address'.
  t.match(ranks[1].result.message, new RegExp(`cannot bind the communicator socket \\(bind address and port options\\) to tcp://127\\.0\\.0\\.1:${port}: [Aa]ddress already in use`));
});

t.test('ring order keeps each host together', async (t) => {
  t.same(ringOrder(['a', 'b', 'a', 'c', 'b']), [0, 2, 1, 4, 3]);
  t.same(ringOrder(['h', 'h']), [0, 1]);
});

t.test('fingerprints are contrasted readably', async (t) => {
  t.same(contrast('{"lr":0.1,"bs":8,"x":1}', '{"lr":0.2,"bs":8}'), ['lr=0.1, x=1', 'lr=0.2, x=unset']);
  t.same(contrast('abc', 'abd'), ["fingerprint 'abc'", "'abd'"]);
  const [a, b] = contrast('x'.repeat(100), 'y');
  t.match(a, /^fingerprint [0-9a-f]{12}$/);
  t.match(b, /^[0-9a-f]{12}$/);
});
