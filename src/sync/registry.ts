import type { Communicator } from '../comm/communicator.js';
import { meetEvery, type SyncName } from '../config/strategies.js';
import { configFingerprint, type TrainConfig } from '../config/train-config.js';
import { curveKeysFromToken } from '../wire/curve.js';
import { serverEndpoints } from '../ps/protocol.js';
import type { Replica, ReplicaShape } from '../replica/replica.js';
import { AllreduceSync } from './allreduce.js';
import { DenseSync } from './dense.js';
import { HybridSync } from './hybrid.js';
import { LocalClipSync } from './local-clip.js';
import { LocalSgdSync } from './local-sgd.js';
import { PsSync } from './ps.js';
import { ShardedSync } from './sharded.js';
import type { SyncStrategy } from './types.js';

/** What a strategy is built from. */
interface SyncContext {
  cfg: TrainConfig;
  comm: Communicator;
  rep: Replica;
  shape: ReplicaShape;
  env: NodeJS.ProcessEnv;
}

const ps = ({ cfg, comm, rep, shape, env }: SyncContext): SyncStrategy =>
  new PsSync(comm, cfg.embedDim, rep, {
    name: cfg.sync,
    endpoints: serverEndpoints(env),
    token: env.DDP_TOKEN ?? '',
    fingerprint: configFingerprint(cfg),
    shape,
    meetEvery: meetEvery(cfg.sync, cfg),
    timeoutMs: cfg.collectiveTimeout * 1000,
    curve: cfg.secure ? curveKeysFromToken(env.DDP_TOKEN ?? '') : null,
  });

/** How each --sync strategy is built: one entry per name of src/config/strategies.ts. */
const BUILDERS: Record<SyncName, (ctx: SyncContext) => SyncStrategy> = {
  allreduce: ({ cfg, comm }) => new AllreduceSync(comm, cfg.embedDim),
  dense: ({ cfg, comm, rep }) => new DenseSync(comm, cfg.embedDim, rep.field.rows),
  'local-clip': ({ cfg, comm, rep }) => new LocalClipSync(comm, cfg.embedDim, rep.embed, { ratio: cfg.cowclipRatio, zeta: cfg.cowclipZeta, form: cfg.cowclipForm, gamma: cfg.cowclipGamma }),
  'local-sgd': ({ cfg, comm, rep }) => new LocalSgdSync(comm, cfg.embedDim, rep, meetEvery(cfg.sync, cfg)),
  hybrid: ({ cfg, comm }) => new HybridSync(comm, cfg.embedDim),
  sharded: ({ cfg, comm, rep }) => new ShardedSync(comm, cfg.embedDim, rep),
  ps,
  'async-ps': ps,
};

/** The strategy named by --sync. */
export function createSync(cfg: TrainConfig, comm: Communicator, rep: Replica, shape: ReplicaShape, env = process.env): SyncStrategy {
  return BUILDERS[cfg.sync]({ cfg, comm, rep, shape, env });
}
