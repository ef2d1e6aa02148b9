/**
 * ZeroMQ transport: each rank binds one PULL socket on the address it advertises and connects one PUSH socket
 * to every peer. PUSH/PULL keeps per-pair FIFO order and blocks instead of dropping when a queue is full.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Context, Pull, Push } from 'zeromq';
import { bindTcp } from '../../topology/address.js';
import type { Endpoint } from '../../topology/rendezvous.js';
import { MAX_FRAME_BYTES } from './ops/context.js';
import { curveClient, curveServer, type CurveKeys } from '../wire/curve.js';
import type { Receiver, Transport } from './transport.js';

/** Bounds how long close() and process exit wait for unsent messages to a peer that stopped reading. */
const LINGER_MS = 5000;
/** Per-peer queue in messages (zeromq references their memory, no copies). Full: the sender waits. */
const HIGH_WATER_MARK = 512;
/**
 * zeromq I/O threads of the communicator's own context (the default context has one). zeromq makes every
 * send() and recv() system call on an I/O thread; on loopback those calls are the kernel's copies, the largest
 * part of an all-reduce's CPU time. bench/allreduce at N = 2, medians of 6-8 interleaved runs on the shared
 * 2-core machine: busbw 0.52 -> 0.64 GB/s at 4 MB and 0.55 -> 0.76 at 64 MB with two threads, same CPU per
 * call. Measured and not kept: pinning the sending and the receiving connections to different threads
 * (ZMQ_AFFINITY; slower than letting zeromq place them), ZMQ_SNDBUF/RCVBUF of 128 KiB-4 MiB and ipc:// instead
 * of tcp:// for ranks on one host (no consistent difference).
 */
const IO_THREADS = 2;

export class ZmqTransport implements Transport {
  private pushes: (Push | null)[] = [];
  /** zeromq allows one pending send per socket: sends to a peer are chained in call order. */
  private tails: Promise<unknown>[] = [];
  private closing = false;

  private constructor(
    private readonly context: Context,
    private readonly pull: Pull,
    readonly port: number,
    private readonly rank: number,
    private readonly curve: CurveKeys | null,
  ) {}

  /** Binds tcp://ip:port (an ephemeral port when port is 0) on the address this rank advertises. */
  static async bind(ip: string, port: number, rank: number, curve: CurveKeys | null = null): Promise<ZmqTransport> {
    const context = new Context({ ioThreads: IO_THREADS });
    // Senders never exceed this limit, so a larger frame can only come from a foreign or corrupt peer.
    const pull = new Pull({ context, linger: 0, receiveHighWaterMark: HIGH_WATER_MARK, maxMessageSize: MAX_FRAME_BYTES, ...curveServer(curve) });
    return new ZmqTransport(context, pull, await bindTcp(pull, ip, port, 'the communicator socket (bind address and port options)'), rank, curve);
  }

  connect(peers: readonly Endpoint[]): void {
    this.pushes = peers.map((peer, r) => {
      if (r === this.rank) return null;
      const push = new Push({ context: this.context, linger: LINGER_MS, sendHighWaterMark: HIGH_WATER_MARK, ...curveClient(this.curve) });
      push.connect(`tcp://${peer.host}:${peer.port}`);
      return push;
    });
    this.tails = peers.map(() => Promise.resolve());
  }

  /** zeromq allocates every message itself: `receiver.destination` is never asked. */
  listen(receiver: Receiver): void {
    void (async () => {
      for (;;) {
        let frames: Buffer[];
        try {
          frames = await this.pull.receive();
        } catch (err) {
          if (!this.closing) receiver.error(err as Error);
          return;
        }
        if (frames.length === 2) receiver.message(frames[0], frames[1]);
        else receiver.malformed(`a message of ${frames.length} frames, expected 2`);
      }
    })();
  }

  /**
   * Copies `data`: zeromq.js reads zero-copy frames until its I/O thread has sent them and does not say when,
   * so the promise could not tell the caller when its memory is free again.
   */
  send(dst: number, header: Buffer, data: Buffer): Promise<void> {
    const push = this.pushes[dst];
    if (!push) return Promise.reject(new Error(`no connection to rank ${dst}`));
    const frames = [header, Buffer.from(data)];
    const sent = this.tails[dst].then(() => push.send(frames));
    this.tails[dst] = sent.catch(() => undefined);
    return sent;
  }

  async close(finished: ReadonlySet<number>): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    // Queued sends must reach zeromq before the sockets close; linger then flushes them in the background.
    await Promise.race([Promise.allSettled(this.tails), sleep(LINGER_MS, undefined, { ref: false })]);
    this.pushes.forEach((push, rank) => {
      if (push && finished.has(rank)) push.linger = 0;
      push?.close();
    });
    this.pull.close();
  }
}
