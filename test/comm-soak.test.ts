// bench/soak (compiled: run `npx tsc -p tsconfig.json` first) on a short setting over both transports: every
// op checked, RSS sampled on every rank; and the checker itself fails on a result altered on purpose.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { SOAK_KINDS } from '../bench/soak-plan.js';

const BENCH = fileURLToPath(new URL('../dist/bench/soak.js', import.meta.url));
const OPS = 300;
const SAMPLE_EVERY = 30;

interface SoakJson {
  ok: boolean;
  ops: number;
  mismatches: number;
  failures: { rank: number; status: string; message: string }[];
  kinds: Record<string, number>;
  payloadBytes: number;
  opsPerSec: number;
  config: { ranks: number; transport: string };
  ranks: {
    rank: number;
    ops: number;
    status: string;
    rss?: { first: number; median: number; last: number; max: number; at10: number; growth: number; samples: number };
    rssSamples: [number, number][];
  }[];
}

function soak(args: string[]): { status: number | null; stdout: string; stderr: string; json: SoakJson } {
  const res = spawnSync(process.execPath, [BENCH, '--ranks', '4', '--ops', String(OPS), '--max-size', '256K', ...args], {
    encoding: 'utf8',
    timeout: 60_000,
  });
  const line = res.stdout.split('\n').find((l) => l.startsWith('{'));
  if (!line) throw new Error(`no JSON line (exit ${res.status ?? res.signal}): ${res.stderr.slice(-2000)}`);
  return { status: res.status, stdout: res.stdout, stderr: res.stderr, json: JSON.parse(line) as SoakJson };
}

for (const transport of ['tcp', 'zmq']) {
  t.test(`soak over ${transport}: ${OPS} random collectives on 4 ranks, all checked, RSS sampled`, async (t) => {
    const { status, stdout, stderr, json } = soak(['--transport', transport, '--seed', '7', '--sample-every', String(SAMPLE_EVERY)]);
    t.equal(status, 0, stderr.slice(-2000));
    t.equal(json.ok, true);
    t.equal(json.config.transport, transport);
    t.equal(json.ops, OPS, 'every op done');
    t.equal(json.mismatches, 0);
    t.same(json.failures, []);
    t.equal(
      SOAK_KINDS.reduce((a, k) => a + json.kinds[k], 0),
      OPS,
      'per-kind counts add up',
    );
    for (const k of SOAK_KINDS) t.ok(json.kinds[k] > 0, `some ${k}`);
    t.ok(json.payloadBytes > 0 && json.opsPerSec > 0);
    t.equal(json.ranks.length, 4);
    for (const r of json.ranks) {
      t.equal(r.status, 'ok');
      t.equal(r.ops, OPS, `rank ${r.rank} did every op`);
      const expected = Array.from({ length: OPS / SAMPLE_EVERY + 1 }, (_, i) => i * SAMPLE_EVERY);
      t.same(
        r.rssSamples.map(([op]) => op),
        expected,
        `rank ${r.rank}: RSS sampled before the first op and every ${SAMPLE_EVERY}`,
      );
      t.ok(r.rssSamples.every(([, rss]) => rss > 0));
      t.ok(r.rss && r.rss.samples === expected.length && r.rss.first > 0 && r.rss.max >= r.rss.last, `rank ${r.rank} RSS summary`);
    }
    t.match(stdout, /\| rank \| ops \| loop s \| comm s \| sent MB \| RSS first MB \|/, 'markdown table');
    t.match(stdout, new RegExp(`${OPS}/${OPS} ops .* 0 mismatches`));
  });

  t.test(`soak over ${transport}: a result altered on one rank fails the run, naming the op`, async (t) => {
    const K = 152;
    const { status, stderr, json } = soak(['--transport', transport, '--seed', '1', '--corrupt-at', String(K)]);
    t.not(status, 0, 'non-zero exit');
    const altered = /rank 3 alters its result of op (\d+) \(([a-z-]+),/.exec(stderr);
    t.ok(altered, 'the corruption is announced');
    const op = Number(altered![1]);
    t.ok(op >= K, `first op with data at or after ${K}: ${op}`);
    t.match(stderr, new RegExp(`soak FAILED: MISMATCH at op ${op} \\(${altered![2]}, \\d+ B[^)]*\\) on rank 3: (element|byte) \\d+`), 'names op, kind, size, rank, element');
    t.equal(json.ok, false);
    t.equal(json.mismatches, 1);
    t.match(json.failures[0], { rank: 3, status: 'mismatch', message: new RegExp(`^MISMATCH at op ${op} `) });
    t.ok(json.ranks.every((r) => r.status !== 'ok'), 'the other ranks fail too (the mismatched rank left)');
  });
}
