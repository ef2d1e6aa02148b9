/**
 * What the data format tests (data-csv, data-libsvm, data-tokens, data-hashing, data-formats) share:
 * the loadData options, the layout --data resolves, a LineParser run in this thread with its rows
 * flattened, the message of a UserError, and a seeded generator.
 */
import { Rng } from '../../src/util/rng.js';
import type { Layout } from '../../src/data/formats.js';
import type { DataOptions } from '../../src/data/load.js';
import { LineParser } from '../../src/data/parse.js';
import { parseDataSpec, resolveLayout } from '../../src/data/spec.js';
import type { RawChunk } from '../../src/data/types.js';
import { UserError } from '../../src/util/errors.js';

export const base: Omit<DataOptions, 'data'> = {
  split: 'sequential:0.25',
  seed: 1,
  minCount: 1,
  numericTransform: 'log1p',
  skipBadLines: false,
};

export const bytes = (s: string): Buffer => Buffer.from(s, 'latin1');

type FileSource = Parameters<typeof resolveLayout>[0];
export const layoutOf = (data: string, flag: '--data' | '--eval-data' = '--data'): Promise<Layout> =>
  resolveLayout(parseDataSpec(data, flag) as FileSource, flag);

/** Parses `text` with `layout` in this thread; rows flattened. */
export function parse(layout: Layout, text: string | Buffer, path = 'f', skipBadLines = false) {
  const chunks: RawChunk[] = [];
  const p = new LineParser(layout, path, { chunkRows: 3, skipBadLines }, (c) => chunks.push(c));
  p.push(typeof text === 'string' ? bytes(text) : text);
  p.end();
  return {
    labels: chunks.flatMap((c) => [...c.labels]),
    numeric: chunks.flatMap((c) => [...c.numeric]),
    keys: chunks.flatMap((c) => [...c.keys]),
    lines: chunks.flatMap((c) => [...(c.lines ?? [])]),
    skipped: p.skipped,
  };
}

/** The UserError `fn` throws (or undefined), for exact message checks. */
export async function errorOf(fn: () => unknown): Promise<string | undefined> {
  try {
    await fn();
  } catch (e) {
    if (e instanceof UserError) return e.message;
    throw e;
  }
  return undefined;
}

/** Uniform numbers in [0, 1) from the project's seeded generator. */
export function rng(seed: number): () => number {
  const g = new Rng(seed);
  return () => g.next();
}
