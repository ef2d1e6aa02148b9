/**
 * Learning-rate / L2 scaling rules for a global batch B relative to a base batch (1024), as compared in
 * the CowClip paper (k = B / base):
 *   none:    as given
 *   linear:  dense and embedding lr x k
 *   sqrt:    dense and embedding lr x sqrt(k)
 *   cowclip: embedding lr fixed, embedding L2 x k, dense lr x sqrt(k), dense warmup 1 epoch by default
 */
import { UserError } from '../util/errors.js';

export const SCALING_RULES = ['none', 'linear', 'sqrt', 'cowclip'] as const;
export type ScalingRule = (typeof SCALING_RULES)[number];

export interface HyperInput {
  rule: string;
  globalBatch: number;
  /** Batch the base values were tuned for (1024 in the paper). */
  baseBatch?: number;
  /** Dense learning rate at the base batch. */
  lr: number;
  /** Embedding learning rate at the base batch. */
  lrEmbed: number;
  /** Embedding L2 lambda at the base batch. */
  l2: number;
  /** Dense warmup steps; default 0, or one epoch under the cowclip rule. */
  warmupSteps?: number;
  stepsPerEpoch: number;
}

export interface Hyper {
  lrDense: number;
  lrEmbed: number;
  l2: number;
  warmupSteps: number;
}

export function resolveHyper(h: HyperInput): Hyper {
  const base = h.baseBatch ?? 1024;
  if (!(h.globalBatch > 0) || !(base > 0)) throw new UserError(`batch sizes must be > 0 (global ${h.globalBatch}, base ${base})`);
  if (h.warmupSteps !== undefined && !(Number.isInteger(h.warmupSteps) && h.warmupSteps >= 0)) {
    throw new UserError(`warmup steps must be a non-negative integer, got ${h.warmupSteps}`);
  }
  const k = h.globalBatch / base;
  const warmup = h.warmupSteps ?? 0;
  switch (h.rule) {
    case 'none':
      return { lrDense: h.lr, lrEmbed: h.lrEmbed, l2: h.l2, warmupSteps: warmup };
    case 'linear':
      return { lrDense: h.lr * k, lrEmbed: h.lrEmbed * k, l2: h.l2, warmupSteps: warmup };
    case 'sqrt':
      return { lrDense: h.lr * Math.sqrt(k), lrEmbed: h.lrEmbed * Math.sqrt(k), l2: h.l2, warmupSteps: warmup };
    case 'cowclip':
      if (h.warmupSteps === undefined && !(Number.isInteger(h.stepsPerEpoch) && h.stepsPerEpoch >= 0)) {
        throw new UserError(`steps per epoch must be a non-negative integer, got ${h.stepsPerEpoch}`);
      }
      return { lrDense: h.lr * Math.sqrt(k), lrEmbed: h.lrEmbed, l2: h.l2 * k, warmupSteps: h.warmupSteps ?? h.stepsPerEpoch };
    default:
      throw new UserError(`unknown scaling rule "${h.rule}"; valid rules: ${SCALING_RULES.join(', ')}`);
  }
}

/** Dense lr of step (0-based): linear warmup from lr/warmup to lr over warmupSteps, then constant. */
export function denseLrAt(hyper: Hyper, step: number): number {
  if (hyper.warmupSteps <= 0 || step >= hyper.warmupSteps) return hyper.lrDense;
  return (hyper.lrDense * (step + 1)) / hyper.warmupSteps;
}
