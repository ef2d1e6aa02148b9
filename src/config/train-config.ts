import { CONFIG_FLAG, expandConfig } from './config-file.js';
import { formatHelp, parseFlags, type FlagSpec, type FlagValues } from './flags.js';
import { UserError } from '../util/errors.js';
import { DEFAULT_STREAM_WINDOW } from '../data/options.js';
import { parseDataSpec } from '../data/spec.js';
import { DEFAULT_SPLIT } from '../data/split.js';
import { DEFAULT_MIN_COUNT } from '../data/vocab.js';
import { parseSplit } from '../data/split.js';
import { parseHashBuckets } from '../data/vocab.js';
import { EMBED_OPTIMIZER_NAMES, OPTIMIZER_NAMES } from '../optim/optimizer.js';
import { TRANSPORTS, type TransportName } from '../comm/transport.js';
import { LOG_LEVELS, type LogLevel } from '../util/log.js';
import { BACKEND_NAMES } from '../backend/select.js';
import { resolve } from 'node:path';
import { SYNC_HELP, SYNC_NAMES, traitsOf, type SyncName } from './strategies.js';


/** What --early-stop, --save-best and the report's best evaluation go by: AUC (higher is better) or logloss (lower). */
export const EARLY_STOP_METRICS = ['auc', 'logloss'] as const;
export type EarlyStopMetric = (typeof EARLY_STOP_METRICS)[number];

