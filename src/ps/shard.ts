import { mergeSparse, type SparseGrad } from '../sparse/merge.js';
import { splitPacked } from '../sparse/packed.js';
import type { EmbeddingUpdater } from '../optim/embed-update.js';

/**
 * One step's update of an owner's rows from every sender's part of its merged [field | first-order] rows:
 * merged in sender order, which gives each id's sum in the order the allreduce strategy's merge of all-gathered
 * payloads does (bit-identical sums and global counts), then L2, CowClip and the optimizer (embed.update). In
 * dense mode the updater runs over its whole table, so every row the owner holds gets its L2 and optimizer
 * step, touched or not. The updater counts what it applied (embed.applied). The parts' ids are the updater's rows (`--sync sharded` renumbers them into its
 * packed shard first).
 */
export function applyRows(embed: EmbeddingUpdater, parts: SparseGrad[], t: number): void {
  const d = embed.field.dim;
  const merged = parts.length === 1 ? parts[0] : mergeSparse(parts, d + 1);
  const { field, linear } = splitPacked(merged, d);
  embed.update(field, linear, t);
}
