/**
 * A Communicator over any Transport: numbers the collectives of each lane, runs a lane's collectives one at a
 * time in call order (lanes run concurrently), checks every message against what this rank called, and turns
 * desyncs, timeouts and vanished peers into one CollectiveError that reaches every rank (like NCCL's
 * communicator abort) instead of a hang.
 */
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  checkLane,
  checkParts,
  checkReduceOp,
  checkRoot,
  countReceived,
  countSent,
  createStats,
  MAX_LANES,
  type CollectiveKind,
  type CommStats,
  type Communicator,
  type ReduceOp,
} from './communicator.js';
import { CollectiveError } from './errors.js';
import { Mailbox, type Envelope } from './mailbox.js';
import { allgatherv } from './ops/allgatherv.js';
import { alltoallv } from './ops/alltoallv.js';
import { ringAllreduce } from './ops/allreduce.js';
import { barrier } from './ops/barrier.js';
import { broadcast } from './ops/broadcast.js';
import type { OpContext } from './ops/context.js';
import type { Transport } from './transport.js';
import { decode, describe, encode, type Message, type OpId } from './wire.js';

export interface PeerCommunicatorOptions {
  /** A collective not finished after this long fails on this rank, naming the ranks that did not arrive. */
  collectiveTimeoutMs: number;
  /** A collective still running after this long logs a warning naming them (default: a quarter of the timeout, at most 60 s). */
  stallWarningMs?: number;
  /** Where stall warnings go; default stderr. */
  warn?: (line: string) => void;
}

/** How long a timed-out rank waits for peers to say which collective they are in. */
const STATUS_WAIT_MS = 2000;
/** How long close() waits for the other ranks' farewells. */
const CLOSE_WAIT_MS = 1000;
const EMPTY = Buffer.alloc(0);

type Status = Extract<Message, { type: 'status' }>;

/** Status queries of different lanes may be out at once. */
const replyKey = (peer: number, lane: number): number => peer * MAX_LANES + lane;

/** The group's lane 0, after a rendezvous gave every rank the same ring. */
export function peerCommunicator(
  rank: number,
  size: number,
  ring: readonly number[],
  transport: Transport,
  options: PeerCommunicatorOptions,
): Communicator {
  return new PeerGroup(rank, size, ring, transport, options).lane(0);
}

/** One lane of a group: what its collectives use, one collective at a time. */
class Lane implements Communicator {
  readonly mailbox: Mailbox;
  /** Seq of the last collective called on this lane (the first one is #1). */
  issued = 0;
  queue: Promise<unknown> = Promise.resolve();
  /** OpContext.scratch of the lane's running collective. */
  scratch = new Uint8Array(0);

  constructor(
    private readonly group: PeerGroup,
    readonly id: number,
  ) {
    this.mailbox = new Mailbox(group.rank, group.size);
  }

  get rank(): number {
    return this.group.rank;
  }

  get size(): number {
    return this.group.size;
  }

  get stats(): CommStats {
    return this.group.stats;
  }

  allreduce(buf: Float32Array, op: ReduceOp): Promise<void> {
    checkReduceOp(op);
    return this.group.run(this, 'allreduce', `len=${buf.length},${op}`, (ctx) => ringAllreduce(ctx, buf, op === 'mean'));
  }

  allgatherv(payload: Uint8Array): Promise<Uint8Array[]> {
    return this.group.run(this, 'allgatherv', '', (ctx) => allgatherv(ctx, payload));
  }

  /** No shape in the signature: the part count is the group size, and lengths may differ between ranks. */
  alltoallv(parts: Uint8Array[]): Promise<Uint8Array[]> {
    checkParts(parts, this.size);
    return this.group.run(this, 'alltoallv', '', (ctx) => alltoallv(ctx, parts));
  }

  broadcast(buf: Uint8Array, root: number): Promise<Uint8Array> {
    checkRoot(root, this.size);
    return this.group.run(this, 'broadcast', `root=${root}`, (ctx) => broadcast(ctx, buf, root));
  }

  barrier(): Promise<void> {
    return this.group.run(this, 'barrier', '', barrier);
  }

  lane(id: number): Communicator {
    return this.group.lane(id);
  }

