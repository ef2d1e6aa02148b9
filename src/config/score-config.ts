import { formatHelp, parseFlags, type FlagSpec, type FlagValues } from './flags.js';
import { TRAIN_FLAGS } from './train-config.js';
import { UserError } from '../util/errors.js';
import { parseDataSpec } from '../data/spec.js';

/** `ddp-launch eval` and `ddp-launch predict`: scoring a checkpoint on data, sharded over the ranks. */
export const SCORE_COMMANDS = ['eval', 'predict'] as const;
export type ScoreCommand = (typeof SCORE_COMMANDS)[number];

export const isScoreCommand = (s: string | undefined): s is ScoreCommand => SCORE_COMMANDS.some((c) => c === s);

/** Output formats of predict. */
export const PREDICT_FORMATS = ['csv', 'f32'] as const;
export type PredictFormat = (typeof PREDICT_FORMATS)[number];

/** The training flags that mean the same when scoring (how ranks meet and what they print). */
const SHARED = ['backend', 'log-level', 'quiet', 'log-every', 'collective-timeout', 'bind', 'port', 'transport'] as const;
type SharedFlag = Extract<(typeof TRAIN_FLAGS)[number], { name: (typeof SHARED)[number] }>;
const isShared = (f: (typeof TRAIN_FLAGS)[number]): f is SharedFlag => (SHARED as readonly string[]).includes(f.name);

export const SCORE_FLAGS = [
  { group: 'Scoring', name: 'from', placeholder: 'DIR', type: 'string', help: 'the checkpoint to score with (a --save DIR): its weights, vocabulary and numeric transform' },
  { group: 'Scoring', name: 'data', placeholder: 'SPEC', type: 'string', help: 'rows to score: a file spec of the format the model was trained on (criteo:PATH, avazu:PATH, csv:PATH,..., libsvm:PATH,...; plain or .gz, every row of the file), or the synthetic spec the model was trained on (its eval split)' },
  { group: 'Scoring', name: 'out', placeholder: 'FILE', type: 'string', help: 'eval: also write the result as JSON to FILE; predict (required): one probability per input row, in input order' },
  { group: 'Scoring', name: 'format', type: 'string', choices: PREDICT_FORMATS, help: 'predict: csv (one probability per line, 9 significant digits) or f32 (raw little-endian float32, 4 bytes per row); default: f32 for FILE ending in .f32 or .bin, else csv' },
  { group: 'Scoring', name: 'labels', type: 'bool', default: true, help: 'predict: the rows have the label column (--no-labels: Criteo test.txt / Avazu test.csv layout, without it; a csv: file without a label column is described without label=; libsvm lines always start with a label)' },
  { group: 'Scoring', name: 'skip-bad-lines', type: 'bool', default: false, help: 'eval: skip and count malformed lines instead of failing (predict never skips: one output per input row)' },
  { group: 'Scoring', name: 'batch', type: 'int', default: 8192, min: 1, help: 'rows per forward pass on each rank' },
  ...TRAIN_FLAGS.filter(isShared),
] as const satisfies readonly FlagSpec[];

/** Parsed scoring flags, typed from SCORE_FLAGS, with what parseScoreConfig requires or settles. */
export type ScoreConfig = FlagValues<typeof SCORE_FLAGS> & { command: ScoreCommand; from: string; data: string; format: PredictFormat };

export function scoreHelp(command: ScoreCommand): string {
  const what =
    command === 'eval'
      ? 'AUC and logloss of a checkpoint on DATA: printed, and written as JSON with --out FILE'
      : 'one click probability per row of DATA, in input order, to --out FILE';
  return `usage: ddp-launch ${command} --from DIR --data SPEC${command === 'predict' ? ' --out FILE' : ''} [-n N] [flags]\n\n${what}. Each rank scores its share of every round of chunks; the file is streamed, never held whole.\n${formatHelp(SCORE_FLAGS)}`;
}

/** Parses `ddp-launch eval|predict`'s flags (launcher flags removed), checking what can be checked before any worker starts. */
export function parseScoreConfig(command: ScoreCommand, argv: readonly string[]): ScoreConfig {
  const { flags, rest } = parseFlags(SCORE_FLAGS, argv);
  if (rest.length) throw new UserError(`ddp-launch ${command}: unexpected argument '${rest[0]}'; options are flags (see ddp-launch ${command} --help)`);
  const { from, data, out } = flags;
  if (from === undefined) throw new UserError(`ddp-launch ${command} needs --from DIR (a checkpoint written by --save DIR)`);
  if (data === undefined) throw new UserError(`ddp-launch ${command} needs --data SPEC (a file spec as in training, e.g. criteo:PATH, or the synthetic spec)`);
  parseDataSpec(data, '--data');
  if (command === 'predict') {
    if (out === undefined) throw new UserError('ddp-launch predict needs --out FILE (where the probabilities go)');
    if (flags.skipBadLines) throw new UserError('--skip-bad-lines is for eval: predict writes one probability per input row, so a bad line stops it');
  } else {
    if (flags.format !== undefined) throw new UserError('--format is for predict (eval writes JSON)');
    if (!flags.labels) throw new UserError('--no-labels is for predict: eval needs the labels');
  }
  const format = flags.format ?? (out && /\.(f32|bin)$/.test(out) ? 'f32' : 'csv');
  return { ...flags, command, from, data, format };
}

/** What every rank of a scoring job must agree on (the fingerprint the ranks compare when they meet). */
export function scoreFingerprint(cfg: ScoreConfig): string {
  const { command, from, data, labels, batch, transport } = cfg;
  return JSON.stringify({ command, from, data, labels, batch, transport });
}
