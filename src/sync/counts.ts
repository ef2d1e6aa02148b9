import { TALLY_LENGTH } from '../optim/cowclip.js';
import type { EmbedUpdateStats } from '../optim/embed-update.js';
import type { UpdateCounts } from './types.js';

export const NO_COUNTS: UpdateCounts = Object.freeze({ rows: 0, clipRows: 0, clipped: 0, buckets: Object.freeze(new Array<number>(TALLY_LENGTH).fill(0)) as number[] });

/** An updater's figures as counts: CowClip, where it runs, looks at every row the update covers. */
export function countsOf(applied: EmbedUpdateStats): UpdateCounts {
  return { rows: applied.rowsInBatch, clipRows: applied.rowsInBatch, clipped: applied.rowsClipped, buckets: [...applied.buckets] };
}
