import { checkLane, checkParts, checkReduceOp, checkRoot, createStats, type Communicator, type CollectiveKind, type ReduceOp } from './communicator.js';

/** World size 1: every collective is the identity and moves zero bytes, so the trainer needs no special case. */
export class LocalCommunicator implements Communicator {
  readonly rank = 0;
  readonly size = 1;
  readonly stats = createStats();

  async allreduce(_buf: Float32Array, op: ReduceOp): Promise<void> {
    checkReduceOp(op); // sum and mean over one rank leave buf as it is
    this.count('allreduce');
  }

  async allgatherv(payload: Uint8Array): Promise<Uint8Array[]> {
    this.count('allgatherv');
    return [payload];
  }

  async alltoallv(parts: Uint8Array[]): Promise<Uint8Array[]> {
    checkParts(parts, this.size);
    this.count('alltoallv');
    return [parts[0]];
  }

  async broadcast(buf: Uint8Array, root: number): Promise<Uint8Array> {
    checkRoot(root, this.size);
    this.count('broadcast');
    return buf;
  }

  async barrier(): Promise<void> {
    this.count('barrier');
  }

  /** One rank has nothing to wait for, so every lane is this communicator. */
  lane(id: number): Communicator {
    checkLane(id);
    return this;
  }

  async close(_reason?: string): Promise<void> {}

  private count(kind: CollectiveKind): void {
    this.stats.byKind[kind].calls++;
  }
}
