/**
 * Turning raw cell bytes into numbers without building strings: exact integer keys for categorical
 * tokens and strict integer parsing for numeric columns.
 *
 * Key space (all keys are integers < 2^53, so a Float64Array holds them exactly):
 *   MISSING_KEY (-1)           empty cell
 *   [0, 2^32)                  exactly 8 lowercase hex digits (Criteo and most Avazu tokens): the value
 *   [2^52, 2^52 + 7 * 2^48)    any other token of 1..6 bytes, packed exactly: 2^52 + len * 2^48 + bytes
 *   [2^33, 2^33 + 2^51)        any longer token: a 51-bit hash of its bytes
 * The ranges are disjoint, so only long non-hex tokens can collide: for n distinct such tokens in one
 * field the chance of any collision is about n^2 / 2^52 (2e-4 at n = 10^6, 2e-6 at n = 10^5).
 * Every token of the Criteo and Avazu files is exact (hex, or decimal of at most 6 digits).
 */
import { MISSING_KEY } from './types.js';

const TWO_32 = 4294967296;
const TWO_48 = 281474976710656;
const SHORT_BASE = 4503599627370496; // 2^52
const HASH_BASE = 8589934592; // 2^33

export function tokenKey(buf: Uint8Array, start: number, end: number): number {
  const len = end - start;
  if (len === 0) return MISSING_KEY;
  if (len === 8) {
    let v = 0;
    let i = start;
    for (; i < end; i++) {
      const d = hexDigit(buf[i]);
      if (d < 0) break;
      v = v * 16 + d;
    }
    if (i === end) return v;
  }
  if (len <= 6) {
    let v = 0;
    for (let i = start; i < end; i++) v = v * 256 + buf[i];
    return SHORT_BASE + len * TWO_48 + v;
  }
  // Two independent 32-bit FNV-1a style hashes with a murmur3 finaliser; 19 + 32 bits are kept.
  let h1 = 0x811c9dc5;
  let h2 = 0x01000193 ^ len;
  for (let i = start; i < end; i++) {
    h1 = Math.imul(h1 ^ buf[i], 0x01000193);
    h2 = Math.imul(h2 ^ buf[i], 0x5bd1e995);
  }
  h1 = fmix(h1);
  h2 = fmix(h2 ^ h1);
  return HASH_BASE + (h1 & 0x7ffff) * TWO_32 + (h2 >>> 0);
}

/** Lowercase hex only: "ABCDEF01" and "abcdef01" are different tokens, so they must get different keys. */
function hexDigit(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  return -1;
}

function fmix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return h ^ (h >>> 16);
}

/**
 * A decimal integer with an optional sign ("-3", "+7", "0012"). Returns NaN when the cell is not one
 * or its magnitude exceeds 2^53 - 1 (it could not be stored exactly). The empty cell is the caller's case.
 */
export function parseInteger(buf: Uint8Array, start: number, end: number): number {
  let i = start;
  let neg = false;
  if (i < end && (buf[i] === 45 || buf[i] === 43)) {
    neg = buf[i] === 45;
    i++;
  }
  if (i === end) return NaN;
  let v = 0;
  for (; i < end; i++) {
    const d = buf[i] - 48;
    if (d < 0 || d > 9) return NaN;
    v = v * 10 + d;
  }
  if (v > Number.MAX_SAFE_INTEGER) return NaN;
  return neg ? -v : v;
}

/** Exact powers of ten as doubles (10^22 is the largest exact one). */
const POW10 = Array.from({ length: 23 }, (_, i) => Number(`1e${i}`));

/**
 * A decimal number ("3", "-0.25", "1.5e-3", "+7."). Returns NaN when the cell is not one (the empty
 * cell is the caller's case). Up to 15 significant digits and a small exponent it is computed from an
 * exact integer and an exact power of ten, so the result is the correctly rounded double, as Number()
 * would give; longer forms go through Number() on the text.
 */
export function parseDecimal(buf: Uint8Array, start: number, end: number): number {
  let i = start;
  let neg = false;
  if (i < end && (buf[i] === 45 || buf[i] === 43)) {
    neg = buf[i] === 45;
    i++;
  }
  const unsigned = i; // the sign is applied at the end, on either path
  let mant = 0;
  let digits = 0;
  let scale = 0;
  let any = false;
  for (; i < end; i++) {
    const d = buf[i] - 48;
    if (d < 0 || d > 9) break;
    mant = mant * 10 + d;
    if (mant > 0) digits++;
    any = true;
  }
  if (i < end && buf[i] === 46) {
    for (i++; i < end; i++) {
      const d = buf[i] - 48;
      if (d < 0 || d > 9) break;
      mant = mant * 10 + d;
      if (mant > 0) digits++;
      scale--;
      any = true;
    }
  }
  if (!any) return NaN;
  if (i < end && (buf[i] === 101 || buf[i] === 69)) {
    i++;
    let eneg = false;
    if (i < end && (buf[i] === 45 || buf[i] === 43)) {
      eneg = buf[i] === 45;
      i++;
    }
    if (i === end) return NaN;
    let e = 0;
    for (; i < end; i++) {
      const d = buf[i] - 48;
      if (d < 0 || d > 9) return NaN;
      if (e < 100000) e = e * 10 + d;
    }
    scale += eneg ? -e : e;
  }
  if (i !== end) return NaN;
  let v: number;
  if (digits <= 15 && scale >= -22 && scale <= 22) v = scale < 0 ? mant / POW10[-scale] : mant * POW10[scale];
  else v = Number(Buffer.from(buf.buffer, buf.byteOffset + unsigned, end - unsigned).toString('latin1'));
  if (v === Infinity) return NaN; // "1e999": no finite feature value
  return neg ? -v : v;
}

/**
 * Hour of day (0-23) and day of week (0 = Monday) of a YYMMDDHH value (Avazu's hour, years 2000-2099),
 * written into out[0], out[1]; false when the value is not a valid date and hour.
 */
export function splitHour(v: number, out: Float64Array): boolean {
  if (!(Number.isSafeInteger(v) && v >= 0 && v <= 99999999)) return false;
  const hh = v % 100;
  const dd = Math.floor(v / 100) % 100;
  const mm = Math.floor(v / 10000) % 100;
  const yy = Math.floor(v / 1000000);
  if (hh > 23 || mm < 1 || mm > 12 || dd < 1 || dd > daysIn(2000 + yy, mm)) return false;
  out[0] = hh;
  // Days since 2000-01-01 (a Saturday, weekday 5 with Monday = 0).
  const days = Date.UTC(2000 + yy, mm - 1, dd) / 86400000 - Date.UTC(2000, 0, 1) / 86400000;
  out[1] = (days + 5) % 7;
  return true;
}

function daysIn(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}
