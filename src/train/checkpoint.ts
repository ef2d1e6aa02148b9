import { createHash } from 'node:crypto';
import { readFile, rename, rm, open } from 'node:fs/promises';
import { join } from 'node:path';
import { configFingerprint, type TrainConfig } from '../config/train-config.js';
import type { LoadedData } from '../data/types.js';
import { packageVersion } from '../util/version.js';
import { UserError } from '../util/errors.js';
import type { Optimizer } from '../optim/optimizer.js';
import type { Replica } from '../replica/replica.js';
import { makeDirs } from '../util/outputs.js';

/**
 * Checkpoint layout (documented in the README): DIR/manifest.json plus one raw little-endian float32
 * file per tensor, and the vocabulary files. Written into DIR.tmp-PID, fsynced, then renamed over DIR,
 * so a reader never sees a half-written checkpoint.
 */
export interface TensorEntry {
  name: string;
  shape: number[];
  dtype: 'float32';
  file: string;
  sha256: string;
}

export interface Manifest {
  format: 'ddp-ctr-checkpoint';
  formatVersion: 1;
  packageVersion: string;
  step: number;
  model: { name: string; config: Replica['model']['config'] };
  config: TrainConfig;
  fieldSizes: number[];
  fieldOffsets: number[];
  vocabulary: string[];
  tensors: TensorEntry[];
}

/** Every tensor of a replica, parameters and optimizer state, by checkpoint name. */
export function replicaTensors(rep: Replica): { name: string; shape: number[]; data: Float32Array }[] {
  const out: { name: string; shape: number[]; data: Float32Array }[] = [];
  for (const p of rep.model.params) out.push({ name: `dense/${p.name}`, shape: p.shape, data: rep.dense.subarray(p.offset, p.offset + p.size) });
  const { rows, dim } = rep.field;
  out.push({ name: 'embedding/field', shape: [rows, dim], data: rep.field.weights });
  out.push({ name: 'embedding/first_order', shape: [rows, 1], data: rep.first.weights });
  const state = (group: string, shape: number[], opt: Optimizer) => {
    for (const st of opt.state) out.push({ name: `optimizer/${group}/${st.name}`, shape: st.perRow ? [shape[0], 1] : shape, data: st.data });
  };
  state('dense', [rep.dense.length], rep.denseOpt);
  state('field', [rows, dim], rep.embed.fieldOpt);
  state('first_order', [rows, 1], rep.embed.firstOpt);
  return out;
}

/** The bytes of `a` as little-endian float32 (the checkpoint's and predict's file format). */
export function littleEndianBytes(a: Float32Array): Uint8Array {
  const bytes = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  if (new Uint8Array(new Uint16Array([1]).buffer)[0] === 1) return bytes;
  const swapped = new Uint8Array(bytes.length);
  for (let i = 0; i < bytes.length; i += 4) {
    swapped[i] = bytes[i + 3];
    swapped[i + 1] = bytes[i + 2];
    swapped[i + 2] = bytes[i + 1];
    swapped[i + 3] = bytes[i];
  }
  return swapped;
}

async function writeSynced(path: string, data: Uint8Array | string): Promise<void> {
  const fh = await open(path, 'w');
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
}

export async function saveCheckpoint(dir: string, rep: Replica, cfg: TrainConfig, data: LoadedData): Promise<Manifest> {
  const tmp = `${dir.replace(/\/+$/, '')}.tmp-${process.pid}`;
  await rm(tmp, { recursive: true, force: true });
  makeDirs(tmp);
  const tensors: TensorEntry[] = [];
  for (const t of replicaTensors(rep)) {
    const file = `${t.name.replace(/\//g, '.')}.f32`;
    const bytes = littleEndianBytes(t.data);
    await writeSynced(join(tmp, file), bytes);
    tensors.push({ name: t.name, shape: t.shape, dtype: 'float32', file, sha256: createHash('sha256').update(bytes).digest('hex') });
  }
  const vocabulary = await data.saveVocabulary(tmp);
  const manifest: Manifest = {
    format: 'ddp-ctr-checkpoint',
    formatVersion: 1,
    packageVersion: packageVersion(),
    step: rep.step,
    model: { name: rep.model.name, config: rep.model.config },
    config: cfg,
    fieldSizes: data.fieldSizes,
    fieldOffsets: data.fieldOffsets,
    vocabulary,
    tensors,
  };
  await writeSynced(join(tmp, 'manifest.json'), JSON.stringify(manifest, null, 2) + '\n');
  // Keep the previous checkpoint until the new one is complete, then swap.
  const old = `${dir.replace(/\/+$/, '')}.old-${process.pid}`;
  await rename(dir, old).catch((e: NodeJS.ErrnoException) => {
    if (e.code !== 'ENOENT') throw e;
  });
  await rename(tmp, dir);
  await rm(old, { recursive: true, force: true });
  return manifest;
}

/** A checkpoint's manifest.json, checked to be one. */
export async function readManifest(dir: string): Promise<Manifest> {
  const mpath = join(dir, 'manifest.json');
  let manifest: Manifest;
  try {
    manifest = JSON.parse(await readFile(mpath, 'utf8')) as Manifest;
  } catch (e) {
    throw new UserError(`${mpath}: cannot read checkpoint manifest: ${(e as Error).message}`);
  }
  if (manifest.format !== 'ddp-ctr-checkpoint') throw new UserError(`${mpath}: not a ddp-ctr checkpoint (format ${String(manifest.format)})`);
  return manifest;
}

