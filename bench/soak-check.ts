/**
 * bench/soak.ts's checker: one planned op run on this rank with contents that are a hash of (op index, rank,
 * element), and its result compared element by element with what every rank put in. Allreduce values are
 * integers in [-128, 127], so sums are exact in float32 and the mean is exactly fround(sum / N); the byte
 * contents catch a chunk at the wrong offset, from the wrong rank or from an earlier op.
 */
import type { Communicator } from '../src/comm/index.js';
import type { PlannedOp } from './soak-plan.js';

/** 32-bit hash of (op, rank): the seed of that rank's contents in that op. */
function contentSeed(op: number, rank: number): number {
  return mix(Math.imul(op + 1, 0x9e3779b1) ^ Math.imul(rank + 1, 0x85ebca77));
}

function mix(x: number): number {
  x = Math.imul(x ^ (x >>> 16), 0x7feb352d);
  x = Math.imul(x ^ (x >>> 15), 0x846ca68b);
  return (x ^ (x >>> 16)) >>> 0;
}

/** Allreduce input of element j: an integer in [-128, 127]. */
const floatAt = (seed: number, j: number): number => (mix((seed + j) | 0) & 255) - 128;
/** Allgatherv / broadcast byte j. */
const byteAt = (seed: number, j: number): number => mix((seed + j) | 0) >>> 24;

function fillFloats(buf: Float32Array, seed: number): void {
  for (let j = 0; j < buf.length; j++) buf[j] = floatAt(seed, j);
}

function fillBytes(buf: Uint8Array, seed: number): void {
  for (let j = 0; j < buf.length; j++) buf[j] = byteAt(seed, j);
}

/** A wrong result: where, what was expected and what came, and how many elements were wrong in all. */
interface Mismatch {
  where: string;
  expected: number | string;
  got: number | string;
  wrong: number;
  of: number;
}

function checkAllreduce(buf: Float32Array, op: number, ranks: number, mean: boolean): Mismatch | null {
  const seeds = Array.from({ length: ranks }, (_, r) => contentSeed(op, r));
  let first: Mismatch | null = null;
  let wrong = 0;
  for (let j = 0; j < buf.length; j++) {
    let sum = 0;
    for (let r = 0; r < ranks; r++) sum += floatAt(seeds[r], j);
    const expected = mean ? Math.fround(sum / ranks) : sum;
    if (buf[j] !== expected) {
      wrong++;
      first ??= { where: `element ${j}`, expected, got: buf[j], wrong: 0, of: buf.length };
    }
  }
  return first && { ...first, wrong };
}

function checkBytes(data: Uint8Array, expectedLength: number, seed: number, what: string): Mismatch | null {
  if (data.length !== expectedLength) {
    return { where: `${what} length`, expected: `${expectedLength} B`, got: `${data.length} B`, wrong: 1, of: 1 };
  }
  let first: Mismatch | null = null;
  let wrong = 0;
  for (let j = 0; j < data.length; j++) {
    const expected = byteAt(seed, j);
    if (data[j] !== expected) {
      wrong++;
      first ??= { where: `byte ${j} of ${what}`, expected, got: data[j], wrong: 0, of: data.length };
    }
  }
  return first && { ...first, wrong };
}

/** Runs one planned op on this rank and checks its result; `corrupt` alters the result first (for the test). */
export async function runOp(comm: Communicator, op: PlannedOp, corrupt: boolean): Promise<Mismatch | null> {
  const { rank, size } = comm;
  switch (op.kind) {
    case 'allreduce-sum':
    case 'allreduce-mean': {
      const buf = new Float32Array(op.bytes / 4);
      fillFloats(buf, contentSeed(op.index, rank));
      const mean = op.kind === 'allreduce-mean';
      await comm.allreduce(buf, mean ? 'mean' : 'sum');
      if (corrupt) buf[buf.length >> 1] += 1;
      return checkAllreduce(buf, op.index, size, mean);
    }
    case 'allgatherv': {
      const lengths = op.lengths!;
      const payload = new Uint8Array(lengths[rank]);
      fillBytes(payload, contentSeed(op.index, rank));
      const got = await comm.allgatherv(payload);
      if (got.length !== size) return { where: 'number of payloads', expected: size, got: got.length, wrong: 1, of: 1 };
      if (corrupt) alterOne(got, rank);
      for (let r = 0; r < size; r++) {
        const bad = checkBytes(got[r], lengths[r], contentSeed(op.index, r), `rank ${r}'s payload`);
        if (bad) return bad;
      }
      return null;
    }
    case 'alltoallv': {
      // Part (s, d) is seeded by its place in the matrix: a part delivered to the wrong rank is caught too.
      const lengths = op.lengths!;
      const parts = Array.from({ length: size }, (_, dst) => {
        const part = new Uint8Array(lengths[rank * size + dst]);
        fillBytes(part, contentSeed(op.index, rank * size + dst));
        return part;
      });
      const got = await comm.alltoallv(parts);
      if (got.length !== size) return { where: 'number of parts', expected: size, got: got.length, wrong: 1, of: 1 };
      if (corrupt) alterOne(got, rank);
      for (let src = 0; src < size; src++) {
        const bad = checkBytes(got[src], lengths[src * size + rank], contentSeed(op.index, src * size + rank), `rank ${src}'s part`);
        if (bad) return bad;
      }
      return null;
    }
    case 'broadcast': {
      const root = op.root!;
      // Non-roots pass a buffer of their own, which must be ignored.
      const buf = rank === root ? new Uint8Array(op.bytes) : new Uint8Array(16).fill(0xee);
      if (rank === root) fillBytes(buf, contentSeed(op.index, root));
      const got = await comm.broadcast(buf, root);
      if (corrupt) got[got.length >> 1] ^= 0x5a;
      return checkBytes(got, op.bytes, contentSeed(op.index, root), `root ${root}'s buffer`);
    }
    case 'barrier':
      await comm.barrier();
      return null;
  }
}

/** Alters one byte of a gathered result: another rank's data where there is some, else this rank's own. */
function alterOne(got: Uint8Array[], rank: number): void {
  const victim = [...got.keys()].find((r) => r !== rank && got[r].length > 0) ?? rank;
  got[victim][got[victim].length >> 1] ^= 0x5a;
}
