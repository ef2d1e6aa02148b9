// bench/allreduce runs with one command: JSON with nccl-tests figures, the markdown table, and the gloo reference
// with our/gloo ratios where a python with torch is found (the row check is skipped otherwise).
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import type { Row } from '../bench/allreduce.js';

const BENCH = fileURLToPath(new URL('../dist/bench/allreduce.js', import.meta.url));


t.test('bench/allreduce: tiny sizes, N = 2 and 3, one run each', async (t) => {
  const res = spawnSync(process.execPath, [BENCH, '--ranks', '2,3', '--min', '4K', '--max', '16K', '--runs', '1'], {
    encoding: 'utf8',
    timeout: 120_000,
  });
  t.equal(res.status, 0, res.stderr);
  const lines = res.stdout.split('\n');
  const json = JSON.parse(lines.find((l) => l.startsWith('{'))!) as {
    machine: { loadavg: number[] };
    gloo: string | { python: string; torch: string };
    allreduce: Row[];
    memcpy: { bytes: number; GBps: number }[];
    runs: unknown[];
  };
  t.same(
    json.allreduce.map((r) => [r.ranks, r.bytes, r.transport]),
    [2, 3].flatMap((n) => [4096, 16384].flatMap((b) => ['tcp', 'zmq'].map((tr) => [n, b, tr]))),
    'one row per N, size (4K, x4 steps) and transport',
  );
  for (const r of json.allreduce) {
    // busbw credits each rank with a ring's traffic, 2 (n-1)/n x size; the communicator's own count of what it
    // sent (payload and headers) must be that, plus a few dozen header bytes per message.
    const ring = (2 * (r.ranks - 1) * r.bytes) / r.ranks;
    t.ok(r.wireBytesPerOp >= ring && r.wireBytesPerOp < ring + 2 * (r.ranks - 1) * 200, `N=${r.ranks} ${r.bytes} B: ${r.wireBytesPerOp} bytes sent per all-reduce, a ring's ${ring}`);
    t.ok(r.busbwRange[0] <= r.busbwGBps && r.busbwGBps <= r.busbwRange[1], 'median within the runs range');
  }
  t.equal(json.memcpy.length, 2, 'memcpy reference per size');
  t.equal(json.machine.loadavg.length, 3, 'load average recorded');
  t.match(res.stdout, /\| N \| size \| transport \| ours ms \| ours busbw GB\/s \|/, 'markdown table');
  t.match(res.stdout, /1-min load average during the runs: /);

  if (typeof json.gloo === 'string') {
    t.match(json.gloo, /^skipped/);
    t.match(res.stderr, /no python with torch/);
    t.comment('no python with torch.distributed here: gloo reference not checked');
    return;
  }
  t.match(json.gloo.torch, /^\d+\.\d+/, `gloo measured with ${json.gloo.python}`);
  for (const r of json.allreduce) {
    t.ok(r.glooBusbwGBps! > 0, `gloo N=${r.ranks} ${r.bytes} B`);
    t.ok(Math.abs(r.ratio! - r.busbwGBps / r.glooBusbwGBps!) < 1e-12, 'ratio = ours / gloo');
  }
});

t.test('bench/allreduce: --python pointing nowhere skips gloo with a notice', async (t) => {
  const res = spawnSync(process.execPath, [BENCH, '--ranks', '2', '--min', '4K', '--max', '4K', '--runs', '1', '--python', '/nonexistent/python3'], {
    encoding: 'utf8',
    timeout: 60_000,
  });
  t.equal(res.status, 0, res.stderr);
  t.match(res.stderr, /\/nonexistent\/python3 cannot run torch.distributed gloo/);
  const json = JSON.parse(res.stdout.split('\n').find((l) => l.startsWith('{'))!) as { gloo: unknown; allreduce: Row[] };
  t.match(json.gloo, /^skipped/);
  t.equal(json.allreduce[0].ratio, undefined);
});