/** Every flag a training worker understands; `ddp-launch` forwards them unchanged to each rank. */
export const TRAIN_FLAGS = [
  { group: 'Model', name: 'model', type: 'string', default: 'deepfm', choices: ['deepfm', 'wd', 'dcn', 'dcnv2'], help: 'CTR model' },
  { group: 'Model', name: 'embed-dim', type: 'int', default: 16, min: 1, max: 1024, help: 'embedding dimension d' },
  { group: 'Model', name: 'mlp', type: 'list', default: '400,400,400', help: 'DNN hidden sizes, comma-separated' },
  { group: 'Model', name: 'cross-layers', type: 'int', default: 3, min: 1, max: 16, help: 'cross layers (dcn, dcnv2)' },
  { group: 'Model', name: 'low-rank', type: 'int', default: 32, min: 1, help: 'dcnv2 low rank' },
  { group: 'Model', name: 'experts', type: 'int', default: 4, min: 1, help: 'dcnv2 experts' },
  { group: 'Model', name: 'embed-init-std', type: 'float', default: 1e-2, min: 0, help: 'std of the normal init of embedding rows' },

  { group: 'Data', name: 'data', placeholder: 'SPEC', type: 'string', default: 'synthetic', help: 'synthetic[:spec] | criteo:PATH | avazu:PATH | csv:PATH,label=COL,cat=COLS,num=COLS[,sep=C][,header=true] | libsvm:PATH[,fields=S1/S2/..][,num=FIELDS] | libfm:PATH (plain or .gz; see README "Data formats")' },
  { group: 'Data', name: 'eval-data', placeholder: 'SPEC', type: 'string', help: "separate test file, in --data's format and options (the split is then not applied)" },
  { group: 'Data', name: 'split', placeholder: 'KIND:F', type: 'string', default: DEFAULT_SPLIT, help: 'random:F (seeded) or sequential:F (last fraction F is test)' },
  { group: 'Data', name: 'hash-buckets', placeholder: 'K', type: 'string', help: 'hash IDs into K rows per field (shared:K: one space of K rows for all fields) instead of counting a vocabulary: no pass over the data first, unseen IDs get a trained row; --min-count then does not apply' },
  { group: 'Data', name: 'min-count', type: 'int', default: DEFAULT_MIN_COUNT, min: 1, help: 'IDs seen fewer times in train map to the field OOV row' },
  { group: 'Data', name: 'numeric', type: 'string', default: 'log1p', choices: ['log1p', 'minmax'], help: 'numeric feature transform' },
  { group: 'Data', name: 'stream', type: 'bool', help: 'do not hold the data in memory: a first pass counts, then every epoch re-reads the file, each rank parsing only its rows, shuffled within windows of --stream-window steps (README "Data larger than memory")' },
  { group: 'Data', name: 'stream-window', type: 'int', default: DEFAULT_STREAM_WINDOW, min: 1, help: '--stream: steps whose rows are shuffled together; memory per rank is about 4 windows of its rows' },
  { group: 'Data', name: 'skip-bad-lines', type: 'bool', default: false, help: 'skip and count malformed lines instead of failing' },

  { group: 'Training', name: 'global-batch', type: 'int', default: 1024, min: 1, help: 'batch of the whole job (split across ranks)' },
  { group: 'Training', name: 'epochs', type: 'float', default: 1, min: 0, help: 'passes over the training split' },
  { group: 'Training', name: 'steps', type: 'int', default: 0, min: 0, help: 'stop after this many steps (0: run --epochs)' },
  { group: 'Training', name: 'seed', type: 'int', default: 42, help: 'seed of data order, init and synthetic data' },
  { group: 'Optimizer', name: 'lr', type: 'float', default: 1e-3, min: 0, help: 'dense Adam learning rate at --base-batch' },
  { group: 'Optimizer', name: 'lr-embed', type: 'float', default: 3e-3, min: 0, help: 'embedding Adam learning rate at --base-batch' },
  { group: 'Optimizer', name: 'l2', type: 'float', default: 1e-5, min: 0, help: 'embedding L2 lambda at --base-batch' },
  { group: 'Optimizer', name: 'scale-rule', type: 'string', default: 'none', choices: ['none', 'linear', 'sqrt', 'cowclip'], help: 'how lr/L2/warmup scale with k = global batch / --base-batch (none: as given; a rule that changes a value says so in one line)' },
  { group: 'Optimizer', name: 'base-batch', type: 'int', default: 1024, min: 1, help: 'batch the learning rates are given for' },
  { group: 'Optimizer', name: 'warmup-steps', type: 'int', min: 0, help: 'dense lr warmup steps (default: 1 epoch under --scale-rule cowclip with global batch > --base-batch, else 0)' },
  { group: 'Optimizer', name: 'embed-update', type: 'string', default: 'dense', choices: ['dense', 'lazy'], help: 'dense: L2+Adam on every row each step (reference); lazy: batch rows only' },
  { group: 'Optimizer', name: 'cowclip', type: 'bool', default: true, help: 'adaptive column-wise clipping of embedding gradients (--no-cowclip to disable)' },
  { group: 'Optimizer', name: 'cowclip-ratio', type: 'float', default: 1, min: 0, help: 'CowClip r' },
  { group: 'Optimizer', name: 'cowclip-zeta', type: 'float', default: 1e-5, min: 0, help: 'CowClip lower bound zeta' },
  { group: 'Optimizer', name: 'cowclip-form', type: 'string', default: 'paper', choices: ['paper', 'reference', 'auto'], help: 'threshold form: paper, reference (clipping), or auto (every row normalised to its threshold, AUTO-S style; see README)' },
  { group: 'Optimizer', name: 'cowclip-gamma', type: 'float', default: 1e-8, min: 0, help: "--cowclip-form auto's stability constant gamma: g <- g * t / (||g|| + gamma)" },
  {
    group: 'Sync',
    name: 'sync',
    type: 'string',
    default: 'allreduce',
    choices: SYNC_NAMES,
    help: SYNC_HELP,
  },
  { group: 'Sync', name: 'sync-every', type: 'int', default: 4, min: 1, help: 'local-sgd: average parameters every H steps (and after the last step)' },
  { group: 'Sync', name: 'staleness', type: 'int', default: 2, min: 0, help: 'async-ps: how many steps a worker may run ahead of the slowest one (0: synchronous, the ps maths); workers meet only every --check-every steps' },
  { group: 'Optimizer', name: 'optimizer', type: 'string', default: 'adam', choices: OPTIMIZER_NAMES, help: 'optimizer of dense weights and embeddings: adam, or plain sgd (w -= lr g)' },
  {
    group: 'Optimizer',
    name: 'optimizer-embed',
    type: 'string',
    choices: EMBED_OPTIMIZER_NAMES,
    help: "the embedding tables' optimizer, if not --optimizer's: adam, sgd, adagrad, or rowwise-adagrad (one accumulator per row)",
  },
  { group: 'Training', name: 'skip-nonfinite', type: 'bool', help: 'skip a step whose loss or gradients hold NaN/Infinity on any rank (counted in the report) instead of stopping the job' },
  { group: 'Sync', name: 'check-every', type: 'int', default: 100, min: 0, help: 'compare parameter checksums across ranks every K steps (local-sgd: at the next averaging) and at the end (0: only at the end)' },

  { group: 'Network', name: 'collective-timeout', type: 'float', default: 600, min: 1, help: 'seconds a collective waits for the other ranks before failing, naming those that did not arrive' },
  { group: 'Network', name: 'bind', placeholder: 'ADDR', type: 'string', help: "address to bind and advertise to the other ranks (default: this host's address on the route to MASTER_ADDR)" },
  { group: 'Network', name: 'port', type: 'int', default: 0, min: 0, max: 65535, help: 'data port: local rank R binds PORT+R (0: ephemeral ports)' },
  {
    group: 'Network',
    name: 'transport',
    type: 'string',
    default: 'tcp',
    choices: TRANSPORTS,
    help: 'what carries tensors between ranks: tcp (plain sockets, the kernel reads straight into the tensors: faster) or zmq (ZeroMQ PUSH/PULL); the rendezvous always uses ZeroMQ',
  },
  { group: 'Network', name: 'secure', type: 'bool', help: 'encrypt and authenticate all traffic with ZeroMQ CURVE, keys derived from the job token (needs --transport zmq)' },

  { group: 'Output', name: 'eval-every', type: 'int', default: 0, min: 0, help: 'evaluate every K steps (local-sgd: at the next averaging; 0: at the end only)' },
  {
    group: 'Training',
    name: 'early-stop',
    placeholder: 'PATIENCE',
    type: 'int',
    default: 0,
    min: 0,
    help: 'stop training after PATIENCE --eval-every evaluations in a row without improving on the best eval --early-stop-metric (0: off); the run then ends as usual (final check, evaluation, --save)',
  },
  {
    group: 'Training',
    name: 'early-stop-metric',
    type: 'string',
    default: 'auc',
    choices: EARLY_STOP_METRICS,
    help: 'what counts as the best evaluation, for --early-stop, --save-best and the report: auc (higher is better) or logloss (lower is better)',
  },
  { group: 'Output', name: 'log-every', type: 'float', default: 5, min: 0, help: 'seconds between progress lines (on a terminal, ddp-launch redraws one live line)' },
  { group: 'Output', name: 'log-level', type: 'string', default: 'info', choices: LOG_LEVELS, help: 'what workers print: error (only the error a worker fails with, always printed), warn (and warnings), info (and progress, evaluations, the summary), debug (and the step-time split with each progress line)' },
  { group: 'Output', name: 'quiet', alias: 'q', type: 'bool', help: 'same as --log-level warn' },
  { group: 'Output', name: 'metrics', placeholder: 'FILE', type: 'string', help: 'write metrics to FILE as JSON lines as training goes: start, step (loss, lr, samples/s, comm share, bytes) and eval (AUC, logloss) records; appended to with --resume' },
  { group: 'Output', name: 'metrics-every', type: 'int', default: 10, min: 1, help: 'a step record every K steps (local-sgd, async-ps: at the next point where replicas meet) and at the last step' },
  { group: 'Output', name: 'html', placeholder: 'FILE', type: 'string', help: 'write a self-contained HTML report (curves, throughput, communication, per-rank table) to FILE at the end' },
  { group: 'Output', name: 'save', placeholder: 'DIR', type: 'string', help: 'write a checkpoint to DIR at the end (and every --save-every steps), replacing it atomically' },
  { group: 'Output', name: 'save-every', type: 'int', default: 0, min: 0, help: 'also checkpoint to --save every K steps (local-sgd, async-ps: at the next point where replicas meet; 0: only at the end)' },
  {
    group: 'Output',
    name: 'save-best',
    placeholder: 'DIR',
    type: 'string',
    help: 'write a checkpoint to DIR (replacing it atomically) after each evaluation (--eval-every, and the final one) that improves on the best so far by --early-stop-metric: DIR ends holding the best evaluated model',
  },
  { group: 'Output', name: 'resume', placeholder: 'DIR', type: 'string', help: 'continue from the checkpoint in DIR (same data and training flags; --steps/--epochs may grow): ends with the parameters of an uninterrupted run' },
  {
    group: 'Training',
    name: 'init-from',
    placeholder: 'DIR',
    type: 'string',
    help: "start from the weights and vocabulary of the checkpoint in DIR, with this run's flags and a fresh optimizer (fine-tuning; --resume is the exact continuation); the model's architecture flags must be the checkpoint's",
  },
  { group: 'Output', name: 'report', placeholder: 'FILE', type: 'string', help: 'write the run report JSON to FILE' },
  { group: 'Training', name: 'backend', type: 'string', default: 'auto', choices: ['auto', ...BACKEND_NAMES], help: 'tensor backend (auto: the first that loads of node-gpu, webgpu on a real GPU, node, wasm, cpu)' },
  {
    group: 'Training',
    name: 'embed-device',
    type: 'string',
    default: 'auto',
    choices: ['auto', 'host', 'gpu'],
    help: 'where the embedding tables, their lookup, per-ID merge, CowClip and optimizer live: gpu (webgpu backend: only ids go up, merged rows cross), host, or auto (gpu on the webgpu backend where the strategy allows it)',
  },
] as const satisfies readonly FlagSpec[];

