/**
 * Personalised all-to-all: each rank sends part r of its own to rank r, directly, as one frame (possibly empty),
 * so every part crosses the wire once, in one hop, sent and received without copies. Where an all-gather sends
 * every peer everything, this sends each peer only what it needs: what a rank sends is the sum of its parts.
 */
import { checkFrame, type OpContext } from './context.js';

export async function alltoallv(ctx: OpContext, parts: readonly Uint8Array[]): Promise<Uint8Array[]> {
  const { rank, size } = ctx;
  const out = new Array<Uint8Array>(size);
  out[rank] = parts[rank];
  if (size === 1) return out;
  const peers = Array.from({ length: size - 1 }, (_, k) => (rank + 1 + k) % size);
  for (const dst of peers) checkFrame(ctx, `alltoallv part for rank ${dst}`, parts[dst]);
  // Staggered order, so that all ranks do not start by sending to rank 0. Zero-copy: the caller may reuse the
  // parts once this returns, which waits until they are sent.
  const sends = peers.map((dst) => ctx.send(dst, parts[dst]));
  await Promise.all(
    peers.map(async (src) => {
      out[src] = (await ctx.take(src)).data;
    }),
  );
  await Promise.all(sends);
  return out;
}
