// What ddp-launch gives each worker: torchrun's environment, one GPU per local rank, per-rank logs. Workers are
// replaced by fixtures/launcher/fake-worker.mjs (FAKE_WORKER=env), which prints its environment and exits.
import t, { type Test } from 'tap';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cudaDevicesFor, detectGpus, launchWarnings } from '../launcher/gpus.js';
import { runLauncher } from './helpers/cli.js';
import { FAKE_WORKER_OPTIONS } from './fixtures/launcher/procs.js';

type RankEnv = Record<string, string | null>;

const WORKER = fileURLToPath(new URL('../dist/src/worker/worker.js', import.meta.url));

/** Runs the launcher with fake workers and returns the environments the ranks printed, in rank order. */
async function rankEnvs(t: Test, args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ envs: RankEnv[]; stderr: string }> {
  const r = await runLauncher(args, { env: { NODE_OPTIONS: FAKE_WORKER_OPTIONS, FAKE_WORKER: 'env', ...env }, timeoutMs: 20_000 });
  t.equal(r.code, 0, r.stderr);
  const envs = [...r.stdout.matchAll(/^\[r(\d+)\] (\{.*\})$/gm)].sort((a, b) => Number(a[1]) - Number(b[1])).map((m) => JSON.parse(m[2]) as RankEnv);
  return { envs, stderr: r.stderr };
}

t.test('detectGpus reads nvidia-smi -L; --gpus overrides it; cudaDevicesFor gives one device per local rank', async (t) => {
  const smi = 'GPU 0: NVIDIA A100-SXM4-40GB (UUID: GPU-1b2c)\nGPU 1: NVIDIA A100-SXM4-40GB (UUID: GPU-3d4e)\n';
  t.same(detectGpus(undefined, () => smi), ['0', '1']);
  t.same(detectGpus(undefined, () => 'No devices were found\n'), []);
  t.same(detectGpus(undefined, () => { throw new Error('nvidia-smi: not found'); }), [], 'no driver: a CPU host');
  t.same(detectGpus('2,3', () => smi), ['2', '3'], '--gpus wins over nvidia-smi');
  t.same(detectGpus('none', () => smi), []);
  t.throws(() => detectGpus('0,x'), { name: 'UserError', message: /--gpus 0,x: expected comma-separated device indices/ });
  t.same([0, 1, 2].map((r) => cudaDevicesFor(r, ['0', '1'])), ['0', '1', '0'], 'round-robin when ranks outnumber GPUs');
  t.equal(cudaDevicesFor(0, []), '', 'no GPU: an empty list, so ranks skip node-gpu');
});

t.test('-n 2 --gpus 0,1 --log-dir: torchrun environment, a device per rank, one log file per rank', async (t) => {
  const dir = t.testdir();
  const { envs } = await rankEnvs(t, ['-n', '2', '--gpus', '0,1', '--log-dir', dir]);
  t.equal(envs.length, 2);
  const token = envs[0].DDP_TOKEN!;
  t.match(token, /^[0-9a-f]{32}$/, 'a random job token');
  for (const r of [0, 1]) {
    t.match(envs[r], {
      RANK: String(r), LOCAL_RANK: String(r), WORLD_SIZE: '2', LOCAL_WORLD_SIZE: '2', GROUP_RANK: '0',
      MASTER_ADDR: '127.0.0.1', MASTER_PORT: /^\d+$/, DDP_TOKEN: token, CUDA_VISIBLE_DEVICES: String(r),
    }, `rank ${r}`);
    t.same(JSON.parse(readFileSync(join(dir, `rank-${r}.log`), 'utf8')), envs[r], `rank-${r}.log holds its output, unprefixed`);
  }
  t.equal(envs[0].MASTER_PORT, envs[1].MASTER_PORT);
  t.not(envs[0].MASTER_PORT, '0', 'a free port was picked');
});

