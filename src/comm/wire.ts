/**
 * The header frame of every message between ranks (msgpackr, a small array). Tensor bytes travel in a separate
 * raw frame: msgpackr would copy them, and silently corrupts a packed Float32Array.
 */
import { unpack } from 'msgpackr';
import { isCount, packFrame } from '../wire/frame.js';
import { COLLECTIVE_KINDS, MAX_LANES, type CollectiveKind } from './communicator.js';

/**
 * One collective as issued by a rank: #seq on its lane (each lane numbers its own calls); `detail` carries the
 * shape, so ranks can compare calls exactly.
 */
export interface OpId {
  lane: number;
  seq: number;
  kind: CollectiveKind;
  detail: string;
}

export type Message =
  /** Message `index` from this sender to this receiver in collective `op`. */
  | { type: 'data'; from: number; op: OpId; index: number }
  /** The sender failed; every rank fails with the same reason. */
  | { type: 'abort'; from: number; reason: string }
  /** The sender closed its communicator after collective #seqs[lane] of each lane: it will send nothing more. */
  | { type: 'closed'; from: number; seqs: number[] }
  | { type: 'status?'; from: number; lane: number }
  /** Answer to status?: the collective the sender is in on that lane, or the last one it finished (null: none yet). */
  | { type: 'status'; from: number; lane: number; running: boolean; op: OpId | null };

const TYPES = ['data', 'abort', 'closed', 'status?', 'status'] as const;

export function describe(op: OpId): string {
  const call = op.detail ? `${op.kind}(${op.detail})` : op.kind;
  return op.lane ? `${call} on lane ${op.lane}` : call;
}

export function sameCall(a: OpId, b: OpId): boolean {
  return a.lane === b.lane && a.kind === b.kind && a.detail === b.detail;
}

export function encode(msg: Message): Buffer {
  const code = TYPES.indexOf(msg.type);
  let tuple: unknown[];
  switch (msg.type) {
    case 'data': tuple = [code, msg.from, ...opTuple(msg.op), msg.index]; break;
    case 'abort': tuple = [code, msg.from, msg.reason]; break;
    case 'closed': tuple = [code, msg.from, msg.seqs]; break;
    case 'status?': tuple = [code, msg.from, msg.lane]; break;
    case 'status': tuple = [code, msg.from, msg.lane, msg.running, ...(msg.op ? opTuple(msg.op) : [])]; break;
  }
  return packFrame(tuple);
}

/** Throws on anything this protocol does not produce. */
export function decode(frame: Buffer): Message {
  const t: unknown = unpack(frame);
  if (!Array.isArray(t) || !isCount(t[0]) || !isCount(t[1])) throw new Error('not a header');
  const from = t[1];
  switch (TYPES[t[0]]) {
    case 'data':
      if (t.length === 7 && isCount(t[6])) return { type: 'data', from, op: decodeOp(t, 2), index: t[6] };
      break;
    case 'abort':
      if (typeof t[2] === 'string') return { type: 'abort', from, reason: t[2] };
      break;
    case 'closed':
      if (Array.isArray(t[2]) && t[2].length <= MAX_LANES && t[2].every(isCount)) return { type: 'closed', from, seqs: t[2] };
      break;
    case 'status?':
      if (isLane(t[2])) return { type: 'status?', from, lane: t[2] };
      break;
    case 'status':
      if (isLane(t[2]) && typeof t[3] === 'boolean') return { type: 'status', from, lane: t[2], running: t[3], op: t.length > 4 ? decodeOp(t, 4) : null };
      break;
  }
  throw new Error(`bad header ${JSON.stringify(t).slice(0, 200)}`);
}

function opTuple(op: OpId): unknown[] {
  return [op.lane, op.seq, COLLECTIVE_KINDS.indexOf(op.kind), op.detail];
}

function decodeOp(t: unknown[], at: number): OpId {
  const [lane, seq, kind, detail] = [t[at], t[at + 1], t[at + 2], t[at + 3]];
  if (!isLane(lane) || !isCount(seq) || !isCount(kind) || kind >= COLLECTIVE_KINDS.length || typeof detail !== 'string') throw new Error('bad collective id');
  return { lane, seq, kind: COLLECTIVE_KINDS[kind], detail };
}

function isLane(x: unknown): x is number {
  return isCount(x) && x < MAX_LANES;
}
