/** Evaluation of a replica over the eval rows (in memory or streamed), exact over the whole set on every rank. */
import type { Communicator } from '../comm/communicator.js';
import type { EarlyStopMetric } from '../config/train-config.js';
import type { EncodedData, RowStream } from '../data/types.js';
import { auc, logloss } from '../metrics/auc.js';
import { GradientComputer } from '../model/step.js';
import type { Replica } from '../replica/replica.js';
import { shardRange } from '../util/shard.js';

export interface EvalResult {
  auc: number;
  logloss: number;
  rows: number;
}

/** The best evaluation of a run by `metric` (the first of equals). */
export interface BestEval {
  step: number;
  auc: number;
  logloss: number;
  metric: EarlyStopMetric;
}

/**
 * Whether evaluation `e` is strictly better than `best` by `metric` (higher AUC, lower logloss): the first
 * evaluation always is; a NaN never beats a number, and a number always beats a NaN.
 */
export function improves(metric: EarlyStopMetric, e: { auc: number; logloss: number }, best: { auc: number; logloss: number } | null): boolean {
  if (!best) return true;
  const [x, b] = [e[metric], best[metric]];
  if (Number.isNaN(x)) return false;
  if (Number.isNaN(b)) return true;
  return metric === 'auc' ? x > b : x < b;
}

/**
 * Each rank scores its contiguous shard of the eval rows; the scores are gathered so AUC and logloss
 * are exact over the whole set, identical on every rank.
 */
export async function evaluate(rep: Replica, data: EncodedData, comm: Communicator, maxBatch: number): Promise<EvalResult> {
  const [from, to] = shardRange(data.rows, comm.rank, comm.size);
  const probs = new Float32Array(to - from);
  const grads = new GradientComputer(rep.model, Math.max(1, Math.min(maxBatch * 4, 8192)));
  const shard: EncodedData = {
    ...data,
    rows: to - from,
    labels: data.labels.subarray(from, to),
    numeric: data.numeric.subarray(from * data.numNumeric, to * data.numNumeric),
    ids: data.ids.subarray(from * data.numCategorical, to * data.numCategorical),
  };
  if (shard.rows > 0) await grads.predictData(rep.dense, rep.field, rep.first, shard, probs);
  let all = probs;
  if (comm.size > 1) {
    const parts = await comm.allgatherv(new Uint8Array(probs.buffer, probs.byteOffset, probs.byteLength));
    all = new Float32Array(data.rows);
    let at = 0;
    for (const p of parts) {
      const f = new Float32Array(p.buffer, p.byteOffset, p.byteLength / 4);
      all.set(f, at);
      at += f.length;
    }
  }
  return { auc: auc(data.labels, all), logloss: logloss(data.labels, all), rows: data.rows };
}

/** evaluate() over streamed eval rows: each rank reads its shard from the file; scores and labels are gathered. */
export async function evaluateStream(rep: Replica, stream: RowStream, rows: number, comm: Communicator, maxBatch: number): Promise<EvalResult> {
  const [from, to] = shardRange(rows, comm.rank, comm.size);
  // One buffer: this rank's scores, then its labels, so a single all-gather brings both.
  const mine = new Float32Array(2 * (to - from));
  const chunkRows = Math.max(1, Math.min(maxBatch * 4, 8192));
  const grads = new GradientComputer(rep.model, chunkRows);
  let at = 0;
  await stream.evalShard(comm.rank, comm.size, chunkRows, async (chunk) => {
    await grads.predictData(rep.dense, rep.field, rep.first, chunk, mine.subarray(at, at + chunk.rows));
    mine.set(chunk.labels, to - from + at);
    at += chunk.rows;
  });
  if (at !== to - from) throw new Error(`streamed eval: ${at} rows where ${to - from} were expected`);
  const probs = new Float32Array(rows);
  const labels = new Float32Array(rows);
  const parts = comm.size > 1 ? await comm.allgatherv(new Uint8Array(mine.buffer)) : [new Uint8Array(mine.buffer)];
  let o = 0;
  for (const p of parts) {
    const f = new Float32Array(p.buffer, p.byteOffset, p.byteLength / 4);
    const n = f.length / 2;
    probs.set(f.subarray(0, n), o);
    labels.set(f.subarray(n), o);
    o += n;
  }
  return { auc: auc(labels, probs), logloss: logloss(labels, probs), rows };
}
