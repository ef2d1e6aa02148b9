// A failed rank fails the job within seconds and leaves no process behind; so do signals to the launcher, and a
// launcher killed outright takes its workers with it. Real processes throughout.
import t from 'tap';
import { existsSync, readFileSync } from 'node:fs';
import { constants } from 'node:os';
import { join } from 'node:path';
import { STOP_GRACE_MS } from '../launcher/supervisor.js';

/**
 * Time bounds here only tell a prompt stop from a hang: the workers' collective timeout is 600 s, and the tests
 * name the cause from the launcher's message, not from the clock. Generous, so a loaded machine passes.
 */
const HANG_MS = 60_000;
import { FAKE_WORKER_OPTIONS, killAtTeardown, launch, LONG, survivors, TINY, until, workersOf } from './fixtures/launcher/procs.js';

const seconds = (ms: number) => `${(ms / 1000).toFixed(2)} s`;

/** Pids of those `ranks` of a FAKE_WORKER=fail job that are up and ignoring SIGTERM. */
function waiting(dir: string, ranks: number[]): number[] {
  return ranks.map((r) => join(dir, `waiting-${r}`)).filter((f) => existsSync(f)).map((f) => Number(readFileSync(f, 'utf8')));
}

t.test('a worker that exits with an error: its last stderr lines name the cause; peers ignoring SIGTERM are SIGKILLed', async (t) => {
  const dir = t.testdir();
  const start = performance.now();
  const p = launch(t, ['-n', '3', '--gpus', 'none'], { NODE_OPTIONS: FAKE_WORKER_OPTIONS, FAKE_WORKER: 'fail', FAIL_RANK: '1', FAKE_DIR: dir });
  const blocked = () => waiting(dir, [0, 2]);
  killAtTeardown(t, blocked);
  const exit = await p.exit;
  const elapsed = exit.at - start;
  t.equal(exit.code, 1, 'non-zero exit');
  const message = p.stderr.slice(p.stderr.indexOf('ddp-launch: rank 1'));
  t.match(message, /^ddp-launch: rank 1 \(pid \d+\) exited with code 3; stopping the other workers\nlast stderr lines of rank 1:\n  fake failure line 11\n/);
  t.match(message, /  fake failure line 30\n$/, 'up to its very last line');
  t.notMatch(message, /line 10\n/, 'only the last 20 lines');
  t.equal(blocked().length, 2, 'ranks 0 and 2 were running, blocked');
  t.ok(existsSync(join(dir, 'sigterm-0')) && existsSync(join(dir, 'sigterm-2')), 'they got SIGTERM first');
  t.same(await survivors(blocked()), [], 'and were SIGKILLed: none left running');
  // SIGKILL comes after the grace, not before; the upper bound only rules out a hang (a loaded machine is slow).
  t.ok(elapsed >= STOP_GRACE_MS && elapsed < STOP_GRACE_MS + HANG_MS, `job over in ${seconds(elapsed)} (grace ${seconds(STOP_GRACE_MS)})`);
});

t.test('a rank that lost a peer does not hide the peer\'s own report: the cause is printed once, with its rank', async (t) => {
  const p = launch(t, ['-n', '3', '--gpus', 'none'], { NODE_OPTIONS: FAKE_WORKER_OPTIONS, FAKE_WORKER: 'report', LOST_RANK: '0', FAIL_RANK: '2', FAKE_DELAY_MS: '300' });
  const exit = await p.exit;
  t.equal(exit.code, 2, "the cause's exit code (bad input), not the consequence's");
  t.match(p.stderr, /ddp-launch: rank 2 \(pid \d+\) exited with code 2: the cause, reported late; stopping the other workers\n/);
  t.equal(p.stderr.split('the cause, reported late').length - 1, 1, 'printed once');
  t.notMatch(p.stderr, /closed its connection|last stderr lines/, 'the consequence is not reported');
});

