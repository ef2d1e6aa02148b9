/**
 * Frames as every socket of the project sends them: msgpackr headers that own their bytes, and raw typed-array
 * frames. Below the communicator, the rendezvous and the parameter servers, which all speak in frames.
 */
import { pack } from 'msgpackr';

/** pack() returns a view into msgpackr's shared buffer; a frame zeromq may send later must own its bytes. */
export function packFrame(value: unknown): Buffer {
  return Buffer.from(pack(value));
}

/** A non-negative integer, as counts and indices in headers are checked. */
export function isCount(x: unknown): x is number {
  return Number.isInteger(x) && (x as number) >= 0;
}

/** A typed view of a frame's bytes (copied only if the frame is not 4-byte aligned). */
export function f32(frame: Uint8Array): Float32Array {
  const b = frame.byteOffset % 4 === 0 ? frame : Buffer.from(frame);
  if (b.byteLength % 4) throw new Error(`frame of ${b.byteLength} bytes is not float32 values`);
  return new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4);
}

export function i32(frame: Uint8Array): Int32Array {
  const b = frame.byteOffset % 4 === 0 ? frame : Buffer.from(frame);
  if (b.byteLength % 4) throw new Error(`frame of ${b.byteLength} bytes is not int32 values`);
  return new Int32Array(b.buffer, b.byteOffset, b.byteLength / 4);
}

/** A frame zeromq may send later: it must own its bytes (the caller's array changes next step). */
export function frameOf(a: Float32Array | Int32Array): Buffer {
  return Buffer.from(new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
}
