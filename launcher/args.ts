import { CONFIG_FLAG } from '../src/config/config-file.js';
import { partitionArgs, type FlagSpec } from '../src/config/flags.js';

/** Flags of the launcher itself (torchrun names); every other flag is a training flag for the workers. */
export const LAUNCH_FLAGS = [
  CONFIG_FLAG, // expanded by cli.ts before anything else, so it never reaches splitArgs or the workers
  { group: 'Launcher', name: 'nproc-per-node', alias: 'n', type: 'int', default: 1, min: 1, max: 512, help: 'worker processes on this host (one per GPU, or per CPU slot)' },
  { group: 'Launcher', name: 'nnodes', type: 'int', default: 1, min: 1, help: 'hosts in the job' },
  { group: 'Launcher', name: 'node-rank', type: 'int', default: 0, min: 0, help: 'index of this host' },
  { group: 'Launcher', name: 'master-addr', placeholder: 'ADDR', type: 'string', default: '127.0.0.1', help: 'address of the rank-0 host' },
  { group: 'Launcher', name: 'master-port', type: 'int', default: 0, min: 0, max: 65535, help: 'rendezvous port (0: pick a free one; required with --nnodes > 1)' },
  { group: 'Launcher', name: 'token', placeholder: 'TOKEN', type: 'string', help: 'job token every rank must present (default: random per job; required with --nnodes > 1)' },
  { group: 'Launcher', name: 'gpus', placeholder: 'LIST', type: 'string', help: 'GPU indices to use, e.g. 0,1 (default: nvidia-smi -L; none on CPU hosts)' },
  { group: 'Launcher', name: 'log-dir', placeholder: 'DIR', type: 'string', help: 'also write each rank\'s output to DIR/rank-R.log' },
  {
    group: 'Launcher',
    name: 'servers',
    type: 'int',
    default: 0,
    min: 0,
    max: 256,
    help: 'parameter servers for --sync ps / async-ps (default 1 then): started on the --node-rank 0 host, on free ports (with --nnodes > 1 at MASTER_PORT+1..; give the same value on every host)',
  },
  {
    group: 'Launcher',
    name: 'max-restarts',
    type: 'int',
    default: 0,
    min: 0,
    help: 'when a worker fails, stop all and restart all from the last --save checkpoint (see --save-every), up to R times; not after bad input or Ctrl-C',
  },
  { group: 'Launcher', name: 'help', alias: 'h', type: 'bool', help: 'show this help' },
  { group: 'Launcher', name: 'version', type: 'bool', help: 'print the version' },
] as const satisfies readonly FlagSpec[];

/** Splits argv into launcher flags and the training flags forwarded to workers. */
export function splitArgs(argv: readonly string[]): { launch: string[]; train: string[] } {
  const { mine, rest } = partitionArgs(argv, LAUNCH_FLAGS);
  return { launch: mine, train: rest };
}

/** `args` without flag `name` and its value (as `--name V` or `--name=V`). */
export function withoutFlag(args: readonly string[], name: string): string[] {
  const flag = `--${name}`;
  return args.filter((a, i) => !(a === flag || a.startsWith(`${flag}=`) || (i > 0 && args[i - 1] === flag)));
}
