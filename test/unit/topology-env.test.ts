// Rank, world size and master address from torchrun, Open MPI and Slurm environments.
import t from 'tap';
import { resolveDistEnv } from '../../topology/env.js';
import { UserError } from '../../src/util/errors.js';

const torchrun = { RANK: '3', WORLD_SIZE: '8', LOCAL_RANK: '1', LOCAL_WORLD_SIZE: '2', MASTER_ADDR: 'node0', MASTER_PORT: '29400', DDP_TOKEN: 'tok' };

t.test('nothing set: one process', async (t) => {
  t.match(resolveDistEnv({}), { rank: 0, worldSize: 1, localRank: 0, localWorldSize: 1, source: 'none', token: '' });
});

t.test('torchrun', async (t) => {
  t.same(resolveDistEnv(torchrun), {
    rank: 3, worldSize: 8, localRank: 1, localWorldSize: 2, masterAddr: 'node0', masterPort: 29400, token: 'tok', source: 'torchrun',
  });
  // One host without local variables or master: loopback and torchrun's default port.
  t.match(resolveDistEnv({ RANK: '1', WORLD_SIZE: '2' }), { localRank: 1, localWorldSize: 2, masterAddr: '127.0.0.1', masterPort: 29500 });
});

t.test('Open MPI', async (t) => {
  const env = { OMPI_COMM_WORLD_RANK: '5', OMPI_COMM_WORLD_SIZE: '6', OMPI_COMM_WORLD_LOCAL_RANK: '2', OMPI_COMM_WORLD_LOCAL_SIZE: '3', MASTER_ADDR: '10.0.0.1', MASTER_PORT: '1234' };
  t.match(resolveDistEnv(env), { rank: 5, worldSize: 6, localRank: 2, localWorldSize: 3, masterAddr: '10.0.0.1', source: 'openmpi' });
});

t.test('Slurm', async (t) => {
  const env = { SLURM_PROCID: '4', SLURM_NTASKS: '5', SLURM_LOCALID: '0', SLURM_NODEID: '2', SLURM_TASKS_PER_NODE: '2(x2),1', MASTER_ADDR: 'n1', MASTER_PORT: '2000' };
  t.match(resolveDistEnv(env), { rank: 4, worldSize: 5, localRank: 0, localWorldSize: 1, source: 'slurm' });
  // srun torchrun: RANK is per process, SLURM_PROCID per node; RANK wins.
  t.match(resolveDistEnv({ ...env, ...torchrun }), { rank: 3, source: 'torchrun' });
  // An sbatch script's own environment (no SLURM_PROCID) is a single process.
  t.match(resolveDistEnv({ SLURM_NTASKS: '4' }), { worldSize: 1, source: 'none' });
});

t.test('inconsistent values are UserErrors naming the variables', async (t) => {
  const bad: [Record<string, string>, RegExp][] = [
    [{ RANK: '8', WORLD_SIZE: '8' }, /^RANK=8 must be below WORLD_SIZE=8$/],
    [{ RANK: '0' }, /^RANK is set but WORLD_SIZE is not/],
    [{ RANK: 'one', WORLD_SIZE: '2' }, /^RANK='one': expected a non-negative integer$/],
    [{ RANK: '0', WORLD_SIZE: '0' }, /^WORLD_SIZE=0: the world size must be at least 1$/],
    [{ ...torchrun, LOCAL_RANK: '2' }, /^LOCAL_RANK=2 must be below the 2 ranks on this host \(LOCAL_WORLD_SIZE\)$/],
    [{ ...torchrun, LOCAL_WORLD_SIZE: '9' }, /^LOCAL_WORLD_SIZE gives 9 ranks on this host, but WORLD_SIZE=8$/],
    [{ ...torchrun, LOCAL_RANK: undefined as unknown as string }, /^LOCAL_WORLD_SIZE is set but LOCAL_RANK is not/],
    [{ ...torchrun, MASTER_ADDR: '' }, /^MASTER_ADDR is not set: with 8 ranks on several hosts/],
    [{ ...torchrun, MASTER_PORT: '70000' }, /^MASTER_PORT=70000: expected a TCP port/],
    [{ OMPI_COMM_WORLD_RANK: '2', OMPI_COMM_WORLD_SIZE: '2' }, /^OMPI_COMM_WORLD_RANK=2 must be below OMPI_COMM_WORLD_SIZE=2$/],
    [{ SLURM_PROCID: '0', SLURM_NTASKS: '2', SLURM_LOCALID: '0' }, /^SLURM_PROCID is set but SLURM_TASKS_PER_NODE or SLURM_NODEID is not/],
    [{ SLURM_PROCID: '0', SLURM_NTASKS: '2', SLURM_LOCALID: '0', SLURM_NODEID: '0', SLURM_TASKS_PER_NODE: 'lots' }, /^SLURM_TASKS_PER_NODE='lots'/],
  ];
  for (const [env, message] of bad) t.throws(() => resolveDistEnv(env), { name: 'UserError', message }, JSON.stringify(env));
  t.throws(() => resolveDistEnv({ RANK: '9', WORLD_SIZE: '2' }), UserError);
});