/** Parsed training flags, typed from TRAIN_FLAGS (a flag without a default may be undefined); --mlp as sizes. */
export type TrainConfig = Omit<FlagValues<typeof TRAIN_FLAGS>, 'mlp'> & { mlp: number[] };

export function parseTrainConfig(argv: readonly string[]): TrainConfig {
  const { flags, rest } = parseFlags(TRAIN_FLAGS, argv);
  if (rest.length) throw new UserError(`unexpected argument '${rest[0]}'; training options are flags (see --help)`);
  const mlp = flags.mlp.map((s) => {
    if (!/^\d+$/.test(s) || Number(s) < 1) throw new UserError(`--mlp ${flags.mlp.join(',')}: expected positive integers like 400,400,400`);
    return Number(s);
  });
  const cfg: TrainConfig = { ...flags, mlp };
  if (cfg.epochs === 0 && cfg.steps === 0) throw new UserError('--epochs 0 with --steps 0: nothing to train');
  if (cfg.secure && cfg.transport !== 'zmq') throw new UserError('--secure encrypts ZeroMQ traffic: add --transport zmq (the TCP transport is not encrypted)');
  if (cfg.saveEvery > 0 && cfg.save === undefined) throw new UserError('--save-every needs --save DIR (where the checkpoints go)');
  if (cfg.earlyStop > 0 && cfg.evalEvery === 0) {
    throw new UserError(`--early-stop ${cfg.earlyStop} needs --eval-every K > 0: early stopping watches the evaluations every K steps`);
  }
  if (cfg.saveBest !== undefined && cfg.save !== undefined && resolve(cfg.saveBest) === resolve(cfg.save)) {
    throw new UserError(`--save-best and --save both name ${cfg.save}: the best model and the last one need two folders`);
  }
  const refuses = traitsOf(cfg.sync).refuses;
  // What such a strategy holds between steps is not in a checkpoint: a resumed run would not be the same run.
  if ((cfg.saveEvery > 0 || cfg.resume !== undefined) && refuses?.checkpoint) throw new UserError(refuses.checkpoint);
  if (cfg.skipNonfinite && refuses?.skipNonfinite) throw new UserError(refuses.skipNonfinite);
  for (const [flag, given] of [['--resume', cfg.resume], ['--init-from', cfg.initFrom]] as const) {
    if (given !== undefined && refuses?.startFrom) throw new UserError(`${flag} ${refuses.startFrom}`);
  }
  if (cfg.cowclipForm === 'auto' && !(cfg.cowclipGamma > 0)) throw new UserError(`--cowclip-gamma ${cfg.cowclipGamma}: --cowclip-form auto divides by ||g|| + gamma, so gamma must be > 0`);
  if (cfg.embedDevice === 'gpu') {
    if (refuses?.gpuEmbeddings) throw new UserError(`--embed-device gpu does not work with --sync ${cfg.sync} yet: ${refuses.gpuEmbeddings}`);
    if (cfg.backend !== 'auto' && cfg.backend !== 'webgpu') throw new UserError(`--embed-device gpu needs the webgpu backend, not --backend ${cfg.backend}`);
  }

  // Specs are checked here so the launcher rejects them once, before starting any worker.
  const source = parseDataSpec(cfg.data, '--data');
  if (source.kind === 'synthetic' && cfg.stream) throw new UserError('--stream is for files: the synthetic data is generated in memory');
  if (source.kind === 'synthetic' && cfg.hashBuckets !== undefined) throw new UserError('--hash-buckets is for files: the synthetic IDs are already rows of fixed tables');
  if (cfg.evalData !== undefined) parseDataSpec(cfg.evalData, '--eval-data');
  parseSplit(cfg.split);
  if (cfg.hashBuckets !== undefined) parseHashBuckets(cfg.hashBuckets);
  return cfg;
}

