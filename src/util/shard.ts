/** Contiguous slice [start, end) of `n` items owned by `rank` of `size`; sizes differ by at most one. */
export function shardRange(n: number, rank: number, size: number): [number, number] {
  return [Math.floor((rank * n) / size), Math.floor(((rank + 1) * n) / size)];
}
