// --config FILE: a JSON object of flags, expanded into plain flags before the command line (which overrides it),
// by ddp-launch (workers never see the file) and by a worker started directly (mpirun/srun).
import t from 'tap';
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LAUNCH_FLAGS } from '../launcher/args.js';
import { expandConfig } from '../src/config/config-file.js';
import { parseFlags } from '../src/config/flags.js';
import { TRAIN_FLAGS } from '../src/config/train-config.js';
import type { RunReport } from '../src/train/report.js';
import { REPO, runLauncher } from './helpers/cli.js';

const SPECS = [...LAUNCH_FLAGS, ...TRAIN_FLAGS];

/** expandConfig with the files in `files` (path -> text) in place of the file system. */
function expand(argv: string[], files: Record<string, string>): string[] {
  return expandConfig(argv, SPECS, (path) => {
    if (!(path in files)) throw new Error(`ENOENT: no such file or directory, open '${path}'`);
    return files[path];
  });
}

t.test('the file becomes flags before the command line, which overrides it wherever it stands', (t) => {
  const file = JSON.stringify({ n: 2, model: 'dcn', 'global-batch': 4096, mlp: [400, 400], cowclip: false, 'skip-bad-lines': true, lr: 0.002, data: 'synthetic:v1,rows=2048' });
  const argv = ['--lr', '0.01', '--config', 'c.json', '--model', 'wd'];
  t.same(expand(argv, { 'c.json': file }), [
    '--nproc-per-node=2', '--model=dcn', '--global-batch=4096', '--mlp=400,400', '--no-cowclip', '--skip-bad-lines', '--lr=0.002', '--data=synthetic:v1,rows=2048',
    '--lr', '0.01', '--model', 'wd',
  ]);
  t.match(parseFlags(SPECS, expand(argv, { 'c.json': file })).flags, { nprocPerNode: 2, model: 'wd', globalBatch: 4096, mlp: ['400', '400'], cowclip: false, lr: 0.01 });
  t.same(expand(['--config=c.json'], { 'c.json': '{"mlp": "64,64"}' }), ['--mlp=64,64'], '--config=FILE; a list as a string');
  t.same(expand(['--steps', '3'], {}), ['--steps', '3'], 'no --config: argv unchanged');
  t.same(expand(['--', '--config', 'x'], {}), ['--', '--config', 'x'], 'nothing after -- is a flag');
  t.end();
});