t.test('GPUs found by nvidia-smi on PATH are shared round-robin; a CPU host gets CUDA_VISIBLE_DEVICES empty', async (t) => {
  const bin = t.testdir();
  const smi = join(bin, 'nvidia-smi');
  writeFileSync(
    smi,
    "#!/bin/sh\n[ \"$1\" = -L ] && printf 'GPU 0: Fake (UUID: GPU-a)\\nGPU 1: Fake (UUID: GPU-b)\\n'\n" +
      "[ \"$1\" = --query-gpu=index,pci.bus_id ] && printf '0, 00000000:1B:00.0\\n1, 00000000:9A:00.0\\n'\nexit 0\n",
  );
  chmodSync(smi, 0o755);
  const withGpus = await rankEnvs(t, ['-n', '3'], { PATH: `${bin}:${process.env.PATH}` });
  t.same(withGpus.envs.map((e) => e.CUDA_VISIBLE_DEVICES), ['0', '1', '0']);
  t.same(withGpus.envs.map((e) => e.DDP_GPU_PCI_BUS_ID), ['00000000:1B:00.0', '00000000:9A:00.0', '00000000:1B:00.0'], "each rank is told its GPU's PCI bus id (WebGPU's way to it)");
  t.match(withGpus.stderr, /GPUs 0,1/);
  const cpu = await rankEnvs(t, ['-n', '2', '--gpus', 'none']);
  t.same(cpu.envs.map((e) => e.CUDA_VISIBLE_DEVICES), ['', '']);
  t.same(cpu.envs.map((e) => e.DDP_GPU_PCI_BUS_ID), ['', '']);
  t.match(cpu.stderr, /CPU \(no GPU found\)/);
});

t.test('--nnodes 2 --node-rank 1: global ranks continue after node 0, with the given endpoint and token', async (t) => {
  const { envs } = await rankEnvs(t, ['--nnodes', '2', '--node-rank', '1', '-n', '2', '--master-addr', '10.1.2.3', '--master-port', '29400', '--token', 'job-7', '--gpus', 'none']);
  t.same(envs.map((e) => [e.RANK, e.LOCAL_RANK, e.WORLD_SIZE, e.LOCAL_WORLD_SIZE, e.GROUP_RANK]), [['2', '0', '4', '2', '1'], ['3', '1', '4', '2', '1']]);
  t.ok(envs.every((e) => e.MASTER_ADDR === '10.1.2.3' && e.MASTER_PORT === '29400' && e.DDP_TOKEN === 'job-7'));
});

t.test('--nnodes > 1 needs an explicit port and token', async (t) => {
  const noPort = await runLauncher(['--nnodes', '2', '--token', 'x']);
  t.equal(noPort.code, 2);
  t.match(noPort.stderr, /--nnodes > 1 needs --master-port/);
  const noToken = await runLauncher(['--nnodes', '2', '--master-port', '29400']);
  t.equal(noToken.code, 2);
  t.match(noToken.stderr, /--nnodes > 1 needs --token/);
});

t.test('--servers belongs to the parameter-server strategies; a ps worker without servers says how to get them', async (t) => {
  const stray = await runLauncher(['--servers', '2', '--sync', 'dense']);
  t.equal(stray.code, 2);
  t.match(stray.stderr, /ddp-launch: --servers is for --sync ps or async-ps, not dense/);
  // Under mpirun/srun nobody starts servers: the worker itself refuses.
  const worker = spawnSync(process.execPath, [WORKER, '--sync', 'ps', '--data', 'synthetic:quick,rows=2000,eval-rows=100', '--steps', '1'], {
    encoding: 'utf8',
    env: { ...process.env, RANK: '0', WORLD_SIZE: '1', DDP_SERVERS: '' },
  });
  t.equal(worker.status, 2);
  t.match(worker.stderr, /--sync ps and async-ps need parameter servers: start the job with ddp-launch, which starts them \(--servers K, default 1\)/);
});

t.test('-n2 is -n 2, as getopt reads it', async (t) => {
  const { envs } = await rankEnvs(t, ['-n2', '--gpus', 'none']);
  t.same(envs.map((e) => e.WORLD_SIZE), ['2', '2']);
});

t.test('launch warnings: GPUs named where none are, more workers than cores, restarts without checkpoints', (t) => {
  const base = { nproc: 2, cores: 2, gpus: undefined, maxRestarts: 0, save: undefined };
  t.same(launchWarnings(base, () => []), [], 'a plain run: none');
  t.match(launchWarnings({ ...base, gpus: '0' }, () => []), [/^--gpus 0: nvidia-smi finds no GPU on this host; the ranks will run on the CPU$/]);
  t.same(launchWarnings({ ...base, gpus: '0' }, () => ['0']), [], 'the GPU is there');
  t.same(launchWarnings({ ...base, gpus: 'none' }, () => []), [], '--gpus none is no request for a GPU');
  t.match(launchWarnings({ ...base, nproc: 8 }, () => []), [/^-n 8 on 2 CPU cores: the workers share them/]);
  t.match(launchWarnings({ ...base, maxRestarts: 2 }, () => []), [/^--max-restarts 2 without --save: every restart begins again from step 0/]);
  t.same(launchWarnings({ ...base, maxRestarts: 2, save: 'ck' }, () => []), []);
  t.end();
});
