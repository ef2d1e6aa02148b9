/**
 * bench/soak.ts's plan: the sequence of (kind, size, root) every rank draws from the seed, so that all ranks
 * issue identical collectives, and its totals.
 */
import { Rng } from '../src/util/rng.js';

export const SOAK_KINDS = ['allreduce-sum', 'allreduce-mean', 'allgatherv', 'alltoallv', 'broadcast', 'barrier'] as const;
export type SoakKind = (typeof SOAK_KINDS)[number];
/** Cumulative thresholds for the kinds above: 20%, 15%, 20%, 20%, 15%, 10%. */
const KIND_CDF = [0.2, 0.35, 0.55, 0.75, 0.9, 1];

/** One collective of the plan, identical on every rank. */
export interface PlannedOp {
  index: number;
  kind: SoakKind;
  /**
   * Bytes each rank holds as the result: the buffer (allreduce, broadcast), all payloads (allgatherv), or the
   * parts it receives (alltoallv: the mean over ranks, rounded).
   */
  bytes: number;
  /** allgatherv: each rank's payload length; alltoallv: the length of rank s's part for rank d at s * ranks + d. */
  lengths?: number[];
  /** broadcast: the root. */
  root?: number;
}

/** Log-uniform in [0, max] (0 has probability ln 2 / ln(max + 1)). */
function logUniform(rng: Rng, max: number): number {
  return Math.min(max, Math.floor(Math.exp(rng.next() * Math.log(max + 1))) - 1);
}

/** The ops of the plan, in order: the same on every rank and in the parent for a given seed. */
export function* plan(seed: number, ops: number, ranks: number, maxSize: number): Generator<PlannedOp> {
  const rng = new Rng(seed, 0x50a4);
  for (let index = 0; index < ops; index++) {
    const u = rng.next();
    const kind = SOAK_KINDS[KIND_CDF.findIndex((c) => u < c)];
    switch (kind) {
      case 'allreduce-sum':
      case 'allreduce-mean':
        yield { index, kind, bytes: logUniform(rng, maxSize) & ~3 };
        break;
      case 'allgatherv': {
        const lengths = Array.from({ length: ranks }, () => logUniform(rng, Math.floor(maxSize / ranks)));
        yield { index, kind, bytes: lengths.reduce((a, b) => a + b, 0), lengths };
        break;
      }
      case 'alltoallv': {
        const lengths = Array.from({ length: ranks * ranks }, () => logUniform(rng, Math.floor(maxSize / ranks)));
        yield { index, kind, bytes: Math.round(lengths.reduce((a, b) => a + b, 0) / ranks), lengths };
        break;
      }
      case 'broadcast':
        yield { index, kind, bytes: logUniform(rng, maxSize), root: rng.int(ranks) };
        break;
      case 'barrier':
        yield { index, kind, bytes: 0 };
        break;
    }
  }
}

/** Ops per kind and bytes of results per rank over the whole plan: what the ranks' own counters must match. */
export function planTotals(seed: number, ops: number, ranks: number, maxSize: number): { kinds: Record<SoakKind, number>; payloadBytes: number } {
  const kinds = Object.fromEntries(SOAK_KINDS.map((k) => [k, 0])) as Record<SoakKind, number>;
  let payloadBytes = 0;
  for (const op of plan(seed, ops, ranks, maxSize)) {
    kinds[op.kind]++;
    payloadBytes += op.bytes;
  }
  return { kinds, payloadBytes };
}

/** The bytes `rank` receives in `op` (what a corruption can alter). */
export function received(op: PlannedOp, rank: number, ranks: number): number {
  return op.kind === 'alltoallv' ? op.lengths!.reduce((a, len, i) => a + (i % ranks === rank ? len : 0), 0) : op.bytes;
}

export function describeOp(op: PlannedOp): string {
  const parts = [`${op.bytes} B`];
  if (op.kind.startsWith('allreduce')) parts.push(`${op.bytes / 4} float32`);
  if (op.lengths) parts.push(`${op.kind === 'alltoallv' ? 'parts' : 'payloads'} ${op.lengths.join('/')} B`);
  if (op.root !== undefined) parts.push(`root ${op.root}`);
  return `${op.kind}, ${parts.join(', ')}`;
}
