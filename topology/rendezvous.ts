/**
 * Rendezvous: every rank registers its data endpoint with the master at MASTER_ADDR:MASTER_PORT and gets back the
 * table of all endpoints and the ring order. The master refuses ranks of another job (token) and, since a job
 * whose ranks train different configs is wrong from step one, aborts the whole rendezvous on a config, version
 * or world-size mismatch, naming both values. If ranks are missing at the deadline, it names them.
 */
import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { unpack } from 'msgpackr';
import { Dealer, Router } from 'zeromq';
import { isCount, packFrame } from '../src/wire/frame.js';
import { bindTcp } from './address.js';
import { curveClient, curveServer, type CurveKeys } from '../src/wire/curve.js';
import { UserError } from '../src/util/errors.js';

export interface Endpoint {
  host: string;
  port: number;
}

export interface Registration {
  rank: number;
  worldSize: number;
  /** The data endpoint this rank bound and advertises. */
  host: string;
  port: number;
  /** Of the training config: ranks must agree (e.g. configFingerprint from src/config/train-config.ts). */
  fingerprint: string;
  /** ddp-ctr package version. */
  version: string;
  token: string;
}

export interface RendezvousTable {
  /** Data endpoint of every rank, index = rank. */
  peers: Endpoint[];
  /** Ranks in ring order; ranks on the same host are adjacent, so the ring crosses each host boundary once. */
  ring: number[];
}

type Reply =
  | { type: 'waiting'; remainingMs: number }
  | { type: 'refused'; reason: string }
  | { type: 'abort'; reason: string }
  | ({ type: 'table' } & RendezvousTable);

export interface RendezvousServerOptions {
  /** IPv4 address and port to bind (MASTER_ADDR resolved, MASTER_PORT; 0 for an ephemeral port, see `endpoint`). */
  host: string;
  port: number;
  worldSize: number;
  token: string;
  /** The serving rank's own config: others are compared with it. Without it, the first rank to register sets it. */
  reference?: { rank: number; fingerprint: string; version: string };
  timeoutMs: number;
  /** Where the master reports refusals. */
  log: (line: string) => void;
  /** --secure: CURVE keys of the job. */
  curve?: CurveKeys | null;
}

/** Slack a registered client gives the master beyond the master's own deadline before it gives up on it. */
const CLIENT_GRACE_MS = 5000;
/** Registrations and tables are small; anything bigger is not ours. */
const MAX_MESSAGE_BYTES = 1 << 20;

export class RendezvousServer {
  private readonly joined = new Map<number, { id: Buffer; host: string; port: number }>();
  private readonly refusals = new Map<number, string>();
  private reference: RendezvousServerOptions['reference'];
  private readonly deadline: number;
  private readonly timer: NodeJS.Timeout;
  private done = false;
  private failure: string | null = null;
  /** After a refusal (not a timeout) ranks may still be starting: worth telling them why. */
  private waitForLate = false;
  private replies: Promise<void> = Promise.resolve();
  /** Ranks that got their final answer after a failure. */
  private readonly answered = new Set<number>();
  private allAnswered!: () => void;
  private readonly answeredAll = new Promise<void>((resolve) => (this.allAnswered = resolve));

  private constructor(
    private readonly router: Router,
    readonly endpoint: string,
    private readonly opts: RendezvousServerOptions,
  ) {
    this.reference = opts.reference;
    this.deadline = Date.now() + opts.timeoutMs;
    this.timer = setTimeout(() => this.timedOut(), opts.timeoutMs);
    void this.serve();
  }

  static async start(opts: RendezvousServerOptions): Promise<RendezvousServer> {
    const router = new Router({ linger: 2000, maxMessageSize: MAX_MESSAGE_BYTES, ...curveServer(opts.curve ?? null) });
    const port = await bindTcp(router, opts.host, opts.port, 'the rendezvous (MASTER_ADDR/MASTER_PORT)');
    return new RendezvousServer(router, `tcp://${opts.host}:${port}`, opts);
  }

  /**
   * After a refusal, waits up to graceMs for ranks that have not registered yet, so they learn the reason
   * instead of finding no master; then closes.
   */
  async shutdown(graceMs: number): Promise<void> {
    if (this.waitForLate) await Promise.race([this.answeredAll, sleep(graceMs)]);
    this.close();
  }

  close(): void {
    if (this.done) return;
    this.done = true;
    clearTimeout(this.timer);
    void this.replies.then(() => this.router.close()); // after the queued replies; linger then delivers them
  }

