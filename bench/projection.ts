/**
 * Analytic model of one training step's traffic and time per rank, for the all-gather strategy (`--sync
 * allreduce`) and the sharded exchange (`--sync sharded`), checked by bench/sharded.ts against measured runs and
 * used there to project to world sizes this machine cannot run.
 *
 * Distinct IDs. A rank's slice of b samples draws b IDs from each field; the synthetic generator draws field f's
 * rank r with p_fr proportional to (r + 1)^-zipf over its V_f IDs (src/data/synthetic.ts), so the expected
 * number of distinct IDs is sum_f sum_r 1 - (1 - p_fr)^b: exact for i.i.d. draws, which shuffled synthetic rows
 * are. Fields have disjoint ID ranges, so the sum over fields is the distinct row count a rank merges.
 *
 * Bytes per rank per step (u = a rank's distinct IDs at b = B/N, w = d + 1 values per row: field | first order):
 * - all-gather: the rank's merged payload, encodeSparse's 16-byte header + u x (4 id + 4 count + 4w), sent
 *   directly to each of the N-1 others; it receives the same from each (equal in expectation).
 * - sharded (src/sync/sharded.ts): IDs are owned by hash, 1/N of a rank's IDs by each rank, so (N-1)/N of them
 *   leave it. Two all-to-alls per step, before the forward pass: to each other owner, a count and the IDs of the
 *   batch it owns (4 bytes an ID) followed by the rank's merged gradient rows of the previous step that it owns
 *   (an encodeSparse payload: 8 + 4w bytes an ID, 16 of header); back, two float32 CowClip figures and the
 *   current rows asked for (4w an ID). What a rank serves as an owner equals what it asks, in expectation. The
 *   last step's rows travel in the final refresh, also metered, so per step it is one batch's worth of each.
 * - dense: ring all-reduce, 2(N-1)/N x numDense x 4 sent and received.
 * Every message also carries the communicator's small header (MESSAGE_HEADER_BYTES, counted by its meters).
 *
 * Time. Dense and sparse collectives run concurrently over one full-duplex link (the communicator's lanes), so
 * communication takes max(sent, received) / bandwidth plus a latency per sequential round of messages (a ring
 * all-reduce has 2(N-1), a direct all-gather 1, the sharded exchange 2); the projected step adds compute per
 * sample x B/N and a fixed per-step term (work that does not shrink with N, e.g. the optimizer update). The
 * model leaves out compute/communication overlap, stragglers and congestion beyond the rank's own link.
 */
import { SYNTHETIC_PRESETS } from '../src/data/synthetic-spec.js';
import { encodedSize } from '../src/sparse/merge.js';

/** Per-field vocabulary sizes and the Zipf exponent of the ID ranks (P(rank r) proportional to (r + 1)^-zipf). */
export interface VocabModel {
  sizes: readonly number[];
  zipf: number;
}

/** The synthetic v1 generator's own distribution (26 fields, ~121K IDs, zipf 1.1). */
export const V1_VOCAB: VocabModel = { sizes: SYNTHETIC_PRESETS.v1.vocabSizes, zipf: SYNTHETIC_PRESETS.v1.zipfExponent };

/** The msgpack header of one data message (collective id, sender, index): ~10 bytes, counted with its data. */
export const MESSAGE_HEADER_BYTES = 10;

/** Float32 values before the rows of a sharded answer (the owner's CowClip figures; ANSWER_LEAD in sharded.ts). */
const SHARDED_ANSWER_LEAD = 2;

/** log(1 - p) per ID, per field, so each world size costs one pass of exp() over the vocabulary. */
const LOG_MISS = new WeakMap<VocabModel, Float64Array[]>();

function logMiss(v: VocabModel): Float64Array[] {
  let out = LOG_MISS.get(v);
  if (!out) {
    out = v.sizes.map((size) => {
      let h = 0;
      for (let r = 0; r < size; r++) h += Math.pow(r + 1, -v.zipf);
      return Float64Array.from({ length: size }, (_, r) => Math.log1p(-Math.pow(r + 1, -v.zipf) / h));
    });
    LOG_MISS.set(v, out);
  }
  return out;
}

/** Expected distinct IDs (over all fields) in `draws` samples; fractional draws interpolate (uneven slices). */
export function expectedUnique(v: VocabModel, draws: number): number {
  if (!(draws > 0)) return 0;
  let u = 0;
  for (const field of logMiss(v)) for (let r = 0; r < field.length; r++) u += 1 - Math.exp(draws * field[r]);
  return u;
}

export interface Shape {
  /** Embedding dimension d (rows travel as d + 1 values: field | first order). */
  embedDim: number;
  numDense: number;
  vocab: VocabModel;
}

export interface Bytes {
  sent: number;
  received: number;
}

