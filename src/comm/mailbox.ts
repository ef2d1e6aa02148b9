/**
 * Incoming data messages of one rank, queued per sender, and the checks that turn a desynchronised job into an
 * error naming both calls instead of a hang or garbage. Peers may run ahead (a broadcast receiver does not wait
 * for the others), so messages of later collectives wait here until this rank gets there.
 */
import { CollectiveError } from './errors.js';
import { describe, sameCall, type OpId } from './wire.js';

export interface Envelope {
  from: number;
  op: OpId;
  index: number;
  data: Buffer;
}

interface Waiter {
  resolve(env: Envelope): void;
  reject(err: Error): void;
}

export class Mailbox {
  private readonly queues: Envelope[][];
  private readonly waiters: (Waiter | undefined)[];
  /** Messages taken from each sender in the current collective, to catch a lost or reordered chunk. */
  private readonly taken: number[];
  /** Per sender: message index -> where the current collective wants that message's data. */
  private readonly posted: Map<number, Uint8Array>[];
  /** Per peer: the last collective before it closed its communicator. */
  private readonly closedAfter: (number | undefined)[];
  private current: OpId | null = null;
  private last: OpId | null = null;
  private failure: Error | null = null;

  constructor(private readonly rank: number, size: number) {
    this.queues = Array.from({ length: size }, () => []);
    this.waiters = new Array(size);
    this.taken = new Array(size).fill(0);
    this.posted = Array.from({ length: size }, () => new Map());
    this.closedAfter = new Array(size);
  }

  /** Enters collective `op`; returns the mismatch if a peer's queued message already contradicts it. */
  begin(op: OpId): CollectiveError | null {
    this.current = op;
    this.taken.fill(0);
    for (const p of this.posted) p.clear();
    for (const queue of this.queues) {
      const err = queue.length ? this.check(queue[0]) : null;
      if (err) return err;
    }
    return null;
  }

  end(): void {
    for (const p of this.posted) p.clear();
    this.last = this.current;
    this.current = null;
  }

  /** What a status query answers: the collective in progress, else the last one finished. */
  status(): { running: boolean; op: OpId | null } {
    return this.current ? { running: true, op: this.current } : { running: false, op: this.last };
  }

  /** Senders the current collective is blocked on. */
  waitingOn(): number[] {
    return this.waiters.flatMap((w, rank) => (w ? [rank] : []));
  }

  deliver(env: Envelope): CollectiveError | null {
    const err = this.check(env);
    if (err) return err;
    const waiter = this.waiters[env.from];
    if (waiter) {
      this.waiters[env.from] = undefined;
      try {
        waiter.resolve(this.accept(env));
      } catch (e) {
        waiter.reject(e as Error);
      }
    } else {
      this.queues[env.from].push(env);
    }
    return null;
  }

  /**
   * Asks for the data of message `index` from `src` in the current collective to be placed in `into`: read
   * there directly if it has not arrived yet and the transport can, else copied there when taken.
   */
  post(src: number, index: number, into: Uint8Array): void {
    this.posted[src].set(index, into);
  }

  /** The memory posted for an incoming message, if it belongs to the current collective and fits exactly. */
  destination(from: number, op: OpId, index: number, length: number): Buffer | null {
    const cur = this.current;
    if (!cur || op.seq !== cur.seq || !sameCall(cur, op)) return null;
    const into = this.posted[from]?.get(index);
    if (!into || into.byteLength !== length) return null;
    return Buffer.from(into.buffer, into.byteOffset, into.byteLength);
  }

  /** The next message from `src` for the current collective. */
  take(src: number): Promise<Envelope> {
    if (this.failure) return Promise.reject(this.failure);
    const queued = this.queues[src].shift();
    if (queued) {
      try {
        return Promise.resolve(this.accept(queued));
      } catch (e) {
        return Promise.reject(e);
      }
    }
    if (this.closedAfter[src] !== undefined) return Promise.reject(this.closedError(src));
    return new Promise((resolve, reject) => {
      this.waiters[src] = { resolve, reject };
    });
  }

  /** Records that `src` closed; returns an error if the current collective is waiting for it. */
  peerClosed(src: number, seq: number): CollectiveError | null {
    this.closedAfter[src] = seq;
    return this.waiters[src] ? this.closedError(src) : null;
  }

  /** Rejects every pending and future take. */
  fail(err: Error): void {
    this.failure ??= err;
    this.waiters.forEach((w, i) => {
      this.waiters[i] = undefined;
      w?.reject(this.failure!);
    });
  }

  /** A message contradicting what this rank called (or already finished) is a desync. */
  private check(env: Envelope): CollectiveError | null {
    const { seq } = env.op;
    const cur = this.current;
    if (cur && seq === cur.seq) return sameCall(cur, env.op) ? null : mismatch(seq, this.rank, cur, env.from, env.op);
    const at = cur?.seq ?? this.last?.seq ?? 0;
    if (seq > at) return null; // a collective this rank has not reached yet
    if (this.last && seq === this.last.seq && !sameCall(this.last, env.op)) return mismatch(seq, this.rank, this.last, env.from, env.op);
    return new CollectiveError(
      `collective #${seq} mismatch: rank ${env.from} sent data for ${describe(env.op)} but rank ${this.rank} ` +
        `had already finished that collective (it is at #${at})`,
    );
  }

  private accept(env: Envelope): Envelope {
    const op = this.current!;
    if (env.op.seq !== op.seq) {
      throw new CollectiveError(
        `collective #${op.seq} ${describe(op)}: rank ${env.from} moved on to #${env.op.seq} ${describe(env.op)} without ` +
          `sending rank ${this.rank} its part (did ranks pass different arguments?)`,
      );
    }
    if (env.index !== this.taken[env.from]++) {
      throw new CollectiveError(`collective #${op.seq} ${describe(op)}: message ${env.index} from rank ${env.from} arrived out of order (connection lost?)`);
    }
    const into = this.posted[env.from].get(env.index);
    if (!into) return env;
    const { data } = env;
    if (data.byteLength !== into.byteLength) {
      throw new CollectiveError(`collective #${op.seq} ${describe(op)}: message ${env.index} from rank ${env.from} has ${data.byteLength} bytes, expected ${into.byteLength} (communication protocol error)`);
    }
    if (data.buffer !== into.buffer || data.byteOffset !== into.byteOffset) into.set(data); // arrived before it was posted
    return { ...env, data: Buffer.from(into.buffer, into.byteOffset, into.byteLength) };
  }

  private closedError(src: number): CollectiveError {
    const op = this.current!;
    return new CollectiveError(
      `rank ${src} closed its communicator after collective #${this.closedAfter[src]}${op.lane ? ` of lane ${op.lane}` : ''}, but rank ${this.rank} ` +
        `waits for it in collective #${op.seq} ${describe(op)} (did ranks run different numbers of steps?)`,
    );
  }
}

function mismatch(seq: number, rankA: number, a: OpId, rankB: number, b: OpId): CollectiveError {
  const [first, second] = rankA < rankB ? [[rankA, a], [rankB, b]] as const : [[rankB, b], [rankA, a]] as const;
  return new CollectiveError(
    `collective #${seq} mismatch: rank ${first[0]} called ${describe(first[1])} but rank ${second[0]} called ${describe(second[1])}`,
  );
}