  private async serve(): Promise<void> {
    while (!this.done) {
      let frames: Buffer[];
      try {
        frames = await this.router.receive();
      } catch (err) {
        if (!this.done) this.fail(`rendezvous at ${this.endpoint} failed: ${(err as Error).message}`);
        return;
      }
      const [id, body] = frames;
      let reg: Registration;
      try {
        reg = parseRegistration(unpack(body));
      } catch (err) {
        this.opts.log(`rendezvous: ignored a malformed message (${(err as Error).message})`);
        continue;
      }
      this.admit(id, reg);
    }
  }

  private admit(id: Buffer, reg: Registration): void {
    if (this.failure) return this.finalReply(id, reg.rank, { type: 'abort', reason: this.failure });
    const n = this.opts.worldSize;
    const who = `rank ${reg.rank} (${reg.host})`;
    if (reg.token !== this.opts.token) {
      // Possibly a worker of another job that found this port: refuse it, keep waiting for the real one.
      const reason = `rendezvous refused ${who}: its job token '${reg.token}' differs from the master's '${this.opts.token}' (DDP_TOKEN)`;
      this.refusals.set(reg.rank, reason);
      this.opts.log(reason);
      this.reply(id, { type: 'refused', reason });
      return;
    }
    if (reg.worldSize !== n || reg.rank >= n) {
      return this.fail(`rendezvous refused ${who}: it was started with world size ${reg.worldSize}, the master with ${n}`, { id, rank: reg.rank });
    }
    const twin = this.joined.get(reg.rank);
    if (twin) return this.fail(`rendezvous: rank ${reg.rank} registered twice, from ${twin.host}:${twin.port} and ${reg.host}:${reg.port}`, { id, rank: reg.rank });
    const ref = (this.reference ??= { rank: reg.rank, fingerprint: reg.fingerprint, version: reg.version });
    if (reg.version !== ref.version) {
      return this.fail(`rendezvous refused ${who}: it runs ddp-ctr ${reg.version} but rank ${ref.rank} runs ${ref.version}`, { id, rank: reg.rank });
    }
    if (reg.fingerprint !== ref.fingerprint) {
      const [theirs, ours] = contrast(reg.fingerprint, ref.fingerprint);
      return this.fail(`rendezvous refused ${who}: its training config differs from rank ${ref.rank}'s: rank ${reg.rank} has ${theirs}, rank ${ref.rank} has ${ours}`, { id, rank: reg.rank });
    }
    this.joined.set(reg.rank, { id, host: reg.host, port: reg.port });
    this.refusals.delete(reg.rank);
    if (this.joined.size < n) {
      this.reply(id, { type: 'waiting', remainingMs: Math.max(0, this.deadline - Date.now()) });
      return;
    }
    const peers = Array.from({ length: n }, (_, r) => ({ host: this.joined.get(r)!.host, port: this.joined.get(r)!.port }));
    const table: Reply = { type: 'table', peers, ring: ringOrder(peers.map((p) => p.host)) };
    for (const { id: to } of this.joined.values()) this.reply(to, table);
    this.close();
  }

  private timedOut(): void {
    const n = this.opts.worldSize;
    const missing = Array.from({ length: n }, (_, r) => r).filter((r) => !this.joined.has(r));
    const refused = missing.filter((r) => this.refusals.has(r)).map((r) => `; ${this.refusals.get(r)}`);
    this.fail(
      `rendezvous at ${this.endpoint} timed out after ${this.opts.timeoutMs / 1000} s: rank(s) ${missing.join(', ')} never registered ` +
        `(${this.joined.size} of ${n} did)${refused.join('')}`,
    );
  }

  /**
   * Ends the rendezvous for everyone: the offending rank (if any) is refused, the registered ones aborted, and
   * ranks registering later get the same reason until the host closes the server.
   */
  private fail(reason: string, offender?: { id: Buffer; rank: number }): void {
    if (this.failure) return;
    this.failure = reason;
    this.waitForLate = offender !== undefined;
    clearTimeout(this.timer);
    this.opts.log(reason);
    if (offender) this.finalReply(offender.id, offender.rank, { type: 'refused', reason });
    for (const [rank, { id }] of this.joined) this.finalReply(id, rank, { type: 'abort', reason });
  }

  private finalReply(id: Buffer, rank: number, msg: Reply): void {
    this.reply(id, msg);
    this.answered.add(rank);
    if (this.answered.size >= this.opts.worldSize) this.allAnswered();
  }

