/** Helpers shared by the benchmarks: medians, machine description, markdown tables, the python reference. */
import { spawnSync } from 'node:child_process';
import { existsSync, realpathSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';

export function median(xs: readonly number[]): number {
  if (!xs.length) throw new RangeError('median of an empty list');
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Key by key medians of records that share their keys (the first record's). */
export function medianOf<T extends { [K in keyof T]: number }>(xs: readonly T[]): T {
  if (!xs.length) throw new RangeError('medianOf an empty list');
  return Object.fromEntries(Object.keys(xs[0]).map((k) => [k, median(xs.map((x) => x[k as keyof T]))])) as T;
}

export interface MachineInfo {
  cpu: string;
  cores: number;
  node: string;
  platform: string;
  /** 1, 5 and 15 minute load averages when the bench started (the machine may be shared). */
  loadavg: number[];
}

export function machineInfo(): MachineInfo {
  return {
    cpu: cpus()[0]?.model.trim() ?? 'unknown',
    cores: cpus().length,
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    loadavg: loadavgNow(),
  };
}

export const loadavgNow = (): number[] => loadavg().map((x) => Number(x.toFixed(2)));

/** A markdown table; cells are printed as given, columns right-aligned unless `left` lists them. */
export function markdownTable(header: readonly string[], rows: readonly (readonly (string | number)[])[], left: readonly number[] = []): string {
  const align = header.map((_, i) => (left.includes(i) ? ' --- ' : ' ---: '));
  return [header, align, ...rows].map((r, i) => (i === 1 ? `|${r.join('|')}|` : `| ${r.join(' | ')} |`)).join('\n');
}

/** A command-line integer >= 1; `flag` names it in the error. */
export function positiveInt(flag: string, s: string): number {
  const n = Number(s);
  if (!Number.isSafeInteger(n) || n < 1) throw new Error(`--${flag} ${s}: expected a positive integer`);
  return n;
}

/** Command-line lists such as `1024,8192`. */
export const splitList = (s: string): string[] => s.split(',').map((x) => x.trim()).filter(Boolean);

/** The torchrun-style environment of local rank `rank` of a one-host group meeting at 127.0.0.1:port. */
export function localRankEnv(rank: number, ranks: number, port: string, token: string): NodeJS.ProcessEnv {
  return {
    ...process.env,
    RANK: String(rank),
    WORLD_SIZE: String(ranks),
    LOCAL_RANK: String(rank),
    LOCAL_WORLD_SIZE: String(ranks),
    MASTER_ADDR: '127.0.0.1',
    MASTER_PORT: port,
    DDP_TOKEN: token,
  };
}

/** A python interpreter that imports torch. */
export interface Python {
  path: string;
  torch: string;
}

/** `--python PATH` alone when given, else `python3` on PATH, then the system one (Debian's python3-torch). */
export const pythonCandidates = (explicit?: string): string[] => (explicit ? [explicit] : ['python3', '/usr/bin/python3']);

/**
 * The first candidate that runs `probe` (which must print torch.__version__); null if none does, with a
 * notice per candidate saying why it cannot `what`.
 */
export function findPython(
  candidates: readonly string[],
  { probe = 'import torch; print(torch.__version__)', what = 'import torch' }: { probe?: string; what?: string } = {},
): Python | null {
  for (const path of candidates) {
    const res = spawnSync(path, ['-c', probe], { encoding: 'utf8' });
    if (res.status === 0) return { path, torch: res.stdout.trim() };
    const why = res.error ? res.error.message : (res.stderr.trim().split('\n').pop() ?? `exit ${res.status}`);
    console.error(`notice: ${path} cannot ${what} (${why})`);
  }
  return null;
}

/** A file of bench/ (a python reference) from dist/bench/ (compiled) or bench/ (run from source). */
export function benchScript(name: string): string {
  for (const rel of [`../../bench/${name}`, `./${name}`]) {
    const path = fileURLToPath(new URL(rel, import.meta.url));
    if (existsSync(path)) return path;
  }
  throw new Error(`bench/${name} not found next to the bench`);
}

/** Whether the module at `url` is the script node was started with, not one imported by another bench. */
export const isMain = (url: string): boolean => !!process.argv[1] && realpathSync(process.argv[1]) === realpathSync(fileURLToPath(url));

/** Runs a bench's main and exits (a torch server or GPU device would keep the process alive): 1 if it throws. */
export function runMain(main: () => Promise<void>): void {
  main().then(
    () => process.exit(0),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}
