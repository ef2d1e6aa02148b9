import type { Communicator } from '../comm/communicator.js';
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

/** The strategy named by --sync. */
export function createSync(cfg: TrainConfig, comm: Communicator, rep: Replica, shape: ReplicaShape, env = process.env): SyncStrategy {
  switch (cfg.sync) {
    case 'allreduce':
      return new AllreduceSync(comm, cfg.embedDim);
    case 'dense':
      return new DenseSync(comm, cfg.embedDim, rep.field.rows);
    case 'local-clip':
      return new LocalClipSync(comm, cfg.embedDim, rep.field.weights, { ratio: cfg.cowclipRatio, zeta: cfg.cowclipZeta, form: cfg.cowclipForm });
    case 'local-sgd':
      return new LocalSgdSync(comm, cfg.embedDim, rep, cfg.syncEvery);
    case 'hybrid':
      return new HybridSync(comm, cfg.embedDim);
    case 'sharded':
      return new ShardedSync(comm, cfg.embedDim, rep);
    case 'ps':
    case 'async-ps':
      return new PsSync(comm, cfg.embedDim, rep, {
        name: cfg.sync,
        endpoints: serverEndpoints(env),
        token: env.DDP_TOKEN ?? '',
        fingerprint: configFingerprint(cfg),
        shape,
        staleness: cfg.sync === 'ps' ? 0 : cfg.staleness,
        meetEvery: cfg.sync === 'ps' ? 1 : cfg.checkEvery > 0 ? cfg.checkEvery : Infinity,
        timeoutMs: cfg.collectiveTimeout * 1000,
        curve: cfg.secure ? curveKeysFromToken(env.DDP_TOKEN ?? '') : null,
      });
  }
}
