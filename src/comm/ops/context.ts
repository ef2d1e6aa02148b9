/** What a collective algorithm sees of the group: point-to-point messages tagged with the current collective. */
import { CollectiveError } from '../errors.js';
import type { Envelope } from '../mailbox.js';

/**
 * Largest data frame. Receivers set it as zeromq's maxMessageSize (a larger frame silently drops the sender),
 * so senders check it and fail with a clear error instead.
 */
export const MAX_FRAME_BYTES = 2 ** 30;

export interface OpContext {
  readonly rank: number;
  readonly size: number;
  /** Ranks in ring order (ranks sharing a host are adjacent). */
  readonly ring: readonly number[];
  /**
   * Queues `bytes` as one frame for `dst`, in call order per destination. Zero-copy where the transport allows:
   * the memory must stay unchanged until the returned promise resolves (it never rejects: a failed send fails
   * the collective through take()).
   */
  send(dst: number, bytes: Uint8Array): Promise<void>;
  /** The next message from `src` in this collective. */
  take(src: number): Promise<Envelope>;
  /**
   * Message `index` from `src` (0 = its first in this collective) has exactly `into.byteLength` bytes, to be
   * placed in `into`: where the transport allows, the kernel reads them there, with no copy. Its Envelope's data
   * is then `into`. A message of another length fails the collective.
   */
  receiveInto(src: number, index: number, into: Uint8Array): void;
  /**
   * Working memory of at least `bytes`, kept by the communicator across collectives (no allocation, no page
   * faults on reuse). Only the running collective uses it; its content is undefined on entry.
   */
  scratch(bytes: number): Uint8Array;
}

export function protocolError(ctx: OpContext, what: string): CollectiveError {
  return new CollectiveError(`rank ${ctx.rank}: ${what} (communication protocol error)`);
}

/** Payloads travel as one frame each: received zero-copy, with nothing to reassemble. */
export function checkFrame(ctx: OpContext, what: string, bytes: Uint8Array): void {
  if (bytes.length > MAX_FRAME_BYTES) {
    throw new CollectiveError(`rank ${ctx.rank}: ${what} of ${bytes.length} bytes exceeds the ${MAX_FRAME_BYTES}-byte limit; split it over several calls`);
  }
}