t.test('config errors name the file and what was expected', (t) => {
  const cases: [string, string][] = [
    ['{"model": "dcn",\n "mlp": [16, 16],\n "x": yes}', 'c.json: not JSON: unexpected "yes" at line 3, column 7'],
    ['{"lr": 1,}', 'c.json: not JSON: unexpected "}" at line 1, column 10'],
    ['{"lr": 1', 'c.json: not JSON: unexpected end of file at line 1, column 9'],
    ['{"data": "a\tb"}', 'c.json: not JSON: unexpected "\\t" at line 1, column 12'],
    ['[1, 2]', 'c.json: expected a JSON object {"flag-name": value, ...}, got an array'],
    ['{"lr-embd": 1}', 'c.json: unknown key "lr-embd" (did you mean "lr-embed"?); keys are flag names without dashes, see --help'],
    ['{"global-batch": "big"}', 'c.json: "global-batch": expected an integer >= 1, got "big"'],
    ['{"global-batch": 1.5}', 'c.json: "global-batch": expected an integer >= 1, got 1.5'],
    ['{"global-batch": 0}', 'c.json: "global-batch": must be >= 1, got 0'],
    ['{"model": "xgboost"}', 'c.json: "model": expected one of deepfm, wd, dcn, dcnv2, got "xgboost"'],
    ['{"lr": null}', 'c.json: "lr": expected a number >= 0, got null'],
    ['{"cowclip": "false"}', 'c.json: "cowclip": expected true or false, got "false"'],
    ['{"mlp": {"a": 1}}', 'c.json: "mlp": expected an array of strings or numbers (or a comma-separated string), got {"a":1}'],
    ['{"config": "other.json"}', 'c.json: "config": a config file cannot name another one'],
  ];
  for (const [text, message] of cases) t.throws(() => expand(['--config', 'c.json'], { 'c.json': text }), { name: 'UserError', message }, text);
  t.throws(() => expand(['--config', 'gone.json'], {}), { message: "--config gone.json: cannot read it (ENOENT: no such file or directory, open 'gone.json')" });
  t.throws(() => expand(['--steps', '1', '--config'], {}), { message: /^--config needs a value \(read flags from a JSON object/ });
  t.throws(() => expand(['--config', 'a.json', '--config', 'b.json'], { 'a.json': '{}', 'b.json': '{}' }), { message: '--config given twice (a.json, b.json): give one file' });
  t.end();
});

t.test('ddp-launch --config: a real 2-rank run with the file\'s values, command-line overrides, plain flags to the workers', async (t) => {
  const dir = t.testdir();
  const config = join(dir, 'job.json');
  const report = join(dir, 'report.json');
  writeFileSync(
    config,
    JSON.stringify({ 'nproc-per-node': 2, gpus: 'none', model: 'dcn', data: 'synthetic:v1,rows=2048,eval-rows=200', 'global-batch': 64, steps: 8, mlp: [16, 16], 'embed-dim': 4, cowclip: false, 'log-every': 0 }, null, 2),
  );
  // Each worker prints its argv first (a preloaded one-liner), so the test sees what the launcher passed on.
  const printArgv = '--import=data:text/javascript,process.env.RANK&&console.log(JSON.stringify(process.argv.slice(2)))';
  const r = await runLauncher(['--steps', '4', '--config', config, '--embed-dim', '8', '--report', report], { env: { NODE_OPTIONS: printArgv } });
  t.equal(r.code, 0, r.stderr);
  const rep = JSON.parse(readFileSync(report, 'utf8')) as RunReport;
  t.match(rep, { worldSize: 2, steps: 4, config: { model: 'dcn', globalBatch: 64, mlp: [16, 16], cowclip: false, steps: 4, embedDim: 8 } }, 'the file\'s values, --steps and --embed-dim from the command line');
  const argvs = [...r.stdout.matchAll(/^\[r(\d)\] (\[.*\])$/gm)].map((m) => JSON.parse(m[2]) as string[]);
  t.equal(argvs.length, 2);
  for (const a of argvs) {
    t.notOk(a.some((x) => x.startsWith('--config')), 'no --config reaches a worker');
    t.ok(a.includes('--model=dcn') && a.includes('--no-cowclip'), 'the file as plain flags');
    t.notOk(a.some((x) => /^--(nproc-per-node|gpus)/.test(x)), 'launcher flags from the file stay with the launcher');
  }
});

t.test('ddp-launch rejects a bad config before starting workers; a worker started directly reads --config itself', async (t) => {
  const dir = t.testdir();
  const bad = join(dir, 'bad.json');
  writeFileSync(bad, '{"global-batch": "big"}');
  const r = await runLauncher(['-n', '2', '--config', bad], { timeoutMs: 20_000 });
  t.equal(r.code, 2);
  t.equal(r.stderr.trim(), `ddp-launch: ${bad}: "global-batch": expected an integer >= 1, got "big"`);

  const good = join(dir, 'good.json');
  const report = join(dir, 'report.json');
  writeFileSync(good, JSON.stringify({ data: 'synthetic:v1,rows=2048,eval-rows=200', 'global-batch': 64, steps: 8, mlp: [16], 'embed-dim': 4, 'log-every': 0, model: 'wd' }));
  // No launcher environment: a one-rank job, as one srun task would run it.
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(RANK|WORLD_SIZE|OMPI_|SLURM_|PMI)/.test(k)));
  const worker = (args: string[]) =>
    new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, [join(REPO, 'dist/src/worker/worker.js'), ...args], { cwd: REPO, env, stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => (stderr += d));
      child.on('close', (code) => resolve({ code, stderr }));
    });
  const ok = await worker(['--config', good, '--steps', '2', '--report', report]);
  t.equal(ok.code, 0, ok.stderr);
  t.match(JSON.parse(readFileSync(report, 'utf8')), { steps: 2, config: { model: 'wd', globalBatch: 64, mlp: [16] } });
  writeFileSync(bad, '{"nproc-per-node": 2}');
  const launcherKey = await worker(['--config', bad]);
  t.equal(launcherKey.code, 2);
  t.match(launcherKey.stderr, `error: ${bad}: unknown key "nproc-per-node"`, 'a worker takes training flags only');
});