  close(reason?: string): Promise<void> {
    return this.group.close(reason);
  }
}

class PeerGroup {
  readonly stats = createStats();
  /** Created on first use, here or by a peer's message, so a peer may start a lane before this rank does. */
  private readonly lanes: Lane[] = [];
  private readonly peers: number[];
  private failure: CollectiveError | null = null;
  private closed = false;
  private closing: Promise<void> | null = null;
  /** By replyKey. */
  private readonly statusReplies = new Map<number, (s: Status) => void>();
  /** Peers that closed or failed: they need nothing more from this rank. */
  private readonly finished = new Set<number>();
  /** Peers that closed normally: the last collective of each lane they called. */
  private readonly closedPeers = new Map<number, number[]>();
  private allFinished = (): void => undefined;

  constructor(
    readonly rank: number,
    readonly size: number,
    private readonly ring: readonly number[],
    private readonly transport: Transport,
    private readonly options: PeerCommunicatorOptions,
  ) {
    this.peers = Array.from({ length: size }, (_, r) => r).filter((r) => r !== rank);
    transport.listen({
      message: (header, data) => this.onMessage(header, data),
      error: (err) => this.fail(new CollectiveError(`rank ${rank}: receiving failed: ${err.message}`), true),
      destination: (header, length) => this.destination(header, length),
      malformed: (why) => this.malformed(why),
      lost: (from, err) => {
        if (this.finished.has(from) || this.closed) return; // it said farewell: a normal close
        const how = err ? `was lost (${err.message})` : 'closed without a farewell';
        this.fail(new CollectiveError(`rank ${rank}: the connection from rank ${from} ${how}: that rank died or was killed`), true);
      },
    });
  }

  lane(id: number): Lane {
    checkLane(id);
    let lane = this.lanes[id];
    if (!lane) {
      lane = this.lanes[id] = new Lane(this, id);
      if (this.failure) lane.mailbox.fail(this.failure);
      for (const [peer, seqs] of this.closedPeers) lane.mailbox.peerClosed(peer, seqs[id] ?? 0);
    }
    return lane;
  }

  close(reason?: string): Promise<void> {
    this.closing ??= this.shutdown(reason);
    return this.closing;
  }

  private async shutdown(reason?: string): Promise<void> {
    this.closed = true;
    // A failed or stopped rank says why: peers must learn the cause, not just that this rank went away.
    const why = this.failure?.message ?? reason;
    const farewell: Message = why
      ? { type: 'abort', from: this.rank, reason: why }
      : { type: 'closed', from: this.rank, seqs: Array.from(this.lanes, (l) => l?.mailbox.status().op?.seq ?? 0) };
    for (const peer of this.peers) this.post(peer, farewell);
    for (const lane of this.lanes) lane?.mailbox.fail(new CollectiveError(`rank ${this.rank}: the communicator is closed`));
    // Ranks usually close together: once a peer's farewell is in, messages still queued for it can be dropped
    // instead of holding up exit.
    if (this.finished.size < this.peers.length) {
      await Promise.race([new Promise<void>((resolve) => (this.allFinished = resolve)), sleep(CLOSE_WAIT_MS, undefined, { ref: false })]);
    }
    await this.transport.close(this.finished);
  }

  /** Seq numbers are taken at call time, so collectives issued without awaiting still run in call order. */
  run<T>(lane: Lane, kind: CollectiveKind, detail: string, body: (ctx: OpContext) => Promise<T>): Promise<T> {
    const op: OpId = { lane: lane.id, seq: ++lane.issued, kind, detail };
    const result = lane.queue.then(() => this.execute(lane, op, body));
    lane.queue = result.catch(() => undefined);
    return result;
  }

