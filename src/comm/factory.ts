/** Builds the communicator a worker uses from its environment: local for one rank, a ring over sockets otherwise. */
import { localAddressTowards, resolveIPv4 } from '../../topology/address.js';
import { resolveDistEnv, type DistEnv } from '../../topology/env.js';
import { register, RendezvousServer } from '../../topology/rendezvous.js';
import { packageVersion } from '../util/version.js';
import type { Communicator } from './communicator.js';
import { curveKeysFromToken } from '../wire/curve.js';
import { LocalCommunicator } from './local.js';
import { UserError } from '../util/errors.js';
import { peerCommunicator } from './peer-communicator.js';
import { TcpTransport } from './tcp-transport.js';
import type { TransportName } from './transport.js';
import { ZmqTransport } from './zmq-transport.js';

/** Generous for CPU training, where one rank may evaluate or checkpoint while the others wait. */
export const DEFAULT_COLLECTIVE_TIMEOUT_MS = 600_000;
export const DEFAULT_RENDEZVOUS_TIMEOUT_MS = 300_000;
/** After a refusal, rank 0 keeps telling late ranks why for this long, rather than leaving them to time out. */
const RENDEZVOUS_REFUSAL_GRACE_MS = 5000;

export interface CommunicatorOptions {
  /** Of the training config (configFingerprint); a rank whose fingerprint differs from rank 0's is refused. */
  fingerprint: string;
  /** Default: resolveDistEnv(process.env). */
  env?: DistEnv;
  /** Address (IP or host name) to bind and advertise; default: this host's address on the route to MASTER_ADDR. */
  bind?: string;
  /** Port to bind; 0 (default) takes an ephemeral one. */
  port?: number;
  /** Default 'tcp'. */
  transport?: TransportName;
  /** CURVE on every ZeroMQ socket (keys from the job token); needs transport 'zmq'. */
  secure?: boolean;
  collectiveTimeoutMs?: number;
  /** See PeerCommunicatorOptions (peer-communicator.ts). */
  stallWarningMs?: number;
  rendezvousTimeoutMs?: number;
  /** Serve the rendezvous at MASTER_ADDR:MASTER_PORT. Default: rank 0 does; pass false if a launcher serves it. */
  serveRendezvous?: boolean;
  /** Where the rendezvous master reports refused ranks; default stderr. */
  log?: (line: string) => void;
}

export async function createCommunicator(opts: CommunicatorOptions): Promise<Communicator> {
  const env = opts.env ?? resolveDistEnv();
  if (env.worldSize === 1) return new LocalCommunicator();
  const { rank, worldSize, masterPort, token } = env;
  const master = await resolveIPv4(env.masterAddr, 'MASTER_ADDR');
  const host = opts.bind ? await resolveIPv4(opts.bind, 'bind address') : await localAddressTowards(master, masterPort);
  const log = opts.log ?? ((line: string) => console.error(line));
  if (opts.secure && opts.transport !== 'zmq') throw new UserError('--secure encrypts ZeroMQ traffic: add --transport zmq (the TCP transport is not encrypted)');
  const curve = opts.secure ? curveKeysFromToken(token) : null;
  const transport =
    (opts.transport ?? 'tcp') === 'tcp'
      ? await TcpTransport.bind(host, opts.port ?? 0, rank, worldSize, { token, log })
      : await ZmqTransport.bind(host, opts.port ?? 0, rank, curve);
  const version = packageVersion();
  const timeoutMs = opts.rendezvousTimeoutMs ?? DEFAULT_RENDEZVOUS_TIMEOUT_MS;
  let server: RendezvousServer | null = null;
  try {
    if (opts.serveRendezvous ?? rank === 0) {
      server = await RendezvousServer.start({
        host: master,
        port: masterPort,
        worldSize,
        token,
        reference: { rank, fingerprint: opts.fingerprint, version },
        timeoutMs,
        log,
        curve,
      });
    }
    const registration = { rank, worldSize, host, port: transport.port, fingerprint: opts.fingerprint, version, token };
    const table = await register(`tcp://${master}:${masterPort}`, registration, timeoutMs, curve);
    transport.connect(table.peers);
    return peerCommunicator(rank, worldSize, table.ring, transport, {
      collectiveTimeoutMs: opts.collectiveTimeoutMs ?? DEFAULT_COLLECTIVE_TIMEOUT_MS,
      stallWarningMs: opts.stallWarningMs,
      warn: log,
    });
  } catch (err) {
    await transport.close(new Set());
    throw err;
  } finally {
    await server?.shutdown(RENDEZVOUS_REFUSAL_GRACE_MS);
  }
}
