/**
 * `--secure`: ZeroMQ's CURVE encryption (Curve25519 key exchange, per-connection session keys) on every ZeroMQ
 * socket of a job: communicator, rendezvous and parameter servers. All sockets of a job share one key pair
 * derived from the job token, so only processes that know the token can complete a handshake: a stranger
 * cannot even connect, and traffic between hosts is encrypted. (No per-rank identities: the token is the secret.)
 */
import { createHash, createPrivateKey, createPublicKey } from 'node:crypto';
import { capability } from 'zeromq';
import { UserError } from '../util/errors.js';

export interface CurveKeys {
  /** Z85 text, as zeromq takes keys. */
  publicKey: string;
  secretKey: string;
}

/** The job's key pair: the secret is sha256 of the token, the public key its X25519 image. */
export function curveKeysFromToken(token: string): CurveKeys {
  if (!capability.curve) throw new UserError('--secure: this build of libzmq has no CURVE support');
  if (!token) throw new UserError('--secure needs a job token (DDP_TOKEN, or ddp-launch --token)');
  const secret = createHash('sha256').update(`ddp-ctr curve key:${token}`).digest();
  // PKCS#8 wrapping of a raw X25519 private key (RFC 8410): a fixed 16-byte prefix.
  const der = Buffer.concat([Buffer.from('302e020100300506032b656e04220420', 'hex'), secret]);
  const jwk = createPublicKey(createPrivateKey({ key: der, format: 'der', type: 'pkcs8' })).export({ format: 'jwk' });
  return { publicKey: z85(Buffer.from(jwk.x!, 'base64url')), secretKey: z85(secret) };
}

/** Options of a socket that binds (the CURVE server side), or nothing without keys. */
export function curveServer(keys: CurveKeys | null): Record<string, unknown> {
  return keys ? { curveServer: true, curveSecretKey: keys.secretKey, curvePublicKey: keys.publicKey } : {};
}

/** Options of a socket that connects to a server holding `keys`. */
export function curveClient(keys: CurveKeys | null): Record<string, unknown> {
  return keys ? { curveServerKey: keys.publicKey, curvePublicKey: keys.publicKey, curveSecretKey: keys.secretKey } : {};
}

const Z85 = '0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#';

/** ZeroMQ's Z85 text encoding (RFC 32): 4 bytes -> 5 characters, big-endian. */
export function z85(bytes: Uint8Array): string {
  if (bytes.length % 4) throw new RangeError(`z85: ${bytes.length} bytes is not a multiple of 4`);
  let out = '';
  for (let i = 0; i < bytes.length; i += 4) {
    let v = ((bytes[i] << 24) | (bytes[i + 1] << 16) | (bytes[i + 2] << 8) | bytes[i + 3]) >>> 0;
    let chunk = '';
    for (let k = 0; k < 5; k++) {
      chunk = Z85[v % 85] + chunk;
      v = Math.floor(v / 85);
    }
    out += chunk;
  }
  return out;
}
