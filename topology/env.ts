/**
 * Where this process sits in the job, read from the environment of whichever launcher started it:
 * torchrun / ddp-launch (RANK, WORLD_SIZE, ...), Open MPI's mpirun (OMPI_COMM_WORLD_*) or Slurm's srun
 * (SLURM_*). Nothing set means a single process.
 */
import { UserError } from '../src/util/errors.js';

export type EnvSource = 'torchrun' | 'openmpi' | 'slurm' | 'none';

export interface DistEnv {
  rank: number;
  worldSize: number;
  localRank: number;
  localWorldSize: number;
  /** Host of the rendezvous (rank 0 serves it unless told otherwise). */
  masterAddr: string;
  masterPort: number;
  /** Shared secret of the job (DDP_TOKEN, set by ddp-launch): a rank with another token is refused. */
  token: string;
  source: EnvSource;
}

/** torchrun's default. */
const DEFAULT_MASTER_PORT = 29500;

interface Names {
  source: EnvSource;
  rank: string;
  size: string;
  localRank: string;
  localSize?: string;
}

// In priority order: `srun torchrun ...` sets both, and then RANK (per process) is the right one, not
// SLURM_PROCID (per node). Slurm is recognised by SLURM_PROCID only: sbatch scripts carry SLURM_NTASKS too.
const LAUNCHERS: Names[] = [
  { source: 'torchrun', rank: 'RANK', size: 'WORLD_SIZE', localRank: 'LOCAL_RANK', localSize: 'LOCAL_WORLD_SIZE' },
  {
    source: 'openmpi',
    rank: 'OMPI_COMM_WORLD_RANK',
    size: 'OMPI_COMM_WORLD_SIZE',
    localRank: 'OMPI_COMM_WORLD_LOCAL_RANK',
    localSize: 'OMPI_COMM_WORLD_LOCAL_SIZE',
  },
  { source: 'slurm', rank: 'SLURM_PROCID', size: 'SLURM_NTASKS', localRank: 'SLURM_LOCALID' },
];

export function resolveDistEnv(env: NodeJS.ProcessEnv = process.env): DistEnv {
  const names = LAUNCHERS.find((n) => env[n.rank] !== undefined || (n.source !== 'slurm' && env[n.size] !== undefined));
  const token = env.DDP_TOKEN ?? '';
  if (!names) {
    return { rank: 0, worldSize: 1, localRank: 0, localWorldSize: 1, masterAddr: '127.0.0.1', masterPort: DEFAULT_MASTER_PORT, token, source: 'none' };
  }
  const rank = required(env, names.rank, names.size);
  const worldSize = required(env, names.size, names.rank);
  if (worldSize < 1) throw new UserError(`${names.size}=0: the world size must be at least 1`);
  if (rank >= worldSize) throw new UserError(`${names.rank}=${rank} must be below ${names.size}=${worldSize}`);

  let localRank: number;
  let localWorldSize: number;
  let localSizeName: string;
  if (names.localSize) {
    localSizeName = names.localSize;
    const hasLocal = env[names.localRank] !== undefined || env[names.localSize] !== undefined;
    // Without local variables all ranks are taken to share this host.
    localRank = hasLocal ? required(env, names.localRank, names.localSize) : rank;
    localWorldSize = hasLocal ? required(env, names.localSize, names.localRank) : worldSize;
  } else {
    localSizeName = 'SLURM_TASKS_PER_NODE';
    localRank = required(env, names.localRank, names.rank);
    localWorldSize = slurmTasksOnThisNode(env);
  }
  if (localWorldSize < 1 || localWorldSize > worldSize) {
    throw new UserError(`${localSizeName} gives ${localWorldSize} ranks on this host, but ${names.size}=${worldSize}`);
  }
  if (localRank >= localWorldSize) {
    throw new UserError(`${names.localRank}=${localRank} must be below the ${localWorldSize} ranks on this host (${localSizeName})`);
  }

  // A job on one host can rendezvous on loopback; across hosts every rank must be told where rank 0 is.
  const oneHost = localWorldSize === worldSize;
  const masterAddr = env.MASTER_ADDR || (oneHost ? '127.0.0.1' : undefined);
  if (!masterAddr) throw new UserError(`MASTER_ADDR is not set: with ${worldSize} ranks on several hosts, set MASTER_ADDR and MASTER_PORT to rank 0's host and a free port`);
  const portText = env.MASTER_PORT ?? (oneHost ? String(DEFAULT_MASTER_PORT) : undefined);
  if (portText === undefined) throw new UserError('MASTER_PORT is not set: with ranks on several hosts, set it to the same free port on every host');
  const masterPort = integer('MASTER_PORT', portText);
  if (masterPort < 1 || masterPort > 65535) throw new UserError(`MASTER_PORT=${portText}: expected a TCP port (1-65535)`);
  return { rank, worldSize, localRank, localWorldSize, masterAddr, masterPort, token, source: names.source };
}

function required(env: NodeJS.ProcessEnv, name: string, setWith: string): number {
  const text = env[name];
  if (text === undefined) throw new UserError(`${setWith} is set but ${name} is not; the launcher must set both`);
  return integer(name, text);
}

function integer(name: string, text: string): number {
  if (!/^\d+$/.test(text.trim())) throw new UserError(`${name}='${text}': expected a non-negative integer`);
  return Number(text);
}

/** SLURM_TASKS_PER_NODE looks like "2(x3),1" (2 tasks on each of 3 nodes, then 1); SLURM_NODEID picks ours. */
function slurmTasksOnThisNode(env: NodeJS.ProcessEnv): number {
  const spec = env.SLURM_TASKS_PER_NODE;
  const nodeText = env.SLURM_NODEID;
  if (spec === undefined || nodeText === undefined) {
    throw new UserError('SLURM_PROCID is set but SLURM_TASKS_PER_NODE or SLURM_NODEID is not (srun sets them): cannot tell how many ranks share this host');
  }
  const node = integer('SLURM_NODEID', nodeText);
  const perNode: number[] = [];
  for (const part of spec.split(',')) {
    const m = /^(\d+)(?:\(x(\d+)\))?$/.exec(part.trim());
    if (!m) throw new UserError(`SLURM_TASKS_PER_NODE='${spec}': expected a list like 2(x3),1`);
    for (let i = 0; i < Number(m[2] ?? 1); i++) perNode.push(Number(m[1]));
  }
  if (node >= perNode.length) throw new UserError(`SLURM_NODEID=${node} is beyond the ${perNode.length} nodes of SLURM_TASKS_PER_NODE='${spec}'`);
  return perNode[node];
}
