/**
 * Learning-rate / L2 scaling rules for a global batch B relative to a base batch (1024), as compared in
 * the CowClip paper (k = B / base):
 *   none:    as given
 *   linear:  dense and embedding lr x k
 *   sqrt:    dense and embedding lr x sqrt(k)
 *   cowclip: embedding lr fixed, embedding L2 x k, dense lr x sqrt(k), and when scaling up (k > 1) a dense
 *            warmup of 1 epoch by default
 * At k = 1 every rule keeps the values as given. `describeScaling` says in one line what a rule changed.
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
  /** Dense warmup steps; default 0, or one epoch under the cowclip rule when k > 1. */
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
      // Warmup guards the larger dense lr of a larger batch; a batch at or below the base one needs none.
      return { lrDense: h.lr * Math.sqrt(k), lrEmbed: h.lrEmbed, l2: h.l2 * k, warmupSteps: h.warmupSteps ?? (k > 1 ? h.stepsPerEpoch : 0) };
    default:
      throw new UserError(`unknown scaling rule "${h.rule}"; valid rules: ${SCALING_RULES.join(', ')}`);
  }
}

/** 1.0e-3, 1.41e-3, 2.5e-6: three significant digits at most, one decimal at least. */
const sci = (x: number): string => (x === 0 ? '0' : x.toExponential(2).replace(/(\.\d)0e/, '$1e'));

/**
 * The one line that says which values the scaling rule changed from those given (flags or their defaults),
 * e.g. `scale-rule cowclip: global batch 256 = 0.25 x base batch 1024: lr 1.0e-3 -> 5.0e-4, l2 1.0e-5 -> 2.5e-6
 * (--scale-rule none keeps the flags as given)`; null when it changed nothing (k = 1, rule none, zero values).
 */
export function describeScaling(h: HyperInput, hyper: Hyper = resolveHyper(h)): string | null {
  const base = h.baseBatch ?? 1024;
  const values: [string, number, number][] = [
    ['lr', h.lr, hyper.lrDense],
    ['lr-embed', h.lrEmbed, hyper.lrEmbed],
    ['l2', h.l2, hyper.l2],
  ];
  const changes = values.filter(([, from, to]) => from !== to).map(([name, from, to]) => `${name} ${sci(from)} -> ${sci(to)}`);
  const warmup = h.warmupSteps ?? 0;
  if (hyper.warmupSteps !== warmup) changes.push(`warmup ${warmup} -> ${hyper.warmupSteps} steps`);
  if (!changes.length) return null;
  const k = Number((h.globalBatch / base).toPrecision(3));
  return `scale-rule ${h.rule}: global batch ${h.globalBatch} = ${k} x base batch ${base}: ${changes.join(', ')} (--scale-rule none keeps the flags as given)`;
}

/** Dense lr of step (0-based): linear warmup from lr/warmup to lr over warmupSteps, then constant. */
export function denseLrAt(hyper: Hyper, step: number): number {
  if (hyper.warmupSteps <= 0 || step >= hyper.warmupSteps) return hyper.lrDense;
  return (hyper.lrDense * (step + 1)) / hyper.warmupSteps;
}
