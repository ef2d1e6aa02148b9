/**
 * `ddp-launch eval` and `ddp-launch predict`: a checkpoint's model scores data, sharded over the ranks.
 *
 * Every rank streams the whole input (parsing in its reader thread), so all ranks see the same chunks of
 * --batch rows in the same order without talking; chunks go round-robin: in each round of N chunks, rank r scores chunk r
 * and one allgatherv brings every rank's probabilities to rank 0, which hands them on in input order (to
 * the AUC accumulator, or to the output file). A round holds N chunks at most: the file is never held whole.
 */
import { open, rename, rm, writeFile } from 'node:fs/promises';
import type { Communicator } from '../comm/communicator.js';
import type { ScoreConfig } from '../config/score-config.js';
import { loadVocabulary, streamWithVocabulary, type SavedVocabulary } from '../data/load.js';
import { grow } from '../data/keytable.js';
import type { EncodedData } from '../data/types.js';
import { auc, logloss } from '../metrics/auc.js';
import { GradientComputer } from '../model/step.js';
import { UserError } from '../util/errors.js';
import type { Logger } from '../util/log.js';
import { littleEndianBytes, loadWeights, readManifest, type Manifest } from './checkpoint.js';
import { formatSeconds } from './progress.js';
import { buildReplica, type Replica } from '../replica/replica.js';

/** What rank 0 does with each scored chunk, in input order. */
type Sink = (labels: Float32Array, probs: Float32Array) => Promise<void>;

/** A checkpoint's model, ready to score: its weights, vocabulary and numeric transform. */
export interface ScoringModel {
  rep: Replica;
  manifest: Manifest;
  vocabulary: SavedVocabulary;
}

export async function loadScoringModel(dir: string): Promise<ScoringModel> {
  const manifest = await readManifest(dir);
  const vocabulary = { ...(await loadVocabulary(dir)), from: dir };
  const fieldSizes = manifest.fieldSizes;
  const shape = {
    numFields: fieldSizes.length,
    numNumeric: vocabulary.meta.numericNames.length,
    totalRows: fieldSizes.reduce((a, b) => a + b, 0),
    trainRows: 1,
  };
  const rep = buildReplica(manifest.config, shape);
  await loadWeights(dir, rep, fieldSizes, '--from');
  return { rep, manifest, vocabulary };
}

export interface EvalOutcome {
  auc: number;
  logloss: number;
  rows: number;
  skippedLines: number;
}

/** Runs the job `cfg` names on every rank; rank 0 reports and writes. */
export async function runScore(cfg: ScoreConfig, comm: Communicator, log: Logger): Promise<EvalOutcome | null> {
  const model = await loadScoringModel(cfg.from);
  const { manifest } = model;
  if (comm.rank === 0) {
    log.info(
      `${cfg.command}: checkpoint ${cfg.from} (${manifest.model.name}, step ${manifest.step}, ${manifest.fieldSizes.reduce((a, b) => a + b, 0).toLocaleString('en')} ids) on ${cfg.data}, ${comm.size} rank(s)`,
    );
  }
  if (cfg.command === 'eval') {
    const acc = new Accumulator();
    const skippedLines = await scoreAll(cfg, model, comm, log, comm.rank === 0 ? async (l, p) => acc.add(l, p) : null);
    if (comm.rank !== 0) return null;
    const { labels, probs } = acc.arrays();
    const outcome = { auc: auc(labels, probs), logloss: logloss(labels, probs), rows: labels.length, skippedLines };
    log.info(`eval: auc ${outcome.auc.toFixed(4)} logloss ${outcome.logloss.toFixed(4)} on ${outcome.rows} rows${skippedLines ? ` (${skippedLines} bad lines skipped)` : ''}`);
    if (cfg.out) {
      const json = { ...outcome, checkpoint: cfg.from, step: manifest.step, model: manifest.model.name, data: cfg.data, worldSize: comm.size, finishedAt: new Date().toISOString() };
      await writeWhole(cfg.out, `${JSON.stringify(json, null, 2)}\n`);
      log.info(`eval result written to ${cfg.out}`);
    }
    return outcome;
  }
  // predict: rank 0 writes beside the target and renames it into place when every row is there.
  const out = cfg.out!;
  const tmp = `${out}.tmp-${process.pid}`;
  const file = comm.rank === 0 ? await open(tmp, 'w') : null;
  let rows = 0;
  try {
    await scoreAll(cfg, model, comm, log, file && (async (_labels, probs) => {
      rows += probs.length;
      await file.writeFile(cfg.format === 'f32' ? littleEndianBytes(probs) : csvLines(probs));
    }));
    if (file) {
      await file.sync();
      await file.close();
      await rename(tmp, out);
      log.info(`predict: ${rows} probabilities written to ${out} (${cfg.format})`);
    }
  } catch (err) {
    await file?.close().catch(() => undefined);
    if (file) await rm(tmp, { force: true });
    throw err;
  }
  return null;
}

