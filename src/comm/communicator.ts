/**
 * The collective-communication interface the trainer uses, like torch.distributed's ProcessGroup. Models never
 * see it; the trainer calls it to synchronise gradients, counts and checkpoints across ranks.
 */

export type CollectiveKind = 'allreduce' | 'allgatherv' | 'broadcast' | 'barrier' | 'alltoallv';
/** The index of a kind is on the wire (message headers): append new kinds, never reorder. */
export const COLLECTIVE_KINDS: readonly CollectiveKind[] = ['allreduce', 'allgatherv', 'broadcast', 'barrier', 'alltoallv'];

export type ReduceOp = 'sum' | 'mean';

/** Lanes a group may use (see Communicator.lane): few, so a peer's header cannot make a rank allocate. */
export const MAX_LANES = 8;

/** Traffic of one collective kind, so reports can split dense (allreduce) from sparse (allgatherv) bytes. */
export interface KindStats {
  calls: number;
  /** Bytes this rank put on the wire (payload and headers). */
  bytesSent: number;
  bytesReceived: number;
  /** Wall time spent inside calls of this kind, waiting included. */
  seconds: number;
}

export interface CommStats {
  bytesSent: number;
  bytesReceived: number;
  byKind: Record<CollectiveKind, KindStats>;
  /**
   * Bytes by lane. A lane runs one collective at a time, so the change of its counter over a call awaited alone
   * on the lane is that call's traffic, whatever runs on other lanes meanwhile (src/sync/meter.ts counts so).
   */
  byLane: { bytesSent: number; bytesReceived: number }[];
}

export interface Communicator {
  readonly rank: number;
  readonly size: number;
  /** Reduces `buf` element-wise across ranks in place; every rank ends with bit-identical contents. */
  allreduce(buf: Float32Array, op: ReduceOp): Promise<void>;
  /** Every rank's payload (lengths may differ, empty allowed), index = rank; entry `rank` is `payload` itself. */
  allgatherv(payload: Uint8Array): Promise<Uint8Array[]>;
  /**
   * Personalised exchange: `parts[r]` goes to rank r (one part per rank; lengths may differ, empty allowed).
   * Returns what each rank sent this one, index = sender; entry `rank` is `parts[rank]` itself.
   */
  alltoallv(parts: Uint8Array[]): Promise<Uint8Array[]>;
  /** Returns root's `buf` on every rank (root gets `buf` itself); other ranks' `buf` is ignored. */
  broadcast(buf: Uint8Array, root: number): Promise<Uint8Array>;
  barrier(): Promise<void>;
  /**
   * This group on lane `id` (0 = the lane the group starts on; at most MAX_LANES). Each lane runs its
   * collectives one at a time, in call order; collectives on different lanes run concurrently over the same
   * connections, like two NCCL communicators on two streams. So a strategy can all-gather sparse rows while
   * its dense all-reduce travels. Every rank must issue the same collectives, in the same order, on each lane.
   * Lanes share `stats` (which also splits bytes by lane); closing any lane closes the group.
   */
  lane(id: number): Communicator;
  /** Live counters, updated by every call. */
  readonly stats: CommStats;
  /**
   * Says farewell and closes. With `reason` (a rank being stopped), peers still waiting in a collective fail
   * with that reason rather than taking the early close for ranks that ran different numbers of steps.
   */
  close(reason?: string): Promise<void>;
}

export function createStats(): CommStats {
  const byKind = {} as Record<CollectiveKind, KindStats>;
  for (const kind of COLLECTIVE_KINDS) byKind[kind] = { calls: 0, bytesSent: 0, bytesReceived: 0, seconds: 0 };
  const byLane = Array.from({ length: MAX_LANES }, () => ({ bytesSent: 0, bytesReceived: 0 }));
  return { bytesSent: 0, bytesReceived: 0, byKind, byLane };
}

/** Counts bytes of a collective's message: in the totals, its kind's and its lane's. */
export function countSent(stats: CommStats, op: { kind: CollectiveKind; lane: number }, bytes: number): void {
  stats.bytesSent += bytes;
  stats.byKind[op.kind].bytesSent += bytes;
  stats.byLane[op.lane].bytesSent += bytes;
}

export function countReceived(stats: CommStats, op: { kind: CollectiveKind; lane: number }, bytes: number): void {
  stats.bytesReceived += bytes;
  stats.byKind[op.kind].bytesReceived += bytes;
  stats.byLane[op.lane].bytesReceived += bytes;
}

/** Runtime check for callers outside TypeScript: a typo like 'avg' must not silently sum. */
export function checkReduceOp(op: string): asserts op is ReduceOp {
  if (op !== 'sum' && op !== 'mean') throw new TypeError(`allreduce op must be 'sum' or 'mean', got '${op}'`);
}

export function checkLane(id: number): void {
  if (!Number.isInteger(id) || id < 0 || id >= MAX_LANES) throw new RangeError(`lane ${id} is not a lane (0..${MAX_LANES - 1})`);
}

export function checkParts(parts: readonly Uint8Array[], size: number): void {
  if (parts.length !== size) throw new RangeError(`alltoallv needs one part per rank: got ${parts.length} parts for ${size} ranks`);
}

export function checkRoot(root: number, size: number): void {
  if (!Number.isInteger(root) || root < 0 || root >= size) {
    throw new RangeError(`broadcast root ${root} is not a rank of this group (size ${size})`);
  }
}
