import type { Endpoint } from '../../topology/rendezvous.js';

/** What carries messages between ranks (the rendezvous always uses ZeroMQ): see src/comm/README.md. */
export const TRANSPORTS = ['tcp', 'zmq'] as const;
export type TransportName = (typeof TRANSPORTS)[number];

/** What a transport hands incoming messages to. */
export interface Receiver {
  /** Each incoming message's header and data frames, in send order per sender. */
  message(header: Buffer, data: Buffer): void;
  error(err: Error): void;
  /** A message that is not of this protocol (from a stranger): dropped, and reported as such. */
  malformed(why: string): void;
  /**
   * The connection carrying messages from rank `from` ended: cleanly between messages (`err` null) or not. A peer
   * that said farewell first has simply closed; otherwise it died. Transports without connections never call it.
   */
  lost(from: number, err: Error | null): void;
  /**
   * Where the data of an incoming message should land, asked once its header is in: memory of exactly `length`
   * bytes, or null to let the transport allocate. A transport that cannot read into given memory never asks.
   */
  destination(header: Buffer, length: number): Buffer | null;
}

/** Point-to-point delivery between the ranks of a group; collectives are built on top (peer-communicator.ts). */
export interface Transport {
  /** Opens the connections to the other ranks (index = rank; this rank's own entry is skipped). */
  connect(peers: readonly Endpoint[]): void;
  listen(receiver: Receiver): void;
  /**
   * Queues a message for `dst` behind earlier ones to `dst`. Resolves once the transport no longer reads `data`
   * (zero-copy transports read it until written to the network); until then it must not change. Rejects if the
   * message cannot be sent.
   */
  send(dst: number, header: Buffer, data: Buffer): Promise<void>;
  /**
   * Hands queued messages over to the network (waiting a bounded time), then releases the sockets. Messages
   * for `finished` peers (closed or failed: they need nothing more) are dropped rather than waited for.
   */
  close(finished: ReadonlySet<number>): Promise<void>;
}
