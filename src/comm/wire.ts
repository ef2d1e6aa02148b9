/**
 * The header frame of every message between ranks (msgpackr, a small array). Tensor bytes travel in a separate
 * raw frame: msgpackr would copy them, and silently corrupts a packed Float32Array.
 */
import { pack, unpack } from 'msgpackr';
import { COLLECTIVE_KINDS, type CollectiveKind } from './communicator.js';

/** One collective as issued by a rank; `detail` carries the shape, so ranks can compare calls exactly. */
export interface OpId {
  seq: number;
  kind: CollectiveKind;
  detail: string;
}

export type Message =
  /** Message `index` from this sender to this receiver in collective `op`. */
  | { type: 'data'; from: number; op: OpId; index: number }
  /** The sender failed; every rank fails with the same reason. */
  | { type: 'abort'; from: number; reason: string }
  /** The sender closed its communicator after collective #seq: it will send nothing more. */
  | { type: 'closed'; from: number; seq: number }
  | { type: 'status?'; from: number }
  /** Answer to status?: the collective the sender is in, or the last one it finished (null: none yet). */
  | { type: 'status'; from: number; running: boolean; op: OpId | null };

const TYPES = ['data', 'abort', 'closed', 'status?', 'status'] as const;

export function describe(op: OpId): string {
  return op.detail ? `${op.kind}(${op.detail})` : op.kind;
}

export function sameCall(a: OpId, b: OpId): boolean {
  return a.kind === b.kind && a.detail === b.detail;
}

export function encode(msg: Message): Buffer {
  const code = TYPES.indexOf(msg.type);
  let tuple: unknown[];
  switch (msg.type) {
    case 'data': tuple = [code, msg.from, ...opTuple(msg.op), msg.index]; break;
    case 'abort': tuple = [code, msg.from, msg.reason]; break;
    case 'closed': tuple = [code, msg.from, msg.seq]; break;
    case 'status?': tuple = [code, msg.from]; break;
    case 'status': tuple = [code, msg.from, msg.running, ...(msg.op ? opTuple(msg.op) : [])]; break;
  }
  return packFrame(tuple);
}

/** pack() returns a view into msgpackr's shared buffer; a frame zeromq may send later must own its bytes. */
export function packFrame(value: unknown): Buffer {
  return Buffer.from(pack(value));
}

/** Throws on anything this protocol does not produce. */
export function decode(frame: Buffer): Message {
  const t: unknown = unpack(frame);
  if (!Array.isArray(t) || !isCount(t[0]) || !isCount(t[1])) throw new Error('not a header');
  const from = t[1];
  switch (TYPES[t[0]]) {
    case 'data':
      if (t.length === 6 && isCount(t[5])) return { type: 'data', from, op: decodeOp(t, 2), index: t[5] };
      break;
    case 'abort':
      if (typeof t[2] === 'string') return { type: 'abort', from, reason: t[2] };
      break;
    case 'closed':
      if (isCount(t[2])) return { type: 'closed', from, seq: t[2] };
      break;
    case 'status?':
      return { type: 'status?', from };
    case 'status':
      if (typeof t[2] === 'boolean') return { type: 'status', from, running: t[2], op: t.length > 3 ? decodeOp(t, 3) : null };
      break;
  }
  throw new Error(`bad header ${JSON.stringify(t).slice(0, 200)}`);
}

function opTuple(op: OpId): unknown[] {
  return [op.seq, COLLECTIVE_KINDS.indexOf(op.kind), op.detail];
}

function decodeOp(t: unknown[], at: number): OpId {
  const [seq, kind, detail] = [t[at], t[at + 1], t[at + 2]];
  if (!isCount(seq) || !isCount(kind) || kind >= COLLECTIVE_KINDS.length || typeof detail !== 'string') throw new Error('bad collective id');
  return { seq, kind: COLLECTIVE_KINDS[kind], detail };
}

export function isCount(x: unknown): x is number {
  return Number.isInteger(x) && (x as number) >= 0;
}