/** One rank's expected traffic in one step. */
export interface RankTraffic {
  uniqueLocal: number;
  uniqueGlobal: number;
  dense: Bytes;
  sparse: Bytes;
  /** Sequential message rounds per step (latency terms): dense ring plus the sparse exchange. */
  rounds: number;
}

export type Strategy = 'allgather' | 'sharded';

/** Ring all-reduce of numDense float32 values: what one rank sends (and receives), bytes. */
export const denseRingBytes = (n: number, numDense: number): number => (n > 1 ? ((2 * (n - 1)) / n) * numDense * 4 : 0);

/**
 * Per rank per step, for world size n and global batch `batch`. `unique` replaces the vocabulary model's distinct
 * IDs (per rank, and in the global batch): measured counts, or a bound such as every draw distinct.
 */
export function traffic(strategy: Strategy, n: number, batch: number, s: Shape, unique?: { local: number; global: number }): RankTraffic {
  const uniqueLocal = unique?.local ?? expectedUnique(s.vocab, batch / n);
  const uniqueGlobal = unique?.global ?? expectedUnique(s.vocab, batch);
  const w = s.embedDim + 1;
  const dense = n > 1 ? denseRingBytes(n, s.numDense) + 2 * (n - 1) * MESSAGE_HEADER_BYTES : 0;
  let sparse = 0;
  let rounds = 0;
  if (n > 1 && strategy === 'allgather') {
    sparse = (n - 1) * (encodedSize(uniqueLocal, w) + MESSAGE_HEADER_BYTES);
    rounds = 1;
  } else if (n > 1) {
    const perOwner = uniqueLocal / n;
    const askAndPush = 4 * (1 + perOwner) + encodedSize(perOwner, w);
    const answer = 4 * (SHARDED_ANSWER_LEAD + w * perOwner);
    sparse = (n - 1) * (askAndPush + answer + 2 * MESSAGE_HEADER_BYTES);
    rounds = 2;
  }
  return {
    uniqueLocal,
    uniqueGlobal,
    dense: { sent: dense, received: dense },
    sparse: { sent: sparse, received: sparse },
    rounds: rounds + (n > 1 ? 2 * (n - 1) : 0),
  };
}

export interface Link {
  /** Bits per second each way (full duplex). */
  bitsPerSec: number;
  /** Seconds per sequential message round (propagation plus software). */
  latencySec: number;
}

/** Seconds one step's communication takes on the rank's link: bytes at the link rate, plus latency per round. */
export function commSeconds(t: RankTraffic, link: Link): number {
  const out = t.dense.sent + t.sparse.sent;
  const into = t.dense.received + t.sparse.received;
  return (Math.max(out, into) * 8) / link.bitsPerSec + t.rounds * link.latencySec;
}

export interface Timing {
  /** Seconds of compute per sample on one rank (forward, backward, per-ID merge). */
  computeSecPerSample: number;
  /** Seconds per step that do not shrink with N (e.g. the optimizer update). */
  fixedSec: number;
}

export interface Projection {
  strategy: Strategy;
  n: number;
  batch: number;
  traffic: RankTraffic;
  computeSec: number;
  commSec: number;
  stepSec: number;
  commShare: number;
}

export function project(strategy: Strategy, n: number, batch: number, s: Shape, link: Link, timing: Timing): Projection {
  const t = traffic(strategy, n, batch, s);
  const computeSec = timing.computeSecPerSample * (batch / n) + timing.fixedSec;
  const commSec = commSeconds(t, link);
  return { strategy, n, batch, traffic: t, computeSec, commSec, stepSec: computeSec + commSec, commShare: commSec / (computeSec + commSec) };
}

/** Smallest world size in [2, maxN] at which the all-gather's sparse bytes received exceed the dense ring's. */
export function sparseOvertakesDense(batch: number, s: Shape, maxN = 4096): number | null {
  for (let n = 2; n <= maxN; n++) {
    const t = traffic('allgather', n, batch, s);
    if (t.sparse.received > t.dense.received) return n;
  }
  return null;
}

/** `10gbit`, `500mbit`, `1.5gbit`, `800kbit`: bits per second as tc writes them (decimal units). */
export function parseRate(s: string): number {
  // tc's "bps" means bytes per second: refused rather than misread.
  const m = /^(\d+(?:\.\d+)?)([kmg]?)bit$/i.exec(s.trim());
  if (!m) throw new Error(`rate ${s}: expected e.g. 10gbit, 500mbit, 800kbit`);
  const bits = Number(m[1]) * 1000 ** ' kmg'.indexOf((m[2] || ' ').toLowerCase());
  if (!(bits > 0)) throw new Error(`rate ${s}: must be positive`);
  return bits;
}
