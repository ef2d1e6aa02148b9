import type { CollectiveKind, Communicator } from '../comm/communicator.js';

/** What a collective's bytes carried: dense-weight gradients/parameters, or embedding rows (and their ids). */
export type Traffic = 'dense' | 'sparse';

/**
 * A strategy's account of its collectives: bytes this rank sent, split by what they carried (the collective
 * kind does not say: the `dense` strategy all-reduces embedding tables), and the seconds spent waiting.
 *
 * Bytes are the change of the communicator's counter for the call's kind between the call and its completion.
 * Lanes run concurrently, so this is exact as long as no other collective of the same kind is in flight
 * meanwhile (true of every strategy here: the sparse lane carries all-gathers or all-to-alls, the dense lane all-reduces).
 */
export class Meter {
  readonly bytes: Record<Traffic, number> = { dense: 0, sparse: 0 };
  /** Seconds spent awaiting collectives (a started, overlapped one counts only while awaited). */
  seconds = 0;
  /** Bytes this rank moved outside the communicator (parameter-server traffic), whole run, frames included. */
  readonly direct = { sent: 0, received: 0 };

  constructor(readonly comm: Communicator) {}

  /** Starts a collective without waiting for it. */
  start<T>(traffic: Traffic, kind: CollectiveKind, call: (comm: Communicator) => Promise<T>): Promise<T> {
    const counter = this.comm.stats.byKind[kind];
    const before = counter.bytesSent;
    return call(this.comm).then((v) => {
      this.bytes[traffic] += counter.bytesSent - before;
      return v;
    });
  }

  /** Waits for a started collective, counting the wait. */
  async wait<T>(pending: Promise<T>): Promise<T> {
    const t = performance.now();
    try {
      return await pending;
    } finally {
      this.seconds += (performance.now() - t) / 1000;
    }
  }

  /** Runs one collective to completion. */
  run<T>(traffic: Traffic, kind: CollectiveKind, call: (comm: Communicator) => Promise<T>): Promise<T> {
    return this.wait(this.start(traffic, kind, call));
  }

  allreduce(traffic: Traffic, buf: Float32Array, op: 'sum' | 'mean' = 'sum'): Promise<void> {
    return this.run(traffic, 'allreduce', (c) => c.allreduce(buf, op));
  }
}
