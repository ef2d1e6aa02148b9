/**
 * What each --sync strategy is and promises, as data: the flag's help, what it refuses, whether it needs
 * parameter servers, when its replicas meet, and the number --compare NAME:X sets. Config, the launcher, compare
 * and the trainer ask this table instead of comparing names; src/sync/registry.ts builds each strategy, and must
 * build every name listed here (its table is typed by SyncName).
 */

export interface StrategyTraits {
  /** One line for --help. */
  help: string;
  /** Needs `ddp-launch --servers K` processes holding the parameters. */
  servers: boolean;
  /** When the replicas meet with identical parameters (and the loss is summed, drift checked, evaluation run). */
  meets: 'every step' | 'every --sync-every steps' | 'every --check-every steps';
  /**
   * Where CowClip runs: in the embedding update, with the global counts (absent), or (`local`) in the strategy,
   * by each rank with its local counts before the exchange; the replica's updater then never clips.
   */
  clips?: 'local';
  /** The flag --compare NAME:X sets, and its least value. */
  param?: { flag: '--sync-every' | '--staleness'; min: number };
  /** Why the strategy refuses an option, in the words the user sees (absent: it takes it). */
  refuses?: {
    /** --save-every and --resume: what it holds between steps is not in a checkpoint. */
    checkpoint?: string;
    /** --resume and --init-from: it starts from the seed. */
    startFrom?: string;
    skipNonfinite?: string;
    /** --embed-device gpu: why its embedding update cannot run on tables kept on the GPU. */
    gpuEmbeddings?: string;
  };
}

const PS_REFUSALS = (name: string) => ({
  skipNonfinite: `--skip-nonfinite does not work with --sync ${name} yet: the servers expect every step's gradients`,
  startFrom: `with --sync ${name}: parameter servers start from the seed; use --sync allreduce, which trains the same model`,
  gpuEmbeddings: 'the parameter servers hold the tables',
});

export const STRATEGIES = {
  allreduce: { help: 'per-ID global merge, CowClip with global counts', servers: false, meets: 'every step' },
  dense: { help: 'embedding grads densified to whole tables and all-reduced: same maths, more bytes', servers: false, meets: 'every step' },
  'local-clip': {
    help: "CowClip with each rank's local counts, then average: the naive port",
    servers: false,
    meets: 'every step',
    clips: 'local',
    refuses: { gpuEmbeddings: 'it clips on the host with the host table' },
  },
  'local-sgd': {
    help: 'replicas train alone, parameters averaged every --sync-every steps',
    servers: false,
    meets: 'every --sync-every steps',
    param: { flag: '--sync-every', min: 1 },
    refuses: { gpuEmbeddings: 'it averages the host tables' },
  },
  hybrid: {
    help: 'dense synchronous, embedding updates applied one step late so their exchange overlaps the next step',
    servers: false,
    meets: 'every step',
    refuses: { checkpoint: '--save-every and --resume do not work with --sync hybrid yet: its embedding update owed to the next step is not checkpointed' },
  },
  sharded: {
    help: 'each rank owns the embedding rows whose ID hashes to it: rows go to their owner by all-to-all, the owner applies the allreduce maths, ranks pull the rows of each batch: fewer bytes from 3 ranks on',
    servers: false,
    meets: 'every step',
    refuses: { gpuEmbeddings: 'the owners keep their rows on the host' },
  },
  ps: {
    help: 'parameter servers, started by ddp-launch --servers K, own the parameters and apply every update: the allreduce maths',
    servers: true,
    meets: 'every step',
    refuses: PS_REFUSALS('ps'),
  },
  'async-ps': {
    help: 'ps where a worker may run up to --staleness steps ahead of the slowest, on parameters that old',
    servers: true,
    meets: 'every --check-every steps',
    param: { flag: '--staleness', min: 0 },
    refuses: PS_REFUSALS('async-ps'),
  },
} as const satisfies Record<string, StrategyTraits>;

export type SyncName = keyof typeof STRATEGIES;
export const SYNC_NAMES = Object.keys(STRATEGIES) as SyncName[];

export function traitsOf(name: SyncName): StrategyTraits {
  return STRATEGIES[name];
}

/** --sync's help: every strategy with its line. */
export const SYNC_HELP = `how replicas synchronise: ${SYNC_NAMES.map((n) => `${n} (${STRATEGIES[n].help})`).join('; ')}`;

/** Steps between the points where the replicas meet (Infinity: only after the last step). */
export function meetEvery(name: SyncName, cfg: { syncEvery: number; checkEvery: number }): number {
  switch (traitsOf(name).meets) {
    case 'every step':
      return 1;
    case 'every --sync-every steps':
      return cfg.syncEvery;
    case 'every --check-every steps':
      return cfg.checkEvery > 0 ? cfg.checkEvery : Infinity;
  }
}

/** How many steps a worker may run ahead of the slowest: --staleness where the strategy takes it, else 0. */
export function stalenessOf(name: SyncName, staleness: number): number {
  return traitsOf(name).param?.flag === '--staleness' ? staleness : 0;
}