t.test('a consequence alone is reported when no cause turns up', async (t) => {
  const p = launch(t, ['-n', '3', '--gpus', 'none'], { NODE_OPTIONS: FAKE_WORKER_OPTIONS, FAKE_WORKER: 'report', LOST_RANK: '1', FAIL_RANK: '9' });
  const exit = await p.exit;
  t.equal(exit.code, 1);
  t.match(p.stderr, /ddp-launch: rank 1 \(pid \d+\) exited with code 1: collective #7: rank 9 closed its connection; stopping the other workers/);
});

t.test('every rank failing on the same bad input: the error is printed once, with the rank, exit 2, no stack', async (t) => {
  const dir = t.testdir({ 'bad.csv': 'a,b\n1,2\n' });
  const logs = join(dir, 'logs');
  const p = launch(t, ['-n', '3', '--gpus', 'none', '--log-dir', logs, ...TINY, '--data', `criteo:${join(dir, 'bad.csv')}`]);
  const exit = await p.exit;
  t.equal(exit.code, 2);
  const error = 'bad.csv, line 1: column 1 (label): expected 0 or 1, found "a,b"';
  t.equal(p.stderr.split(error).length - 1, 1, 'printed once', p.output());
  const rank = /^ddp-launch: rank (\d) \(pid \d+\) exited with code 2: .*bad\.csv, line 1: column 1/m.exec(p.stderr)?.[1];
  t.ok(rank, 'by the launcher, naming the rank');
  t.notMatch(p.stderr, /^\s+at /m, 'no stack trace');
  // The others may have been stopped before reaching the error themselves.
  t.match(readFileSync(join(logs, `rank-${rank}.log`), 'utf8'), `error: ${join(dir, 'bad.csv')}, line 1`, "that rank's log has the error");
});

t.test('kill -9 of rank 1 mid-training: the launcher exits non-zero naming it, ranks 0 and 2 stopped', async (t) => {
  const p = launch(t, ['-n', '3', '--gpus', 'none', ...LONG]);
  await p.waitFor(/^\[r0\] step \d+/m);
  const workers = workersOf(p.pid);
  killAtTeardown(t, () => workers.values());
  t.same([...workers.keys()].sort(), [0, 1, 2], 'three workers training');
  const victim = workers.get(1)!;
  const killedAt = performance.now();
  process.kill(victim, 'SIGKILL');
  const exit = await p.exit;
  const elapsed = exit.at - killedAt;
  t.ok(elapsed < HANG_MS, `launcher exited ${seconds(elapsed)} after kill -9 of rank 1`);
  t.not(exit.code, 0, 'non-zero exit');
  t.match(p.stderr, `ddp-launch: rank 1 (pid ${victim}) was killed by signal SIGKILL; stopping the other workers`);
  t.notMatch(p.stdout, /\[r0\] done:/, 'rank 0 did not finish: it was stopped in training');
  t.same(await survivors(workers.values()), [], 'no worker left running when the launcher exits');
});

for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  t.test(`${sig} to the launcher stops every worker and exits ${128 + constants.signals[sig]}`, async (t) => {
    const p = launch(t, ['-n', '2', '--gpus', 'none', ...TINY]);
    await p.waitFor(/^\[r0\] /m); // the workers are up and have joined
    const workers = workersOf(p.pid);
    killAtTeardown(t, () => workers.values());
    t.equal(workers.size, 2, 'two workers running');
    const sentAt = performance.now();
    p.child.kill(sig);
    const exit = await p.exit;
    t.equal(exit.code, 128 + constants.signals[sig], `exit code ${128 + constants.signals[sig]}`);
    t.match(p.stderr, `ddp-launch: interrupted by ${sig}; stopping all workers`);
    t.same(await survivors(workers.values()), [], 'no worker left running');
    t.ok(exit.at - sentAt < STOP_GRACE_MS + HANG_MS, `launcher exited ${seconds(exit.at - sentAt)} after ${sig}`);
  });
}

t.test('SIGINT to the launcher mid-training: the workers stop quietly, no rank reports a desync or an error', async (t) => {
  const p = launch(t, ['-n', '3', '--gpus', 'none', ...LONG]);
  await p.waitFor(/^\[r0\] step \d+/m);
  const workers = workersOf(p.pid);
  killAtTeardown(t, () => workers.values());
  p.child.kill('SIGINT');
  const exit = await p.exit;
  t.equal(exit.code, 130);
  t.match(p.stderr, 'ddp-launch: interrupted by SIGINT; stopping all workers');
  t.notMatch(p.stderr + p.stdout, /different numbers of steps|closed its communicator|\[r\d\] error:/, 'a shutdown is not reported as a failure');
  t.same(await survivors(workers.values()), [], 'no worker left running');
});

t.test('a second SIGINT kills workers that ignore SIGTERM at once, without waiting out the grace period', async (t) => {
  const dir = t.testdir();
  const p = launch(t, ['-n', '2', '--gpus', 'none'], { NODE_OPTIONS: FAKE_WORKER_OPTIONS, FAKE_WORKER: 'fail', FAKE_DIR: dir });
  killAtTeardown(t, () => waiting(dir, [0, 1]));
  await until(() => waiting(dir, [0, 1]).length === 2, 'both fake ranks to wait');
  const workers = waiting(dir, [0, 1]);
  const sentAt = performance.now();
  p.child.kill('SIGINT');
  const noted = [0, 1].map((r) => join(dir, `sigterm-${r}`));
  await until(() => noted.every((f) => existsSync(f)), 'the first SIGINT to reach them as SIGTERM');
  const secondAt = performance.now();
  p.child.kill('SIGINT');
  const exit = await p.exit;
  t.equal(exit.code, 130, 'exit code 130');
  t.same(await survivors(workers), [], 'the second SIGKILLed them');
  // The ranks ignore SIGTERM: only the second SIGINT's SIGKILL, not the end of the grace, can stop them this early.
  t.ok(exit.at - secondAt < STOP_GRACE_MS, `launcher exited ${seconds(exit.at - secondAt)} after the second SIGINT`);
});

t.test('SIGKILL of the launcher: its workers notice the closed IPC channel and exit on their own', async (t) => {
  const p = launch(t, ['-n', '2', '--gpus', 'none', ...LONG]);
  await p.waitFor(/^\[r0\] step \d+/m);
  const workers = workersOf(p.pid);
  killAtTeardown(t, () => workers.values());
  t.equal(workers.size, 2, 'two workers training');
  const killedAt = performance.now();
  p.child.kill('SIGKILL');
  const left = await survivors(workers.values(), 5000);
  t.same(left, [], `workers gone ${seconds(performance.now() - killedAt)} after the launcher was killed`);
});