  private async execute<T>(lane: Lane, op: OpId, body: (ctx: OpContext) => Promise<T>): Promise<T> {
    if (this.failure) throw this.failure;
    if (this.closed) throw new CollectiveError(`rank ${this.rank}: collective #${op.seq} ${describe(op)} called after close()`);
    const started = performance.now();
    const kindStats = this.stats.byKind[op.kind];
    kindStats.calls++;
    const timer = setTimeout(() => void this.timedOut(lane, op), this.options.collectiveTimeoutMs);
    const { collectiveTimeoutMs, stallWarningMs = Math.min(collectiveTimeoutMs / 4, 60_000) } = this.options;
    // Only when there is time for it: its status query must be over before the timeout's own.
    const stall = stallWarningMs + STATUS_WAIT_MS < collectiveTimeoutMs ? setTimeout(() => void this.stalled(lane, op, stallWarningMs), stallWarningMs) : undefined;
    try {
      const early = lane.mailbox.begin(op);
      if (early) throw early;
      return await body(this.context(lane, op));
    } catch (err) {
      this.fail(err instanceof CollectiveError ? err : new CollectiveError(`rank ${this.rank}: ${(err as Error).message}`), true);
      throw this.failure;
    } finally {
      clearTimeout(timer);
      clearTimeout(stall);
      lane.mailbox.end();
      kindStats.seconds += (performance.now() - started) / 1000;
    }
  }

  private context(lane: Lane, op: OpId): OpContext {
    const sent = new Array<number>(this.size).fill(0);
    return {
      rank: this.rank,
      size: this.size,
      ring: this.ring,
      send: (dst, bytes) => {
        const data = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
        return this.post(dst, { type: 'data', from: this.rank, op, index: sent[dst]++ }, data);
      },
      take: (src) => lane.mailbox.take(src),
      receiveInto: (src, index, into) => lane.mailbox.post(src, index, into),
      scratch: (bytes) => {
        if (lane.scratch.byteLength < bytes) lane.scratch = new Uint8Array(bytes);
        return lane.scratch;
      },
    };
  }

  /** Memory a collective posted for this message (the header is decoded again, fully, in onMessage). */
  private destination(header: Buffer, length: number): Buffer | null {
    try {
      const msg = decode(header);
      return msg.type === 'data' ? this.lane(msg.op.lane).mailbox.destination(msg.from, msg.op, msg.index, length) : null;
    } catch {
      return null; // reported by onMessage
    }
  }

  /**
   * A message that cannot be sent fails the communicator (so callers need not handle it). Resolves once the
   * transport no longer reads `data`, or on failure.
   */
  private post(dst: number, msg: Message, data: Buffer = EMPTY): Promise<void> {
    const header = encode(msg);
    if (msg.type === 'data') countSent(this.stats, msg.op, header.length + data.length);
    return this.transport.send(dst, header, data).catch((err: NodeJS.ErrnoException) => {
      if (this.closed) return;
      // The peer's end went away before this rank noticed the close: the same cause as a lost connection.
      const gone = err.code === 'EPIPE' || err.code === 'ECONNRESET';
      const what = gone ? `the connection to rank ${dst} was lost (${err.message}): that rank died or was killed` : `sending to rank ${dst} failed: ${err.message}`;
      this.fail(new CollectiveError(`rank ${this.rank}: ${what}`), true);
    });
  }

  private onMessage(header: Buffer, data: Buffer): void {
    let msg: Message;
    try {
      msg = decode(header);
      if (msg.from >= this.size || msg.from === this.rank) throw new Error(`sender rank ${msg.from}`);
    } catch (err) {
      this.malformed(`${header.length + data.length} bytes: ${(err as Error).message}`);
      return;
    }
    switch (msg.type) {
      case 'data': {
        countReceived(this.stats, msg.op, header.length + data.length);
        const env: Envelope = { from: msg.from, op: msg.op, index: msg.index, data };
        const err = this.lane(msg.op.lane).mailbox.deliver(env);
        if (err) this.fail(err, true);
        break;
      }
      case 'abort':
        this.peerFinished(msg.from);
        this.fail(new CollectiveError(msg.reason), false);
        break;
      case 'closed': {
        this.peerFinished(msg.from);
        // A lane the peer never used counts as closed after #0; a lane this rank never used has nothing waiting.
        this.closedPeers.set(msg.from, msg.seqs);
        let err: CollectiveError | null = null;
        this.lanes.forEach((lane, id) => (err ??= lane.mailbox.peerClosed(msg.from, msg.seqs[id] ?? 0)));
        if (err) this.fail(err, true);
        break;
      }
      case 'status?':
        this.post(msg.from, { type: 'status', from: this.rank, lane: msg.lane, ...this.lane(msg.lane).mailbox.status() });
        break;
      case 'status':
        this.statusReplies.get(replyKey(msg.from, msg.lane))?.(msg);
        break;
    }
  }

