#!/usr/bin/env node
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expandConfig } from '../src/config/config-file.js';
import { parseFlags, formatHelp, type FlagValues } from '../src/config/flags.js';
import { isScoreCommand, parseScoreConfig, SCORE_FLAGS, scoreHelp, type ScoreCommand } from '../src/config/score-config.js';
import { packageVersion } from '../src/util/version.js';
import { LAUNCH_FLAGS, splitArgs, withoutFlag } from './args.js';
import { COMPARE_FLAGS, compareRequested, runCompare } from './compare.js';
import { parseTrainConfig, TRAIN_FLAGS } from '../src/config/train-config.js';
import { traitsOf } from '../src/config/strategies.js';
import { UserError } from '../src/util/errors.js';
import { freePort } from '../src/util/net.js';
import { availableParallelism } from 'node:os';
import { detectGpus, cudaDevicesFor, launchWarnings } from './gpus.js';
import { GPU_BUS_ENV, queryGpuBusIds } from '../src/backend/gpu-map.js';
import { supervise, type WorkerSpec } from './supervisor.js';
import { checkOutput, checkRunOutputs } from '../src/util/outputs.js';

const USAGE = `usage: ddp-launch [--config FILE] -n N [launcher flags] [training flags]
       ddp-launch eval --from DIR --data SPEC [-n N] [--out FILE]      (see ddp-launch eval --help)
       ddp-launch predict --from DIR --data SPEC --out FILE [-n N]     (see ddp-launch predict --help)

Starts N worker processes on this host (torchrun-style environment: RANK, LOCAL_RANK, WORLD_SIZE,
LOCAL_WORLD_SIZE, MASTER_ADDR, MASTER_PORT), each training a replica of a CTR model on its shard of
every global batch. If any worker fails, all are stopped and the failing rank is reported.

Flags may also come from --config FILE, a JSON object {"flag-name": value, ...}; flags on the command line
override the file, and a flag given twice takes its last value.`;

/** Every flag ddp-launch accepts: its own, the comparison's, and the training flags it forwards to the workers. */
const ALL_FLAGS = [...LAUNCH_FLAGS, ...COMPARE_FLAGS, ...TRAIN_FLAGS];

async function main(argv: string[]): Promise<number> {
  if (isScoreCommand(argv[0])) return score(argv[0], argv.slice(1), argv);
  // The file becomes plain flags here, so workers (possibly on hosts without the file) never see it.
  const expanded = expandConfig(argv, ALL_FLAGS);
  // All flags checked at once: a misspelt launcher flag is matched against every name, not just the training flags.
  const { flags } = parseFlags(ALL_FLAGS, expanded);
  if (flags.help) {
    console.log(`${USAGE}\n${formatHelp(ALL_FLAGS)}`);
    return 0;
  }
  if (flags.version) {
    console.log(packageVersion());
    return 0;
  }
  if (compareRequested(expanded)) return runCompare(expanded); // the same job once per sync strategy (launcher/compare.ts)
  const stray = expanded.find((a) => COMPARE_FLAGS.some((f) => a === `--${f.name}` || a.startsWith(`--${f.name}=`)));
  if (stray) throw new UserError(`${stray.split('=')[0]} is for --compare LIST (the job once per sync strategy)`);
  const { train } = splitArgs(expanded);
  const cfg = parseTrainConfig(train); // fail here, once, rather than N times in the workers
  // Every output location before any work (workers started by mpirun/srun check theirs on rank 0).
  checkRunOutputs(cfg);
  if (cfg.metrics) checkOutput('metrics', cfg.metrics, 'file');
  if (flags.logDir) checkOutput('log-dir', flags.logDir, 'dir');

  const usesServers = traitsOf(cfg.sync).servers;
  if (!usesServers && flags.servers > 0) throw new UserError(`--servers is for --sync ps or async-ps, not ${cfg.sync}`);
  const job = await planJob(flags, argv, usesServers ? Math.max(1, flags.servers) : 0, cfg.save);
  const script = workerScript();
  const maxRestarts = flags.maxRestarts;
  let args = train;
  let firstFailure: string | undefined;
  for (let attempt = 0; ; attempt++) {
    const result = await supervise({ script, args, workers: job.workers, logDir: flags.logDir });
    if (result.failure) console.error(`ddp-launch: ${result.failure}`);
    if (!result.failure) return result.code;
    firstFailure ??= result.failure;
    // Bad input (exit 2) does not heal, and Ctrl-C / SIGTERM mean stop.
    if (result.code === 2 || result.code >= 128 || attempt === maxRestarts) {
      if (attempt > 0) console.error(`ddp-launch: giving up after ${attempt} restart(s); the first failure was: ${firstFailure.split('\n')[0]}`);
      return result.code;
    }
    const from = await latestCheckpoint(cfg.save);
    args = from ? [...withoutFlag(train, 'resume'), '--resume', from.dir] : withoutFlag(train, 'resume');
    console.error(
      `ddp-launch: restart ${attempt + 1}/${maxRestarts} after: ${result.failure.split('\n')[0]}; ` +
        (from ? `resuming from ${from.dir} at step ${from.step}` : cfg.resume ? `resuming from ${cfg.resume} (no newer checkpoint)` : 'starting over (no checkpoint yet: pass --save DIR --save-every K)'),
    );
    if (!from && cfg.resume) args = train;
  }
}

