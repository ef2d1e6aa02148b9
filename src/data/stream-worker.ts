/**
 * Worker-thread entry of --stream: reads a file again and again, parsing only the lines this rank needs,
 * encodes them and posts them to the training thread with their buffers transferred.
 *  - train: every epoch in file order; the rows of each window (stream-plan.ts) are placed in step order
 *    and posted as one message once the window is complete; a window is posted only after the training
 *    thread has acknowledged the previous one, so at most about three windows of this rank are in memory.
 *  - eval: the rank's contiguous range of eval rows, in chunks (a few in flight).
 * Which lines are rows, and which are train or eval rows, was settled by the first pass (load.ts): the
 * bad lines it skipped are passed over here, so row numbering is the same on every pass and every rank.
 */
import { createReadStream } from 'node:fs';
import { createGunzip } from 'node:zlib';
import { parentPort, workerData } from 'node:worker_threads';
import { UserError } from '../util/errors.js';
import type { Layout } from './formats.js';
import { applyNumeric, type NumericParams } from './numeric.js';
import { LineParser } from './parse.js';
import { isEvalLine } from './split.js';
import { WindowPlan, type WindowLayout, type WindowStep } from './stream-plan.js';
import type { RawChunk } from './types.js';
import { HashedVocabulary, Vocabulary, type Encoder, type HashSpec } from './vocab.js';

/** How the first pass told train rows from eval rows (all: every row of this file is the job's). */
export type RowSplit = { kind: 'random'; seed: number; fraction: number } | { kind: 'sequential'; trainRows: number } | { kind: 'all' };

export type EncoderSpec = { kind: 'keys'; fieldKeys: Float64Array[] } | { kind: 'hash'; numFields: number; hash: HashSpec };

export interface StreamRequest {
  path: string;
  gzip: boolean;
  layout: Layout;
  /** Lines the first pass skipped as bad (ascending). */
  badLines: Float64Array;
  split: RowSplit;
  encoder: EncoderSpec;
  numeric: NumericParams;
  job:
    | { kind: 'train'; trainRows: number; globalBatch: number; windowSteps: number; seed: number; rank: number; size: number; startStep: number; totalSteps: number }
    | { kind: 'eval'; from: number; to: number; chunkRows: number };
}

/** Rows in step order: labels [n], numeric [n * J], ids [n * F]. */
export interface EncodedRows {
  rows: number;
  labels: Float32Array;
  numeric: Float32Array;
  ids: Int32Array;
}

export type StreamMessage =
  | { kind: 'window'; steps: WindowStep[]; data: EncodedRows }
  | { kind: 'chunk'; data: EncodedRows }
  | { kind: 'done' }
  | { kind: 'error'; user: boolean; message: string };

/** Messages posted and not yet acknowledged: the training thread works on one while the next waits. */
const IN_FLIGHT = 2;

const port = parentPort;
if (!port) throw new Error('stream-worker.ts must run in a worker thread');
const post = (msg: StreamMessage): void => {
  const d = 'data' in msg ? msg.data : null;
  port.postMessage(msg, d ? ([d.labels.buffer, d.numeric.buffer, d.ids.buffer] as ArrayBuffer[]) : []);
};

let credits = 0;
let wake: (() => void) | null = null;
port.on('message', () => {
  credits++;
  const w = wake;
  wake = null;
  w?.();
});
async function takeCredit(): Promise<void> {
  while (credits === 0) await new Promise<void>((r) => (wake = r));
  credits--;
}

function makeEncoder(spec: EncoderSpec): Encoder {
  return spec.kind === 'hash' ? new HashedVocabulary(spec.numFields, spec.hash) : new Vocabulary(spec.fieldKeys);
}