/** Streams the data, scores this rank's chunk of every round, hands rank 0's `sink` every chunk in order. Returns the bad lines skipped. */
async function scoreAll(cfg: ScoreConfig, model: ScoringModel, comm: Communicator, log: Logger, sink: Sink | null): Promise<number> {
  const { rep } = model;
  const grads = new GradientComputer(rep.model, cfg.batch);
  const round: EncodedData[] = [];
  const t0 = performance.now();
  let scored = 0;
  let lastLog = t0;
  const flush = async (): Promise<void> => {
    const mine = round[comm.rank];
    const probs = new Float32Array(mine ? mine.rows : 0);
    if (mine) await grads.predictData(rep.dense, rep.field, rep.first, mine, probs);
    const parts = await comm.allgatherv(new Uint8Array(probs.buffer, probs.byteOffset, probs.byteLength));
    for (const [i, chunk] of round.entries()) {
      const p = parts[i];
      // A copy: the gathered bytes need not be 4-byte aligned.
      if (sink) await sink(chunk.labels, new Float32Array(p.buffer.slice(p.byteOffset, p.byteOffset + p.byteLength)));
      scored += chunk.rows;
    }
    round.length = 0;
    const now = performance.now();
    if (comm.rank === 0 && cfg.logEvery > 0 && now - lastLog >= cfg.logEvery * 1000) {
      lastLog = now;
      log.info(`${cfg.command}: ${scored.toLocaleString('en')} rows scored in ${formatSeconds((now - t0) / 1000)} (${Math.round((scored * 1000) / (now - t0)).toLocaleString('en')} rows/s)`);
    }
  };
  let skipped;
  try {
    skipped = await streamWithVocabulary(cfg.data, model.vocabulary, { skipBadLines: cfg.skipBadLines, labelled: cfg.labels, chunkRows: cfg.batch }, async (chunk) => {
      round.push(chunk);
      if (round.length === comm.size) await flush();
    });
  } catch (err) {
    // The most likely cause of a bad first line: a test file without the label column.
    if (err instanceof UserError && cfg.command === 'predict' && cfg.labels && /, line 1: /.test(err.message)) {
      throw new UserError(`${err.message} (rows without the label column, as in Criteo's test.txt? add --no-labels)`);
    }
    throw err;
  }
  if (round.length > 0) await flush();
  return skipped;
}

/** Labels and probabilities in input order, in arrays that double as they fill. */
class Accumulator {
  private labels = new Float32Array(1 << 16);
  private probs = new Float32Array(1 << 16);
  private n = 0;

  add(labels: Float32Array, probs: Float32Array): void {
    if (this.n + probs.length > this.probs.length) {
      const size = Math.max(2 * this.probs.length, this.n + probs.length);
      [this.labels, this.probs] = [grow(this.labels, size), grow(this.probs, size)];
    }
    this.labels.set(labels, this.n);
    this.probs.set(probs, this.n);
    this.n += probs.length;
  }

  arrays(): { labels: Float32Array; probs: Float32Array } {
    return { labels: this.labels.subarray(0, this.n), probs: this.probs.subarray(0, this.n) };
  }
}

/** One probability per line, 9 significant digits: enough to give back the float32 exactly. */
function csvLines(probs: Float32Array): string {
  let text = '';
  for (let i = 0; i < probs.length; i++) text += `${probs[i].toPrecision(9)}\n`;
  return text;
}

/** Writes a small file whole, beside the target first, so a reader never sees half of it. */
async function writeWhole(path: string, text: string): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}`;
  await writeFile(tmp, text);
  await rename(tmp, path);
}