/**
 * The command line of a worker: its --help text, or its config. Started by mpirun/srun, every rank gets the
 * same argv and reads --config FILE itself; ddp-launch has expanded the file into plain flags already.
 */
export function parseWorkerArgs(argv: readonly string[]): { help: string } | { cfg: TrainConfig } {
  if (argv.includes('--help') || argv.includes('-h')) {
    return { help: `usage: node dist/src/worker/worker.js [--config FILE] [training flags]   (one rank, as ddp-launch, mpirun or srun start it)\n${formatHelp([CONFIG_FLAG, ...TRAIN_FLAGS])}` };
  }
  return { cfg: parseTrainConfig(expandConfig(argv, TRAIN_FLAGS)) };
}

/**
 * The options every rank must agree on (see topology fingerprint): those that change the maths of training,
 * and the transport. Output options and the per-host network settings (bind address, ports, timeout) may differ.
 */
export function configFingerprint(cfg: TrainConfig): string {
  const { logEvery: _l, logLevel: _v, quiet: _q, metrics: _x, metricsEvery: _y, html: _h, save: _s, saveEvery: _e, saveBest: _sb, resume: _m, report: _r, backend: _b, bind: _a, port: _p, collectiveTimeout: _t, ...maths } = cfg;
  return JSON.stringify(maths, Object.keys(maths).sort());
}
