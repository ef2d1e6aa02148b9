/**
 * Streams a Criteo/Avazu file (plain or gzip, detected by magic bytes) as RawChunks. Reading,
 * gunzip and parsing run in a worker thread; chunks arrive with their buffers transferred. Whether the
 * file opens at all is checked here first, so a wrong path fails without starting a worker.
 */
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { createGunzip } from 'node:zlib';
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { UserError } from '../util/errors.js';
import type { Layout } from './formats.js';
import type { RawChunk } from './types.js';

export interface ReadOptions {
  layout: Layout;
  skipBadLines: boolean;
  /** Rows per chunk (default 16384). */
  chunkRows?: number;
  /** Called about once per second with the fraction of the file read so far (compressed bytes). */
  onProgress?: (rows: number, fraction: number) => void;
}

export interface ReadSummary {
  /** Lines in the file, header and blank lines included. */
  lines: number;
  rows: number;
  skipped: number;
  /** Error of the first skipped line ('' if none). */
  firstSkipped: string;
  /** Numbers of the skipped lines, ascending. */
  skippedLines: Float64Array;
}

/** What the parent sends the worker (its workerData). */
export interface ReaderRequest {
  path: string;
  /** Gzip magic bytes seen at the start of the file. */
  gzip: boolean;
  size: number;
  layout: Layout;
  chunkRows: number;
  skipBadLines: boolean;
}

/** What the worker posts back. */
export type ReaderMessage =
  | { kind: 'chunk'; chunk: RawChunk; bytesRead: number; fileBytes: number }
  | ({ kind: 'done' } & ReadSummary)
  | { kind: 'error'; user: boolean; message: string };

// Under tap/ts-node this module is read-worker's .ts sibling; compiled, it is the .js in dist/.
// Workers inherit the parent's execArgv, so the TypeScript loader applies inside the worker too.
const WORKER_URL = new URL(`./read-worker${extname(fileURLToPath(import.meta.url))}`, import.meta.url);

/**
 * Reads `path`, calling `onChunk` for each chunk in file order, one at a time (an async onChunk is
 * awaited before the next chunk is handed over, and the worker reads ahead only a few chunks). Resolves
 * with the summary; rejects with the worker's UserError (same message) on bad input. The worker is
 * terminated on success, error, or if onChunk throws.
 */
export async function readFileChunks(
  path: string,
  opts: ReadOptions,
  onChunk: (chunk: RawChunk) => void | Promise<void>,
): Promise<ReadSummary> {
  // Open errors and the format sniffing happen here, before a worker is started.
  const { size, gzip } = await inspect(path);
  if (size === 0) throw new UserError(`${path}: no data rows (the file is empty)`);
  const request: ReaderRequest = {
    path,
    gzip,
    size,
    layout: opts.layout,
    chunkRows: opts.chunkRows ?? 16384,
    skipBadLines: opts.skipBadLines,
  };
  return new Promise<ReadSummary>((resolve, reject) => {
    const worker = new Worker(WORKER_URL, { workerData: request });
    let settled = false;
    let rows = 0;
    let lastProgress = Date.now();
    const finish = (err: Error | null, summary?: ReadSummary): void => {
      if (settled) return;
      settled = true;
      void worker.terminate();
      if (err) reject(err);
      else resolve(summary as ReadSummary);
    };
    // Messages are handled in order, each after the previous one's onChunk has settled.
    let queue: Promise<void> = Promise.resolve();
    const handle = async (msg: ReaderMessage): Promise<void> => {
      if (settled) return;
      try {
        if (msg.kind === 'chunk') {
          await onChunk(msg.chunk);
          rows += msg.chunk.rows;
          worker.postMessage(0); // ack: the worker may send another chunk
          if (opts.onProgress && Date.now() - lastProgress >= 1000) {
            lastProgress = Date.now();
            opts.onProgress(rows, msg.fileBytes > 0 ? msg.bytesRead / msg.fileBytes : 1);
          }
        } else if (msg.kind === 'done') {
          const { lines, rows: total, skipped, firstSkipped, skippedLines } = msg;
          finish(null, { lines, rows: total, skipped, firstSkipped, skippedLines });
        } else {
          finish(msg.user ? new UserError(msg.message) : new Error(`reader worker for ${path}: ${msg.message}`));
        }
      } catch (e) {
        finish(e as Error);
      }
    };
    worker.on('message', (msg: ReaderMessage) => {
      queue = queue.then(() => handle(msg));
    });
    worker.on('error', (e) => finish(e));
    // A message still queued behind an onChunk settles the read first.
    worker.on('exit', (code) => void queue.then(() => finish(new Error(`reader worker for ${path} exited (code ${code}) before finishing`))));
  });
}

/** Size, and whether the file starts with the gzip magic bytes (the name is not trusted). */
export async function inspect(path: string): Promise<{ size: number; gzip: boolean }> {
  try {
    const fh = await open(path, 'r');
    try {
      const size = (await fh.stat()).size;
      const magic = Buffer.alloc(2);
      const { bytesRead } = await fh.read(magic, 0, 2, 0);
      return { size, gzip: bytesRead === 2 && magic[0] === 0x1f && magic[1] === 0x8b };
    } finally {
      await fh.close();
    }
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : (e as Error).message;
    throw new UserError(`cannot read ${path}: ${why}`);
  }
}

/**
 * The first line of a file (plain or gzip; CR stripped), or the first non-blank one with `skipBlank`;
 * null when there is none. Reads at most 1 MiB.
 */
export async function readFirstLine(path: string, skipBlank = false): Promise<string | null> {
  const { gzip } = await inspect(path);
  const file = createReadStream(path, { highWaterMark: 1 << 16 });
  const source = gzip ? file.pipe(createGunzip()) : file;
  let text = '';
  try {
    for await (const buf of source as AsyncIterable<Buffer>) {
      text += buf.toString('latin1');
      const lines = text.split('\n');
      const complete = lines.slice(0, -1).map((l) => l.replace(/\r$/, ''));
      const found = skipBlank ? complete.find((l) => l.trim() !== '') : complete[0];
      if (found !== undefined) return found;
      if (text.length > 1 << 20) throw new UserError(`${path}: no line end in the first MiB; is this a text file?`);
    }
  } catch (e) {
    if (e instanceof UserError) throw e;
    throw new UserError(`cannot read ${path}: ${(e as Error).message}`);
  } finally {
    file.destroy();
  }
  const last = text.replace(/\r$/, '');
  return skipBlank ? (last.trim() === '' ? null : last) : text === '' ? null : last;
}
