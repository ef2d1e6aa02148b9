/**
 * A replica: one rank's copy of the model's parameters and their optimizer state, as plain Float32Arrays,
 * and how it is built from the flags and the data's sizes. Its own module, below the trainer, the sync
 * strategies, the parameter servers and checkpoints, which all hold one.
 */
import { traitsOf } from '../config/strategies.js';
import type { TrainConfig } from '../config/train-config.js';
import type { LoadedData } from '../data/types.js';
import { EmbeddingTable } from '../model/embedding.js';
import { createModel, initDense } from '../model/registry.js';
import type { CtrModel } from '../model/types.js';
import { EmbeddingUpdater } from '../optim/embed-update.js';
import { createOptimizer, type Optimizer } from '../optim/optimizer.js';
import { describeScaling, resolveHyper, type Hyper, type HyperInput } from '../optim/schedule.js';
import { Rng } from '../util/rng.js';

/** Everything a replica holds: the parameters and their optimizer state, all plain Float32Arrays. */
export interface Replica {
  model: CtrModel;
  dense: Float32Array;
  denseOpt: Optimizer;
  field: EmbeddingTable;
  first: EmbeddingTable;
  embed: EmbeddingUpdater;
  hyper: Hyper;
  step: number;
}

/** The sizes a replica is built from: the data's, without the data (a parameter server has none). */
export interface ReplicaShape {
  numFields: number;
  numNumeric: number;
  /** Rows of the concatenated embedding table. */
  totalRows: number;
  trainRows: number;
}

export function shapeOf(data: LoadedData): ReplicaShape {
  return { numFields: data.train.numCategorical, numNumeric: data.train.numNumeric, totalRows: data.totalRows, trainRows: data.train.rows };
}

/** The learning rates, L2 and warmup as the flags give them, with what the scaling rule needs to scale them. */
function hyperInput(cfg: TrainConfig, shape: ReplicaShape): HyperInput {
  const stepsPerEpoch = Math.ceil(shape.trainRows / cfg.globalBatch);
  return { rule: cfg.scaleRule, globalBatch: cfg.globalBatch, baseBatch: cfg.baseBatch, lr: cfg.lr, lrEmbed: cfg.lrEmbed, l2: cfg.l2, warmupSteps: cfg.warmupSteps, stepsPerEpoch };
}

/** The line rank 0 prints when --scale-rule changed a flag's value for this global batch; null when it changed none. */
export const scalingNote = (cfg: TrainConfig, shape: ReplicaShape): string | null => describeScaling(hyperInput(cfg, shape));

export function buildReplica(cfg: TrainConfig, shape: ReplicaShape): Replica {
  const model = createModel(cfg.model, {
    numFields: shape.numFields,
    numNumeric: shape.numNumeric,
    embedDim: cfg.embedDim,
    mlp: cfg.mlp,
    crossLayers: cfg.crossLayers,
    lowRank: cfg.lowRank,
    experts: cfg.experts,
  });
  // Every rank draws the same initial values from the seed: replicas start identical without a broadcast.
  const dense = initDense(model, new Rng(cfg.seed, 1));
  const field = EmbeddingTable.normal(shape.totalRows, cfg.embedDim, cfg.embedInitStd, new Rng(cfg.seed, 2));
  const first = new EmbeddingTable(shape.totalRows, 1);
  const hyper = resolveHyper(hyperInput(cfg, shape));
  const embed = new EmbeddingUpdater(field, first, {
    mode: cfg.embedUpdate,
    lr: hyper.lrEmbed,
    lambda: hyper.l2,
    // A strategy that clips with local counts before the exchange leaves the update nothing to clip.
    clip: cfg.cowclip && traitsOf(cfg.sync).clips !== 'local',
    ratio: cfg.cowclipRatio,
    zeta: cfg.cowclipZeta,
    form: cfg.cowclipForm,
    gamma: cfg.cowclipGamma,
    optimizer: cfg.optimizerEmbed ?? cfg.optimizer,
  });
  return { model, dense, denseOpt: createOptimizer(cfg.optimizer, model.numDense), field, first, embed, hyper, step: 0 };
}

