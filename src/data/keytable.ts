/**
 * Open-addressing hash map from integer keys (< 2^53, or MISSING_KEY) to dense ids 0, 1, 2, ... in
 * insertion order, on typed arrays: ~40 bytes per key and no per-key objects, where a Map of
 * non-small-integer keys costs several times that (Criteo has tens of millions of distinct keys).
 */

const EMPTY = -2; // never a key: keys are MISSING_KEY (-1) or >= 0
const TWO_32 = 4294967296;

export class KeyTable {
  /** Key of each id (valid up to `size`). */
  keys: Float64Array;
  size = 0;
  private slotKeys: Float64Array;
  private slotIds: Int32Array;
  private mask: number;

  constructor(expected = 1024) {
    let cap = 16;
    while (cap < expected * 2) cap *= 2;
    this.mask = cap - 1;
    this.slotKeys = new Float64Array(cap).fill(EMPTY);
    this.slotIds = new Int32Array(cap);
    this.keys = new Float64Array(Math.max(8, expected));
  }

  /** Id of `key`, or -1. */
  get(key: number): number {
    const { slotKeys, mask } = this;
    for (let s = hash(key) & mask; ; s = (s + 1) & mask) {
      const k = slotKeys[s];
      if (k === key) return this.slotIds[s];
      if (k === EMPTY) return -1;
    }
  }

  /** Id of `key`, adding it with the next id if absent. */
  insert(key: number): number {
    const { slotKeys, mask } = this;
    let s = hash(key) & mask;
    for (; ; s = (s + 1) & mask) {
      const k = slotKeys[s];
      if (k === key) return this.slotIds[s];
      if (k === EMPTY) break;
    }
    const id = this.size++;
    slotKeys[s] = key;
    this.slotIds[s] = id;
    if (id === this.keys.length) this.keys = grow(this.keys, id * 2);
    this.keys[id] = key;
    if (this.size * 2 > mask) this.rehash((mask + 1) * 2);
    return id;
  }

  private rehash(cap: number): void {
    const oldKeys = this.slotKeys;
    const oldIds = this.slotIds;
    this.mask = cap - 1;
    this.slotKeys = new Float64Array(cap).fill(EMPTY);
    this.slotIds = new Int32Array(cap);
    for (let i = 0; i < oldKeys.length; i++) {
      const k = oldKeys[i];
      if (k === EMPTY) continue;
      let s = hash(k) & this.mask;
      while (this.slotKeys[s] !== EMPTY) s = (s + 1) & this.mask;
      this.slotKeys[s] = k;
      this.slotIds[s] = oldIds[i];
    }
  }
}

/** Doubles a typed array's capacity to at least `n`, keeping its contents. */
export function grow<T extends Float64Array | Float32Array | Int32Array>(a: T, n: number): T {
  const b = new (a.constructor as new (n: number) => T)(Math.max(n, 8));
  b.set(a);
  return b;
}

function hash(key: number): number {
  const lo = key >>> 0;
  const hi = Math.floor(key / TWO_32) | 0;
  let h = Math.imul(lo ^ Math.imul(hi, 0x9e3779b1), 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return h ^ (h >>> 16);
}
