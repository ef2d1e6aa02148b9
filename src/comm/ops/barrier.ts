/** Every rank tells every other that it arrived: an all-gather of empty payloads under its own name. */
import { allgatherv } from './allgatherv.js';
import type { OpContext } from './context.js';

const NOTHING = new Uint8Array(0);

export async function barrier(ctx: OpContext): Promise<void> {
  await allgatherv(ctx, NOTHING);
}
