import type { Communicator } from '../comm/communicator.js';
import type { TrainConfig } from '../config/train-config.js';
import type { Replica } from '../train/trainer.js';
import { AllreduceSync } from './allreduce.js';
import { DenseSync } from './dense.js';
import { HybridSync } from './hybrid.js';
import { LocalClipSync } from './local-clip.js';
import { LocalSgdSync } from './local-sgd.js';
import type { SyncStrategy } from './types.js';

/** The strategy named by --sync. */
export function createSync(cfg: TrainConfig, comm: Communicator, rep: Replica): SyncStrategy {
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
  }
}
