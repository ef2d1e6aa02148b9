import { UserError } from '../util/errors.js';
import { DCN } from './dcn.js';
import { DCNv2 } from './dcnv2.js';
import { DeepFM } from './deepfm.js';
import type { CtrModel, ModelConfig } from './types.js';
import { WideDeep } from './wd.js';

export { initDense } from './layers.js';

export const MODEL_NAMES = ['deepfm', 'wd', 'dcn', 'dcnv2'] as const;
export type ModelName = (typeof MODEL_NAMES)[number];

/** The reference architecture (CowClip paper): DNN 400-400-400, 3 cross layers, rank 32, 4 experts. */
export const DEFAULT_ARCH: Pick<ModelConfig, 'mlp' | 'crossLayers' | 'lowRank' | 'experts'> = {
  mlp: [400, 400, 400],
  crossLayers: 3,
  lowRank: 32,
  experts: 4,
};

const CONSTRUCTORS: Record<ModelName, new (config: ModelConfig) => CtrModel> = {
  deepfm: DeepFM,
  wd: WideDeep,
  dcn: DCN,
  dcnv2: DCNv2,
};

function checkConfig(config: ModelConfig): void {
  const positive: [string, number][] = [
    ['numFields', config.numFields],
    ['embedDim', config.embedDim],
    ['crossLayers', config.crossLayers],
    ['lowRank', config.lowRank],
    ['experts', config.experts],
    ...config.mlp.map((h, i): [string, number] => [`mlp[${i}]`, h]),
  ];
  for (const [key, v] of positive) {
    if (!Number.isInteger(v) || v < 1) throw new UserError(`model config: ${key} must be a positive integer, got ${v}`);
  }
  if (!Number.isInteger(config.numNumeric) || config.numNumeric < 0) {
    throw new UserError(`model config: numNumeric must be a non-negative integer, got ${config.numNumeric}`);
  }
}

export function isModelName(name: string): name is ModelName {
  return (MODEL_NAMES as readonly string[]).includes(name);
}

/** Builds a model by name; UserError for unknown names or a malformed config. */
export function createModel(name: string, config: ModelConfig): CtrModel {
  if (!isModelName(name)) throw new UserError(`unknown model "${name}"; valid models: ${MODEL_NAMES.join(', ')}`);
  checkConfig(config);
  return new CONSTRUCTORS[name](config);
}
