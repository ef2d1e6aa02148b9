/**
 * ddp-ctr's public API for users' own training loops. The CLI (`ddp-launch`) is built from the same pieces.
 */
export { cowclip, cowclipIndexed, type CowClipOptions } from './optim/cowclip.js';
export { Adam, type AdamOptions } from './optim/adam.js';
export { Sgd, type Optimizer } from './optim/optimizer.js';
export { EmbeddingUpdater, type EmbedUpdateOptions, type EmbedUpdateStats } from './optim/embed-update.js';
export { resolveHyper, denseLrAt, SCALING_RULES, type Hyper } from './optim/schedule.js';
export { mergeRows, mergeSparse, encodeSparse, decodeSparse, type SparseGrad } from './sparse/merge.js';
export { EmbeddingTable } from './model/embedding.js';
export { createModel, initDense, MODEL_NAMES } from './model/registry.js';
export { GradientComputer } from './model/step.js';
export type { CtrModel, ModelConfig } from './model/types.js';
export { loadData, type DataOptions } from './data/load.js';
export type { LoadedData, EncodedData } from './data/types.js';
export { auc, logloss } from './metrics/auc.js';
export { selectBackend, type BackendName } from './backend/select.js';
export type { Communicator } from './comm/communicator.js';
export { LocalCommunicator } from './comm/local.js';
export { loadCheckpoint } from './train/checkpoint.js';
