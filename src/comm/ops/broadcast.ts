/** Root sends its payload to every rank directly; receivers acknowledge, so root may send the caller's memory. */
import { checkFrame, protocolError, type OpContext } from './context.js';

const ACK = new Uint8Array(0);

export async function broadcast(ctx: OpContext, buf: Uint8Array, root: number): Promise<Uint8Array> {
  const { rank, size } = ctx;
  if (rank !== root) {
    const { data } = await ctx.take(root);
    void ctx.send(root, ACK);
    return data;
  }
  checkFrame(ctx, 'broadcast payload', buf);
  const peers = Array.from({ length: size - 1 }, (_, k) => (root + 1 + k) % size);
  for (const dst of peers) void ctx.send(dst, buf); // zero-copy: buf is not returned before every ack below
  await Promise.all(
    peers.map(async (src) => {
      const ack = await ctx.take(src);
      if (ack.data.length !== 0) throw protocolError(ctx, `broadcast acknowledgement from rank ${src} carries data`);
    }),
  );
  return buf;
}
