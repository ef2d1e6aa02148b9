/**
 * The training thread's side of --stream: rows come from a reader thread (stream-worker.ts) that re-reads
 * the file, instead of from arrays holding the whole split. A TrainFeed hands out this rank's rows step by
 * step; an eval pass streams this rank's share of the eval rows.
 */
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { UserError } from '../util/errors.js';
import type { StreamMessage, StreamRequest } from './stream-worker.js';
import type { EncodedData, StepRows, TrainFeed } from './types.js';


const WORKER_URL = new URL(`./stream-worker${extname(fileURLToPath(import.meta.url))}`, import.meta.url);

/** Reader thread -> messages in order; `ack` returns a credit. Rejections carry the worker's UserError. */
class StreamWorker {
  private readonly worker: Worker;
  private readonly queue: StreamMessage[] = [];
  private waiter: ((m: StreamMessage) => void) | null = null;
  private failure: Error | null = null;
  private closed = false;

  constructor(request: StreamRequest) {
    this.worker = new Worker(WORKER_URL, { workerData: request });
    this.worker.on('message', (m: StreamMessage) => this.deliver(m));
    this.worker.on('error', (e) => this.fail(e));
    this.worker.on('exit', (code) => {
      if (!this.closed) this.fail(new Error(`stream reader for ${request.path} exited (code ${code}) before finishing`));
    });
  }

  async receive(): Promise<StreamMessage> {
    const m = this.queue.shift() ?? (await new Promise<StreamMessage>((resolve) => (this.waiter = resolve)));
    if (m.kind === 'error') throw this.failure ?? new Error(m.message);
    return m;
  }

  ack(): void {
    this.worker.postMessage(0);
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.worker.terminate();
  }

  private deliver(m: StreamMessage): void {
    if (m.kind === 'error') this.failure = m.user ? new UserError(m.message) : new Error(`stream reader: ${m.message}`);
    if (m.kind === 'done') this.closed = true; // it exits next
    const w = this.waiter;
    this.waiter = null;
    if (w) w(m);
    else this.queue.push(m);
  }

  private fail(e: Error): void {
    this.deliver({ kind: 'error', user: e instanceof UserError, message: e.message });
    this.failure = e;
  }
}

export function openTrainFeed(request: StreamRequest, numNumeric: number, numCategorical: number): TrainFeed {
  const job = request.job;
  if (job.kind !== 'train') throw new Error('openTrainFeed: not a train request');
  const worker = new StreamWorker(request);
  let window: Extract<StreamMessage, { kind: 'window' }> | null = null;
  let at = 0;
  let step = job.startStep;
  const advance = async (): Promise<void> => {
    for (;;) {
      while (window && at < window.steps.length && window.steps[at].step < step) at++;
      if (window && at < window.steps.length) return;
      if (window) worker.ack(); // done with it: the reader may post another
      const m = await worker.receive();
      if (m.kind !== 'window') throw new Error(`stream reader: ended before step ${step + 1}`);
      window = m;
      at = 0;
    }
  };
  return {
    ready: advance,
    async next(): Promise<StepRows> {
      await advance();
      if (!window) throw new Error('stream feed: no window');
      const s = window.steps[at++];
      const d = window.data;
      const J = numNumeric;
      const F = numCategorical;
      step++;
      return {
        step: s.step,
        globalRows: s.globalRows,
        data: {
          rows: s.to - s.from,
          numNumeric: J,
          numCategorical: F,
          labels: d.labels.subarray(s.from, s.to),
          numeric: d.numeric.subarray(s.from * J, s.to * J),
          ids: d.ids.subarray(s.from * F, s.to * F),
        },
      };
    },
    close: () => worker.close(),
  };
}

/** Streams an eval request's rows to `onChunk`, acknowledging each once it has been handled. */
export async function streamEval(request: StreamRequest, numNumeric: number, numCategorical: number, onChunk: (rows: EncodedData) => Promise<void>): Promise<void> {
  const worker = new StreamWorker(request);
  try {
    for (;;) {
      const m = await worker.receive();
      if (m.kind === 'done') return;
      if (m.kind !== 'chunk') throw new Error(`stream reader: unexpected ${m.kind} message`);
      const { rows, labels, numeric, ids } = m.data;
      await onChunk({ rows, numNumeric, numCategorical, labels, numeric, ids });
      worker.ack();
    }
  } finally {
    await worker.close();
  }
}
