import type { Communicator } from '../comm/communicator.js';
import type { TrainConfig } from '../config/train-config.js';
import type { Replica } from '../train/trainer.js';
import { AllreduceSync } from './allreduce.js';
import { LocalClipSync } from './local-clip.js';
import type { SyncStrategy } from './types.js';

/** The strategy named by --sync. */
export function createSync(cfg: TrainConfig, comm: Communicator, rep: Pick<Replica, 'field'>): SyncStrategy {
  switch (cfg.sync) {
    case 'allreduce':
      return new AllreduceSync(comm, cfg.embedDim);
    case 'local-clip':
      return new LocalClipSync(comm, cfg.embedDim, rep.field.weights, { ratio: cfg.cowclipRatio, zeta: cfg.cowclipZeta, form: cfg.cowclipForm });
  }
}
