import { createHash } from 'node:crypto';
import type { Communicator } from '../comm/communicator.js';
import type { Replica } from '../replica/replica.js';
import { replicaTensors } from './checkpoint.js';

const DIGEST_BYTES = 8;

/** Thrown when replicas that must be identical are not; names the step, tensors and ranks. */
export class ReplicaDriftError extends Error {
  override name = 'ReplicaDriftError';
}

/**
 * Replica-drift guard: every rank digests each tensor (parameters and optimizer state), the digests are
 * all-gathered, and any tensor whose digest differs from rank 0's stops the job, naming it and the ranks.
 */
export async function checkReplicas(rep: Replica, comm: Communicator, step: number): Promise<void> {
  if (comm.size === 1) return;
  const tensors = replicaTensors(rep);
  const mine = new Uint8Array(tensors.length * DIGEST_BYTES);
  tensors.forEach((t, i) => {
    const digest = createHash('sha256').update(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength)).digest();
    mine.set(digest.subarray(0, DIGEST_BYTES), i * DIGEST_BYTES);
  });
  const all = await comm.allgatherv(mine);
  const problems: string[] = [];
  tensors.forEach((t, i) => {
    const ref = all[0].subarray(i * DIGEST_BYTES, (i + 1) * DIGEST_BYTES);
    const ranks = all.flatMap((d, r) => (Buffer.compare(d.subarray(i * DIGEST_BYTES, (i + 1) * DIGEST_BYTES), ref) === 0 ? [] : [r]));
    if (ranks.length) problems.push(`${t.name} differs on rank(s) ${ranks.join(', ')} from rank 0`);
  });
  if (problems.length) throw new ReplicaDriftError(`replica drift at step ${step}: ${problems.join('; ')}`);
}