  private peerFinished(peer: number): void {
    this.finished.add(peer);
    if (this.finished.size === this.peers.length) this.allFinished();
  }

  /** The first failure wins; `propagate` tells every peer, so they fail with the same message. */
  private fail(err: CollectiveError, propagate: boolean): void {
    if (this.failure) return;
    this.failure = err;
    for (const lane of this.lanes) lane?.mailbox.fail(err);
    if (propagate && !this.closed) for (const peer of this.peers) this.post(peer, { type: 'abort', from: this.rank, reason: err.message });
  }

  /**
   * Peers never send this: it comes from a stranger (ZeroMQ's PULL socket takes anyone; --secure stops that).
   * Dropped, so that it cannot stop the job; a peer's own corrupt message would surface as a timeout.
   */
  private malformed(why: string): void {
    this.warn(`rank ${this.rank}: dropped a malformed message (${why})`);
  }

  private warn(line: string): void {
    (this.options.warn ?? ((l: string) => console.error(l)))(line);
  }

  /** Still running after `ms`: says who it waits for, and goes on waiting until the timeout. */
  private async stalled(lane: Lane, op: OpId, ms: number): Promise<void> {
    const missing = await this.whoIsMissing(lane, op);
    if (!missing) return; // finished or failed meanwhile
    const who = missing.length ? `ranks that did not arrive: ${missing.join(', ')}` : `every rank arrived; waiting for data from rank(s) ${lane.mailbox.waitingOn().join(', ')}`;
    this.warn(
      `warning: collective #${op.seq} ${describe(op)} on rank ${this.rank} has waited ${(ms / 1000).toFixed(1)} s; ${who}; ` +
        `failing after ${(this.options.collectiveTimeoutMs / 1000).toFixed(0)} s (--collective-timeout)`,
    );
  }

  /** Asks every peer where it is, so the error names who did not arrive rather than just who is upstream. */
  private async timedOut(lane: Lane, op: OpId): Promise<void> {
    const waitingOn = lane.mailbox.waitingOn();
    const missing = await this.whoIsMissing(lane, op);
    if (!missing) return;
    const what = `collective #${op.seq} ${describe(op)} timed out after ${this.options.collectiveTimeoutMs} ms on rank ${this.rank}`;
    this.fail(
      new CollectiveError(
        missing.length > 0
          ? `${what}; ranks that did not arrive: ${missing.join(', ')}`
          : `${what}; every rank arrived, but no data came from rank(s) ${waitingOn.join(', ')} (connection lost?)`,
      ),
      true,
    );
  }

  /** The peers that have not reached collective `op`, described; null if `op` finished or failed meanwhile. */
  private async whoIsMissing(lane: Lane, op: OpId): Promise<string[] | null> {
    const replies = new Map<number, Status>();
    const all = new Promise<void>((resolve) => {
      for (const peer of this.peers) {
        this.statusReplies.set(replyKey(peer, lane.id), (s) => {
          replies.set(peer, s);
          if (replies.size === this.peers.length) resolve();
        });
        this.post(peer, { type: 'status?', from: this.rank, lane: lane.id });
      }
    });
    await Promise.race([all, sleep(STATUS_WAIT_MS)]);
    for (const peer of this.peers) this.statusReplies.delete(replyKey(peer, lane.id));
    const { running, op: now } = lane.mailbox.status();
    if (this.failure || !running || now?.seq !== op.seq) return null;
    return this.peers.flatMap((peer) => {
      const s = replies.get(peer);
      if (!s) return [`${peer} (no answer within ${STATUS_WAIT_MS} ms: busy, hung or dead)`];
      if (s.op && s.op.seq >= op.seq) return []; // arrived (and maybe already done)
      if (!s.op) return [`${peer} (has not started any collective)`];
      return [`${peer} (${s.running ? 'still in' : 'idle after'} #${s.op.seq} ${describe(s.op)})`];
    });
  }
}
