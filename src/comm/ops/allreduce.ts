/**
 * Ring all-reduce (Baidu/Horovod style): reduce-scatter then all-gather over the flat buffer, cut into one
 * segment per ring position. Each segment's sum is computed once, by the rank that completes it, and that
 * rank's bytes are what every other rank copies: results are bit-identical everywhere.
 *
 * Chunks stream: hop h+1 of a chunk is sent as soon as hop h of it arrived and was added, so with several
 * chunks per segment, sending, receiving and adding overlap along the whole ring. At N = 2 this is "each rank
 * sends the half its peer owns, adds the half it owns and sends the sum back", i.e. the minimum of S bytes each
 * way; a full exchange (both ranks send a copy of everything and add locally) was no faster at 1 MB and slower
 * from 4 MB (more adding and copying for the same bytes on the wire).
 */
import { protocolError, type OpContext } from './context.js';

/**
 * Elements per message (1 MiB). Big buffers travel as chunks so sending, receiving and adding overlap along the
 * ring. On loopback (bench/allreduce.ts, N = 2) 128 and 256 KiB chunks were slower at 1-4 MB (per-message cost:
 * thread hand-offs in zeromq, one allocation per received message) and 2-4 MiB no better than 1 MiB.
 */
const CHUNK_ELEMS = (1 << 20) / Float32Array.BYTES_PER_ELEMENT;
/**
 * Reduce-scatter chunks that may arrive ahead of the adding; later ones are allocated and copied. Reusing the
 * slots spares a fresh allocation per chunk (page faults, and GC runs triggered by external memory).
 */
const SCRATCH_SLOTS = 4;

export async function ringAllreduce(ctx: OpContext, buf: Float32Array, mean: boolean): Promise<void> {
  const n = ctx.size;
  if (n === 1) return; // the sum and the mean of one rank are its own values
  const pos = ctx.ring.indexOf(ctx.rank);
  const next = ctx.ring[(pos + 1) % n];
  const prev = ctx.ring[(pos + n - 1) % n];
  // Segment s (near-equal slices of buf) starts at ring position s; position p completes segment p+1.
  const base = Math.floor(buf.length / n);
  const extra = buf.length % n;
  const segStart = (s: number): number => s * base + Math.min(s, extra);
  const segOf = (hop: number): number => (pos - hop - 1 + 2 * n) % n;

  // Where incoming chunks land (the kernel reads them there where the transport allows). All-gather chunks
  // carry final values: straight into buf. Reduce-scatter chunks are added into buf, so they only pass through
  // SCRATCH_SLOTS reused chunk buffers; a slot is posted again once the chunk in it has been added.
  const lens: number[] = [];
  for (let hop = 0; hop < 2 * n - 2; hop++) {
    for (const [start, len] of chunks(segStart(segOf(hop)), segStart(segOf(hop) + 1))) {
      if (hop >= n - 1) ctx.receiveInto(prev, lens.length, bytesOf(buf, start, len));
      lens.push(len);
    }
  }
  const reduceChunks = lens.length / 2; // both phases move the same chunks
  const scratch = ctx.scratch(SCRATCH_SLOTS * CHUNK_ELEMS * 4);
  const postScratch = (index: number): void => {
    if (index < reduceChunks) ctx.receiveInto(prev, index, scratch.subarray((index % SCRATCH_SLOTS) * CHUNK_ELEMS * 4).subarray(0, lens[index] * 4));
  };
  for (let i = 0; i < SCRATCH_SLOTS; i++) postScratch(i);

  // Hop 0: this rank's own segment, straight from the caller's buffer. Zero-copy is safe: that region is next
  // written when its reduced values come back, which cannot happen before `next` has received these bytes.
  for (const [start, len] of chunks(segStart(pos), segStart(pos + 1))) void ctx.send(next, bytesOf(buf, start, len));
  // Final values forwarded from buf: the caller may write buf once this returns, so wait until they are sent.
  const finalSends: Promise<void>[] = [];

  // Hops 0..n-2 received complete the reduce-scatter, hops n-1..2n-3 are the all-gather.
  let index = 0;
  for (let hop = 0; hop < 2 * n - 2; hop++) {
    const forward = hop < 2 * n - 3;
    for (const [start, len] of chunks(segStart(segOf(hop)), segStart(segOf(hop) + 1))) {
      const { data } = await ctx.take(prev);
      if (data.length !== len * 4) throw protocolError(ctx, `allreduce chunk of ${data.length} bytes from rank ${prev}, expected ${len * 4}`);
      if (hop < n - 1) {
        // In place: this rank adds its values to each segment once, so buf's own values are not needed again,
        // and a partial sum forwarded is only overwritten by the final values, which come after `next` has it.
        const out = buf.subarray(start, start + len);
        addInto(out, floatsOf(data, len));
        postScratch(index + SCRATCH_SLOTS);
        if (hop === n - 2 && mean) divideBy(out, n); // by the owner only: every rank gets its bytes
      }
      index++;
      if (!forward) continue;
      const sent = ctx.send(next, bytesOf(buf, start, len));
      if (hop >= n - 2) finalSends.push(sent);
    }
  }
  await Promise.all(finalSends);
}

/**
 * x[i] += y[i], unrolled by 8. Kept out of the async function above so that V8 optimises it once, for
 * Float32Array arguments only: written inline there, perf showed it partly running as baseline code
 * (KeyedLoadIC, Add_Baseline). Plain loop 16 ms per 32 MB, unrolled 8.6 ms (Node 20, this machine). Each sum
 * is rounded to float32 when stored, exactly as `x[i] += y[i]`.
 */
function addInto(x: Float32Array, y: Float32Array): void {
  const n = x.length;
  let i = 0;
  for (; i + 7 < n; i += 8) {
    const a0 = x[i] + y[i];
    const a1 = x[i + 1] + y[i + 1];
    const a2 = x[i + 2] + y[i + 2];
    const a3 = x[i + 3] + y[i + 3];
    const a4 = x[i + 4] + y[i + 4];
    const a5 = x[i + 5] + y[i + 5];
    const a6 = x[i + 6] + y[i + 6];
    const a7 = x[i + 7] + y[i + 7];
    x[i] = a0;
    x[i + 1] = a1;
    x[i + 2] = a2;
    x[i + 3] = a3;
    x[i + 4] = a4;
    x[i + 5] = a5;
    x[i + 6] = a6;
    x[i + 7] = a7;
  }
  for (; i < n; i++) x[i] += y[i];
}

/** x[i] /= n: the float32 sum divided, as the mean is defined (not a multiplication by 1/n). */
function divideBy(x: Float32Array, n: number): void {
  for (let i = 0; i < x.length; i++) x[i] /= n;
}

/** [start, length] chunks of [lo, hi); an empty range still yields one empty chunk so every hop has a message. */
function* chunks(lo: number, hi: number): Generator<[number, number]> {
  let start = lo;
  do {
    const len = Math.min(CHUNK_ELEMS, hi - start);
    yield [start, len];
    start += len;
  } while (start < hi);
}

function bytesOf(a: Float32Array, start: number, len: number): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset + start * 4, len * 4);
}

/** A Float32Array over a received frame; copied only in the unexpected case of a misaligned frame. */
function floatsOf(data: Buffer, len: number): Float32Array {
  const bytes = data.byteOffset % 4 === 0 ? data : Buffer.from(data);
  return new Float32Array(bytes.buffer, bytes.byteOffset, len);
}
