// bench/train-throughput runs ours and the PyTorch reference (bench/torch_deepfm.py) in one command: JSON rows with
// ours / torch ratios where a python with torch is found (the torch checks are skipped otherwise), the markdown
// table, and a notice instead of the torch columns when the python is missing.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import t from 'tap';

const BENCH = fileURLToPath(new URL('../dist/bench/train-throughput.js', import.meta.url));
const TINY = ['--batches', '256', '--steps', '3', '--repeats', '1', '--rows', 'small'];

interface TorchSide {
  threads: number;
  samplesPerSec: number;
  msPerStep: number;
}

interface Report {
  settings: { embeddingRows: number; repeats: number; threads: number };
  torch: string | { version: string; threads: number[]; note: string };
  results: {
    model: string;
    batch: number;
    embedUpdate: string;
    samplesPerSec: number;
    msPerStep: number;
    torch: TorchSide | null;
    ratio: number | null;
    torchAllCores: TorchSide | null;
    ratioAllCores: number | null;
  }[];
  runs: { impl: string; threads: number; samplesPerSec: number }[];
}

const report = (stdout: string): Report => JSON.parse(stdout.split('\n').find((l) => l.startsWith('{'))!) as Report;

t.test('bench/train-throughput: tiny run, ours and torch side by side', async (t) => {
  const started = performance.now();
  const res = spawnSync(process.execPath, [BENCH, ...TINY], { encoding: 'utf8', timeout: 120_000 });
  const wallSeconds = (performance.now() - started) / 1000;
  t.equal(res.status, 0, res.stderr);
  const json = report(res.stdout);
  t.ok(Math.abs(json.settings.embeddingRows - 10_000) < 100, `--rows small gives ~10K rows (${json.settings.embeddingRows})`);
  t.same(
    json.results.map((r) => [r.model, r.batch, r.embedUpdate]),
    [
      ['deepfm', 256, 'dense'],
      ['deepfm', 256, 'lazy'],
    ],
    'one row per model x batch x update mode',
  );
  // Against this test's own clock: a case's 3 timed steps of 256 samples ran within the whole process's wall
  // time, so its rate is at least that; a unit slip (ms for s, a step count off) falls below it.
  for (const r of json.results) {
    t.ok(r.samplesPerSec >= (256 * 3) / wallSeconds, `ours (${r.embedUpdate}): ${r.samplesPerSec.toFixed(0)} samples/s, at least ${((256 * 3) / wallSeconds).toFixed(0)} (3 steps in the ${wallSeconds.toFixed(1)} s the bench took)`);
  }
  t.match(res.stdout, /\| model \| batch \| embed update \| ours samples\/s \|/, 'markdown table');

  if (typeof json.torch === 'string') {
    t.match(json.torch, /^skipped/);
    t.comment('no python with torch here: torch columns not checked');
    return;
  }
  t.match(json.torch.version, /^\d+\.\d+/);
  t.equal(json.torch.threads[0], 1, 'torch at --threads 1 by default');
  for (const r of json.results) {
    t.ok(r.torch && r.torch.samplesPerSec > 0 && r.torch.threads === 1, `torch timed (${r.embedUpdate})`);
    t.ok(r.torch!.samplesPerSec >= (256 * 3) / wallSeconds, `torch (${r.embedUpdate}): at least what the whole process allows`);
  }
  t.equal(json.runs.filter((r) => r.impl === 'ours').length, 2, 'every run of ours kept');
  t.ok(json.runs.filter((r) => r.impl === 'torch' && r.threads === 1).length === 2, 'every torch run kept');
  t.match(res.stdout, /ours\/torch/);
});

t.test('bench/train-throughput: --python pointing nowhere skips torch with a notice', async (t) => {
  const res = spawnSync(process.execPath, [BENCH, ...TINY, '--embed-updates', 'lazy', '--python', '/nonexistent/python3'], {
    encoding: 'utf8',
    timeout: 60_000,
  });
  t.equal(res.status, 0, res.stderr);
  t.match(res.stderr, /\/nonexistent\/python3 cannot import torch/);
  t.match(res.stderr, /skipping the PyTorch reference/);
  const json = report(res.stdout);
  t.match(json.torch, /^skipped/);
  t.equal(json.results.length, 1);
  t.equal(json.results[0].torch, null);
  t.equal(json.results[0].ratio, null);
  t.match(res.stdout, /PyTorch reference skipped/);
});
