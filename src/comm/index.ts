/** Public API of the communication layer. */
export type { CollectiveKind, CommStats, Communicator, KindStats, ReduceOp } from './communicator.js';
export { CollectiveError } from './errors.js';
export { createCommunicator, DEFAULT_COLLECTIVE_TIMEOUT_MS, DEFAULT_RENDEZVOUS_TIMEOUT_MS, type CommunicatorOptions } from './factory.js';
export { LocalCommunicator } from './local.js';
export { resolveDistEnv, type DistEnv } from '../../topology/env.js';
export { TRANSPORTS, type TransportName } from './transport.js';
