// --secure: CURVE keys derived from the job token. Real ZeroMQ sockets: the job's own peers talk, a peer with
// another token or none cannot deliver anything; and a whole training job runs encrypted to the same model.
import { readFileSync } from 'node:fs';
import t from 'tap';
import { Pull, Push } from 'zeromq';
import { curveClient, curveKeysFromToken, curveServer, z85 } from '../src/wire/curve.js';
import { runLauncher } from './helpers/cli.js';

t.test('z85 matches the RFC 32 test vector; keys are 40 characters and depend on the token', (t) => {
  t.equal(z85(Uint8Array.of(0x86, 0x4f, 0xd2, 0x6f, 0xb5, 0x59, 0xf7, 0x5b)), 'HelloWorld');
  const a = curveKeysFromToken('job-a');
  t.equal(a.publicKey.length, 40);
  t.equal(a.secretKey.length, 40);
  t.same(curveKeysFromToken('job-a'), a, 'the same token gives the same keys on every host');
  t.not(curveKeysFromToken('job-b').publicKey, a.publicKey);
  t.throws(() => curveKeysFromToken(''), /--secure needs a job token/);
  t.end();
});

t.test('only a peer holding the job key delivers to a secure socket', async (t) => {
  const keys = curveKeysFromToken('job-a');
  const pull = new Pull({ ...curveServer(keys), receiveTimeout: 1500 });
  t.teardown(() => pull.close());
  await pull.bind('tcp://127.0.0.1:*');
  const strangers = [new Push({ ...curveClient(curveKeysFromToken('job-b')), linger: 0 }), new Push({ linger: 0 })];
  const friend = new Push({ ...curveClient(keys), linger: 0 });
  t.teardown(() => [...strangers, friend].forEach((s) => s.close()));
  for (const s of strangers) {
    s.connect(pull.lastEndpoint!);
    void s.send('forged').catch(() => undefined);
  }
  friend.connect(pull.lastEndpoint!);
  await friend.send('hello');
  t.equal((await pull.receive())[0].toString(), 'hello');
  await t.rejects(pull.receive(), { code: 'EAGAIN' }, 'nothing from another job or a plain socket');
});

t.test('a --secure job (ZeroMQ transport, parameter servers too) trains the same model as a plain one', async (t) => {
  const dir = t.testdir();
  const args = ['-n', '2', '--data', 'synthetic:quick,rows=4000,eval-rows=300', '--mlp', '16', '--embed-dim', '4', '--global-batch', '250', '--steps', '6', '--log-every', '0'];
  const sums: string[][] = [];
  for (const [name, extra] of [['plain', []], ['secure', ['--secure', '--transport', 'zmq']], ['secure-ps', ['--secure', '--transport', 'zmq', '--sync', 'ps', '--servers', '2']]] as const) {
    const report = `${dir}/${name}.json`;
    const r = await runLauncher([...args, ...extra, '--report', report]);
    t.equal(r.code, 0, `${name}: ${r.stderr.slice(-500)}`);
    sums.push((JSON.parse(readFileSync(report, 'utf8')) as { paramChecksums: string[] }).paramChecksums);
  }
  t.same(sums[1], sums[0], 'secure = plain');
  t.same(sums[2], sums[0], 'secure ps = plain');
  const bad = await runLauncher([...args, '--secure']);
  t.equal(bad.code, 2);
  t.match(bad.stderr, /--secure encrypts ZeroMQ traffic: add --transport zmq/);
});