/** Reads a checkpoint's manifest and tensors, verifying sizes and digests. */
export async function loadCheckpoint(dir: string): Promise<{ manifest: Manifest; tensors: Map<string, Float32Array> }> {
  const manifest = await readManifest(dir);
  const tensors = new Map<string, Float32Array>();
  for (const t of manifest.tensors) {
    const buf = await readFile(join(dir, t.file));
    const expected = t.shape.reduce((a, b) => a * b, 1) * 4;
    if (buf.length !== expected) throw new UserError(`${join(dir, t.file)}: ${buf.length} bytes, expected ${expected} for shape [${t.shape}]`);
    if (createHash('sha256').update(buf).digest('hex') !== t.sha256) throw new UserError(`${join(dir, t.file)}: checksum mismatch (file corrupted)`);
    const copy = new Float32Array(expected / 4);
    new Uint8Array(copy.buffer).set(buf);
    tensors.set(t.name, copy);
  }
  return { manifest, tensors };
}

/** The checkpoint's model must be `rep`'s: same model and architecture (config), same vocabulary sizes. */
function checkSameModel(dir: string, manifest: Manifest, rep: Replica, fieldSizes: number[], where: string, hint = ''): void {
  const theirs: Record<string, unknown> = { model: manifest.model.name, ...manifest.model.config };
  const ours: Record<string, unknown> = { model: rep.model.name, ...rep.model.config };
  const differing = Object.keys({ ...theirs, ...ours }).filter((k) => JSON.stringify(theirs[k]) !== JSON.stringify(ours[k]));
  if (differing.length) {
    const list = differing.map((k) => `${k} ${JSON.stringify(theirs[k])} (this run: ${JSON.stringify(ours[k])})`).join(', ');
    throw new UserError(`${where} ${dir}: the checkpoint's model differs: ${list}${hint}`);
  }
  if (JSON.stringify(manifest.fieldSizes) !== JSON.stringify(fieldSizes)) {
    throw new UserError(`${where} ${dir}: the checkpoint's vocabulary sizes per field ${JSON.stringify(manifest.fieldSizes)} differ from this run's ${JSON.stringify(fieldSizes)}`);
  }
}

/** Copies the checkpoint's tensors named by `want` into `rep`'s. */
function copyTensors(dir: string, saved: Map<string, Float32Array>, rep: Replica, where: string, want: (name: string) => boolean): void {
  for (const t of replicaTensors(rep)) {
    if (!want(t.name)) continue;
    const data = saved.get(t.name);
    if (!data || data.length !== t.data.length) throw new UserError(`${where} ${dir}: tensor ${t.name} is ${data ? `of ${data.length} values, expected ${t.data.length}` : 'missing'}`);
    t.data.set(data);
  }
}

const isParameter = (name: string): boolean => name.startsWith('dense/') || name.startsWith('embedding/');

/**
 * Loads a checkpoint into `rep` (parameters and optimizer state) and returns its step, after checking that it
 * belongs to this job: the same model, vocabulary sizes and training flags (only --steps/--epochs may differ,
 * to train further, and --early-stop/--early-stop-metric). `where` names the flag it came from.
 */
export async function resumeFrom(dir: string, rep: Replica, cfg: TrainConfig, data: LoadedData, where = '--resume'): Promise<number> {
  const { manifest, tensors } = await loadCheckpoint(dir);
  checkSameModel(dir, manifest, rep, data.fieldSizes, where);
  // When training stops changes no step's maths: the length and its early stop may differ.
  const flags = (c: TrainConfig): Record<string, unknown> => {
    const { steps: _s, epochs: _e, earlyStop: _p, earlyStopMetric: _m, ...rest } = JSON.parse(configFingerprint(c)) as Record<string, unknown>;
    return rest;
  };
  const [theirs, ours] = [flags(manifest.config), flags(cfg)];
  const differing = Object.keys({ ...theirs, ...ours }).filter((k) => JSON.stringify(theirs[k]) !== JSON.stringify(ours[k]));
  if (differing.length) {
    throw new UserError(`${where} ${dir}: training flags differ from the checkpoint's: ${differing.map((k) => `${k}=${JSON.stringify(ours[k])} (checkpoint: ${JSON.stringify(theirs[k])})`).join(', ')}`);
  }
  copyTensors(dir, tensors, rep, where, () => true);
  rep.step = manifest.step;
  return manifest.step;
}

/**
 * Loads only a checkpoint's parameters into `rep` (optimizer state and step stay fresh): what scoring
 * (ddp-launch eval/predict) and fine-tuning (--init-from) start from. The architecture must be the same;
 * every other flag may differ. Returns the manifest.
 */
export async function loadWeights(dir: string, rep: Replica, fieldSizes: number[], where: string): Promise<Manifest> {
  const { manifest, tensors } = await loadCheckpoint(dir);
  const hint = where === '--init-from' ? ' (fine-tuning keeps the architecture: give the checkpoint\'s --model, --embed-dim, --mlp and model flags)' : '';
  checkSameModel(dir, manifest, rep, fieldSizes, where, hint);
  copyTensors(dir, tensors, rep, where, isParameter);
  return manifest;
}
