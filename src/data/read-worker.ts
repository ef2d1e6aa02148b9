/**
 * Worker-thread entry of the file reader: file -> (gunzip) -> lines -> RawChunks, posted to the parent
 * with their ArrayBuffers transferred. At most MAX_IN_FLIGHT chunks wait unacknowledged, so a slow
 * consumer pauses the read instead of letting chunks pile up in memory.
 * Every failure is posted as an 'error' message (UserError flagged) rather than thrown, so the parent
 * rethrows the same message.
 */
import { createReadStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { parentPort, workerData } from 'node:worker_threads';
import { UserError } from '../util/errors.js';
import { LineParser } from './parse.js';
import type { RawChunk } from './types.js';
import type { ReaderMessage, ReaderRequest } from './reader.js';

const MAX_IN_FLIGHT = 4;

const port = parentPort;
if (!port) throw new Error('read-worker.ts must run in a worker thread');
const post = (msg: ReaderMessage, transfer: ArrayBuffer[] = []): void => port.postMessage(msg, transfer);

let inFlight = 0;
let wake: (() => void) | null = null;
port.on('message', () => {
  inFlight--;
  if (wake) {
    const w = wake;
    wake = null;
    w();
  }
});

async function run(req: ReaderRequest): Promise<void> {
  const { path, gzip, size } = req;
  const file = createReadStream(path, { highWaterMark: 1 << 20 });
  const pending: RawChunk[] = [];
  const parser = new LineParser(req.layout, path, req, (chunk) => pending.push(chunk));
  const flushPending = async (): Promise<void> => {
    for (const chunk of pending) {
      const transfer = [chunk.labels.buffer, chunk.numeric.buffer, chunk.keys.buffer] as ArrayBuffer[];
      if (chunk.lines) transfer.push(chunk.lines.buffer as ArrayBuffer);
      post({ kind: 'chunk', chunk, bytesRead: file.bytesRead, fileBytes: size }, transfer);
      inFlight++;
      while (inFlight >= MAX_IN_FLIGHT) await new Promise<void>((r) => (wake = r));
    }
    pending.length = 0;
  };
  // A parse error thrown here can surface from pipeline() as a generic AbortError once it has torn
  // the streams down, so it is kept aside and rethrown as is.
  let parseError: unknown = null;
  const consume = async (source: AsyncIterable<Buffer>): Promise<void> => {
    for await (const buf of source) {
      try {
        parser.push(buf);
      } catch (e) {
        parseError = e;
        throw e;
      }
      await flushPending();
    }
  };
  try {
    if (gzip) await pipeline(file, createGunzip({ chunkSize: 1 << 18 }), consume);
    else await pipeline(file, consume);
  } catch (e) {
    if (parseError !== null) throw parseError;
    const err = e as NodeJS.ErrnoException;
    if (err.code?.startsWith('Z_')) {
      // "after line 0" would read as a line number; a stream broken in its header has no line yet.
      const where = parser.lineNo === 0 ? 'before the first line' : `after line ${parser.lineNo}`;
      throw new UserError(`${path}: truncated or corrupt gzip data ${where} (${err.message})`);
    }
    throw new UserError(`cannot read ${path}: ${err.message}`);
  }
  parser.end();
  await flushPending();
  const skippedLines = Float64Array.from(parser.skippedLines);
  post({ kind: 'done', lines: parser.lineNo, rows: parser.rows, skipped: parser.skipped, firstSkipped: parser.firstSkipped, skippedLines }, [skippedLines.buffer]);
}

run(workerData as ReaderRequest).catch((e: unknown) => {
  const user = e instanceof UserError;
  post({ kind: 'error', user, message: user ? e.message : String((e as Error)?.stack ?? e) });
});
