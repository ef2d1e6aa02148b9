/**
 * All-gather of per-rank byte payloads of different lengths, sent directly to every peer as one frame: one hop
 * of latency, payloads sent and received without copies, and each rank sends (n-1) x its payload, as a ring would.
 */
import { checkFrame, type OpContext } from './context.js';

export async function allgatherv(ctx: OpContext, payload: Uint8Array): Promise<Uint8Array[]> {
  const { rank, size } = ctx;
  const out = new Array<Uint8Array>(size);
  out[rank] = payload;
  if (size === 1) return out;
  checkFrame(ctx, 'allgatherv payload', payload);
  // Staggered order, so that all ranks do not start by sending to rank 0. Zero-copy: the caller may reuse
  // payload once this returns, which waits until it is sent.
  const sends = Array.from({ length: size - 1 }, (_, k) => ctx.send((rank + 1 + k) % size, payload));
  await Promise.all(
    Array.from({ length: size }, async (_, src) => {
      if (src !== rank) out[src] = (await ctx.take(src)).data;
    }),
  );
  await Promise.all(sends);
  return out;
}