/** Line number -> 'train' | 'eval' | null (a skipped bad line); call once per data line, in order. */
function classifier(req: StreamRequest): (lineNo: number) => 'train' | 'eval' | null {
  const { badLines, split } = req;
  const all = req.job.kind;
  let bi = 0;
  let row = 0;
  return (lineNo) => {
    while (bi < badLines.length && badLines[bi] < lineNo) bi++;
    if (bi < badLines.length && badLines[bi] === lineNo) return null;
    const r = row++;
    if (split.kind === 'all') return all;
    if (split.kind === 'sequential') return r < split.trainRows ? 'train' : 'eval';
    return isEvalLine(split.seed, lineNo, split.fraction) ? 'eval' : 'train';
  };
}

/** Encodes a parsed chunk's rows (ids and transformed numeric features) into `out` at the given rows. */
class RowEncoder {
  private readonly F: number;
  private readonly J: number;
  private ids = new Int32Array(0);
  private num = new Float32Array(0);

  constructor(
    private readonly encoder: Encoder,
    private readonly numeric: NumericParams,
    layout: Layout,
  ) {
    this.F = layout.fieldNames.length;
    this.J = layout.numericNames.length;
  }

  alloc(rows: number): EncodedRows {
    return { rows, labels: new Float32Array(rows), numeric: new Float32Array(rows * this.J), ids: new Int32Array(rows * this.F) };
  }

  /** Row r of `chunk` goes to row dest(r) of `out`. */
  place(chunk: RawChunk, out: (r: number) => { rows: EncodedRows; at: number }): void {
    const { F, J } = this;
    const n = chunk.rows;
    if (this.ids.length < n * F) this.ids = new Int32Array(n * F);
    if (this.num.length < n * J) this.num = new Float32Array(n * J);
    this.encoder.encodeRows(chunk.keys, n, this.ids, 0);
    // Raw values rounded to float32 first, as the in-memory path keeps them.
    for (let i = 0; i < n * J; i++) this.num[i] = chunk.numeric[i];
    applyNumeric(this.numeric, this.num, this.num, J, 0, 0, n * J);
    for (let r = 0; r < n; r++) {
      const { rows, at } = out(r);
      rows.labels[at] = chunk.labels[r];
      for (let f = 0; f < F; f++) rows.ids[at * F + f] = this.ids[r * F + f];
      for (let j = 0; j < J; j++) rows.numeric[at * J + j] = this.num[r * J + j];
    }
  }
}

/** Reads the file once, feeding `parser`; `after` runs after each piece and at the end (false: stop reading). */
async function readOnce(req: StreamRequest, parser: LineParser, after: (ended: boolean) => Promise<boolean>): Promise<void> {
  const file = createReadStream(req.path, { highWaterMark: 1 << 20 });
  const source = req.gzip ? file.pipe(createGunzip({ chunkSize: 1 << 18 })) : file;
  try {
    for await (const buf of source as AsyncIterable<Buffer>) {
      parser.push(buf);
      parser.flushRows();
      if (!(await after(false))) return;
    }
  } catch (e) {
    if (e instanceof UserError) throw e;
    const err = e as NodeJS.ErrnoException;
    if (err.code?.startsWith('Z_')) throw new UserError(`${req.path}: truncated or corrupt gzip data after line ${parser.lineNo} (${err.message})`);
    throw new UserError(`cannot read ${req.path}: ${err.message}`);
  } finally {
    file.destroy();
  }
  parser.end();
  parser.flushRows();
  await after(true);
}

const changed = (path: string, what: string) => new UserError(`${path} changed while training streamed it (${what}); restart the job`);