/** `ddp-launch eval|predict`: a checkpoint scores data on N ranks (src/train/score.ts). */
async function score(command: ScoreCommand, rest: string[], argv: string[]): Promise<number> {
  const specs = [...LAUNCH_FLAGS, ...SCORE_FLAGS];
  const expanded = expandConfig(rest, specs);
  const { flags } = parseFlags(specs, expanded);
  if (flags.help) {
    console.log(`${scoreHelp(command)}\n${formatHelp(LAUNCH_FLAGS.filter((f) => !['servers', 'max-restarts'].includes(f.name)))}`);
    return 0;
  }
  for (const name of ['servers', 'max-restarts']) {
    if (expanded.some((a) => a === `--${name}` || a.startsWith(`--${name}=`))) throw new UserError(`--${name} is for training, not ddp-launch ${command}`);
  }
  const { train: scoreArgs } = splitArgs(expanded);
  const cfg = parseScoreConfig(command, scoreArgs);
  if (cfg.out) checkOutput('out', cfg.out, 'file');
  if (flags.logDir) checkOutput('log-dir', flags.logDir, 'dir');
  const job = await planJob(flags, argv, 0, undefined);
  const result = await supervise({ script: workerScript(), args: [command, ...scoreArgs], workers: job.workers, logDir: flags.logDir });
  if (result.failure) console.error(`ddp-launch: ${result.failure}`);
  return result.code;
}

/** The worker entry: compiled, or its TypeScript source under ts-node. */
function workerScript(): string {
  return fileURLToPath(new URL(`../src/worker/worker${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`, import.meta.url));
}

/**
 * This host's share of the job: the rendezvous (address, port, token), each local rank's environment and
 * GPU, and `servers` parameter servers on the master host. Prints the start line and the launch warnings.
 */
