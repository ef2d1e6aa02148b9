// Two hosts, simulated: two network namespaces joined by a veth pair, one ddp-launch in each (--nnodes 2). Needs
// root and `ip netns`; skipped with a notice otherwise. Only addresses inside the namespaces created here are used.
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RunReport } from '../src/train/report.js';
import { LAUNCHER, Proc, TINY } from './fixtures/launcher/procs.js';

/** Per test process, so parallel runs never share a namespace (interface names stay within 15 characters). */
const HOSTS = [
  { ns: `ddpt-${process.pid}-a`, dev: `vddp${process.pid}a`, ip: '10.123.0.1' },
  { ns: `ddpt-${process.pid}-b`, dev: `vddp${process.pid}b`, ip: '10.123.0.2' },
];
// A fresh namespace has every port free.
const PORT = '29500';
const DATA_PORT = '29600';
const TOKEN = 'netns-test';

const ip = (...args: string[]) => execFileSync('ip', args, { stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });

/** Stops what still runs in our namespaces (only processes this test started), then deletes them. */
function removeNamespaces(): void {
  for (const { ns } of HOSTS) {
    try {
      for (const pid of ip('netns', 'pids', ns).split('\n').filter(Boolean)) process.kill(Number(pid), 'SIGKILL');
      ip('netns', 'del', ns); // takes its end of the veth pair, and so the pair, with it
    } catch {
      // never created, or already gone
    }
  }
}

/** Local addresses of listening TCP sockets in namespace `ns`. */
function listenersIn(ns: string): string[] {
  return ip('netns', 'exec', ns, 'ss', '-Hltn').split('\n').filter(Boolean).map((line) => line.trim().split(/\s+/)[3]);
}

t.test('--nnodes 2 across two network namespaces: one job, identical replicas', async (t) => {
  if (process.getuid?.() !== 0) return t.plan(0, 'NOTICE: not root; skipping the two-namespace multi-host test');
  t.teardown(removeNamespaces);
  try {
    ip('netns', 'add', HOSTS[0].ns);
  } catch (err) {
    return t.plan(0, `NOTICE: ip netns add failed (${(err as Error).message.split('\n')[0]}); skipping the multi-host test`);
  }
  ip('netns', 'add', HOSTS[1].ns);
  ip('link', 'add', HOSTS[0].dev, 'netns', HOSTS[0].ns, 'type', 'veth', 'peer', 'name', HOSTS[1].dev, 'netns', HOSTS[1].ns);
  for (const h of HOSTS) {
    ip('-n', h.ns, 'addr', 'add', `${h.ip}/24`, 'dev', h.dev);
    ip('-n', h.ns, 'link', 'set', h.dev, 'up');
    ip('-n', h.ns, 'link', 'set', 'lo', 'up');
  }

  const report = join(t.testdir(), 'report.json');
  // Host a takes the defaults (bind: its address on the route to the master; ephemeral port); host b sets the
  // network flags, which may differ per host without failing the config check.
  const perHost = [['--report', report], ['--bind', HOSTS[1].ip, '--port', DATA_PORT, '--collective-timeout', '60']];
  const nodes = HOSTS.map((h, nodeRank) =>
    new Proc(t, 'ip', [
      'netns', 'exec', h.ns, process.execPath, LAUNCHER,
      '--nnodes', '2', '--node-rank', String(nodeRank), '-n', '1', '--master-addr', HOSTS[0].ip, '--master-port', PORT, '--token', TOKEN,
      '--gpus', 'none', ...TINY, ...perHost[nodeRank],
    ]),
  );
  const listening = HOSTS.map(() => new Set<string>());
  const watch = setInterval(() => HOSTS.forEach((h, i) => listenersIn(h.ns).forEach((l) => listening[i].add(l))), 100);
  const exits = await Promise.all(nodes.map((n) => n.exit));
  clearInterval(watch);
  exits.forEach((e, i) => t.equal(e.code, 0, `node ${i} finishes`, nodes[i].output()));
  t.ok(listening[1].has(`${HOSTS[1].ip}:${DATA_PORT}`), `host b's rank bound --bind:--port (saw ${[...listening[1]].join(' ')})`);
  HOSTS.forEach((h, i) => {
    const others = [...listening[i]].filter((l) => !l.startsWith(`${h.ip}:`));
    t.same(others, [], `host ${'ab'[i]} listened only on its own address ${h.ip} (saw ${[...listening[i]].join(' ')})`);
  });
  const rep = JSON.parse(readFileSync(report, 'utf8')) as RunReport;
  t.equal(rep.worldSize, 2);
  t.equal(rep.paramChecksums.length, 2);
  t.equal(new Set(rep.paramChecksums).size, 1, `identical replicas on both hosts: ${rep.paramChecksums.join(' ')}`);
  // The gradients crossed the veth: host b sent at least its share of the dense all-reduce.
  const sent = Number(/TX:.*\n\s*(\d+)/.exec(ip('-n', HOSTS[1].ns, '-s', 'link', 'show', HOSTS[1].dev))![1]);
  t.ok(sent > 100_000, `host b sent ${sent.toLocaleString('en')} bytes over the veth`);
});
