import type { Communicator } from '../comm/communicator.js';

/** What a collective's bytes carried: dense-weight gradients/parameters, or embedding rows (and their ids). */
export type Traffic = 'dense' | 'sparse';

/**
 * The communicator's lanes as a step uses them: dense gradients on one, embedding rows on another (so an
 * all-gather travels beside the all-reduce), and the trainer's own (the ranks' meeting: loss, update figures) on a third.
 */
export const LANES = { dense: 0, sparse: 1, control: 2 } as const;

/**
 * A strategy's account of its collectives: bytes this rank sent, split by what they carried (the collective
 * kind does not say: the `dense` strategy all-reduces embedding tables), and the seconds spent waiting.
 *
 * A call's bytes are the change of its lane's counter between the call and its completion. A lane runs one
 * collective at a time, so this is exact as long as the strategy does not call on a lane where an earlier call of
 * its own is still in flight (true of every strategy here); other lanes' traffic, the trainer's loss
 * reduction included, never lands in it.
 */
export class Meter {
  readonly bytes: Record<Traffic, number> = { dense: 0, sparse: 0 };
  /** Seconds spent awaiting collectives (a started, overlapped one counts only while awaited). */
  seconds = 0;
  /** Bytes this rank moved outside the communicator (parameter-server traffic), whole run, frames included. */
  readonly direct = { sent: 0, received: 0 };

  constructor(readonly comm: Communicator) {}

  /** Starts a collective on `lane` without waiting for it. */
  start<T>(traffic: Traffic, lane: number, call: (comm: Communicator) => Promise<T>): Promise<T> {
    const counter = this.comm.stats.byLane[lane];
    const before = counter.bytesSent;
    return call(this.comm.lane(lane)).then((v) => {
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
  run<T>(traffic: Traffic, lane: number, call: (comm: Communicator) => Promise<T>): Promise<T> {
    return this.wait(this.start(traffic, lane, call));
  }

  /** An all-reduce on the dense lane. */
  allreduce(traffic: Traffic, buf: Float32Array, op: 'sum' | 'mean' = 'sum'): Promise<void> {
    return this.run(traffic, LANES.dense, (c) => c.allreduce(buf, op));
  }
}
