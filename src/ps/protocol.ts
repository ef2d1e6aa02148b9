/**
 * Worker <-> parameter-server protocol: each worker holds one ZeroMQ DEALER per server, each server one ROUTER.
 * A message is a msgpackr header frame followed by raw little-endian tensor frames. Servers run on the master
 * host, on the ports ddp-launch lists in DDP_SERVER_PORTS (free ports it picked, on one host), or else on
 * MASTER_PORT + 1 + k, which every host can compute without another rendezvous.
 */
import { unpack } from 'msgpackr';
import { TALLY_LENGTH } from '../optim/cowclip.js';
import { isCount, packFrame } from '../wire/frame.js';
import type { ReplicaShape } from '../replica/replica.js';
import { UserError } from '../util/errors.js';

/** The port of server `server` (of `servers`): DDP_SERVER_PORTS[server], else MASTER_PORT + 1 + server. */
export function serverPort(env: NodeJS.ProcessEnv, server: number, servers: number): number {
  const listed = env.DDP_SERVER_PORTS?.split(',').map(Number);
  if (listed) {
    if (listed.length !== servers || !listed.every((p) => Number.isInteger(p) && p > 0 && p < 65536)) {
      throw new UserError(`DDP_SERVER_PORTS='${env.DDP_SERVER_PORTS}': expected ${servers} ports`);
    }
    return listed[server];
  }
  return Number(env.MASTER_PORT ?? 29500) + 1 + server;
}

/** The servers' endpoints, from the environment ddp-launch gives workers (DDP_SERVERS = their number). */
export function serverEndpoints(env: NodeJS.ProcessEnv): string[] {
  const k = Number(env.DDP_SERVERS ?? 0);
  if (!Number.isInteger(k) || k < 1) {
    throw new UserError('--sync ps and async-ps need parameter servers: start the job with ddp-launch, which starts them (--servers K, default 1)');
  }
  const host = env.MASTER_ADDR ?? '127.0.0.1';
  return Array.from({ length: k }, (_, s) => `tcp://${host}:${serverPort(env, s, k)}`);
}

export type Request =
  /** First message on a connection: answered by welcome or refused. */
  | { t: 'hello'; worker: number; workers: number; token: string; fingerprint: string; version: string; shape: ReplicaShape }
  /** Gradients of step `step`: frames [dense shard (f32), this server's rows (encodeSparse)]. No answer. */
  | { t: 'push'; step: number }
  /**
   * Parameters for step `step`: frame [ids (i32), this server's rows only]. Answered by `params` once the
   * server has applied step - 1 - staleness.
   */
  | { t: 'pull'; step: number }
  /** Every parameter the server owns, answered by `all` once it has applied step `step`. */
  | { t: 'fetch'; step: number }
  /** The worker is done; the server exits when every worker said so. */
  | { t: 'bye' };

interface Counted {
  rowsInBatch: number;
  rowsClipped: number;
  /** By the ID's batch count: [rows, clipped] of tail, torso, head. */
  buckets: number[];
}

export type Reply =
  | { t: 'welcome' }
  | { t: 'refused'; reason: string }
  /**
   * Frames [dense shard (f32), rows (f32, ids x (d + 1): field row then first-order weight)]. With the
   * server's embedding-update figures through step `applied`, summed since it started (its updater's
   * `applied`): batch rows it updated and rows CowClip scaled down.
   */
  | ({ t: 'params'; applied: number } & Counted)
  /** Frames [dense shard, owned ids (i32), their rows as in params], with the figures as in params. */
  | ({ t: 'all'; applied: number } & Counted)
  /** The server failed; the worker fails with the same reason. */
  | { t: 'error'; reason: string };

export const encodeHeader = (msg: Request | Reply): Buffer => packFrame(msg);

/** Throws on anything this protocol does not produce (peers are untrusted until they said hello). */
export function decodeRequest(frame: Buffer): Request {
  const m = unpack(frame) as Record<string, unknown>;
  if (m === null || typeof m !== 'object') throw new Error('not a request');
  switch (m.t) {
    case 'hello': {
      const s = m.shape as Record<string, unknown> | undefined;
      const ok =
        isCount(m.worker) && isCount(m.workers) && [m.token, m.fingerprint, m.version].every((x) => typeof x === 'string') &&
        s !== null && typeof s === 'object' && [s.numFields, s.numNumeric, s.totalRows, s.trainRows].every(isCount);
      if (ok) return m as unknown as Request;
      break;
    }
    case 'push':
    case 'pull':
    case 'fetch':
      if (isCount(m.step) && m.step >= 1) return m as unknown as Request;
      break;
    case 'bye':
      return { t: 'bye' };
  }
  throw new Error(`bad request ${JSON.stringify(m).slice(0, 200)}`);
}

export function decodeReply(frame: Buffer): Reply {
  const m = unpack(frame) as Record<string, unknown>;
  switch (m?.t) {
    case 'welcome':
      return { t: 'welcome' };
    case 'refused':
    case 'error':
      if (typeof m.reason === 'string') return m as unknown as Reply;
      break;
    case 'params':
    case 'all':
      if ([m.applied, m.rowsInBatch, m.rowsClipped].every(isCount) && Array.isArray(m.buckets) && m.buckets.length === TALLY_LENGTH && m.buckets.every(isCount)) return m as unknown as Reply;
      break;
  }
  throw new Error(`bad reply ${JSON.stringify(m).slice(0, 200)}`);
}