  private reply(id: Buffer, msg: Reply): void {
    // One send at a time per socket (zeromq.js); a reply to a vanished client is dropped, which is what we want.
    const frames = [id, packFrame(msg)];
    this.replies = this.replies.then(() => this.router.send(frames)).catch(() => undefined);
  }
}

/** Registers with the master at `endpoint` and waits for the table; every failure is a UserError saying why. */
export async function register(endpoint: string, reg: Registration, timeoutMs: number, curve: CurveKeys | null = null): Promise<RendezvousTable> {
  const dealer = new Dealer({ linger: 0, maxMessageSize: MAX_MESSAGE_BYTES, ...curveClient(curve) });
  dealer.connect(endpoint); // zeromq keeps retrying until the master is up
  try {
    await dealer.send(packFrame(reg));
    let deadline = Date.now() + timeoutMs;
    let heard = false;
    for (;;) {
      dealer.receiveTimeout = Math.max(1, deadline - Date.now());
      let reply: Reply;
      try {
        reply = unpack((await dealer.receive())[0]) as Reply;
      } catch (err) {
        if ((err as { code?: string }).code !== 'EAGAIN') throw err;
        throw new UserError(
          heard
            ? `rendezvous: the master at ${endpoint} stopped answering`
            : `rendezvous: no answer from the master at ${endpoint} within ${timeoutMs / 1000} s (is rank 0 running? are MASTER_ADDR and MASTER_PORT right?)`,
        );
      }
      switch (reply.type) {
        case 'waiting':
          heard = true;
          deadline = Date.now() + reply.remainingMs + CLIENT_GRACE_MS;
          break;
        case 'refused':
        case 'abort':
          throw new UserError(reply.reason);
        case 'table':
          return checkTable(reply, reg.worldSize);
        default:
          throw new UserError(`rendezvous: unexpected answer from ${endpoint}: ${JSON.stringify(reply).slice(0, 200)}`);
      }
    }
  } finally {
    dealer.close();
  }
}

/** Hosts in order of their lowest rank, ranks ascending within a host. */
export function ringOrder(hosts: readonly string[]): number[] {
  const firstRank = new Map<string, number>();
  hosts.forEach((h, r) => firstRank.has(h) || firstRank.set(h, r));
  return hosts.map((_, r) => r).sort((a, b) => firstRank.get(hosts[a])! - firstRank.get(hosts[b])! || a - b);
}

/**
 * Two fingerprints, readably: the differing keys when both are JSON objects (as configFingerprint makes), else
 * the values when short, else short hashes.
 */
export function contrast(a: string, b: string): [string, string] {
  const objA = jsonObject(a);
  const objB = jsonObject(b);
  if (objA && objB) {
    const keys = [...new Set([...Object.keys(objA), ...Object.keys(objB)])].sort();
    const differing = keys.filter((k) => JSON.stringify(objA[k]) !== JSON.stringify(objB[k])).slice(0, 5);
    const show = (o: Record<string, unknown>) => differing.map((k) => `${k}=${JSON.stringify(o[k]) ?? 'unset'}`).join(', ');
    return [show(objA), show(objB)];
  }
  if (a.length <= 80 && b.length <= 80) return [`fingerprint '${a}'`, `'${b}'`];
  return [`fingerprint ${shortHash(a)}`, shortHash(b)];
}

function shortHash(s: string): string {
  return createHash('sha256').update(s).digest('hex').slice(0, 12);
}

function jsonObject(s: string): Record<string, unknown> | null {
  try {
    const v: unknown = JSON.parse(s);
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

function parseRegistration(v: unknown): Registration {
  const r = v as Partial<Registration> | null;
  const ok =
    r && isCount(r.rank) && isCount(r.worldSize) && isCount(r.port) &&
    [r.host, r.fingerprint, r.version, r.token].every((s) => typeof s === 'string');
  if (!ok) throw new Error('not a registration');
  return r as Registration;
}

function checkTable(t: RendezvousTable, n: number): RendezvousTable {
  const ok =
    Array.isArray(t.peers) && t.peers.length === n && t.peers.every((p) => typeof p?.host === 'string' && isCount(p.port)) &&
    Array.isArray(t.ring) && [...t.ring].sort((a, b) => a - b).every((r, i) => r === i) && t.ring.length === n;
  if (!ok) throw new UserError('rendezvous: the master sent a malformed table');
  return { peers: t.peers, ring: t.ring };
}