async function planJob(flags: FlagValues<typeof LAUNCH_FLAGS>, argv: string[], servers: number, save: string | undefined): Promise<{ workers: WorkerSpec[] }> {
  const nproc = flags.nprocPerNode;
  const nnodes = flags.nnodes;
  const nodeRank = flags.nodeRank;
  if (nodeRank >= nnodes) throw new UserError(`--node-rank ${nodeRank}: must be < --nnodes ${nnodes}`);
  const masterAddr = flags.masterAddr;
  let masterPort = flags.masterPort;
  let token = flags.token;
  if (nnodes > 1 && masterPort === 0) throw new UserError('--nnodes > 1 needs --master-port (the same on every host)');
  if (nnodes > 1 && token === undefined) throw new UserError('--nnodes > 1 needs --token (the same secret on every host)');
  if (masterPort === 0) masterPort = await freePort(masterAddr);
  token ??= randomBytes(16).toString('hex');

  // On one host the servers take free ports picked here (MASTER_PORT + 1.. may be anyone's); across hosts every
  // launcher must agree without talking, so they use MASTER_PORT + 1 + k.
  const serverPorts = servers && nnodes === 1 ? await distinctFreePorts(servers, masterAddr, masterPort) : null;
  const portsEnv = serverPorts ? { DDP_SERVER_PORTS: serverPorts.join(',') } : {};
  const gpus = detectGpus(flags.gpus);
  for (const w of launchWarnings({ nproc, cores: availableParallelism(), gpus: flags.gpus, maxRestarts: flags.maxRestarts, save })) {
    console.error(`ddp-launch: warning: ${w}`);
  }
  // WebGPU ranks find their GPU by PCI address (src/backend/gpu-map.ts); CUDA_VISIBLE_DEVICES serves CUDA only.
  const busIds = gpus.length ? queryGpuBusIds() : new Map<string, string>();
  const worldSize = nproc * nnodes;
  const workers: WorkerSpec[] = [];
  for (let local = 0; local < nproc; local++) {
    const rank = nodeRank * nproc + local;
    workers.push({
      rank,
      env: {
        ...process.env,
        RANK: String(rank),
        LOCAL_RANK: String(local),
        WORLD_SIZE: String(worldSize),
        LOCAL_WORLD_SIZE: String(nproc),
        GROUP_RANK: String(nodeRank),
        MASTER_ADDR: masterAddr,
        MASTER_PORT: String(masterPort),
        DDP_TOKEN: token,
        DDP_COMMAND: ['ddp-launch', ...argv].join(' '),
        CUDA_VISIBLE_DEVICES: cudaDevicesFor(local, gpus),
        [GPU_BUS_ENV]: busIds.get(cudaDevicesFor(local, gpus)) ?? '',
        ...(servers ? { DDP_SERVERS: String(servers), ...portsEnv } : {}),
      },
    });
  }
  // Parameter servers run on the master host (ports MASTER_PORT+1..K), where every worker can find them.
  for (let k = 0; k < (nodeRank === 0 ? servers : 0); k++) {
    workers.push({
      rank: k,
      server: true,
      env: {
        ...process.env,
        DDP_ROLE: 'server',
        DDP_SERVER: String(k),
        DDP_SERVERS: String(servers),
        ...portsEnv,
        WORLD_SIZE: String(worldSize),
        MASTER_ADDR: masterAddr,
        MASTER_PORT: String(masterPort),
        DDP_TOKEN: token,
        CUDA_VISIBLE_DEVICES: '',
      },
    });
  }
  const device = gpus.length ? `GPUs ${gpus.join(',')}` : 'CPU (no GPU found)';
  const withServers = nodeRank === 0 && servers ? ` and ${servers} parameter server(s)` : '';
  console.error(`ddp-launch: starting ${nproc} worker(s)${withServers} on this host, world size ${worldSize}, ${device}, rendezvous ${masterAddr}:${masterPort}`);
  return { workers };
}

/** `count` different free ports on `host`, none of them `taken`. */
async function distinctFreePorts(count: number, host: string, taken: number): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < count) {
    const p = await freePort(host);
    if (p !== taken) ports.add(p);
  }
  return [...ports];
}

/** The checkpoint in --save DIR, if one was written (its manifest is renamed into place last). */
async function latestCheckpoint(dir: string | undefined): Promise<{ dir: string; step: number } | null> {
  if (!dir) return null;
  try {
    const manifest = JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8')) as { step: number };
    return { dir, step: manifest.step };
  } catch {
    return null;
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    if (err instanceof UserError) {
      console.error(`ddp-launch: ${err.message}`);
      process.exit(2);
    }
    // One line, never a stack, unless asked for.
    const debug = process.argv.some((a, i) => a === '--log-level=debug' || (a === '--log-level' && process.argv[i + 1] === 'debug'));
    if (debug) console.error(err);
    else console.error(`ddp-launch: ${String((err as Error)?.message ?? err).split('\n')[0]} (unexpected: --log-level debug shows where it came from)`);
    process.exit(1);
  },
);