async function train(req: StreamRequest & { job: { kind: 'train' } }): Promise<void> {
  const { job } = req;
  const plan = new WindowPlan(job.trainRows, job.globalBatch, job.windowSteps, job.seed, job.rank, job.size);
  const enc = new RowEncoder(makeEncoder(req.encoder), req.numeric, req.layout);
  const last = plan.locate(job.totalSteps - 1);
  let { epoch, window: first } = plan.locate(job.startStep);
  let posted = 0;
  for (; epoch <= last.epoch; epoch++, first = 0) {
    const lastWindow = epoch === last.epoch ? last.window : plan.windowsPerEpoch - 1;
    const open = new Map<number, { layout: WindowLayout; data: EncodedRows; selected: number }>();
    const windowOf = (w: number) => {
      let o = open.get(w);
      if (!o) {
        const layout = plan.layout(epoch, w);
        o = { layout, data: enc.alloc(layout.rankRows), selected: 0 };
        open.set(w, o);
      }
      return o;
    };
    const classify = classifier(req);
    let t = 0; // train row index in this epoch
    const pending: { rows: EncodedRows; at: number }[] = [];
    let taken = 0;
    let next = first; // the next window to post
    const parser = new LineParser(req.layout, req.path, {
      chunkRows: 4096,
      skipBadLines: false,
      select: (lineNo) => {
        if (classify(lineNo) !== 'train') return false;
        const w = Math.floor(t / plan.windowRows);
        const i = t++ - w * plan.windowRows;
        if (w < first || w > lastWindow) return false;
        const o = windowOf(w);
        const d = o.layout.dest[i];
        if (d < 0) return false;
        o.selected++;
        pending.push({ rows: o.data, at: d });
        return true;
      },
    }, (chunk) => {
      enc.place(chunk, (r) => pending[taken + r]);
      taken += chunk.rows;
      if (taken === pending.length) pending.length = taken = 0;
    });
    await readOnce(req, parser, async (ended) => {
      // A window is complete once the train rows have gone past its end (or the file has ended).
      while (next <= lastWindow && (t >= (next + 1) * plan.windowRows || t >= job.trainRows || ended)) {
        const o = windowOf(next);
        if (o.selected !== o.layout.rankRows) throw changed(req.path, `${o.selected} rows of a window where ${o.layout.rankRows} were expected`);
        if (posted++ >= IN_FLIGHT) await takeCredit();
        post({ kind: 'window', steps: o.layout.steps, data: o.data });
        open.delete(next++);
      }
      return next <= lastWindow;
    });
    if (next <= lastWindow || (t !== job.trainRows && epoch < last.epoch)) throw changed(req.path, `${t} train rows where the first pass counted ${job.trainRows}`);
  }
  post({ kind: 'done' });
}

async function evaluate(req: StreamRequest & { job: { kind: 'eval' } }): Promise<void> {
  const { from, to, chunkRows } = req.job;
  const enc = new RowEncoder(makeEncoder(req.encoder), req.numeric, req.layout);
  const classify = classifier(req);
  let e = 0; // eval row index in the file
  let placed = 0;
  const ready: EncodedRows[] = [];
  const fresh = () => enc.alloc(Math.min(chunkRows, to - from - placed));
  let out = fresh();
  let filled = 0;
  const parser = new LineParser(req.layout, req.path, {
    chunkRows: 4096,
    skipBadLines: false,
    select: (lineNo) => {
      if (classify(lineNo) !== 'eval') return false;
      const i = e++;
      return i >= from && i < to;
    },
  }, (chunk) => {
    const rotate = () => {
      ready.push(out);
      out = fresh();
      filled = 0;
    };
    enc.place(chunk, () => {
      if (filled === out.rows) rotate();
      placed++;
      return { rows: out, at: filled++ };
    });
    if (filled === out.rows) rotate();
  });
  let posted = 0;
  let sent = 0;
  await readOnce(req, parser, async (ended) => {
    if (ended && filled > 0) throw changed(req.path, 'eval rows');
    for (const data of ready) {
      if (data.rows === 0) continue;
      if (posted++ >= IN_FLIGHT) await takeCredit();
      post({ kind: 'chunk', data });
      sent += data.rows;
    }
    ready.length = 0;
    return e < to;
  });
  if (sent !== to - from) throw changed(req.path, `${sent} eval rows for this rank where ${to - from} were expected`);
  post({ kind: 'done' });
}

const req = workerData as StreamRequest;
(req.job.kind === 'train' ? train(req as StreamRequest & { job: { kind: 'train' } }) : evaluate(req as StreamRequest & { job: { kind: 'eval' } })).catch((e: unknown) => {
  const user = e instanceof UserError;
  post({ kind: 'error', user, message: user ? e.message : String((e as Error)?.stack ?? e) });
});
