/** Point-to-point delivery between the ranks of a group; collectives are built on top (peer-communicator.ts). */
export interface Transport {
  /** Calls onMessage with each incoming message's header and data frames, in send order per sender. */
  listen(onMessage: (header: Buffer, data: Buffer) => void, onError: (err: Error) => void): void;
  /**
   * Queues a message for `dst` behind earlier ones to `dst`. Zero-copy: `data` must not change until `dst` has
   * received it. Rejects if the message cannot be queued.
   */
  send(dst: number, header: Buffer, data: Buffer): Promise<void>;
  /**
   * Hands queued messages over to the network (waiting a bounded time), then releases the sockets. Messages
   * for `finished` peers (closed or failed: they need nothing more) are dropped rather than waited for.
   */
  close(finished: ReadonlySet<number>): Promise<void>;
}
